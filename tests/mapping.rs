//! Attribute mapping: the Workspace ONE and RFC profiles against real Okta and Entra
//! payloads, transforms, required/immutable enforcement at the protocol edge, per-service
//! records in events, resync, and reverse lookup.

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::mapping::{Mapping, MappingEntry, Profile, Transform};
use scim::schema::ResourceKind;
use scim::store::{Store, StoredResource};
use scim::{Engine, EngineConfig, Request, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use time::macros::datetime;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const WS1B_USER: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
const WS1B_GROUP: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group";

#[path = "support/counting.rs"]
mod counting;
use counting::Counting;

struct Fixture {
    engine: Engine,
    store: Arc<Counting>,
    dir: String,
    token: String,
    seen: u64,
}

fn fixture_with(idp: IdpKind, services: &[Service], profile: Option<Profile>) -> Fixture {
    let store = Arc::new(Counting::default());
    let engine = Engine::new(
        EngineConfig {
            public_url: "https://host.example.com".into(),
            ..EngineConfig::default()
        },
        store.clone(),
    )
    .with_clock(Arc::new(|| datetime!(2026-11-29 10:00 UTC)));
    let d = engine
        .create_directory(&NewDirectory {
            name: "Corp".into(),
            domain: "corp.example".into(),
            idp,
            services: services.to_vec(),
            settings: DirectorySettings::default(),
            mapping_profile: profile,
        })
        .unwrap();
    let token = engine.issue_token(&d.id, None).unwrap().secret.to_string();
    Fixture {
        engine,
        store,
        dir: d.id,
        token,
        seen: 0,
    }
}

fn fixture(idp: IdpKind) -> Fixture {
    fixture_with(idp, &[Service::Uem, Service::Access], None)
}

impl Fixture {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let r: Response = self.engine.handle(&Request {
            method: method.into(),
            path: format!("/scim/v2/{}{path}", self.dir),
            query: String::new(),
            headers: vec![
                ("Content-Type".into(), "application/scim+json".into()),
                ("Authorization".into(), format!("Bearer {}", self.token)),
            ],
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        });
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn create(&self, path: &str, body: Value) -> String {
        let (status, v) = self.call("POST", path, Some(body));
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Events since the last call: (kind, resource id, data).
    fn new_events(&mut self) -> Vec<(String, String, Value)> {
        let events = self.store.events(&self.dir, self.seen, 100_000).unwrap();
        if let Some(last) = events.last() {
            self.seen = last.seq;
        }
        events
            .into_iter()
            .map(|e| (e.kind, e.resource_id, e.data))
            .collect()
    }

    /// The `records` of the only new event.
    fn only_records(&mut self, kind: &str) -> Value {
        let ev = self.new_events();
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].0, kind);
        ev[0].2["records"].clone()
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The request body of a step of a shared vector, with `${var}`s replaced.
fn vector_body(file: &str, step: usize, vars: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(format!("{file}.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut text = v["steps"][step]["request"]["body"].to_string();
    for (k, val) in vars {
        text = text.replace(&format!("${{{k}}}"), val);
    }
    serde_json::from_str(&text).unwrap()
}

fn detail(v: &Value) -> &str {
    v["detail"].as_str().unwrap_or_default()
}

// ----- defaults against real payloads -----------------------------------------------------

#[test]
fn okta_user_gets_the_workspace_one_record_for_each_service() {
    let mut f = fixture(IdpKind::Okta);
    let body = vector_body("okta-provisioning", 3, &[]);
    let uid = f.create("/Users", body);
    let records = f.only_records("user.created");
    let expected = json!({
        "userName": "test.user@okta.local",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "email": "test.user@okta.local",
        "firstName": "Test",
        "lastName": "User",
        "active": true,
        "displayName": "Test User",
        "domain": "corp.example",
    });
    assert_eq!(records, json!({"uem": expected, "access": expected}));

    // Okta's PUT (full profile) and its deactivation PATCH.
    let put = vector_body("okta-provisioning", 7, &[("uid", &uid)]);
    let (s, v) = f.call("PUT", &format!("/Users/{uid}"), Some(put));
    assert_eq!(s, 200, "{v}");
    let r = f.only_records("user.updated");
    assert_eq!(r["uem"]["firstName"], "Another");
    assert_eq!(r["uem"]["displayName"], "Another User");
    let deactivate = vector_body("okta-provisioning", 8, &[]);
    let (s, v) = f.call("PATCH", &format!("/Users/{uid}"), Some(deactivate));
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        f.only_records("user.deactivated")["access"]["active"],
        false
    );
}

#[test]
fn entra_users_with_enterprise_extension_and_manager() {
    let mut f = fixture(IdpKind::Entra);
    let mgr = f.create("/Users", vector_body("entra-aadoptscim062020", 1, &[]));
    let uid = f.create(
        "/Users",
        vector_body("entra-aadoptscim062020", 2, &[("mgr", &mgr)]),
    );
    let ev = f.new_events();
    assert_eq!(ev.len(), 2);
    assert_eq!(
        ev[1].2["records"]["uem"],
        json!({
            "userName": "ellen.reckert@contoso.example",
            "externalId": "100009",
            "email": "ellen.reckert@contoso.example",
            "firstName": "Ellen",
            "lastName": "Reckert",
            "active": true,
            "displayName": "Ellen Reckert",
            "department": "Human Resources US",
            "employeeNumber": "100009",
            "manager": mgr,
            "domain": "corp.example",
        })
    );

    // Entra's combined PATCH: value path, dotted and URN-qualified pathless keys.
    let (s, v) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(vector_body("entra-aadoptscim062020", 4, &[])),
    );
    assert_eq!(s, 200, "{v}");
    let r = f.only_records("user.updated");
    assert_eq!(r["uem"]["email"], "TestMhvaes@test.microsoft.com");
    assert_eq!(r["uem"]["firstName"], "Kkom");
    assert_eq!(r["uem"]["lastName"], "Unua");
    assert_eq!(r["uem"]["employeeNumber"], "Aklq");
    assert_eq!(r["access"], r["uem"]);

    // The other Entra payload: department and cost center.
    let u2 = vector_body("entra-provisioning", 3, &[]);
    f.create("/Users", u2);
    let r = f.only_records("user.created");
    assert_eq!(r["uem"]["costCenter"], "HR-01");
    assert_eq!(r["uem"]["department"], "Human Resources US");
    assert_eq!(
        r["uem"]["email"],
        "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    );
    assert!(r["uem"].get("manager").is_none());

    // Unassigning the manager removes it from the record.
    let (s, _) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(vector_body("entra-aadoptscim062020", 11, &[])),
    );
    assert_eq!(s, 200);
    assert!(f.only_records("user.updated")["uem"]
        .get("manager")
        .is_none());
}

#[test]
fn every_workspace_one_default_entry_maps_its_attribute() {
    let mut f = fixture(IdpKind::Okta);
    let mgr = f.create(
        "/Users",
        json!({"userName": "boss", "externalId": "b", "name": {"givenName": "B", "familyName": "Oss"},
               "emails": [{"type": "work", "value": "boss@corp.example"}]}),
    );
    let mut ws1b = serde_json::Map::new();
    for i in 1..=5 {
        ws1b.insert(format!("customAttribute{i}"), json!(format!("custom {i}")));
    }
    for (k, v) in [
        ("distinguishedName", "CN=Jane,OU=Staff,DC=corp,DC=example"),
        ("domain", "staff.corp.example"),
        ("userPrincipalName", "jane@corp.example"),
        ("onPremisesUserPrincipalName", "jane@corp.local"),
        ("adSourceAnchor", "AbCd=="),
    ] {
        ws1b.insert(k.into(), json!(v));
    }
    f.create(
        "/Users",
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, WS1B_USER],
            "userName": "jane@corp.example",
            "externalId": "ext-1",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "displayName": "Jane Doe",
            "nickName": "JD",
            "title": "Engineer",
            "active": false,
            "emails": [
                {"type": "home", "value": "jane@home.example"},
                {"type": "work", "value": "jane@corp.example"}
            ],
            "phoneNumbers": [
                {"type": "mobile", "value": "+1 555 0100"},
                {"type": "work", "value": "+1 555 0199"}
            ],
            "addresses": [
                {"type": "home", "streetAddress": "1 Home Rd", "locality": "Hometown"},
                {"type": "work", "streetAddress": "100 Main St", "locality": "Springfield",
                 "region": "IL", "postalCode": "62701", "country": "US"}
            ],
            ENTERPRISE: {
                "department": "R&D", "employeeNumber": "42", "costCenter": "CC-7",
                "division": "Devices", "organization": "Corp", "manager": {"value": mgr}
            },
            WS1B_USER: ws1b,
        }),
    );
    f.new_events();
    let mut expected = json!({
        "userName": "jane@corp.example", "externalId": "ext-1", "email": "jane@corp.example",
        "firstName": "Jane", "lastName": "Doe", "active": false, "displayName": "Jane Doe",
        "title": "Engineer", "nickName": "JD", "phoneNumber": "+1 555 0199",
        "streetAddress": "100 Main St", "locality": "Springfield", "region": "IL",
        "postalCode": "62701", "country": "US", "department": "R&D", "employeeNumber": "42",
        "costCenter": "CC-7", "division": "Devices", "organization": "Corp", "manager": mgr,
    });
    for (k, v) in &ws1b {
        expected[k] = v.clone();
    }
    let user = Profile::WorkspaceOne.mapping().users;
    assert_eq!(user.len(), 31);
    assert_eq!(expected.as_object().unwrap().len(), user.len());
    // Every default target is there, with the value above; in the profile's order.
    let r = &f.engine.mappings(&f.dir).unwrap()[&Service::Uem];
    assert_eq!(r.users, user);
    let found = f
        .engine
        .find_user(&f.dir, Service::Uem, "externalId", "ext-1")
        .unwrap()
        .unwrap();
    assert_eq!(found.record, expected);
    let targets: Vec<&String> = found.record.as_object().unwrap().keys().collect();
    let order: Vec<&String> = user.iter().map(|e| &e.target).collect();
    assert_eq!(targets, order);

    // Groups: displayName, externalId and the ws1b extension.
    let gid = f.create(
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", WS1B_GROUP],
               "displayName": "Staff", "externalId": "g-1",
               WS1B_GROUP: {"description": "All staff", "distinguishedName": "CN=Staff,DC=corp"}}),
    );
    let r = f.only_records("group.created");
    assert_eq!(
        r["uem"],
        json!({"displayName": "Staff", "externalId": "g-1", "description": "All staff",
               "distinguishedName": "CN=Staff,DC=corp", "domain": "corp.example"})
    );
    let (s, _) = f.call("DELETE", &format!("/Groups/{gid}"), None);
    assert_eq!(s, 204);
}

