//! Directories, tenant URLs and bearer tokens: the multi-tenant edge of the engine.

use parking_lot::Mutex;
use scim::directory::{DirectorySettings, DirectoryUpdate, IdpKind, NewDirectory, Service};
use scim::error::ErrorKind;
use scim::mapping::Profile;
use scim::store::{MemoryStore, Store};
use scim::{Engine, EngineConfig, Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

struct Fixture {
    engine: Engine,
    store: Arc<MemoryStore>,
    now: Arc<Mutex<OffsetDateTime>>,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let now = Arc::new(Mutex::new(datetime!(2026-11-29 10:00 UTC)));
    let clock = now.clone();
    let engine = Engine::new(
        EngineConfig {
            public_url: "https://host.example.com".into(),
            ..EngineConfig::default()
        },
        store.clone(),
    )
    .with_clock(Arc::new(move || *clock.lock()));
    Fixture { engine, store, now }
}

fn new_dir(name: &str, domain: &str) -> NewDirectory {
    NewDirectory {
        name: name.into(),
        domain: domain.into(),
        idp: IdpKind::Okta,
        services: vec![Service::Uem, Service::Access],
        settings: DirectorySettings::default(),
        // Minimal users in these tests: only RFC 7643's required attributes are enforced
        // (the Workspace ONE defaults are tested in tests/mapping.rs).
        mapping_profile: Some(Profile::Rfc),
    }
}

fn call(
    e: &Engine,
    token: Option<&str>,
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
) -> Response {
    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/scim+json".to_owned(),
    )];
    if let Some(t) = token {
        headers.push(("Authorization".into(), format!("Bearer {t}")));
    }
    e.handle(&Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    })
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// Change only a directory's settings.
fn set_settings(e: &Engine, id: &str, settings: DirectorySettings) {
    e.update_directory(
        id,
        &DirectoryUpdate {
            settings: Some(settings),
            ..DirectoryUpdate::default()
        },
    )
    .unwrap();
}

