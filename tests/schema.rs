//! Resource validation, projection and discovery rendering (src/schema).

use scim::schema::*;
use scim::ScimType;
use serde_json::{json, Value};

const ENT: &str = ENTERPRISE_USER_SCHEMA;
const LENIENT: Mode = Mode { strict: false };
const STRICT: Mode = Mode { strict: true };

fn user(v: Value) -> scim::error::Result<Value> {
    normalize(&USER_RESOURCE_TYPE, &v, LENIENT)
}
fn user_strict(v: Value) -> scim::error::Result<Value> {
    normalize(&USER_RESOURCE_TYPE, &v, STRICT)
}
fn group(v: Value) -> scim::error::Result<Value> {
    normalize(&GROUP_RESOURCE_TYPE, &v, LENIENT)
}
fn err_type(r: scim::error::Result<Value>) -> (ScimType, String) {
    let e = r.expect_err("expected an error");
    assert_eq!(e.status, 400, "{e}");
    (e.scim_type.expect("scimType"), e.detail)
}
fn invalid_value(r: scim::error::Result<Value>) -> String {
    let (t, d) = err_type(r);
    assert_eq!(t, ScimType::InvalidValue, "{d}");
    d
}
fn invalid_syntax(r: scim::error::Result<Value>) -> String {
    let (t, d) = err_type(r);
    assert_eq!(t, ScimType::InvalidSyntax, "{d}");
    d
}

// ---------------------------------------------------------------- realistic payloads

#[test]
fn okta_user_post() {
    let input = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "isabella.ruiz@example.com",
        "name": {"givenName": "Isabella", "familyName": "Ruiz"},
        "emails": [{"primary": true, "value": "isabella.ruiz@example.com", "type": "work"}],
        "displayName": "Isabella Ruiz",
        "locale": "en-US",
        "externalId": "00u1abcd2EFGH3ijk4l5",
        "groups": [],
        "password": "Tr0ub4dor&3",
        "active": true
    });
    let out = user(input.clone()).unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA],
            "externalId": "00u1abcd2EFGH3ijk4l5",
            "userName": "isabella.ruiz@example.com",
            "name": {"familyName": "Ruiz", "givenName": "Isabella"},
            "displayName": "Isabella Ruiz",
            "locale": "en-US",
            "active": true,
            "password": "Tr0ub4dor&3",
            "emails": [{"value": "isabella.ruiz@example.com", "type": "work", "primary": true}]
        })
    );
    check_required(&USER_RESOURCE_TYPE, &out).unwrap();
    // Strict mode accepts it too, and normalizing is idempotent.
    assert_eq!(user_strict(input).unwrap(), out);
    assert_eq!(user_strict(out.clone()).unwrap(), out);
}

#[test]
fn entra_user_post() {
    let input = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "8f7e4b9c-1d2a-4c3b-9e8f-7a6b5c4d3e2f",
        "userName": "AdeleV@contoso.onmicrosoft.com",
        "active": true,
        "displayName": "Adele Vance",
        "title": "Retail Manager",
        "emails": [{"primary": true, "type": "work", "value": "AdeleV@contoso.onmicrosoft.com"}],
        "addresses": [{"type": "work", "formatted": "18/2111", "streetAddress": "1 Microsoft Way",
                        "locality": "Redmond", "region": "WA", "postalCode": "98052",
                        "country": "US", "primary": false}],
        "phoneNumbers": [{"type": "work", "value": "+1 425 555 0109"},
                         {"type": "mobile", "value": "+1 425 555 0110"}],
        "roles": [],
        "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Retail",
            "employeeNumber": "1234",
            "manager": null
        }
    });
    let out = user(input.clone()).unwrap();
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
    assert_eq!(
        out[ENT],
        json!({"employeeNumber": "1234", "department": "Retail"})
    );
    assert!(out.get("roles").is_none());
    assert_eq!(out["addresses"][0]["primary"], json!(false));
    assert_eq!(out["phoneNumbers"].as_array().unwrap().len(), 2);
    assert_eq!(out["name"]["givenName"], "Adele");
    check_required(&USER_RESOURCE_TYPE, &out).unwrap();
    assert_eq!(user_strict(input).unwrap(), out);
}

#[test]
fn entra_group_post_with_microsoft_schema_key() {
    let input = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "2a1b6c0e-3f4d-4e5a-8b9c-0d1e2f3a4b5c",
        "displayName": "Sales",
        "members": [],
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {"x": 1}
    });
    let out = group(input.clone()).unwrap();
    assert_eq!(
        out,
        json!({"schemas": [GROUP_SCHEMA], "externalId": "2a1b6c0e-3f4d-4e5a-8b9c-0d1e2f3a4b5c",
               "displayName": "Sales"})
    );
    let d = invalid_syntax(normalize(&GROUP_RESOURCE_TYPE, &input, STRICT));
    assert!(d.contains("http://schemas.microsoft.com"), "{d}");
}

