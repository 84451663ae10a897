//! PATCH engine: RFC 7644 §3.5.2 examples and the Okta / Entra ID dialects.

use scim::error::{Result, ScimError, ScimType};
use scim::filter::Filter;
use scim::patch::{apply, parse_request, MemberSink, PATCH_OP_SCHEMA};
use scim::schema::{
    Mode, ResourceTypeDef, ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE_TYPE, GROUP_SCHEMA,
    USER_RESOURCE_TYPE, USER_SCHEMA,
};
use serde_json::{json, Value};

const LENIENT: Mode = Mode { strict: false };
const STRICT: Mode = Mode { strict: true };

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn run(
    rt: &ResourceTypeDef,
    resource: &Value,
    ops: Value,
    sink: Option<&mut dyn MemberSink>,
    mode: Mode,
) -> Result<Value> {
    let ops = parse_request(&body(ops))?;
    let mut r = resource.clone();
    apply(rt, &mut r, &ops, sink, mode)?;
    Ok(r)
}

fn user_patch(resource: &Value, ops: Value) -> Result<Value> {
    run(&USER_RESOURCE_TYPE, resource, ops, None, LENIENT)
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen@example.com",
        "externalId": "ext-1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}
        ]
    })
}

fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
}

fn err_type(r: Result<Value>) -> (u16, Option<ScimType>) {
    let e: ScimError = r.expect_err("expected an error");
    (e.status, e.scim_type)
}

fn bad(t: ScimType) -> (u16, Option<ScimType>) {
    (400, Some(t))
}

/// Records what the engine asks of the member store.
#[derive(Default)]
struct Recorder {
    log: Vec<String>,
    added: Vec<Value>,
    removed: Vec<String>,
    matching: Vec<Filter>,
}

impl MemberSink for Recorder {
    fn add(&mut self, members: Vec<Value>) -> Result<()> {
        self.log.push(format!("add {}", members.len()));
        self.added.extend(members);
        Ok(())
    }
    fn remove(&mut self, ids: &[String]) -> Result<()> {
        self.log.push(format!("remove {}", ids.len()));
        self.removed.extend(ids.iter().cloned());
        Ok(())
    }
    fn remove_matching(&mut self, filter: &Filter) -> Result<()> {
        self.log.push("remove_matching".into());
        self.matching.push(filter.clone());
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        self.log.push("clear".into());
        Ok(())
    }
    fn replace(&mut self, members: Vec<Value>) -> Result<()> {
        self.log.push(format!("replace {}", members.len()));
        self.added.extend(members);
        Ok(())
    }
}

fn group_patch(rec: &mut Recorder, ops: Value) -> Result<Value> {
    run(&GROUP_RESOURCE_TYPE, &group(), ops, Some(rec), LENIENT)
}

// ---- parse_request -----------------------------------------------------------------

#[test]
fn parse_accepts_entra_capitalized_ops_and_lowercase_operations_key() {
    let ops = parse_request(&json!({
        "schemas": [PATCH_OP_SCHEMA],
        "operations": [
            {"op": "Add", "path": "displayName", "value": "x"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Remove", "path": "members", "value": [{"value": "a"}]}
        ]
    }))
    .unwrap();
    assert_eq!(ops.len(), 3);
}

#[test]
fn parse_errors() {
    let e = |b: Value| {
        let e = parse_request(&b).expect_err("expected an error");
        (e.status, e.scim_type)
    };
    assert_eq!(
        e(json!({"Operations": [{"op": "add", "value": {}}]})),
        bad(ScimType::InvalidSyntax)
    );
    assert_eq!(e(body(json!([]))), bad(ScimType::InvalidSyntax));
    assert_eq!(e(json!([])), bad(ScimType::InvalidSyntax));
    assert_eq!(
        e(body(
            json!([{"op": "merge", "path": "displayName", "value": "x"}])
        )),
        bad(ScimType::InvalidSyntax)
    );
    assert_eq!(
        e(body(json!([{"op": "replace", "path": "displayName"}]))),
        bad(ScimType::InvalidSyntax)
    );
    assert_eq!(
        e(body(json!([{"op": "add", "path": "displayName"}]))),
        bad(ScimType::InvalidSyntax)
    );
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "remove", "path": "nickName"}))
        .collect();
    assert_eq!(e(body(Value::Array(many))), bad(ScimType::TooMany));
    assert_eq!(
        e(body(
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}])
        )),
        bad(ScimType::InvalidPath)
    );
}