fn assert_401(r: &Response) {
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    let b = body(r);
    assert_eq!(b["status"], "401");
    assert_eq!(
        b["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
}

#[test]
fn directory_validation_names_field_and_rule() {
    let f = fixture();
    let cases = [
        (new_dir("", "example.com"), "name: must be 1 to 128"),
        (
            new_dir(&"n".repeat(129), "example.com"),
            "name: must be 1 to 128",
        ),
        (new_dir("bad/name", "example.com"), "name: may contain only"),
        (
            new_dir("ok", "nodot"),
            "domain: must contain at least one dot",
        ),
        (new_dir("ok", "two words.com"), "domain: may contain only"),
        (
            new_dir("ok", &format!("{}.com", "a".repeat(97))),
            "domain: must be 1 to 100",
        ),
        (
            NewDirectory {
                services: vec![],
                ..new_dir("ok", "example.com")
            },
            "services: must name",
        ),
    ];
    for (spec, detail) in cases {
        let e = f.engine.create_directory(&spec).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.detail.starts_with(detail),
            "{:?} → {}",
            spec.name,
            e.detail
        );
    }
    assert!(
        f.engine.directories().unwrap().is_empty(),
        "nothing was created"
    );

    let d = f
        .engine
        .create_directory(&new_dir("Lab Directory", "Example.COM"))
        .unwrap();
    assert_eq!(d.domain, "example.com");
    assert_eq!(
        d.tenant_url,
        format!("https://host.example.com/scim/v2/{}", d.id)
    );
    assert!(
        !d.tenant_url.contains('_'),
        "Okta rejects base URLs with '_'"
    );
    assert!(d.token.is_none());
    let dup = f
        .engine
        .create_directory(&new_dir("lab DIRECTORY", "other.com"))
        .unwrap_err();
    assert_eq!(dup.status, 409);

    // Services and settings change; name and IdP kind cannot (the update has no field).
    let d2 = f
        .engine
        .update_directory(
            &d.id,
            &DirectoryUpdate {
                services: Some(vec![Service::Access]),
                settings: Some(DirectorySettings {
                    enforce_domain: true,
                    ..DirectorySettings::default()
                }),
                ..DirectoryUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(d2.services, [Service::Access]);
    assert!(d2.settings.enforce_domain);
    assert_eq!((d2.name.as_str(), d2.idp), ("Lab Directory", IdpKind::Okta));
    let e = f
        .engine
        .update_directory(
            &d.id,
            &DirectoryUpdate {
                domain: Some("nodot".into()),
                ..DirectoryUpdate::default()
            },
        )
        .unwrap_err();
    assert!(e.detail.starts_with("domain: "));
    assert_eq!(f.engine.directory(&d.id).unwrap(), d2);
    assert!(
        serde_json::from_value::<DirectoryUpdate>(json!({"name": "renamed"}))
            .unwrap_err()
            .is_data(),
        "the name is not updatable"
    );
    assert_eq!(f.engine.directory("nope").unwrap_err().status, 404);
}

#[test]
fn token_lifecycle() {
    let f = fixture();
    let d = f
        .engine
        .create_directory(&new_dir("Lab", "example.com"))
        .unwrap();
    let users = format!("/scim/v2/{}/Users", d.id);

    assert_401(&call(&f.engine, None, "GET", &users, "", None));
    assert_401(&call(
        &f.engine,
        Some("scim_nothing"),
        "GET",
        &users,
        "",
        None,
    ));

    let t1 = f.engine.issue_token(&d.id, None).unwrap();
    assert_eq!(t1.info.lifespan_months, 6);
    assert_eq!(t1.info.expires_at, datetime!(2027-05-29 10:00 UTC));
    assert_eq!(f.engine.directory(&d.id).unwrap().token.unwrap(), t1.info);
    let r = call(
        &f.engine,
        Some(t1.secret.as_str()),
        "GET",
        &users,
        "startIndex=1&count=2",
        None,
    );
    assert_eq!(r.status, 200);
    // The scheme is case-insensitive.
    let r = f.engine.handle(&Request {
        method: "GET".into(),
        path: users.clone(),
        headers: vec![(
            "authorization".into(),
            format!("bearer {}", t1.secret.as_str()),
        )],
        ..Request::default()
    });
    assert_eq!(r.status, 200);

    // Regenerating invalidates the old token at once.
    let t2 = f.engine.issue_token(&d.id, None).unwrap();
    assert_401(&call(
        &f.engine,
        Some(t1.secret.as_str()),
        "GET",
        &users,
        "",
        None,
    ));
    assert_eq!(
        call(&f.engine, Some(t2.secret.as_str()), "GET", &users, "", None).status,
        200
    );

    // A lifespan change is a new token: the previous one fails.
    assert!(f.engine.issue_token(&d.id, Some(25)).is_err());
    assert!(f.engine.issue_token(&d.id, Some(0)).is_err());
    let t3 = f.engine.issue_token(&d.id, Some(1)).unwrap();
    assert_401(&call(
        &f.engine,
        Some(t2.secret.as_str()),
        "GET",
        &users,
        "",
        None,
    ));
    assert_eq!(t3.info.expires_at, datetime!(2026-12-29 10:00 UTC));

    // Near-expiry listing, then expiry with the injected clock.
    assert!(f
        .engine
        .tokens_expiring_within(Duration::days(7))
        .unwrap()
        .is_empty());
    *f.now.lock() = datetime!(2026-12-25 10:00 UTC);
    let soon = f.engine.tokens_expiring_within(Duration::days(7)).unwrap();
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].id, d.id);
    // A window past the representable time is a 400, not a panic.
    for huge in [
        Duration::MAX,
        Duration::seconds(i64::MAX),
        Duration::days(3_000_000),
    ] {
        let e = f.engine.tokens_expiring_within(huge).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(scim::ScimType::InvalidValue))
        );
    }
    assert_eq!(
        call(&f.engine, Some(t3.secret.as_str()), "GET", &users, "", None).status,
        200
    );
    *f.now.lock() = datetime!(2026-12-29 10:00 UTC);
    assert_401(&call(
        &f.engine,
        Some(t3.secret.as_str()),
        "GET",
        &users,
        "",
        None,
    ));
    // Discovery needs a valid token as well.
    assert_401(&call(
        &f.engine,
        Some(t3.secret.as_str()),
        "GET",
        &format!("/scim/v2/{}/ServiceProviderConfig", d.id),
        "",
        None,
    ));

    // Revocation and deletion.
    let t4 = f.engine.issue_token(&d.id, Some(24)).unwrap();
    assert_eq!(
        call(&f.engine, Some(t4.secret.as_str()), "GET", &users, "", None).status,
        200
    );
    f.engine.revoke_token(&d.id).unwrap();
    assert_401(&call(
        &f.engine,
        Some(t4.secret.as_str()),
        "GET",
        &users,
        "",
        None,
    ));
    let t5 = f.engine.issue_token(&d.id, None).unwrap();
    f.engine.delete_directory(&d.id).unwrap();
    assert_401(&call(
        &f.engine,
        Some(t5.secret.as_str()),
        "GET",
        &users,
        "",
        None,
    ));
    assert_eq!(f.engine.delete_directory(&d.id).unwrap_err().status, 404);
}