#[test]
fn group_members_are_kept_and_normalized() {
    let out = group(json!({
        "schemas": [GROUP_SCHEMA, WS1B_GROUP_SCHEMA],
        "displayName": "Engineering",
        "members": [
            {"value": "u1", "display": "Ann", "Type": "User", "$ref": "https://x/Users/u1"},
            {"VALUE": "u2"},
            {"value": "u2"}
        ],
        "urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group": {"Description": "eng"}
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [GROUP_SCHEMA, WS1B_GROUP_SCHEMA],
            "displayName": "Engineering",
            "members": [
                {"value": "u1", "$ref": "https://x/Users/u1", "type": "User", "display": "Ann"},
                {"value": "u2"},
                {"value": "u2"}
            ],
            WS1B_GROUP_SCHEMA: {"description": "eng"}
        })
    );
}

#[test]
fn group_members_have_no_cap_but_other_attributes_do() {
    let members: Vec<Value> = (0..10_050)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let out = group(json!({"displayName": "big", "members": members})).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 10_050);

    let emails: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("{i}@x")}))
        .collect();
    let d = invalid_value(user(json!({"userName": "a", "emails": emails})));
    assert!(d.contains("emails"), "{d}");
    let emails: Vec<Value> = (0..10_000)
        .map(|i| json!({"value": format!("{i}@x")}))
        .collect();
    assert!(user(json!({"userName": "a", "emails": emails})).is_ok());
}

// ---------------------------------------------------------------- structure

#[test]
fn non_object_input_is_invalid_syntax() {
    for v in [json!([]), json!("x"), json!(null), json!(1)] {
        invalid_syntax(user(v));
    }
}

#[test]
fn names_match_case_insensitively() {
    let out = user(json!({
        "UserName": "bob",
        "NAME": {"GivenName": "Bob", "FAMILYNAME": "B"},
        "Emails": [{"VALUE": "b@x", "Primary": "True"}],
        "ExternalID": "e1",
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "externalId": "e1", "userName": "bob",
               "name": {"familyName": "B", "givenName": "Bob"},
               "emails": [{"value": "b@x", "primary": true}]})
    );
}

#[test]
fn dotted_key_is_not_a_path() {
    // `NAME.givenname` is not an attribute name: it is unknown.
    let out = user(json!({"userName": "a", "NAME.givenname": "x"})).unwrap();
    assert!(out.get("name").is_none());
    invalid_syntax(user_strict(
        json!({"schemas": [USER_SCHEMA], "userName": "a", "name.givenName": "x"}),
    ));
}

#[test]
fn keys_folding_to_one_attribute_are_invalid_syntax() {
    let d = invalid_syntax(user(json!({"userName": "a", "USERNAME": "b"})));
    assert!(d.contains("userName"), "{d}");
    invalid_syntax(user(
        json!({"userName": "a", "name": {"givenName": "a", "givenname": "b"}}),
    ));
    invalid_syntax(user(json!({
        "userName": "a",
        ENT: {"department": "x"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "y"
    })));
    invalid_syntax(user(
        json!({"userName": "a", USER_SCHEMA: {"userName": "b"}}),
    ));
}

#[test]
fn unknown_attributes_lenient_vs_strict() {
    let input = json!({"schemas": [USER_SCHEMA], "userName": "a", "favoriteColor": "blue",
                       "name": {"givenName": "a", "nick": "x"}});
    let out = user(input.clone()).unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "a"}})
    );
    let d = invalid_syntax(user_strict(input));
    assert!(d.contains("favoriteColor"), "{d}");
    let d = invalid_syntax(user_strict(
        json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "a", "nick": "x"}}),
    ));
    assert!(d.contains("name.nick"), "{d}");
}

#[test]
fn unknown_extension_urns_lenient_vs_strict() {
    let input = json!({"schemas": [USER_SCHEMA], "userName": "a", "urn:foo:bar": {"x": 1},
                       "urn:foo:bar:baz": "y"});
    assert_eq!(
        user(input.clone()).unwrap(),
        json!({"schemas": [USER_SCHEMA], "userName": "a"})
    );
    let d = invalid_syntax(user_strict(input));
    assert!(d.contains("urn:foo:bar"), "{d}");
    // A known extension of another resource type is unknown here.
    let input = json!({"displayName": "g", ENT: {"department": "x"}});
    assert!(group(input.clone()).unwrap().get(ENT).is_none());
    invalid_syntax(normalize(&GROUP_RESOURCE_TYPE, &input, STRICT));
    // Unknown attribute inside a known extension.
    let input = json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"shoeSize": 9}});
    assert_eq!(
        user(input.clone()).unwrap(),
        json!({"schemas": [USER_SCHEMA], "userName": "a"})
    );
    let d = invalid_syntax(user_strict(input));
    assert!(d.contains("shoeSize"), "{d}");
}

#[test]
fn flat_qualified_extension_and_core_keys() {
    let out = user(json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager": {"value": "m1"},
        "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User:customAttribute1": "c1",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "A",
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA, ENT, WS1B_USER_SCHEMA],
            "userName": "a",
            "displayName": "A",
            ENT: {"department": "Sales", "manager": {"value": "m1"}},
            WS1B_USER_SCHEMA: {"customAttribute1": "c1"}
        })
    );
    // Key order follows the schema, not the input.
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["schemas", "userName", "displayName", ENT, WS1B_USER_SCHEMA]
    );
}

#[test]
fn core_urn_object_is_merged() {
    let out = user(json!({
        USER_SCHEMA: {"userName": "a", "name": {"givenName": "g"}, "externalId": "x", "id": "no"},
        "displayName": "A"
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "externalId": "x", "userName": "a",
               "name": {"givenName": "g"}, "displayName": "A"})
    );
    invalid_value(user(json!({USER_SCHEMA: "a"})));
}