#[test]
fn rfc_profile_for_generic_idps_requires_only_user_name() {
    let mut f = fixture(IdpKind::Generic);
    let m = f.engine.mappings(&f.dir).unwrap();
    assert!(m.values().all(|m| m.profile == Profile::Rfc));
    let required: Vec<&str> = m[&Service::Uem]
        .users
        .iter()
        .filter(|e| e.required)
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(required, ["userName"]);
    let uid = f.create("/Users", json!({"userName": "bare"}));
    assert_eq!(
        f.only_records("user.created"),
        json!({"uem": {"userName": "bare"}, "access": {"userName": "bare"}})
    );
    // No immutable externalId in the RFC profile.
    f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "add", "path": "externalId", "value": "a"}]),
        )),
    );
    let (s, v) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "replace", "path": "externalId", "value": "b"}]),
        )),
    );
    assert_eq!(s, 200, "{v}");

    // An Okta directory can choose the RFC profile too.
    let f2 = fixture_with(IdpKind::Okta, &[Service::Uem], Some(Profile::Rfc));
    assert_eq!(
        f2.engine.mapping(&f2.dir, Service::Uem).unwrap().profile,
        Profile::Rfc
    );
}

// ----- transforms ----------------------------------------------------------------------------

#[test]
fn each_transform() {
    let user = json!({
        "userName": "Jane.Doe@Corp.Example",
        "emails": [{"type": "work", "value": "Jane.Doe@Corp.Example"}],
        "active": true,
    });
    let run = |source: &str, t: Option<Transform>| -> Value {
        let mut e = MappingEntry::new("x", source);
        e.transform = t;
        let m = Mapping {
            profile: Profile::Rfc,
            users: vec![MappingEntry::new("userName", "userName").required(), e],
            groups: vec![MappingEntry::new("displayName", "displayName").required()],
        };
        m.validate().unwrap();
        m.record(ResourceKind::User, &user).unwrap()["x"].clone()
    };
    let email = "emails[type eq \"work\"].value";
    assert_eq!(run(email, None), "Jane.Doe@Corp.Example");
    assert_eq!(
        run(email, Some(Transform::Lowercase)),
        "jane.doe@corp.example"
    );
    assert_eq!(
        run(email, Some(Transform::Uppercase)),
        "JANE.DOE@CORP.EXAMPLE"
    );
    assert_eq!(run(email, Some(Transform::EmailLocalPart)), "Jane.Doe");
    assert_eq!(run(email, Some(Transform::EmailDomain)), "Corp.Example");
    assert_eq!(run("title", Some(Transform::EmailDomain)), Value::Null);
    let dflt = || Transform::Default {
        value: json!("none"),
    };
    assert_eq!(run("title", Some(dflt())), "none");
    assert_eq!(run("userName", Some(dflt())), "Jane.Doe@Corp.Example");
    assert_eq!(
        run("", Some(Transform::Constant { value: json!(7) })),
        json!(7)
    );
    assert_eq!(
        run("title", Some(Transform::Constant { value: json!("k") })),
        "k"
    );
    // Non-strings pass through case transforms.
    assert_eq!(run("active", Some(Transform::Uppercase)), true);
    // Without '@', the local part is the whole value and there is no domain.
    let plain = json!({"userName": "jdoe"});
    let m = Mapping {
        profile: Profile::Rfc,
        users: vec![
            MappingEntry::new("userName", "userName").required(),
            MappingEntry::new("local", "userName").with(Transform::EmailLocalPart),
            MappingEntry::new("domain", "userName").with(Transform::EmailDomain),
        ],
        groups: vec![MappingEntry::new("displayName", "displayName").required()],
    };
    assert_eq!(
        m.record(ResourceKind::User, &plain).unwrap(),
        json!({"userName": "jdoe", "local": "jdoe"})
    );

    // JSON shape (the C ABI passes mappings as JSON).
    let e = MappingEntry::new("login", email)
        .required()
        .with(Transform::Default {
            value: json!("x@y"),
        });
    let j = serde_json::to_value(&e).unwrap();
    assert_eq!(
        j,
        json!({"target": "login", "source": email, "required": true,
               "transform": {"kind": "default", "value": "x@y"}})
    );
    assert_eq!(serde_json::from_value::<MappingEntry>(j).unwrap(), e);
    let t: Transform = serde_json::from_value(json!({"kind": "email_local_part"})).unwrap();
    assert_eq!(t, Transform::EmailLocalPart);
    assert_eq!(
        serde_json::to_value(Profile::WorkspaceOne).unwrap(),
        "workspace-one"
    );
}