#[test]
fn directories_are_isolated() {
    let f = fixture();
    let a = f
        .engine
        .create_directory(&new_dir("A", "a.example"))
        .unwrap();
    let b = f
        .engine
        .create_directory(&new_dir("B", "b.example"))
        .unwrap();
    let ta = f
        .engine
        .issue_token(&a.id, None)
        .unwrap()
        .secret
        .to_string();
    let tb = f
        .engine
        .issue_token(&b.id, None)
        .unwrap()
        .secret
        .to_string();
    let pa = |p: &str| format!("/scim/v2/{}{p}", a.id);
    let pb = |p: &str| format!("/scim/v2/{}{p}", b.id);

    // The same userName in both directories: no conflict.
    let user = json!({"userName": "jane@example.com", "title": "in A"});
    let ra = call(&f.engine, Some(&ta), "POST", &pa("/Users"), "", Some(user));
    assert_eq!(ra.status, 201);
    let ida = body(&ra)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ra.header("Location").unwrap(),
        format!("https://host.example.com/scim/v2/{}/Users/{ida}", a.id)
    );
    let rb = call(
        &f.engine,
        Some(&tb),
        "POST",
        &pb("/Users"),
        "",
        Some(json!({"userName": "jane@example.com", "title": "in B"})),
    );
    assert_eq!(rb.status, 201);

    // A's token on B's paths: refused exactly like a bad token, whatever the verb.
    let idb = body(&rb)["id"].as_str().unwrap().to_owned();
    for (method, path, payload) in [
        ("GET", pb("/Users"), None),
        ("GET", pb(&format!("/Users/{idb}")), None),
        ("DELETE", pb(&format!("/Users/{idb}")), None),
        (
            "PUT",
            pb(&format!("/Users/{idb}")),
            Some(json!({"userName": "x"})),
        ),
        ("POST", pb("/Users"), Some(json!({"userName": "intruder"}))),
        ("GET", pb("/Schemas"), None),
        ("GET", pb("/ServiceProviderConfig"), None),
        (
            "POST",
            pb("/Bulk"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                        "Operations": [{"method": "DELETE", "path": format!("/Users/{idb}")}]}),
            ),
        ),
    ] {
        assert_401(&call(&f.engine, Some(&ta), method, &path, "", payload));
    }

    // Ids from B do not exist in A, through any door.
    let r = call(
        &f.engine,
        Some(&ta),
        "GET",
        &pa(&format!("/Users/{idb}")),
        "",
        None,
    );
    assert_eq!(r.status, 404);
    let r = call(
        &f.engine,
        Some(&ta),
        "GET",
        &pa("/Users"),
        "filter=userName%20eq%20%22jane@example.com%22",
        None,
    );
    let list = body(&r);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["title"], "in A");
    let r = call(
        &f.engine,
        Some(&ta),
        "POST",
        &pa("/Bulk"),
        "",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "DELETE", "path": format!("/Users/{idb}")},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "G", "members": [{"value": idb}]}}
            ]}),
        ),
    );
    let ops = body(&r)["Operations"].clone();
    assert_eq!(ops[0]["status"], "404");
    assert_eq!(ops[1]["status"], "201");
    let group = call(
        &f.engine,
        Some(&ta),
        "GET",
        &pa(&format!(
            "/Groups/{}",
            ops[1]["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
        )),
        "",
        None,
    );
    assert!(
        body(&group).get("members").is_none(),
        "a member from another directory does not exist here: it is left out"
    );
    let r = call(
        &f.engine,
        Some(&tb),
        "GET",
        &pb(&format!("/Users/{idb}")),
        "",
        None,
    );
    assert_eq!(body(&r)["title"], "in B");

    // Deleting A leaves B whole.
    f.engine.delete_directory(&a.id).unwrap();
    let r = call(&f.engine, Some(&tb), "GET", &pb("/Users"), "", None);
    assert_eq!(body(&r)["totalResults"], 1);
}