#[test]
fn extension_key_must_hold_an_object() {
    let d = invalid_value(user(json!({"userName": "a", ENT: "x"})));
    assert!(d.contains(ENT), "{d}");
    let d = invalid_value(user(json!({"userName": "a", ENT: {"manager": "bob"}})));
    assert_eq!(
        d,
        "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager' must be a complex value"
    );
    // null extension = unassigned
    assert_eq!(
        user(json!({"userName": "a", ENT: null})).unwrap(),
        json!({"schemas": [USER_SCHEMA], "userName": "a"})
    );
}

#[test]
fn schemas_member_rules() {
    invalid_syntax(user(json!({"schemas": USER_SCHEMA, "userName": "a"})));
    invalid_syntax(user(json!({"schemas": [USER_SCHEMA, 3], "userName": "a"})));
    // Lenient: anything in the list goes; output recomputed.
    let out = user(json!({"schemas": ["urn:junk", ENT], "userName": "a"})).unwrap();
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    assert_eq!(
        user(json!({"userName": "a"})).unwrap()["schemas"],
        json!([USER_SCHEMA])
    );
    // Strict: core schema required, only known schemas.
    invalid_syntax(user_strict(json!({"userName": "a"})));
    invalid_syntax(user_strict(json!({"schemas": [ENT], "userName": "a"})));
    let d = invalid_syntax(user_strict(
        json!({"schemas": [USER_SCHEMA, "urn:junk"], "userName": "a"}),
    ));
    assert!(d.contains("urn:junk"), "{d}");
    invalid_syntax(normalize(
        &GROUP_RESOURCE_TYPE,
        &json!({"schemas": [GROUP_SCHEMA, ENT], "displayName": "g"}),
        STRICT,
    ));
    // Listing an extension without data is fine; it is not echoed.
    let out = user_strict(json!({"schemas": [USER_SCHEMA, ENT], "userName": "a"})).unwrap();
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
}

// ---------------------------------------------------------------- null / empty / readOnly

#[test]
fn null_and_empty_are_unassigned() {
    let out = user(json!({
        "userName": "a",
        "displayName": null,
        "name": {"givenName": null, "familyName": null},
        "emails": [],
        "phoneNumbers": [null, {}, {"value": null}],
        "addresses": [{}],
        ENT: {"manager": null, "department": null},
        WS1B_USER_SCHEMA: {},
    }))
    .unwrap();
    assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
}

#[test]
fn read_only_attributes_are_dropped_at_every_level() {
    let out = user(json!({
        "id": "abc",
        "meta": {"resourceType": "User", "created": "not a date"},
        "groups": [{"value": "g1", "display": "G"}],
        "userName": "a",
        ENT: {"manager": {"value": "m1", "displayName": "Boss"}},
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"manager": {"value": "m1"}}})
    );
    // A manager with only its readOnly displayName is empty, so the extension goes too.
    let out = user(json!({"userName": "a", ENT: {"manager": {"displayName": "Boss"}}})).unwrap();
    assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
    // Strict mode drops readOnly attributes too (not an error).
    let out = user_strict(json!({"schemas": [USER_SCHEMA], "id": "x", "userName": "a",
                                 "groups": []}))
    .unwrap();
    assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
}

#[test]
fn write_only_password_is_kept() {
    let out = user(json!({"userName": "a", "password": "s3cret"})).unwrap();
    assert_eq!(out["password"], "s3cret");
}

// ---------------------------------------------------------------- types

#[test]
fn string_type() {
    let d = invalid_value(user(json!({"userName": 5})));
    assert_eq!(d, "attribute 'userName' must be a string");
    let d = invalid_value(user(json!({"userName": "a", "name": {"givenName": true}})));
    assert_eq!(d, "attribute 'name.givenName' must be a string");
    let d = invalid_value(user(json!({"userName": "a", "emails": [{"value": 1}]})));
    assert!(d.contains("'emails.value'"), "{d}");
    invalid_value(user(json!({"userName": {"a": 1}})));
    // Empty string is a value, kept.
    assert_eq!(
        user(json!({"userName": "a", "title": ""})).unwrap()["title"],
        ""
    );
}

#[test]
fn string_length_cap() {
    let long = "x".repeat(64 * 1024 + 1);
    let d = invalid_value(user(json!({"userName": "a", "title": long})));
    assert!(d.contains("title"), "{d}");
    let ok = "x".repeat(64 * 1024);
    assert!(user(json!({"userName": "a", "title": ok})).is_ok());
    invalid_value(user(
        json!({"userName": "a", "emails": [{"value": "x".repeat(70_000)}]}),
    ));
}

#[test]
fn reference_type() {
    let out = user(json!({"userName": "a", "profileUrl": "https://x/y"})).unwrap();
    assert_eq!(out["profileUrl"], "https://x/y");
    invalid_value(user(json!({"userName": "a", "profileUrl": 1})));
}