#[test]
fn transforms_apply_in_event_records() {
    let mut f = fixture(IdpKind::Okta);
    let m = f
        .engine
        .set_mapping_entry(
            &f.dir,
            Service::Access,
            ResourceKind::User,
            &MappingEntry::new("userName", "emails[type eq \"work\"].value")
                .required()
                .with(Transform::EmailLocalPart),
        )
        .unwrap();
    assert_eq!(m.users[0].source, "emails[type eq \"work\"].value");
    f.engine
        .set_mapping_entry(
            &f.dir,
            Service::Access,
            ResourceKind::User,
            &MappingEntry::new("tenant", "").with(Transform::Constant {
                value: json!("acme"),
            }),
        )
        .unwrap();
    f.create("/Users", vector_body("okta-provisioning", 3, &[]));
    let r = f.only_records("user.created");
    assert_eq!(r["uem"]["userName"], "test.user@okta.local");
    assert_eq!(r["access"]["userName"], "test.user");
    assert_eq!(r["access"]["tenant"], "acme");
    assert!(r["uem"].get("tenant").is_none());
}

// ----- enforcement at the protocol edge ------------------------------------------------------

#[test]
fn missing_required_attribute_is_a_400_naming_path_and_target() {
    let mut f = fixture(IdpKind::Okta);
    // An email without `type: "work"` does not satisfy `emails[type eq "work"].value`.
    let mut body = vector_body("okta-provisioning", 3, &[]);
    body["emails"] = json!([{"primary": true, "value": "test.user@okta.local"}]);
    let (s, v) = f.call("POST", "/Users", Some(body));
    assert_eq!(s, 400);
    assert_eq!(v["scimType"], "invalidValue");
    assert_eq!(
        detail(&v),
        "required attribute 'emails[type eq \"work\"].value' (Workspace ONE 'email' for uem, access) is missing"
    );
    assert!(f.new_events().is_empty());

    for (drop, path, target) in [
        ("externalId", "externalId", "externalId"),
        ("name", "name.givenName", "firstName"),
    ] {
        let mut body = vector_body("okta-provisioning", 3, &[]);
        body.as_object_mut().unwrap().remove(drop);
        let (s, v) = f.call("POST", "/Users", Some(body));
        assert_eq!(s, 400, "{v}");
        assert!(
            detail(&v).contains(&format!("'{path}' (Workspace ONE '{target}'")),
            "{v}"
        );
    }
    // `active` may be omitted: an absent `active` means active.
    let mut body = vector_body("okta-provisioning", 3, &[]);
    body.as_object_mut().unwrap().remove("active");
    let uid = f.create("/Users", body);
    assert_eq!(f.only_records("user.created")["uem"]["active"], true);

    // PUT without the family name; PATCH removing the work email (Entra's own PATCH).
    let mut put = vector_body("okta-provisioning", 7, &[("uid", &uid)]);
    put["name"] = json!({"givenName": "Test"});
    let (s, v) = f.call("PUT", &format!("/Users/{uid}"), Some(put));
    assert_eq!(s, 400);
    assert!(detail(&v).contains("'name.familyName' (Workspace ONE 'lastName'"));
    let (s, v) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(vector_body("entra-aadoptscim062020", 12, &[])),
    );
    assert_eq!(s, 400);
    assert!(detail(&v).contains("'email'"), "{v}");
    // Nothing changed.
    let (_, u) = f.call("GET", &format!("/Users/{uid}"), None);
    assert_eq!(u["emails"][0]["type"], "work");
    assert!(f.new_events().is_empty());

    // A custom required entry of one service names only that service; bulk is checked too.
    f.engine
        .set_mapping_entry(
            &f.dir,
            Service::Access,
            ResourceKind::User,
            &MappingEntry::new("department", &format!("{ENTERPRISE}:department")).required(),
        )
        .unwrap();
    let mut body = vector_body("okta-provisioning", 12, &[]);
    let (s, v) = f.call(
        "POST",
        "/Bulk",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
               "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": body.clone()}]})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Operations"][0]["status"], "400", "{v}");
    let (s, v) = f.call("POST", "/Users", Some(body.clone()));
    assert_eq!(s, 400);
    assert_eq!(
        detail(&v),
        format!("required attribute '{ENTERPRISE}:department' (Workspace ONE 'department' for access) is missing")
    );
    body[ENTERPRISE] = json!({"department": "Sales"});
    f.create("/Users", body);
}