#[test]
fn domain_is_filled_and_optionally_enforced() {
    let f = fixture();
    let d = f
        .engine
        .create_directory(&new_dir("Corp", "corp.example"))
        .unwrap();
    let t = f
        .engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .to_string();
    let p = |s: &str| format!("/scim/v2/{}{s}", d.id);
    const WS1B: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
    let r = call(
        &f.engine,
        Some(&t),
        "POST",
        &p("/Users"),
        "",
        Some(json!({"userName": "x@elsewhere.example"})),
    );
    assert_eq!(r.status, 201);
    let u = body(&r);
    assert_eq!(u[WS1B]["domain"], "corp.example");
    assert!(u["schemas"].as_array().unwrap().contains(&json!(WS1B)));
    let r = call(
        &f.engine,
        Some(&t),
        "POST",
        &p("/Users"),
        "",
        Some(json!({"userName": "own", WS1B: {"domain": "sub.corp.example"}})),
    );
    assert_eq!(
        body(&r)[WS1B]["domain"],
        "sub.corp.example",
        "a given domain is kept"
    );
    let r = call(
        &f.engine,
        Some(&t),
        "POST",
        &p("/Groups"),
        "",
        Some(json!({"displayName": "G"})),
    );
    assert_eq!(
        body(&r)["urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group"]["domain"],
        "corp.example"
    );

    // With filling off, resources stay exactly as the IdP sent them.
    set_settings(
        &f.engine,
        &d.id,
        DirectorySettings {
            fill_domain: false,
            ..DirectorySettings::default()
        },
    );
    let r = call(
        &f.engine,
        Some(&t),
        "POST",
        &p("/Users"),
        "",
        Some(json!({"userName": "unfilled"})),
    );
    assert_eq!(
        body(&r)["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    set_settings(
        &f.engine,
        &d.id,
        DirectorySettings {
            enforce_domain: true,
            ..DirectorySettings::default()
        },
    );
    for user in [
        json!({"userName": "y@elsewhere.example"}),
        json!({"userName": "plain", "emails": [{"type": "work", "value": "y@elsewhere.example"}]}),
    ] {
        let r = call(&f.engine, Some(&t), "POST", &p("/Users"), "", Some(user));
        assert_eq!(r.status, 400);
        let b = body(&r);
        assert_eq!(b["scimType"], "invalidValue");
        assert!(
            b["detail"].as_str().unwrap().contains("'corp.example'"),
            "{b}"
        );
    }
    let ok = json!({"userName": "z@Corp.Example",
                    "emails": [{"type": "work", "value": "z@corp.example"},
                               {"type": "home", "value": "z@gmail.example"}]});
    assert_eq!(
        call(&f.engine, Some(&t), "POST", &p("/Users"), "", Some(ok)).status,
        201
    );
}

#[test]
fn secrets_never_reach_the_store_or_debug_output() {
    let f = fixture();
    let d = f
        .engine
        .create_directory(&new_dir("Secretive", "example.com"))
        .unwrap();
    let issued = f.engine.issue_token(&d.id, None).unwrap();
    let stored = format!("{:?}", f.store.list_directories().unwrap());
    assert!(!stored.contains(issued.secret.as_str()));
    for rec in f.store.list_directories().unwrap() {
        assert!(!rec.data.to_string().contains(issued.secret.as_str()));
        assert_ne!(rec.token_hash.as_deref(), Some(issued.secret.as_str()));
        assert_eq!(rec.token_hash.unwrap().len(), 64, "a SHA-256 hash is kept");
    }
    assert!(!format!("{issued:?}").contains(issued.secret.as_str()));
    assert!(!format!("{:?}", f.engine.directory(&d.id).unwrap()).contains(issued.secret.as_str()));
    // Nor does a 401 echo what was presented.
    let r = call(
        &f.engine,
        Some(&format!("{}x", issued.secret.as_str())),
        "GET",
        &format!("/scim/v2/{}/Users", d.id),
        "",
        None,
    );
    assert!(!String::from_utf8_lossy(&r.body).contains(issued.secret.as_str()));
}

#[test]
fn oidc_client_secrets_are_sealed_with_the_host_key() {
    use scim::oidc::OidcConfig;
    let store = Arc::new(MemoryStore::new());
    let key = scim::secret::SecretKey::generate_hex().unwrap();
    let engine = |key: Option<String>| {
        Engine::new(
            EngineConfig {
                public_url: "https://host.example.com".into(),
                secrets_key: key,
                ..EngineConfig::default()
            },
            store.clone(),
        )
    };
    let e = engine(Some(key.clone()));
    let d = e
        .create_directory(&new_dir("Sealed", "example.com"))
        .unwrap();
    let mut config = OidcConfig::new(
        "client",
        "very-secret-value",
        "http://127.0.0.1:9/.well-known/openid-configuration",
        "",
    );
    config.allow_http = true;
    let d = e.set_oidc(&d.id, config, "userName").unwrap();
    assert_eq!(
        d.login.as_ref().unwrap().redirect_uri,
        format!("https://host.example.com/login/{}/callback", d.id)
    );
    let stored = format!("{:?}", store.list_directories().unwrap());
    assert!(!stored.contains("very-secret-value"), "sealed at rest");
    // With the key, the secret opens: the login gets as far as the (absent) IdP.
    let err = e.login_begin(&d.id).unwrap_err();
    assert_eq!(err.code(), "discovery_failed", "{err}");
    // Without it, or with another, it does not.
    for other in [None, Some(scim::secret::SecretKey::generate_hex().unwrap())] {
        let other = engine(other);
        let err = other.login_begin(&d.id).unwrap_err();
        assert_eq!(err.code(), "directory_error", "{err}");
        assert_eq!(err.kind(), ErrorKind::SecretsKey, "{err}");
        let err = other.check_secrets_key().unwrap_err();
        assert_eq!(err.kind, ErrorKind::SecretsKey, "{err}");
    }
    let err = Engine::open(
        None,
        EngineConfig {
            secrets_key: Some("not hex".into()),
            ..EngineConfig::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(
        (err.status, err.kind),
        (400, ErrorKind::SecretsKey),
        "{err}"
    );
    assert!(!format!("{:?}", e.config()).contains(&key));
}

/// Each refusal of the engine carries the kind a host acts on (the C ABI's result code),
/// set where the engine knows what went wrong, not guessed from the HTTP status.
#[test]
fn every_refusal_has_its_kind() {
    let f = fixture();
    let e = &f.engine;
    let d = e
        .create_directory(&new_dir("Kinds", "example.com"))
        .unwrap();
    let kind = |r: scim::error::Result<()>| r.unwrap_err().kind;
    assert_eq!(
        kind(e.directory("no-such-id").map(drop)),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            e.create_directory(&new_dir("Kinds", "example.com"))
                .map(drop)
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            e.create_directory(&new_dir("bad/name", "example.com"))
                .map(drop)
        ),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(e.issue_token(&d.id, Some(25)).map(drop)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(kind(e.ack_events(&d.id, 99)), ErrorKind::Conflict);
    // A login on a directory without OpenID Connect settings: the wrong state.
    assert_eq!(
        e.login_begin(&d.id).unwrap_err().kind(),
        ErrorKind::WrongState
    );
    // A refused bearer token: unauthenticated (401), not an invalid argument.
    let path = format!("/scim/v2/{}/Users", d.id);
    let err = e
        .authenticate(&path, Some("Bearer scim_wrong"))
        .err()
        .unwrap();
    assert_eq!((err.status, err.kind), (401, ErrorKind::Unauthenticated));
    let err = e.authenticate(&path, None).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Unauthenticated);
    // A store that cannot be opened: I/O.
    let dir = std::env::temp_dir().join(format!("libscim-kinds-{}", std::process::id()));
    let err = Engine::open(
        Some(&dir.join("no").join("such").join("scim.db")),
        EngineConfig::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, ErrorKind::Io, "{err}");
}

/// Push delivery in the core (what `scim_events_subscribe` wraps): events reach the
/// callback in order on the subscription's thread, `stopped` runs once after the last
/// delivery, and an unknown directory is refused before any thread starts.
#[test]
fn a_subscription_delivers_in_order_and_stops_once() {
    use scim::engine::Subscription;
    use std::sync::mpsc;
    let store = Arc::new(MemoryStore::new());
    let e = Arc::new(Engine::new(EngineConfig::default(), store));
    let d = e
        .create_directory(&new_dir("Pushed", "example.com"))
        .unwrap();
    let secret = e.issue_token(&d.id, None).unwrap().secret;
    let err = Subscription::start(e.clone(), "no-such-id", |_| {}, || {})
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::NotFound);

    let (tx, rx) = mpsc::channel();
    let (stopped_tx, stopped_rx) = mpsc::channel();
    let sub = Subscription::start(
        e.clone(),
        &d.id,
        move |batch| {
            for ev in batch {
                tx.send((ev.seq, ev.kind.clone())).unwrap();
            }
        },
        move || stopped_tx.send(()).unwrap(),
    )
    .unwrap();
    for name in ["ann", "bob", "cy"] {
        let r = call(
            &e,
            Some(&secret),
            "POST",
            &format!("/scim/v2/{}/Users", d.id),
            "",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}),
            ),
        );
        assert_eq!(r.status, 201);
    }
    let wait = std::time::Duration::from_secs(30);
    let got: Vec<(u64, String)> = (0..3).map(|_| rx.recv_timeout(wait).unwrap()).collect();
    assert_eq!(
        got,
        vec![
            (1, "user.created".to_owned()),
            (2, "user.created".to_owned()),
            (3, "user.created".to_owned())
        ]
    );
    assert!(stopped_rx.try_recv().is_err(), "not stopped yet");
    sub.stop();
    stopped_rx.recv_timeout(wait).unwrap();
    assert!(stopped_rx.try_recv().is_err(), "stopped once");
}