#[test]
fn boolean_type_and_entra_strings() {
    for (input, expect) in [
        (json!(true), true),
        (json!(false), false),
        (json!("True"), true),
        (json!("False"), false),
        (json!("TRUE"), true),
        (json!("false"), false),
    ] {
        let out = user(json!({"userName": "a", "active": input})).unwrap();
        assert_eq!(out["active"], json!(expect));
    }
    for bad in [
        json!("yes"),
        json!(1),
        json!(0),
        json!("1"),
        json!(["true"]),
        json!({}),
    ] {
        invalid_value(user(json!({"userName": "a", "active": bad})));
    }
    let d = invalid_value(user(json!({"userName": "a", "active": "yes"})));
    assert_eq!(d, "attribute 'active' must be a boolean");
    let out =
        user(json!({"userName": "a", "emails": [{"value": "x", "primary": "True"}]})).unwrap();
    assert_eq!(out["emails"][0]["primary"], json!(true));
}

static INT_ATTR: AttributeDef = AttributeDef::string("count", "n").of_type(AttrType::Integer);
static DEC_ATTR: AttributeDef = AttributeDef::string("ratio", "r").of_type(AttrType::Decimal);
static MULTI_STR: AttributeDef = AttributeDef::string("tags", "t").multi();

#[test]
fn integer_type() {
    let n = |v: Value| normalize_value(&INT_ATTR, &v, "count", LENIENT);
    assert_eq!(n(json!(5)).unwrap(), Some(json!(5)));
    assert_eq!(n(json!(-5)).unwrap(), Some(json!(-5)));
    assert_eq!(n(json!(u64::MAX)).unwrap(), Some(json!(u64::MAX)));
    assert_eq!(n(json!(3.0)).unwrap(), Some(json!(3)));
    assert!(n(json!(3.0)).unwrap().unwrap().is_i64());
    assert_eq!(n(json!(null)).unwrap(), None);
    for bad in [json!(3.5), json!("3"), json!(true), json!(1e300)] {
        let e = n(bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(e.detail, "attribute 'count' must be an integer");
    }
}

#[test]
fn decimal_type() {
    let n = |v: Value| normalize_value(&DEC_ATTR, &v, "ratio", LENIENT);
    assert_eq!(n(json!(3.5)).unwrap(), Some(json!(3.5)));
    assert_eq!(n(json!(3)).unwrap(), Some(json!(3)));
    assert!(n(json!("3.5")).is_err());
    assert!(n(json!(false)).is_err());
}

#[test]
fn date_time_type() {
    let created = COMMON.attr("meta").unwrap().sub("created").unwrap();
    let n = |v: Value| normalize_value(created, &v, "meta.created", LENIENT);
    for ok in [
        "2011-05-13T04:42:34Z",
        "2011-05-13T04:42:34.123Z",
        "2011-05-13T04:42:34+02:00",
        "2011-05-13t04:42:34z",
    ] {
        assert_eq!(n(json!(ok)).unwrap(), Some(json!(ok)), "{ok}");
    }
    for bad in [
        json!("2011-05-13"),
        json!("2011-05-13T04:42:34"),
        json!("2011-13-13T04:42:34Z"),
        json!("yesterday"),
        json!(1305261754),
    ] {
        let e = n(bad.clone()).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
        assert!(e.detail.contains("meta.created"));
    }
}

#[test]
fn binary_type_base64() {
    let cert = |v: Value| user(json!({"userName": "a", "x509Certificates": [{"value": v}]}));
    for ok in [
        "",
        "TWFu",
        "TWE=",
        "TWE",
        "TQ==",
        "TQ",
        "MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyj+/",
    ] {
        let out = cert(json!(ok)).unwrap();
        assert_eq!(out["x509Certificates"][0]["value"], ok, "{ok}");
    }
    for bad in [
        "T", "TWFuT", "TW=E", "T===", "TQ=", "TWE==", "a b c d", "TWF-", "TWF_", "é",
    ] {
        let d = invalid_value(cert(json!(bad)));
        assert!(d.contains("x509Certificates.value"), "{bad}: {d}");
    }
    invalid_value(cert(json!(12)));
}

#[test]
fn complex_type() {
    let d = invalid_value(user(json!({"userName": "a", "name": "Bob"})));
    assert_eq!(d, "attribute 'name' must be a complex value");
    let d = invalid_value(user(json!({"userName": "a", "emails": ["a@x"]})));
    assert!(d.contains("'emails'"), "{d}");
    // Sub-attributes of complex cannot be complex: deeper nesting is a type error.
    let d = invalid_value(user(
        json!({"userName": "a", "name": {"givenName": {"x": "y"}}}),
    ));
    assert_eq!(d, "attribute 'name.givenName' must be a string");
    let d = invalid_value(user(json!({"userName": "a", "emails": [[{"value": "x"}]]})));
    assert!(d.contains("emails"), "{d}");
}

#[test]
fn multi_and_single_valued_shapes() {
    let d = invalid_value(user(json!({"userName": "a", "emails": {"value": "a@x"}})));
    assert_eq!(d, "attribute 'emails' is multi-valued and must be an array");
    invalid_value(user(json!({"userName": "a", "emails": "a@x"})));
    let d = invalid_value(user(json!({"userName": ["a"]})));
    assert!(d.contains("single-valued"), "{d}");
    invalid_value(user(json!({"userName": "a", "name": [{"givenName": "x"}]})));
    // multi-valued simple type
    let n = |v: Value| normalize_value(&MULTI_STR, &v, "tags", LENIENT);
    assert_eq!(n(json!(["a", null, "b"])).unwrap(), Some(json!(["a", "b"])));
    assert_eq!(n(json!([null])).unwrap(), None);
    assert!(n(json!("a")).is_err());
    assert!(n(json!(["a", 1])).is_err());
}

#[test]
fn primary_at_most_once() {
    let d = invalid_value(user(json!({"userName": "a", "emails": [
        {"value": "a@x", "primary": true},
        {"value": "b@x", "primary": "True"}
    ]})));
    assert!(d.contains("primary"), "{d}");
    // One primary, or several false: fine; duplicates kept.
    let out = user(json!({"userName": "a", "emails": [
        {"value": "a@x", "primary": true},
        {"value": "a@x", "primary": false},
        {"value": "a@x"}
    ]}))
    .unwrap();
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
}

#[test]
fn canonical_values_not_enforced() {
    let out = user(
        json!({"userName": "a", "emails": [{"value": "a@x", "type": "Work"}],
                          "phoneNumbers": [{"value": "1", "type": "cell-custom"}]}),
    )
    .unwrap();
    assert_eq!(out["emails"][0]["type"], "Work");
    assert_eq!(out["phoneNumbers"][0]["type"], "cell-custom");
}

#[test]
fn normalize_value_and_element_for_patch() {
    let emails = USER.attr("emails").unwrap();
    assert_eq!(
        normalize_value(
            emails,
            &json!([{"Value": "a@x", "junk": 1}]),
            "emails",
            LENIENT
        )
        .unwrap(),
        Some(json!([{"value": "a@x"}]))
    );
    assert!(normalize_value(emails, &json!([{"junk": 1}]), "emails", STRICT).is_err());
    assert_eq!(
        normalize_value(emails, &json!([]), "emails", LENIENT).unwrap(),
        None
    );
    assert_eq!(
        normalize_value(emails, &json!(null), "emails", LENIENT).unwrap(),
        None
    );
    assert_eq!(
        normalize_element(
            emails,
            &json!({"value": "a@x", "primary": "false"}),
            "emails",
            LENIENT
        )
        .unwrap(),
        Some(json!({"value": "a@x", "primary": false}))
    );
    assert_eq!(
        normalize_element(emails, &json!({}), "emails", LENIENT).unwrap(),
        None
    );
    assert!(normalize_element(emails, &json!([]), "emails", LENIENT).is_err());
    let active = USER.attr("active").unwrap();
    assert_eq!(
        normalize_value(active, &json!("False"), "active", LENIENT).unwrap(),
        Some(json!(false))
    );
}

#[test]
fn no_panics_on_odd_input() {
    let odd = [
        json!({"": 1}),
        json!({":": 1}),
        json!({"urn:": 1}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:": "x"}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:Userx": "x"}),
        json!({"emails": [{"value": "é"}], "userName": "é"}),
        json!({"userName": "a", "name": {"": null}}),
        json!({"userName": "a", "ÜSERNAME": "b"}),
        json!({"userName": "a", "emails": [1, "x", true, null, [], {}]}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:Üser:department": "x"}),
    ];
    for v in odd {
        let _ = user(v.clone());
        let _ = user_strict(v.clone());
        let _ = group(v);
    }
}

// ---------------------------------------------------------------- required

#[test]
fn required_user_attributes() {
    let e = check_required(&USER_RESOURCE_TYPE, &json!({"schemas": [USER_SCHEMA]})).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert_eq!(e.detail, "required attribute 'userName' is missing");
    // id is required-ish but readOnly: not checked.
    check_required(&USER_RESOURCE_TYPE, &json!({"userName": "a"})).unwrap();
    check_required(
        &USER_RESOURCE_TYPE,
        &json!({"userName": "a", ENT: {"department": "d"}}),
    )
    .unwrap();
    assert!(check_required(&USER_RESOURCE_TYPE, &json!({"userName": null})).is_err());
    // normalize does not check required.
    let out = user(json!({"displayName": "x"})).unwrap();
    assert!(check_required(&USER_RESOURCE_TYPE, &out).is_err());
}

#[test]
fn required_group_attributes_and_member_value() {
    let rt = &GROUP_RESOURCE_TYPE;
    let e = check_required(rt, &json!({"members": [{"value": "u"}]})).unwrap_err();
    assert_eq!(e.detail, "required attribute 'displayName' is missing");
    check_required(
        rt,
        &json!({"displayName": "g", "members": [{"value": "u"}]}),
    )
    .unwrap();
    let out =
        group(json!({"displayName": "g", "members": [{"value": "u"}, {"display": "x"}]})).unwrap();
    let e = check_required(rt, &out).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert_eq!(e.detail, "required attribute 'members.value' is missing");
    assert!(check_required(rt, &json!("x")).is_err());
}

// ---------------------------------------------------------------- projection

fn rendered_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENT],
        "id": "2819c223",
        "externalId": "ext1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "password": "secret",
        "emails": [{"value": "b@x", "type": "work", "primary": true},
                   {"value": "h@x", "type": "home"}],
        "groups": [{"value": "g1", "display": "G"}],
        ENT: {"department": "Tour", "employeeNumber": "7",
              "manager": {"value": "m1", "displayName": "Boss"}},
        "meta": {"resourceType": "User", "version": "W/\"1\"",
                 "lastModified": "2024-01-01T00:00:00Z", "location": "https://x/Users/2819c223"}
    })
}