#[test]
fn external_id_is_immutable_once_provisioned() {
    let f = fixture(IdpKind::Entra);
    let uid = f.create("/Users", vector_body("entra-provisioning", 3, &[]));
    // Entra's multi-attribute PATCH replaces externalId: refused whole.
    let (s, v) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(vector_body("entra-provisioning", 11, &[])),
    );
    assert_eq!(s, 400);
    assert_eq!(v["scimType"], "mutability");
    assert!(
        detail(&v).contains("'externalId' (Workspace ONE 'externalId' for uem) is immutable"),
        "{v}"
    );
    let (_, u) = f.call("GET", &format!("/Users/{uid}"), None);
    assert_eq!(u["displayName"], Value::Null);

    // PUT with another externalId, or without one: refused; with the same: fine.
    let mut put = vector_body("entra-provisioning", 3, &[]);
    put["externalId"] = json!("other");
    let (s, v) = f.call("PUT", &format!("/Users/{uid}"), Some(put.clone()));
    assert_eq!((s, v["scimType"].as_str()), (400, Some("mutability")));
    put.as_object_mut().unwrap().remove("externalId");
    let (s, v) = f.call("PUT", &format!("/Users/{uid}"), Some(put.clone()));
    assert_eq!(s, 400);
    assert_eq!(v["scimType"], "mutability", "{v}");
    put["externalId"] = json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    put["title"] = json!("Boss");
    let (s, v) = f.call("PUT", &format!("/Users/{uid}"), Some(put));
    assert_eq!(s, 200, "{v}");
    // externalId is case-exact: a case change is a change.
    let (s, _) = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch(json!([{"op": "replace", "path": "externalId",
                            "value": "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"}]))),
    );
    assert_eq!(s, 400);
}

