//! Serving the same directory again after a restart keeps every user, group, event and
//! the token: the engine on the embedded SQLite store, closed and opened again.

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::mapping::Profile;
use scim::{Engine, EngineConfig, Request, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn call(e: &Engine, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    e.handle(&Request {
        method: method.into(),
        path: path.into(),
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Content-Type".into(), "application/scim+json".into()),
        ],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ..Request::default()
    })
}

fn open(path: &Path) -> Engine {
    Engine::open(Some(path), EngineConfig::default()).unwrap()
}

#[test]
fn a_reopened_engine_serves_the_same_directory() {
    let dir = std::env::temp_dir().join(format!("libscim-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("libscim.db");

    let (id, token, uid) = {
        let e = open(&db);
        let d = e
            .create_directory(&NewDirectory {
                name: "Lab Directory".into(),
                domain: "example.com".into(),
                idp: IdpKind::Generic,
                services: vec![Service::Uem],
                settings: DirectorySettings::default(),
                mapping_profile: Some(Profile::Rfc),
            })
            .unwrap();
        let token = e.issue_token(&d.id, None).unwrap().secret.to_string();
        let base = format!("/scim/v2/{}", d.id);
        let r = call(
            &e,
            &token,
            "POST",
            &format!("{base}/Users"),
            Some(json!({"userName": "kept"})),
        );
        assert_eq!(r.status, 201);
        let uid = serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = call(
            &e,
            &token,
            "POST",
            &format!("{base}/Groups"),
            Some(json!({"displayName": "Kept", "members": [{"value": uid}]})),
        );
        assert_eq!(r.status, 201);
        (d.id, token, uid)
    };

    let e = open(&db);
    let d = e.directory_by_name("lab directory").unwrap().unwrap();
    assert_eq!(d.id, id);
    let base = format!("/scim/v2/{id}");
    let r = call(&e, &token, "GET", &format!("{base}/Users/{uid}"), None);
    assert_eq!(
        r.status, 200,
        "the old token still works, the user is there"
    );
    let user: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(user["groups"][0]["display"], "Kept");
    // Nothing was acknowledged: every event comes again, in order.
    let events = e.next_events(&id, 100, Duration::ZERO).unwrap();
    let kinds: Vec<&str> = events.iter().map(|ev| ev.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["user.created", "group.created", "group.members_added"]
    );
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