fn proj(a: Option<&str>, e: Option<&str>) -> Value {
    let p = Projection::parse(a, e).unwrap();
    project(&USER_RESOURCE_TYPE, &rendered_user(), &p)
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn projection_default_removes_never_only() {
    let out = proj(None, None);
    let mut expect = rendered_user();
    expect.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expect);
}

#[test]
fn projection_attributes() {
    let out = proj(Some("userName"), None);
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENT], "id": "2819c223", "userName": "bjensen"})
    );

    let out = proj(Some(" USERNAME , name.givenName,emails.value ,,"), None);
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENT], "id": "2819c223", "userName": "bjensen",
               "name": {"givenName": "Barbara"},
               "emails": [{"value": "b@x"}, {"value": "h@x"}]})
    );

    let out = proj(Some("name"), None);
    assert_eq!(
        out["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen"})
    );

    // password is never returned, even when asked for.
    let out = proj(Some("password,userName"), None);
    assert!(out.get("password").is_none());

    // meta sub-attributes are selectable.
    let out = proj(Some("meta.version"), None);
    assert_eq!(out["meta"], json!({"version": "W/\"1\""}));
    assert_eq!(keys(&out), ["schemas", "id", "meta"]);

    // Unknown names are ignored.
    let out = proj(Some("favoriteColor,urn:foo:bar:x"), None);
    assert_eq!(keys(&out), ["schemas", "id"]);
}