// ----- mapping administration ----------------------------------------------------------------

#[test]
fn mapping_validation_and_administration() {
    let f = fixture(IdpKind::Okta);
    let set = |e: MappingEntry| {
        f.engine
            .set_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, &e)
    };
    let err = |e: MappingEntry| set(e).unwrap_err();
    for (entry, expected) in [
        (
            MappingEntry::new("x", "nosuch"),
            "mapping for uem: users entry 'x': source 'nosuch': unknown User attribute 'nosuch'",
        ),
        (
            MappingEntry::new("x", "name.nosuch"),
            "source 'name.nosuch': 'name' has no sub-attribute 'nosuch'",
        ),
        (
            MappingEntry::new("x", "emails[type eq \"work\"]"),
            "'emails' is complex: name one of its sub-attributes",
        ),
        (
            MappingEntry::new("x", "emails[nosuch eq \"work\"].value"),
            "source 'emails[nosuch eq \"work\"].value'",
        ),
        (
            MappingEntry::new("x", "emails[type eq "),
            "source 'emails[type eq '",
        ),
        (
            MappingEntry::new("x", &format!("{ENTERPRISE}:manager")),
            "'manager' is complex",
        ),
        (
            MappingEntry::new("x", "urn:nosuch:2.0:User:thing"),
            "unknown User attribute",
        ),
        (
            MappingEntry::new("x", "password"),
            "'password' is not a mappable attribute",
        ),
        (
            MappingEntry::new("x", "id"),
            "'id' is not a mappable attribute",
        ),
        (MappingEntry::new("x", ""), "source must not be empty"),
        (MappingEntry::new("", "title"), "target must be 1 to 128"),
        (MappingEntry::new("a b", "title"), "may contain only"),
        (
            MappingEntry::new("x", "title").with(Transform::Default { value: json!({}) }),
            "transform value must be a string, number or boolean",
        ),
        (
            MappingEntry::new("email", "emails.value"),
            "target 'email' is required by the workspace-one profile",
        ),
    ] {
        let e = err(entry.clone());
        assert_eq!(e.status, 400, "{entry:?}");
        assert!(
            e.detail.contains(expected),
            "{entry:?}: {} (wanted {expected})",
            e.detail
        );
    }
    // A whole mapping with a duplicate target (case-insensitively).
    let mut m = f.engine.mapping(&f.dir, Service::Uem).unwrap();
    m.users.push(MappingEntry::new("Title", "displayName"));
    let e = f.engine.set_mapping(&f.dir, Service::Uem, &m).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.detail, "mapping for uem: users: duplicate target 'Title'");
    // Nothing was stored by the failures.
    assert_eq!(
        f.engine.mapping(&f.dir, Service::Uem).unwrap(),
        Profile::WorkspaceOne.mapping()
    );

    // Change a required entry's source (allowed: custom mappings), add and remove entries.
    let m = set(MappingEntry::new("email", "emails.value").required()).unwrap();
    let email = m.users.iter().find(|e| e.target == "email").unwrap();
    assert_eq!(email.source, "emails.value");
    assert_eq!(m.users.len(), 31);
    let m = set(MappingEntry::new("locale", "locale")).unwrap();
    assert_eq!(m.users.last().unwrap().target, "locale");
    let m = f
        .engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, "LOCALE")
        .unwrap();
    assert_eq!(m.users.len(), 31);
    let e = f
        .engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, "locale")
        .unwrap_err();
    assert_eq!(e.status, 404);
    let e = f
        .engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, "externalId")
        .unwrap_err();
    assert_eq!(
        (e.status, e.detail.as_str()),
        (
            400,
            "mapping entry 'externalId' is required and cannot be removed"
        )
    );
    let e = f
        .engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::Group, "displayName")
        .unwrap_err();
    assert_eq!(e.status, 400);
    f.engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::Group, "description")
        .unwrap();
    // A custom required entry can be removed once made optional.
    set(MappingEntry::new("locale", "locale").required()).unwrap();
    assert!(f
        .engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, "locale")
        .is_err());
    set(MappingEntry::new("locale", "locale")).unwrap();
    f.engine
        .remove_mapping_entry(&f.dir, Service::Uem, ResourceKind::User, "locale")
        .unwrap();

    // The other service was never touched; reset brings the defaults back.
    let all = f.engine.mappings(&f.dir).unwrap();
    assert_eq!(all[&Service::Access], Profile::WorkspaceOne.mapping());
    assert_ne!(all[&Service::Uem], Profile::WorkspaceOne.mapping());
    let m = f
        .engine
        .reset_mapping(&f.dir, Service::Uem, Profile::WorkspaceOne)
        .unwrap();
    assert_eq!(m, Profile::WorkspaceOne.mapping());

    // A service the directory does not feed; an unknown directory.
    let g = fixture_with(IdpKind::Okta, &[Service::Uem], None);
    let e = g.engine.mapping(&g.dir, Service::Access).unwrap_err();
    assert_eq!(
        (e.status, e.detail.as_str()),
        (400, "the directory does not feed 'access'")
    );
    assert_eq!(g.engine.mappings("nosuch").unwrap_err().status, 404);
    assert_eq!(g.engine.mappings(&g.dir).unwrap().len(), 1);

    // JSON round trip of a whole mapping.
    let j = serde_json::to_value(Profile::WorkspaceOne.mapping()).unwrap();
    assert_eq!(j["profile"], "workspace-one");
    assert_eq!(
        j["users"][1],
        json!({"target": "externalId", "source": "externalId",
                                     "required": true, "immutable": true})
    );
    let back: Mapping = serde_json::from_value(j).unwrap();
    assert_eq!(back, Profile::WorkspaceOne.mapping());
}