// ---- Okta --------------------------------------------------------------------------

#[test]
fn okta_deactivate() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .unwrap();
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn okta_group_rename_with_id_in_value() {
    let mut rec = Recorder::default();
    let r = group_patch(
        &mut rec,
        json!([{"op": "replace", "value": {
            "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}]),
    )
    .unwrap();
    assert_eq!(r["displayName"], "Test SCIMv2");
    assert!(r.get("id").is_none());
    assert!(rec.log.is_empty());
}

#[test]
fn okta_members_add_and_remove() {
    let mut rec = Recorder::default();
    let r = group_patch(
        &mut rec,
        json!([{"op": "add", "path": "members", "value": [
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}]),
    )
    .unwrap();
    assert!(r.get("members").is_none());
    assert_eq!(rec.log, ["add 1"]);
    assert_eq!(
        rec.added[0]["value"],
        "23a35c27-23d3-4c03-b4c5-6443c09e7173"
    );
    assert_eq!(rec.added[0]["display"], "test.user@okta.local");

    let mut rec = Recorder::default();
    group_patch(
        &mut rec,
        json!([{"op": "remove",
                "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"}]),
    )
    .unwrap();
    assert_eq!(rec.log, ["remove 1"]);
    assert_eq!(rec.removed, ["89bb1940-b905-4575-9e7f-6f887cfb368e"]);
}

#[test]
fn okta_password_replace() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}]),
    )
    .unwrap();
    assert_eq!(r["password"], "t1meMa$heen");
}

// ---- Entra ID ----------------------------------------------------------------------

#[test]
fn entra_boolean_as_string() {
    let r = user_patch(
        &user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .unwrap();
    assert_eq!(r["active"], json!(false));
}

#[test]
fn entra_add_display_name() {
    let r = user_patch(
        &user(),
        json!([{"op": "Add", "path": "displayName", "value": "x"}]),
    )
    .unwrap();
    assert_eq!(r["displayName"], "x");
}

#[test]
fn entra_replace_work_email() {
    let r = user_patch(
        &user(),
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value",
                "value": "updatedEmail@microsoft.com"}]),
    )
    .unwrap();
    assert_eq!(r["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(r["emails"][0]["type"], "work");
    assert_eq!(r["emails"][1]["value"], "babs@jensen.org");
}

#[test]
fn entra_add_work_email_creates_element() {
    let mut u = user();
    u.as_object_mut().unwrap().remove("emails");
    let r = user_patch(
        &u,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value",
                "value": "new@contoso.com"}]),
    )
    .unwrap();
    assert_eq!(
        r["emails"],
        json!([{"type": "work", "value": "new@contoso.com"}])
    );
}