#[test]
fn projection_excluded_attributes() {
    let out = proj(None, Some("emails,name.givenName,meta,id,schemas,password"));
    assert!(out.get("emails").is_none());
    assert!(out.get("meta").is_none());
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    // always attributes cannot be excluded
    assert_eq!(out["id"], "2819c223");
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
    assert_eq!(out["userName"], "bjensen");
    assert!(out.get(ENT).is_some());

    // Excluding every sub-attribute of name removes name.
    let out = proj(None, Some("name.givenName,name.familyName"));
    assert!(out.get("name").is_none());
}

#[test]
fn projection_attributes_win_over_excluded() {
    let out = proj(Some("userName"), Some("userName"));
    assert_eq!(out["userName"], "bjensen");
    assert!(out.get("displayName").is_none());
}

#[test]
fn projection_extensions() {
    let out = proj(Some(ENT), None);
    assert_eq!(
        out[ENT],
        json!({"department": "Tour", "employeeNumber": "7",
               "manager": {"value": "m1", "displayName": "Boss"}})
    );
    assert_eq!(keys(&out), ["schemas", "id", ENT]);

    let out = proj(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department"),
        None,
    );
    assert_eq!(out[ENT], json!({"department": "Tour"}));

    let out = proj(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        None,
    );
    assert_eq!(out[ENT], json!({"manager": {"value": "m1"}}));

    // Unqualified names do not reach into extensions.
    let out = proj(Some("department"), None);
    assert!(out.get(ENT).is_none());

    let out = proj(None, Some(ENT));
    assert!(out.get(ENT).is_none());
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));

    let out = proj(None, Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"));
    // Extension object became empty: removed, schemas unchanged.
    assert!(out.get(ENT).is_none());
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));

    // Fully qualified core attribute names work too.
    let out = proj(
        Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        None,
    );
    assert_eq!(out["userName"], "bjensen");
    // Whole core schema URN: every core attribute.
    let out = proj(Some(USER_SCHEMA), None);
    assert!(out.get("userName").is_some() && out.get("emails").is_some());
    assert!(out.get(ENT).is_none());
}

#[test]
fn projection_parse_errors() {
    for bad in [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
        "urn:",
        "name.",
        ".name",
        "name.givenName.x",
        "user name",
        "emails[type eq \"work\"]",
    ] {
        let e = Projection::parse(Some(bad), None).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{bad}");
        assert!(Projection::parse(None, Some(bad)).is_err(), "{bad}");
    }
    // Malformed excluded is not even looked at when attributes wins.
    assert!(Projection::parse(Some("userName"), Some("a.b.c")).is_ok());
    assert!(Projection::parse(Some(""), Some(" , ")).is_ok());
    assert!(Projection::parse(None, None).is_ok());
}

static REQUEST_ATTR_SCHEMA: SchemaDef = SchemaDef {
    id: "urn:example:test:User",
    name: "T",
    description: "test",
    attributes: &[
        AttributeDef::string("userName", "u").required(),
        AttributeDef::string("secretish", "only on request").returned(Returned::Request),
        AttributeDef::complex(
            "thing",
            "c",
            &[
                AttributeDef::string("a", "a"),
                AttributeDef::string("b", "b").returned(Returned::Request),
                AttributeDef::string("c", "c").returned(Returned::Always),
                AttributeDef::string("d", "d").returned(Returned::Never),
            ],
        ),
    ],
};
static REQUEST_RT: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::User,
    name: "T",
    endpoint: "/T",
    description: "t",
    schema: &REQUEST_ATTR_SCHEMA,
    extensions: &[],
};