#[test]
fn stored_settings_without_mappings_use_the_idp_default() {
    let f = fixture(IdpKind::Entra);
    f.store
        .modify_directory(&f.dir, &mut |rec| {
            rec.data.as_object_mut().unwrap().remove("mappings");
            Ok(())
        })
        .unwrap();
    let m = f.engine.mappings(&f.dir).unwrap();
    assert_eq!(m[&Service::Uem], Profile::WorkspaceOne.mapping());
    // Enforcement still applies.
    let (s, _) = f.call("POST", "/Users", Some(json!({"userName": "bare"})));
    assert_eq!(s, 400);
    // A NewDirectory without mapping_profile still parses.
    let d: NewDirectory = serde_json::from_value(json!({
        "name": "x", "domain": "x.example", "idp": "generic", "services": ["uem"]
    }))
    .unwrap();
    assert_eq!(d.mapping_profile, None);
}

// ----- events ----------------------------------------------------------------------------------

#[test]
fn events_carry_records_for_the_services_fed_only() {
    let mut f = fixture_with(IdpKind::Okta, &[Service::Uem], None);
    let uid = f.create("/Users", vector_body("okta-provisioning", 3, &[]));
    let r = f.only_records("user.created");
    assert_eq!(r.as_object().unwrap().len(), 1);
    assert_eq!(r["uem"]["email"], "test.user@okta.local");

    // Group lifecycle: created, members added (group record + member delta), renamed,
    // members removed, deleted (last state).
    let gid = f.create(
        "/Groups",
        json!({"displayName": "Test SCIMv2", "externalId": "g1", "members": []}),
    );
    let r = f.only_records("group.created");
    assert_eq!(
        r,
        json!({"uem": {"displayName": "Test SCIMv2", "externalId": "g1", "domain": "corp.example"}})
    );
    let (s, _) = f.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
        )),
    );
    assert_eq!(s, 200);
    let ev = f.new_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, "group.members_added");
    assert_eq!(ev[0].2["members"][0]["value"], uid.as_str());
    assert_eq!(ev[0].2["records"]["uem"]["displayName"], "Test SCIMv2");
    let (s, _) = f.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(vector_body("okta-provisioning", 18, &[("gid", &gid)])),
    );
    assert_eq!(s, 200);
    assert_eq!(
        f.only_records("group.updated")["uem"]["displayName"],
        "Test SCIMv20"
    );
    let (s, _) = f.call("DELETE", &format!("/Users/{uid}"), None);
    assert_eq!(s, 204);
    let ev = f.new_events();
    let kinds: Vec<&str> = ev.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(kinds, ["group.members_removed", "user.deleted"]);
    assert_eq!(ev[0].2["records"]["uem"]["displayName"], "Test SCIMv20");
    assert_eq!(
        ev[1].2["records"]["uem"]["userName"],
        "test.user@okta.local"
    );
    let (s, _) = f.call("DELETE", &format!("/Groups/{gid}"), None);
    assert_eq!(s, 204);
    assert_eq!(f.only_records("group.deleted")["uem"]["externalId"], "g1");
}