#[test]
fn entra_replace_family_name_keeps_given_name() {
    let r = user_patch(
        &user(),
        json!([{"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]),
    )
    .unwrap();
    assert_eq!(
        r["name"],
        json!({"givenName": "Barbara", "familyName": "updatedFamilyName"})
    );
}

#[test]
fn entra_manager_as_bare_id() {
    let r = user_patch(
        &user(),
        json!([{"op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "2819c223"}]),
    )
    .unwrap();
    assert_eq!(r[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "2819c223");
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn entra_members_remove_by_value_and_add_with_null_ref() {
    let mut rec = Recorder::default();
    group_patch(
        &mut rec,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "f648f8d5ea4e4cd38e9c"}]}]),
    )
    .unwrap();
    assert_eq!(rec.removed, ["f648f8d5ea4e4cd38e9c"]);
    assert_eq!(rec.log, ["remove 1"]);

    let mut rec = Recorder::default();
    group_patch(
        &mut rec,
        json!([{"op": "Add", "path": "members",
                "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
    )
    .unwrap();
    assert_eq!(rec.log, ["add 1"]);
    assert_eq!(rec.added[0]["value"], "f648f8d5ea4e4cd38e9c");
    assert!(rec.added[0].get("$ref").is_none_or(Value::is_null));
}

#[test]
fn entra_pathless_replace_with_dotted_and_urn_keys() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "value": {
            "displayName": "x",
            "name.givenName": "y",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "z",
            "active": false
        }}]),
    )
    .unwrap();
    assert_eq!(r["displayName"], "x");
    assert_eq!(r["name"]["givenName"], "y");
    assert_eq!(r["name"]["familyName"], "Jensen");
    assert_eq!(r[ENTERPRISE_USER_SCHEMA]["department"], "z");
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn entra_group_rename() {
    let mut rec = Recorder::default();
    let r = group_patch(
        &mut rec,
        json!([{"op": "Replace", "path": "displayName",
                "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]),
    )
    .unwrap();
    assert_eq!(
        r["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
}

#[test]
fn entra_custom_extension_ignored_unless_strict() {
    let ops = json!([{"op": "Add",
        "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute",
        "value": "x"}]);
    let r = run(&USER_RESOURCE_TYPE, &user(), ops.clone(), None, LENIENT).unwrap();
    assert_eq!(r, {
        let mut u = user();
        u["schemas"] = json!([USER_SCHEMA]);
        u
    });
    assert_eq!(
        err_type(run(&USER_RESOURCE_TYPE, &user(), ops, None, STRICT)),
        bad(ScimType::InvalidPath)
    );
    // The same extension as a pathless key with an object value.
    let r = user_patch(
        &user(),
        json!([{"op": "add", "value": {
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"a": "b"},
            "nickName": "Babs"}}]),
    )
    .unwrap();
    assert_eq!(r["nickName"], "Babs");
}

// ---- RFC 7644 §3.5.2 examples ------------------------------------------------------

#[test]
fn rfc_add_pathless_appends_and_sets() {
    let r = user_patch(
        &user(),
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.net", "type": "other"}],
            "nickname": "Babs"}}]),
    )
    .unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 3);
    assert_eq!(r["emails"][2]["value"], "babs@jensen.net");
    assert_eq!(r["nickName"], "Babs");
}

#[test]
fn rfc_add_skips_equal_element_and_accepts_lone_object() {
    let r = user_patch(
        &user(),
        json!([{"op": "add", "path": "emails",
                "value": {"value": "babs@jensen.org", "type": "home"}}]),
    )
    .unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn rfc_add_complex_merges() {
    let r = user_patch(
        &user(),
        json!([{"op": "add", "path": "name", "value": {"middleName": "Jane"}}]),
    )
    .unwrap();
    assert_eq!(
        r["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"})
    );
}

#[test]
fn rfc_group_members_add_replace_remove() {
    let mut rec = Recorder::default();
    group_patch(
        &mut rec,
        json!([
            {"op": "add", "path": "members", "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": "2819c223-7f76-453a-919d-413861904646"}]},
            {"op": "replace", "path": "members", "value": [
                {"value": "2819c223-7f76-453a-919d-413861904646"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a"}]},
            {"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"},
            {"op": "remove", "path": "members[type eq \"Group\"]"},
            {"op": "remove", "path": "members"},
            {"op": "add", "value": {"members": [{"value": "c"}]}}
        ]),
    )
    .unwrap();
    assert_eq!(
        rec.log,
        [
            "add 1",
            "replace 2",
            "remove 2",
            "remove_matching",
            "clear",
            "add 1"
        ]
    );
    assert_eq!(rec.removed, ["a", "b"]);
}

#[test]
fn rfc_members_sub_attribute_path_is_invalid() {
    let mut rec = Recorder::default();
    let r = group_patch(
        &mut rec,
        json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}]),
    );
    assert_eq!(err_type(r), bad(ScimType::InvalidPath));
}