#[test]
fn projection_request_always_never_sub_attributes() {
    let r = json!({"schemas": ["urn:example:test:User"], "id": "1", "userName": "u",
                   "secretish": "s", "thing": {"a": 1, "b": 2, "c": 3, "d": 4}});
    let p = |a: Option<&str>, e: Option<&str>| {
        project(&REQUEST_RT, &r, &Projection::parse(a, e).unwrap())
    };
    let out = p(None, None);
    assert!(out.get("secretish").is_none());
    assert_eq!(out["thing"], json!({"a": 1, "c": 3}));
    let out = p(Some("secretish"), None);
    assert_eq!(out["secretish"], "s");
    assert!(out.get("userName").is_none());
    let out = p(Some("thing"), None);
    assert_eq!(out["thing"], json!({"a": 1, "b": 2, "c": 3}));
    let out = p(Some("thing.b"), None);
    assert_eq!(out["thing"], json!({"b": 2, "c": 3}));
    let out = p(None, Some("thing.a,thing.c"));
    assert_eq!(out["thing"], json!({"c": 3}));
    let p1 = Projection::parse(None, None).unwrap();
    assert!(!p1.includes(&REQUEST_RT, None, "secretish"));
    assert!(Projection::parse(Some("SECRETISH"), None)
        .unwrap()
        .includes(&REQUEST_RT, None, "secretish"));
}

#[test]
fn projection_includes() {
    let g = &GROUP_RESOURCE_TYPE;
    let u = &USER_RESOURCE_TYPE;
    let all = Projection::default();
    assert!(all.includes(g, None, "members"));
    assert!(all.includes(g, None, "id"));
    assert!(!all.includes(u, None, "password"));

    let ex = Projection::parse(None, Some("members")).unwrap();
    assert!(!ex.includes(g, None, "members"));
    assert!(ex.includes(g, None, "displayName"));
    assert!(ex.includes(g, None, "id"));

    let only = Projection::parse(Some("displayName"), None).unwrap();
    assert!(!only.includes(g, None, "members"));
    assert!(only.includes(g, None, "id"));
    assert!(only.includes(g, None, "schemas"));
    assert!(only.includes(g, Some(GROUP_SCHEMA), "displayName"));

    let sub = Projection::parse(Some("members.value"), None).unwrap();
    assert!(sub.includes(g, None, "Members"));

    let ext = Projection::parse(Some(ENT), None).unwrap();
    assert!(ext.includes(u, Some(ENT), "department"));
    assert!(!ext.includes(u, None, "userName"));
    let one = Projection::parse(Some(&format!("{ENT}:manager")), None).unwrap();
    assert!(one.includes(u, Some(ENT), "manager"));
    assert!(!one.includes(u, Some(ENT), "department"));
    let exc = Projection::parse(None, Some(&format!("{ENT}:manager"))).unwrap();
    assert!(!exc.includes(u, Some(ENT), "manager"));
    assert!(exc.includes(u, Some(ENT), "department"));
}

#[test]
fn projection_group_members() {
    let r = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G",
                   "members": [{"value": "u1", "display": "A", "type": "User"}],
                   "meta": {"resourceType": "Group"}});
    let p = Projection::parse(None, Some("members")).unwrap();
    let out = project(&GROUP_RESOURCE_TYPE, &r, &p);
    assert_eq!(keys(&out), ["schemas", "id", "displayName", "meta"]);
    let p = Projection::parse(Some("members.value"), None).unwrap();
    let out = project(&GROUP_RESOURCE_TYPE, &r, &p);
    assert_eq!(out["members"], json!([{"value": "u1"}]));
    // An empty members array is kept as rendered.
    let r = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G", "members": []});
    assert_eq!(
        project(&GROUP_RESOURCE_TYPE, &r, &Projection::default())["members"],
        json!([])
    );
}

/// What `ProjectedWriter` writes for `r` (handed over member by member, as the provider
/// does).
fn written(rt: &ResourceTypeDef, r: &Value, p: &Projection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ProjectedWriter::new(rt, p, &mut out);
    for (k, v) in r.as_object().unwrap() {
        w.member(k, v);
    }
    w.finish();
    out
}

#[test]
fn projected_writer_writes_the_bytes_of_the_projected_value() {
    let edge = json!({
        "schemas": [USER_SCHEMA, ENT], "id": "1",
        // kept whole: an empty array, unknown attributes, an unknown extension
        "x509Certificates": [], "favoriteColor": {"r": 1},
        "urn:example:unknown:2.0:User": {"a": "b"},
        // an empty complex value and elements that lose every sub-attribute are dropped
        "name": {}, "emails": [{"value": "a@x"}, "plain", {}],
        "phoneNumbers": [{"display": "only"}],
        // an extension that is not an object is dropped
        ENT: "not an object",
        "userName": "u\"quoted\u{e9}\u{1}", "password": "never",
        "meta": {"version": "W/\"3\""}
    });
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some("userName"), None),
        (Some(" USERNAME , name.givenName,emails.value ,,"), None),
        (Some("name,emails.type,phoneNumbers.value"), None),
        (Some("meta.version"), None),
        (Some("favoriteColor,urn:foo:bar:x"), None),
        (Some(ENT), None),
        (Some(&format!("{ENT}:manager.value")), None),
        (Some(&format!("{ENT}:department,{ENT}:manager")), None),
        (Some(USER_SCHEMA), None),
        (Some("userName"), Some("userName")),
        (None, Some("emails,name.givenName,meta,id,schemas,password")),
        (None, Some("name.givenName,name.familyName")),
        (None, Some("emails.value,phoneNumbers.display")),
        (None, Some(ENT)),
        (
            None,
            Some(&format!(
                "{ENT}:department,{ENT}:employeeNumber,{ENT}:manager"
            )),
        ),
    ];
    for r in [rendered_user(), edge] {
        for (a, e) in cases {
            let p = Projection::parse(*a, *e).unwrap();
            let tree = serde_json::to_vec(&project(&USER_RESOURCE_TYPE, &r, &p)).unwrap();
            let bytes = written(&USER_RESOURCE_TYPE, &r, &p);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(tree).unwrap(),
                "attributes {a:?}, excludedAttributes {e:?}"
            );
        }
    }
    // returned: request / always / never sub-attributes.
    let r = json!({"schemas": ["urn:example:test:User"], "id": "1", "userName": "u",
                   "secretish": "s", "thing": {"a": 1, "b": 2, "c": 3, "d": 4}});
    for (a, e) in [
        (None, None),
        (Some("secretish"), None),
        (Some("thing"), None),
        (Some("thing.b"), None),
        (None, Some("thing.a,thing.c")),
        (None, Some("thing")),
    ] {
        let p = Projection::parse(a, e).unwrap();
        let tree = serde_json::to_vec(&project(&REQUEST_RT, &r, &p)).unwrap();
        assert_eq!(written(&REQUEST_RT, &r, &p), tree, "{a:?} {e:?}");
    }
}