#[test]
fn mapping_changes_emit_nothing_until_resync() {
    let mut f = fixture(IdpKind::Okta);
    let n = 1201;
    for i in 0..n {
        f.create(
            "/Users",
            json!({"userName": format!("u{i}@corp.example"), "externalId": format!("e{i}"),
                   "name": {"givenName": "U", "familyName": format!("{i}")},
                   "emails": [{"type": "work", "value": format!("u{i}@corp.example")}]}),
        );
    }
    f.new_events();
    f.engine
        .set_mapping_entry(
            &f.dir,
            Service::Uem,
            ResourceKind::User,
            &MappingEntry::new("email", "emails[type eq \"work\"].value")
                .required()
                .with(Transform::Uppercase),
        )
        .unwrap();
    assert!(f.new_events().is_empty(), "setting a mapping emits nothing");
    let writes = f.store.writes.load(Relaxed);
    let count = f.engine.resync(&f.dir).unwrap();
    assert_eq!(count, n);
    // Batches of 500: three write transactions for 1,201 users.
    assert_eq!(f.store.writes.load(Relaxed) - writes, 3);
    let ev = f.new_events();
    assert_eq!(ev.len(), n as usize);
    assert!(ev.iter().all(|e| e.0 == "user.updated"));
    assert_eq!(ev[7].2["records"]["uem"]["email"], "U7@CORP.EXAMPLE");
    assert_eq!(ev[7].2["records"]["access"]["email"], "u7@corp.example");
    assert_eq!(ev[7].2["resource"]["userName"], "u7@corp.example");
}

// ----- reverse lookup --------------------------------------------------------------------------