#[test]
fn rfc_remove_value_filter() {
    let r = user_patch(
        &user(),
        json!([{"op": "remove",
                "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    )
    .unwrap();
    assert_eq!(
        r["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
}

#[test]
fn rfc_remove_sub_attribute_of_matches_drops_empty_elements() {
    let r = user_patch(
        &user(),
        json!([
            {"op": "remove", "path": "emails[type eq \"home\"].type"},
            {"op": "remove", "path": "addresses[type eq \"work\"].streetAddress"}
        ]),
    )
    .unwrap();
    assert_eq!(r["emails"][1], json!({"value": "babs@jensen.org"}));
    assert_eq!(
        r["addresses"],
        json!([{"type": "work", "locality": "Hollywood"}])
    );
}

#[test]
fn rfc_replace_sub_attribute_and_whole_element() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress",
                "value": "1010 Broadway Ave"}]),
    )
    .unwrap();
    assert_eq!(r["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(r["addresses"][0]["locality"], "Hollywood");

    let r = user_patch(
        &user(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work", "streetAddress": "911 Universal City Plaza"}}]),
    )
    .unwrap();
    assert_eq!(
        r["addresses"],
        json!([{"type": "work", "streetAddress": "911 Universal City Plaza"}])
    );
}

#[test]
fn rfc_replace_pathless_replaces_multi_valued() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "value": {
            "emails": [{"value": "bjensen@example.com", "type": "work"}],
            "nickname": "Babs"}}]),
    )
    .unwrap();
    assert_eq!(
        r["emails"],
        json!([{"value": "bjensen@example.com", "type": "work"}])
    );
    assert_eq!(r["nickName"], "Babs");
}

#[test]
fn replace_with_null_removes() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "path": "displayName", "value": null},
               {"op": "replace", "path": "emails", "value": []}]),
    )
    .unwrap();
    assert!(r.get("displayName").is_none());
    assert!(r.get("emails").is_none());
}

#[test]
fn remove_absent_things_is_a_no_op() {
    let r = user_patch(
        &user(),
        json!([
            {"op": "remove", "path": "nickName"},
            {"op": "remove", "path": "name.middleName"},
            {"op": "remove", "path": "emails[type eq \"other\"]"},
            {"op": "remove", "path": "phoneNumbers"}
        ]),
    )
    .unwrap();
    let mut expected = user();
    expected["schemas"] = json!([USER_SCHEMA]);
    assert_eq!(r, expected);
}