// ---------------------------------------------------------------- discovery rendering

fn attr<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

#[test]
fn schema_json_user() {
    let s = schema_json(&USER, "https://example.com/scim/v2/");
    assert_eq!(
        s["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
    );
    assert_eq!(s["id"], USER_SCHEMA);
    assert_eq!(s["name"], "User");
    assert_eq!(s["description"], "User Account");
    assert_eq!(
        s["meta"],
        json!({"resourceType": "Schema",
               "location": "https://example.com/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"})
    );
    let attrs = &s["attributes"];
    let names: Vec<&str> = attrs
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates"
        ]
    );
    assert_eq!(
        attr(attrs, "userName"),
        &json!({"name": "userName", "type": "string", "multiValued": false,
                "description": "Unique identifier for the User, used to authenticate.",
                "required": true, "caseExact": false, "mutability": "readWrite",
                "returned": "default", "uniqueness": "server"})
    );
    let pw = attr(attrs, "password");
    assert_eq!(pw["mutability"], "writeOnly");
    assert_eq!(pw["returned"], "never");
    assert_eq!(pw["caseExact"], true);
    assert_eq!(attr(attrs, "active")["type"], "boolean");
    let profile = attr(attrs, "profileUrl");
    assert_eq!(profile["type"], "reference");
    assert_eq!(profile["referenceTypes"], json!(["external"]));
    assert!(profile.get("subAttributes").is_none());
    let emails = attr(attrs, "emails");
    assert_eq!(emails["type"], "complex");
    assert_eq!(emails["multiValued"], true);
    assert!(emails.get("canonicalValues").is_none());
    let subs = &emails["subAttributes"];
    assert_eq!(
        attr(subs, "type")["canonicalValues"],
        json!(["work", "home", "other"])
    );
    assert_eq!(attr(subs, "primary")["type"], "boolean");
    let groups = attr(attrs, "groups");
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(
        attr(&groups["subAttributes"], "$ref")["referenceTypes"],
        json!(["User", "Group"])
    );
    let name_subs = &attr(attrs, "name")["subAttributes"];
    assert_eq!(name_subs.as_array().unwrap().len(), 6);
    assert_eq!(attr(name_subs, "givenName")["type"], "string");
}

#[test]
fn schema_json_every_attribute_has_all_characteristics() {
    for s in ALL_SCHEMAS {
        let j = schema_json(s, "https://x");
        fn check(a: &Value) {
            for k in [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
            ] {
                assert!(a.get(k).is_some(), "{a} lacks {k}");
            }
            if a["type"] == "complex" {
                a["subAttributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .for_each(check);
            } else {
                assert!(a.get("subAttributes").is_none());
            }
        }
        j["attributes"].as_array().unwrap().iter().for_each(check);
        assert_eq!(j["meta"]["location"], format!("https://x/Schemas/{}", s.id));
    }
    let ent = schema_json(&ENTERPRISE_USER, "https://x");
    let mgr = attr(&ent["attributes"], "manager");
    assert_eq!(
        attr(&mgr["subAttributes"], "displayName")["mutability"],
        "readOnly"
    );
}

#[test]
fn resource_type_json_user_and_group() {
    let u = resource_type_json(&USER_RESOURCE_TYPE, "https://example.com/scim/v2");
    assert_eq!(
        u,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENT, "required": false},
                {"schema": WS1B_USER_SCHEMA, "required": false}
            ],
            "meta": {"resourceType": "ResourceType",
                     "location": "https://example.com/scim/v2/ResourceTypes/User"}
        })
    );
    let g = resource_type_json(&GROUP_RESOURCE_TYPE, "https://example.com/scim/v2/");
    assert_eq!(g["endpoint"], "/Groups");
    assert_eq!(g["schema"], GROUP_SCHEMA);
    assert_eq!(
        g["schemaExtensions"],
        json!([{"schema": WS1B_GROUP_SCHEMA, "required": false}])
    );
    assert_eq!(
        g["meta"]["location"],
        "https://example.com/scim/v2/ResourceTypes/Group"
    );
}
