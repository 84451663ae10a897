//! What the host's log callback sees, and when (issue 14, item 5): it never runs while a
//! store's writer is held (a callback that writes through the engine does not wait for
//! its own thread), and an internal error's text (SQL, file paths) goes to the log while
//! the client gets a generic detail.
//!
//! The log callback is process wide: everything here runs in one test, in order.

#[path = "support/scratch.rs"]
mod scratch;

use parking_lot::Mutex;
use scim::directory::{IdpKind, NewDirectory, Service};
use scim::error::INTERNAL_DETAIL;
use scim::mapping::Profile;
use scim::{Engine, EngineConfig, Request, Response};
use scratch::Scratch;
use serde_json::{json, Value};
use std::ffi::{c_char, c_void, CStr};
use std::sync::{mpsc, Arc};
use std::time::Duration;

type LogCallback = unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char);

extern "C" {
    // The C ABI's own entry point (src/ffi/log.rs), as a C host calls it.
    fn scim_log_set_callback(
        callback: Option<LogCallback>,
        userdata: *mut c_void,
        userdata_free: Option<unsafe extern "C" fn(*mut c_void)>,
        level: u32,
    ) -> u32;
}

/// Every line logged: (target, message).
static LINES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// The engine, directory and token the callback writes through when it sees the line the
/// provider logs inside a write transaction, and what that write answered (`None`: it
/// was still waiting after 60 seconds).
static REENTER: Mutex<Option<(Arc<Engine>, String, String)>> = Mutex::new(None);
static REENTERED: Mutex<Vec<Option<u16>>> = Mutex::new(Vec::new());

unsafe extern "C" fn on_log(
    _: *mut c_void,
    _level: u32,
    target: *const c_char,
    msg: *const c_char,
) {
    let target = CStr::from_ptr(target).to_string_lossy().into_owned();
    let msg = CStr::from_ptr(msg).to_string_lossy().into_owned();
    let reenter = msg.contains("ignoring unknown member");
    LINES.lock().push((target, msg));
    if !reenter {
        return;
    }
    let Some((engine, dir, token)) = REENTER.lock().clone() else {
        return;
    };
    // A write from another thread, while this one is inside the callback: it completes
    // unless this thread still holds the writer.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let n = REENTERED.lock().len();
        let r = call(
            &engine,
            &dir,
            &token,
            "POST",
            "/Users",
            Some(user(&format!("re{n}"))),
        );
        let _ = tx.send(r.status);
    });
    let answered = rx.recv_timeout(Duration::from_secs(60)).ok();
    REENTERED.lock().push(answered);
}

fn call(
    e: &Engine,
    dir: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    e.handle(&Request {
        method: method.into(),
        path: format!("/scim/v2/{dir}{path}"),
        query: String::new(),
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Content-Type".into(), "application/scim+json".into()),
        ],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    })
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

fn setup(e: &Engine) -> (String, String) {
    let id = e
        .create_directory(&NewDirectory {
            name: "Logs".into(),
            domain: "logs.example".into(),
            idp: IdpKind::Generic,
            services: vec![Service::Uem],
            settings: Default::default(),
            mapping_profile: Some(Profile::Rfc),
        })
        .unwrap()
        .id;
    let token = e.issue_token(&id, None).unwrap().secret.to_string();
    (id, token)
}

/// A group created with a member that does not exist: the provider logs it inside the
/// write transaction; the callback, which writes through the engine, is not blocked.
fn callback_outside_the_writer(engine: Arc<Engine>) {
    let (id, token) = setup(&engine);
    *REENTER.lock() = Some((engine.clone(), id.clone(), token.clone()));
    REENTERED.lock().clear();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "G",
        "members": [{"value": "0000-nobody"}],
    });
    let r = call(&engine, &id, &token, "POST", "/Groups", Some(group));
    assert_eq!(r.status, 201);
    *REENTER.lock() = None;
    assert_eq!(
        *REENTERED.lock(),
        [Some(201)],
        "the callback ran under the writer"
    );
    assert!(LINES
        .lock()
        .iter()
        .any(|(t, m)| t == "scim::provider" && m.contains("0000-nobody")));
}

#[test]
fn log_callback_and_internal_errors() {
    let rc = unsafe { scim_log_set_callback(Some(on_log), std::ptr::null_mut(), None, 5) };
    assert_eq!(rc, 0);

    callback_outside_the_writer(Arc::new(
        Engine::open(None, EngineConfig::default()).unwrap(),
    ));
    let tmp = Scratch::new("logs-writer");
    let db = tmp.0.join("libscim.db");
    callback_outside_the_writer(Arc::new(
        Engine::open(Some(&db), EngineConfig::default()).unwrap(),
    ));

    // A database broken under the engine: each failure answers a generic 500, and its
    // text (SQL, the file's path) is in the log only.
    let tmp = Scratch::new("logs-internal");
    let db = tmp.0.join("libscim.db");
    let engine = Engine::open(Some(&db), EngineConfig::default()).unwrap();
    let (id, token) = setup(&engine);
    let r = call(&engine, &id, &token, "POST", "/Users", Some(user("alice")));
    assert_eq!(r.status, 201);
    let alice = serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = rusqlite::Connection::open(&db).unwrap();
    other.busy_timeout(Duration::from_secs(30)).unwrap();
    other.execute_batch("DROP TABLE resources").unwrap();
    drop(other);
    LINES.lock().clear();

    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bob")}],
    });
    let answers = [
        call(
            &engine,
            &id,
            &token,
            "GET",
            &format!("/Users/{alice}"),
            None,
        ),
        call(&engine, &id, &token, "POST", "/Users", Some(user("carol"))),
        call(&engine, &id, &token, "POST", "/Bulk", Some(bulk)),
    ];
    let shown = tmp.0.display().to_string();
    for r in &answers {
        let text = String::from_utf8_lossy(&r.body).into_owned();
        for secret in [
            "no such table",
            "resources",
            "SELECT",
            "INSERT",
            shown.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let body = |r: &Response| serde_json::from_slice::<Value>(&r.body).unwrap();
    for r in &answers[..2] {
        assert_eq!(r.status, 500);
        assert_eq!(body(r)["status"], "500");
        assert_eq!(body(r)["detail"], INTERNAL_DETAIL);
    }
    let op = &body(&answers[2])["Operations"][0];
    assert_eq!(op["status"], "500", "{op}");
    assert_eq!(op["response"]["detail"], INTERNAL_DETAIL, "{op}");
    let internal: Vec<String> = LINES
        .lock()
        .iter()
        .filter(|(t, _)| t == "scim::internal")
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(internal.len(), 3, "{internal:?}");
    assert!(
        internal.iter().all(|m| m.contains("no such table")),
        "{internal:?}"
    );
}