#[test]
fn reverse_lookup_by_email_and_external_id_is_a_point_lookup_on_100k_users() {
    let f = fixture(IdpKind::Okta);
    let n = 100_000;
    let t0 = Instant::now();
    let now = datetime!(2026-11-29 10:00 UTC);
    f.store
        .write(&f.dir, &mut |tx| {
            for i in 0..n {
                tx.insert(StoredResource {
                    id: format!("id-{i}"),
                    kind: ResourceKind::User,
                    // Canonical form, kept small: building 100,000 JSON values is
                    // most of this test's time in a debug build.
                    data: json!({
                        "userName": format!("user{i}@corp.example"),
                        "externalId": format!("Ext-{i}"),
                        "emails": [
                            {"type": "home", "value": format!("home{i}@mail.example")},
                            {"type": "work", "value": format!("User{i}@Corp.Example")}
                        ],
                    }),
                    created: now,
                    last_modified: now,
                    version: 1,
                })?;
            }
            Ok(())
        })
        .unwrap();
    eprintln!("inserted {n} users in {:?}", t0.elapsed());
    let scans = f.store.scans.load(Relaxed);
    let started = Instant::now();
    let find = |target: &str, value: &str| {
        f.engine
            .find_user(&f.dir, Service::Uem, target, value)
            .unwrap()
    };

    // By email: case-insensitive, through the value path.
    let u = find("email", "user77777@corp.EXAMPLE").unwrap();
    assert_eq!(u.id, "id-77777");
    assert_eq!(u.record["externalId"], "Ext-77777");
    assert_eq!(u.record["email"], "User77777@Corp.Example");
    assert_eq!(u.resource["userName"], "user77777@corp.example");
    assert_eq!(u.resource["meta"]["resourceType"], "User");
    // The home email is indexed too, but it is not the mapped (work) email.
    assert!(find("email", "home5@mail.example").is_none());
    // By externalId: exact.
    assert_eq!(find("externalId", "Ext-99999").unwrap().id, "id-99999");
    assert!(find("externalId", "ext-99999").is_none());
    assert!(find("externalId", "Ext-100000").is_none());
    // By userName: case-insensitive.
    assert_eq!(find("USERNAME", "USER1@corp.example").unwrap().id, "id-1");
    assert_eq!(
        f.store.scans.load(Relaxed),
        scans,
        "email, externalId and userName lookups never scan"
    );
    let elapsed = started.elapsed();
    eprintln!("7 lookups in {elapsed:?}");
    assert!(elapsed.as_secs() < 2, "point lookups took {elapsed:?}");

    // Unknown target, constant target, unfed service.
    let e = f
        .engine
        .find_user(&f.dir, Service::Uem, "nosuch", "x")
        .unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn reverse_lookup_ambiguity_transforms_and_scans() {
    let f = fixture(IdpKind::Okta);
    for (name, ext, email, dept) in [
        ("a", "e1", "a@corp.example", "Sales"),
        ("b", "e2", "b@corp.example", "Sales"),
        ("c", "e3", "c@corp.example", "R&D"),
    ] {
        f.create(
            "/Users",
            json!({"userName": name, "externalId": ext,
                   "name": {"givenName": "G", "familyName": name},
                   "emails": [{"type": "work", "value": email}],
                   ENTERPRISE: {"department": dept}}),
        );
    }
    // A non-indexed attribute works through a scan; two matches are ambiguous (409).
    let one = f
        .engine
        .find_user(&f.dir, Service::Uem, "department", "r&d")
        .unwrap()
        .unwrap();
    assert_eq!(one.resource["userName"], "c");
    let e = f
        .engine
        .find_user(&f.dir, Service::Uem, "department", "sales")
        .unwrap_err();
    assert_eq!(e.status, 409);
    assert!(e.detail.contains("2 users"), "{}", e.detail);
    // A transformed target: the lookup compares the mapped value.
    f.engine
        .set_mapping_entry(
            &f.dir,
            Service::Access,
            ResourceKind::User,
            &MappingEntry::new("login", "emails[type eq \"work\"].value")
                .with(Transform::EmailLocalPart),
        )
        .unwrap();
    let u = f
        .engine
        .find_user(&f.dir, Service::Access, "login", "B")
        .unwrap()
        .unwrap();
    assert_eq!(u.record["login"], "b");
    assert!(f
        .engine
        .find_user(&f.dir, Service::Uem, "login", "b")
        .is_err());
    // A boolean source compares with a boolean literal.
    f.engine
        .set_mapping_entry(
            &f.dir,
            Service::Access,
            ResourceKind::User,
            &MappingEntry::new("enabled", "active"),
        )
        .unwrap();
    let e = f
        .engine
        .find_user(&f.dir, Service::Access, "enabled", "maybe")
        .unwrap_err();
    assert_eq!(e.status, 400);
    // Deactivated users are found (the caller decides what inactive means).
    let (s, _) = f.call(
        "PATCH",
        &format!("/Users/{}", one.id),
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    );
    assert_eq!(s, 200);
    let u = f
        .engine
        .find_user(&f.dir, Service::Uem, "email", "C@corp.example")
        .unwrap()
        .unwrap();
    assert_eq!(u.record["active"], false);
}