#[test]
fn remove_with_value_on_multi_valued() {
    let r = user_patch(
        &user(),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "babs@jensen.org"}]}]),
    )
    .unwrap();
    assert_eq!(r["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn extension_removed_and_schemas_recomputed() {
    let mut u = user();
    u[ENTERPRISE_USER_SCHEMA] = json!({"department": "Sales"});
    u["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    let r = user_patch(
        &u,
        json!([{"op": "remove",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
    )
    .unwrap();
    assert!(r.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(r["schemas"], json!([USER_SCHEMA]));

    let r = user_patch(
        &u,
        json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]),
    )
    .unwrap();
    assert!(r.get(ENTERPRISE_USER_SCHEMA).is_none());

    let r = user_patch(
        &user(),
        json!([{"op": "add", "value": {ENTERPRISE_USER_SCHEMA: {"costCenter": "4130"}}}]),
    )
    .unwrap();
    assert_eq!(r[ENTERPRISE_USER_SCHEMA]["costCenter"], "4130");
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn primary_is_unique_after_add() {
    let r = user_patch(
        &user(),
        json!([{"op": "add", "path": "emails",
                "value": [{"value": "new@example.com", "type": "other", "primary": true}]}]),
    )
    .unwrap();
    assert_eq!(r["emails"][0]["primary"], json!(false));
    assert_eq!(r["emails"][2]["primary"], json!(true));
}

// ---- errors ------------------------------------------------------------------------

#[test]
fn remove_without_path_is_no_target() {
    assert_eq!(
        err_type(user_patch(&user(), json!([{"op": "remove"}]))),
        bad(ScimType::NoTarget)
    );
}

#[test]
fn unmatched_non_eq_filter_is_no_target() {
    assert_eq!(
        err_type(user_patch(
            &user(),
            json!([{"op": "replace", "path": "emails[value co \"nowhere\"].value", "value": "x"}])
        )),
        bad(ScimType::NoTarget)
    );
    assert_eq!(
        err_type(user_patch(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"]",
                    "value": {"value": "x"}}])
        )),
        bad(ScimType::NoTarget)
    );
}

#[test]
fn read_only_path_is_mutability() {
    for path in ["id", "meta", "groups"] {
        assert_eq!(
            err_type(user_patch(
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            )),
            bad(ScimType::Mutability),
            "{path}"
        );
    }
}

#[test]
fn wrong_value_type_is_invalid_value() {
    assert_eq!(
        err_type(user_patch(
            &user(),
            json!([{"op": "replace", "path": "active", "value": 42}])
        )),
        bad(ScimType::InvalidValue)
    );
    assert_eq!(
        err_type(user_patch(
            &user(),
            json!([{"op": "replace", "path": "name.givenName", "value": {"a": 1}}])
        )),
        bad(ScimType::InvalidValue)
    );
}

#[test]
fn unknown_paths() {
    for path in [
        "foo",
        "name.foo",
        "displayName.foo",
        "emails.value",
        "emails[type eq \"work\"].foo",
    ] {
        assert_eq!(
            err_type(user_patch(
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            )),
            bad(ScimType::InvalidPath),
            "{path}"
        );
    }
    // Pathless unknown keys: ignored when lenient, rejected when strict.
    let ops = json!([{"op": "replace", "value": {"foo": "x", "nickName": "n"}}]);
    let r = run(&USER_RESOURCE_TYPE, &user(), ops.clone(), None, LENIENT).unwrap();
    assert_eq!(r["nickName"], "n");
    assert!(r.get("foo").is_none());
    assert!(run(&USER_RESOURCE_TYPE, &user(), ops, None, STRICT).is_err());
}

#[test]
fn immutable_sub_attribute_without_sink() {
    // A Group patched with no member sink: members are an ordinary attribute whose
    // `value` is immutable.
    let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "G",
                   "members": [{"value": "a", "display": "A"}]});
    let p = |ops: Value| run(&GROUP_RESOURCE_TYPE, &g, ops, None, LENIENT);
    assert_eq!(
        err_type(p(
            json!([{"op": "replace", "path": "members[value eq \"a\"].value", "value": "b"}])
        )),
        bad(ScimType::Mutability)
    );
    p(json!([{"op": "replace", "path": "members[value eq \"a\"].value", "value": "a"}])).unwrap();
    let r = p(json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "B"}]))
        .unwrap();
    assert_eq!(r["members"][0]["display"], "B");
}

#[test]
fn failing_second_op_fails_the_request() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "path": "displayName", "value": "ok"},
               {"op": "replace", "path": "id", "value": "x"}]),
    );
    assert_eq!(err_type(r), bad(ScimType::Mutability));
}

#[test]
fn core_schema_urn_paths_and_keys() {
    let r = user_patch(
        &user(),
        json!([
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
             "value": "Babs"},
            {"op": "replace", "value": {USER_SCHEMA: {"displayName": "BJ"}}},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:title": "Dr"}}
        ]),
    )
    .unwrap();
    assert_eq!(r["name"]["givenName"], "Babs");
    assert_eq!(r["displayName"], "BJ");
    assert_eq!(r["title"], "Dr");
}

#[test]
fn entra_roles_with_string_primary() {
    let r = user_patch(
        &user(),
        json!([{"op": "Add", "path": "roles", "value": [
            {"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}]),
    )
    .unwrap();
    assert_eq!(r["roles"][0]["primary"], json!(true));
    assert_eq!(r["roles"][0]["value"], "Admin");
}

#[test]
fn pathless_read_only_keys_are_ignored_but_explicit_sub_is_not() {
    let r = user_patch(
        &user(),
        json!([{"op": "replace", "value": {
            "id": "x", "meta": {"version": "W/\"1\""}, "groups": [], "schemas": [USER_SCHEMA],
            "nickName": "n"}}]),
    )
    .unwrap();
    assert!(r.get("id").is_none() && r.get("meta").is_none() && r.get("groups").is_none());
    assert_eq!(r["nickName"], "n");
    assert_eq!(
        err_type(user_patch(
            &user(),
            json!([{"op": "replace",
                    "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
                    "value": "x"}])
        )),
        bad(ScimType::Mutability)
    );
}
