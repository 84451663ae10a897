//! Filter and path parsing and evaluation (RFC 7644 §3.4.2.2, §3.5.2).

use scim::error::ScimType;
use scim::filter::{
    matches, matches_value, parse_filter, parse_path, AttrPath, CompareOp, Filter, Literal,
    PatchPath, MAX_DEPTH, MAX_FILTER_LEN,
};
use scim::schema::{
    AttrType, AttributeDef, ResourceTypeDef, GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// helpers

fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen-ext",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "O'Malley",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "groups": [{"value": "g1", "display": "Tour Guides", "type": "direct"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": "W/\"a330bc54f0671c9\""
        }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "externalId": "tg-ext",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
    })
}

fn u(filter: &str) -> bool {
    eval_on(filter, &user(), &USER_RESOURCE_TYPE)
}

fn eval_on(filter: &str, v: &Value, rt: &ResourceTypeDef) -> bool {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("parse {filter:?}: {e}"));
    matches(&f, v, rt).unwrap_or_else(|e| panic!("eval {filter:?}: {e}"))
}

/// The filter parses but evaluation fails with invalidFilter; returns the detail.
fn u_err(filter: &str) -> String {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("parse {filter:?}: {e}"));
    let e = matches(&f, &user(), &USER_RESOURCE_TYPE).expect_err(filter);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
    assert_eq!(e.status, 400);
    e.detail
}

/// The filter does not parse; returns the detail.
fn parse_err(filter: &str) -> String {
    let e = parse_filter(filter).expect_err(filter);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter:?}");
    assert_eq!(e.status, 400);
    e.detail
}

fn path_err(path: &str) -> String {
    let e = parse_path(path).expect_err(path);
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{path:?}");
    e.detail
}

fn ap(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn ap_sub(name: &str, sub: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.into(),
        sub: Some(sub.into()),
    }
}

fn s(v: &str) -> Literal {
    Literal::Str(v.into())
}

fn cmp(p: AttrPath, op: CompareOp, l: Literal) -> Filter {
    Filter::Compare(p, op, l)
}

// A synthetic complex attribute covering the types the standard schemas lack.
static TYPED_SUBS: [AttributeDef; 8] = [
    AttributeDef::string("value", "v"),
    AttributeDef::string("count", "i").of_type(AttrType::Integer),
    AttributeDef::string("ratio", "d").of_type(AttrType::Decimal),
    AttributeDef::string("blob", "b").of_type(AttrType::Binary),
    AttributeDef::string("when", "t").of_type(AttrType::DateTime),
    AttributeDef::string("flag", "f").of_type(AttrType::Boolean),
    AttributeDef::string("code", "c").case_exact(),
    AttributeDef::string("$ref", "r").of_type(AttrType::Reference),
];
static TYPED: AttributeDef = AttributeDef::complex("typed", "t", &TYPED_SUBS).multi();
static NO_VALUE_SUBS: [AttributeDef; 1] =
    [AttributeDef::string("count", "i").of_type(AttrType::Integer)];
static NO_VALUE: AttributeDef = AttributeDef::complex("novalue", "n", &NO_VALUE_SUBS);

fn t(filter: &str, el: &Value) -> bool {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("parse {filter:?}: {e}"));
    matches_value(&f, el, &TYPED).unwrap_or_else(|e| panic!("eval {filter:?}: {e}"))
}

fn t_err(filter: &str) -> String {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("parse {filter:?}: {e}"));
    let e = matches_value(&f, &json!({}), &TYPED).expect_err(filter);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
    e.detail
}

// ---------------------------------------------------------------------------------------
// parser: AST shape

#[test]
fn parses_simple_comparisons() {
    assert_eq!(
        parse_filter(r#"userName eq "bjensen""#).unwrap(),
        cmp(ap("userName"), CompareOp::Eq, s("bjensen"))
    );
    assert_eq!(
        parse_filter("title pr").unwrap(),
        Filter::Present(ap("title"))
    );
    assert_eq!(
        parse_filter(r#"name.familyName co "O'Malley""#).unwrap(),
        cmp(ap_sub("name", "familyName"), CompareOp::Co, s("O'Malley"))
    );
    let ops = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];
    for (kw, op) in ops {
        for spelled in [kw.to_owned(), kw.to_uppercase(), {
            let mut c = kw.chars();
            let first = c.next().unwrap().to_ascii_uppercase();
            format!("{first}{}", c.as_str())
        }] {
            assert_eq!(
                parse_filter(&format!(r#"a {spelled} "x""#)).unwrap(),
                cmp(ap("a"), op, s("x")),
                "{spelled}"
            );
        }
    }
    assert_eq!(parse_filter("a PR").unwrap(), Filter::Present(ap("a")));
}

#[test]
fn parses_literals() {
    let lit = |src: &str| match parse_filter(&format!("a eq {src}")).unwrap() {
        Filter::Compare(_, _, l) => l,
        f => panic!("{f:?}"),
    };
    assert_eq!(lit("true"), Literal::Bool(true));
    assert_eq!(lit("TRUE"), Literal::Bool(true));
    assert_eq!(lit("False"), Literal::Bool(false));
    assert_eq!(lit("null"), Literal::Null);
    assert_eq!(lit("NULL"), Literal::Null);
    assert_eq!(lit("42"), Literal::Num(42.into()));
    assert_eq!(lit("-7"), Literal::Num((-7).into()));
    assert_eq!(lit("18446744073709551615"), Literal::Num(u64::MAX.into()));
    assert_eq!(
        lit("1.5e3"),
        Literal::Num(serde_json::Number::from_f64(1500.0).unwrap())
    );
    assert_eq!(
        lit("0.25"),
        Literal::Num(serde_json::Number::from_f64(0.25).unwrap())
    );
    assert_eq!(lit(r#""""#), s(""));
    assert_eq!(
        lit(r#""q\"b\\s\/\b\f\n\r\t""#),
        s("q\"b\\s/\u{8}\u{c}\n\r\t")
    );
    assert_eq!(lit(r#""\u00e9\u00E9""#), s("éé"));
    assert_eq!(lit(r#""\ud83d\ude00""#), s("😀"));
    assert_eq!(lit(r#""naïve 😀""#), s("naïve 😀"));
    assert_eq!(lit(r#""a b  c""#), s("a b  c"));
    assert_eq!(lit(r#""(and) [or] not""#), s("(and) [or] not"));
}

#[test]
fn precedence_and_grouping() {
    let a = || Box::new(Filter::Present(ap("a")));
    let b = || Box::new(Filter::Present(ap("b")));
    let c = || Box::new(Filter::Present(ap("c")));
    // and binds tighter than or
    assert_eq!(
        parse_filter("a pr or b pr and c pr").unwrap(),
        Filter::Or(a(), Box::new(Filter::And(b(), c())))
    );
    assert_eq!(
        parse_filter("a pr and b pr or c pr").unwrap(),
        Filter::Or(Box::new(Filter::And(a(), b())), c())
    );
    // parentheses override
    assert_eq!(
        parse_filter("(a pr or b pr) and c pr").unwrap(),
        Filter::And(Box::new(Filter::Or(a(), b())), c())
    );
    // not binds tightest
    assert_eq!(
        parse_filter("not (a pr) and b pr").unwrap(),
        Filter::And(Box::new(Filter::Not(a())), b())
    );
    assert_eq!(
        parse_filter("NOT(a pr or b pr)").unwrap(),
        Filter::Not(Box::new(Filter::Or(a(), b())))
    );
    // left associativity
    assert_eq!(
        parse_filter("a pr or b pr or c pr").unwrap(),
        Filter::Or(Box::new(Filter::Or(a(), b())), c())
    );
    // keywords in any case, any amount of whitespace
    assert_eq!(
        parse_filter("  ( a pr  OR\tb pr )   And  c pr  ").unwrap(),
        Filter::And(Box::new(Filter::Or(a(), b())), c())
    );
    assert_eq!(
        parse_filter("((((a pr))))").unwrap(),
        Filter::Present(ap("a"))
    );
}

#[test]
fn parses_urn_paths() {
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#).unwrap();
    assert_eq!(
        f,
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "userName".into(),
                sub: None
            },
            CompareOp::Sw,
            s("J")
        )
    );
    let f = parse_filter(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
    )
    .unwrap();
    assert_eq!(
        f,
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                name: "manager".into(),
                sub: Some("value".into())
            },
            CompareOp::Eq,
            s("x")
        )
    );
    // case-insensitive "urn:" prefix
    let f = parse_filter("URN:foo:bar:attr pr").unwrap();
    assert_eq!(
        f,
        Filter::Present(AttrPath {
            urn: Some("URN:foo:bar".into()),
            name: "attr".into(),
            sub: None
        })
    );
}

#[test]
fn parses_value_paths() {
    let f = parse_filter(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
    assert_eq!(
        f,
        Filter::ValuePath(
            ap("emails"),
            Box::new(Filter::And(
                Box::new(cmp(ap("type"), CompareOp::Eq, s("work"))),
                Box::new(cmp(ap("value"), CompareOp::Co, s("@example.com")))
            ))
        )
    );
    let f = parse_filter(r#"emails[not (type eq "work")] and a pr"#).unwrap();
    assert!(matches!(f, Filter::And(..)));
    let f = parse_filter("$ref pr").unwrap();
    assert_eq!(f, Filter::Present(ap("$ref")));
    let f = parse_filter("members[$ref pr]").unwrap();
    assert_eq!(
        f,
        Filter::ValuePath(ap("members"), Box::new(Filter::Present(ap("$ref"))))
    );
}

// ---------------------------------------------------------------------------------------
// parser: errors and hostile input

#[test]
fn parse_errors_are_precise() {
    let d = parse_err("");
    assert!(d.contains("empty"), "{d}");
    let d = parse_err("   \t ");
    assert!(d.contains("empty"), "{d}");
    let d = parse_err("userName eq");
    assert!(
        d.contains("expected a value") && d.contains("at byte 11"),
        "{d}"
    );
    let d = parse_err("userName");
    assert!(d.contains("expected an operator"), "{d}");
    let d = parse_err(r#"userName xx "a""#);
    assert!(
        d.contains("unknown operator 'xx'") && d.contains("at byte 9"),
        "{d}"
    );
    let d = parse_err(r#"userName eq "a" garbage"#);
    assert!(
        d.contains("found 'garbage'") && d.contains("at byte 16"),
        "{d}"
    );
    let d = parse_err(r#"userName eq "a")"#);
    assert!(d.contains("found ')'"), "{d}");
    let d = parse_err(r#"(userName eq "a""#);
    assert!(
        d.contains("expected ')'") && d.contains("opened at byte 0"),
        "{d}"
    );
    let d = parse_err(r#"userName eq "abc"#);
    assert!(
        d.contains("unterminated string") && d.contains("at byte 12"),
        "{d}"
    );
    let d = parse_err(r#"userName eq "a\"#);
    assert!(d.contains("unterminated"), "{d}");
    let d = parse_err(r#"title pr "x""#);
    assert!(d.contains("'pr' takes no value"), "{d}");
    let d = parse_err("title pr 5");
    assert!(d.contains("'pr' takes no value"), "{d}");
    let d = parse_err("title pr true");
    assert!(d.contains("'pr' takes no value"), "{d}");
    let d = parse_err(r#"not title pr"#);
    assert!(d.contains("expected '(' after 'not'"), "{d}");
    let d = parse_err(r#"title pr and"#);
    assert!(d.contains("found end of input"), "{d}");
    let d = parse_err(r#"title pr or or"#);
    assert!(d.contains("expected an attribute path"), "{d}");
    let d = parse_err(r#"and title pr"#);
    assert!(d.contains("expected an attribute path"), "{d}");
    let d = parse_err(r#"eq "x""#);
    assert!(d.contains("expected an operator"), "{d}");
    let d = parse_err(r#"1abc eq "x""#);
    assert!(d.contains("invalid attribute name '1abc'"), "{d}");
    let d = parse_err(r#"_abc eq "x""#);
    assert!(d.contains("invalid attribute name"), "{d}");
    let d = parse_err(r#"nàme eq "x""#);
    assert!(d.contains("invalid attribute name"), "{d}");
    let d = parse_err("user\u{0}Name eq \"x\"");
    assert!(d.contains("invalid attribute name"), "{d}");
    let d = parse_err("userName eq \"a\u{0}b\"");
    assert!(d.contains("control character U+0000"), "{d}");
    let d = parse_err("userName eq \"a\nb\"");
    assert!(d.contains("control character U+000A"), "{d}");
    let d = parse_err(r#"a.b.c eq "x""#);
    assert!(d.contains("more than one sub-attribute"), "{d}");
    let d = parse_err(r#"name. eq "x""#);
    assert!(d.contains("expected an attribute name"), "{d}");
    let d = parse_err(r#"foo:bar eq "x""#);
    assert!(d.contains("':'"), "{d}");
    let d = parse_err(r#"urn:foo:bar: eq "x""#);
    assert!(d.contains("after the schema URN"), "{d}");
    let d = parse_err(r#"urn:x eq "x""#);
    assert!(d.contains("invalid schema URN"), "{d}");
    let d = parse_err(r#"userName eq bjensen"#);
    assert!(d.contains("expected a value"), "{d}");
    let d = parse_err(r#"userName eq 'bjensen'"#);
    assert!(d.contains("expected a value"), "{d}");
    let d = parse_err(r#"userName eq ("x")"#);
    assert!(d.contains("expected a value"), "{d}");
    let d = parse_err(r#"userName eq"#);
    assert!(d.contains("end of input"), "{d}");
    let d = parse_err("()");
    assert!(d.contains("found ')'"), "{d}");
    let d = parse_err(r#"emails[type eq "work""#);
    assert!(d.contains("expected ']'"), "{d}");
    let d = parse_err(r#"emails[type eq "work"].value eq "x""#);
    assert!(d.contains("not allowed in a filter"), "{d}");
    let d = parse_err(r#"emails.value[type eq "work"]"#);
    assert!(d.contains("not the sub-attribute"), "{d}");
    let d = parse_err(r#"emails[type[value pr]]"#);
    assert!(d.contains("cannot be nested"), "{d}");
    let d = parse_err(r#"emails[urn:a:b:type pr]"#);
    assert!(d.contains("plain sub-attribute"), "{d}");
    let d = parse_err(r#"emails[type.x pr]"#);
    assert!(d.contains("plain sub-attribute"), "{d}");
    let d = parse_err(r#"emails[]"#);
    assert!(d.contains("expected an attribute path"), "{d}");
}

#[test]
fn rejects_bad_numbers() {
    for bad in [
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "0x1F",
        "1e400",
        "1_000",
    ] {
        let d = parse_err(&format!("a eq {bad}"));
        assert!(
            d.contains("number") || d.contains("expected a value"),
            "{bad}: {d}"
        );
    }
}

#[test]
fn rejects_bad_escapes() {
    // The string opens at byte 5; each refusal names what is wrong and the byte where it
    // was found (the last one of the escape read, or the one that cut it short).
    for (bad, what, at) in [
        (r#""\x""#, "invalid string: invalid escape", 7),
        (r#""\'""#, "invalid string: invalid escape", 7),
        (r#""ab\x""#, "invalid string: invalid escape", 9),
        (r#""\u12""#, "expected four hexadecimal digits", 10),
        (r#""\u""#, "expected four hexadecimal digits", 8),
        (r#""\u12G4""#, "invalid string: invalid escape", 11),
        (
            r#""\ud800""#,
            "invalid string: unexpected end of hex escape",
            12,
        ),
        (
            r#""\ud800x""#,
            "invalid string: unexpected end of hex escape",
            12,
        ),
        (
            r#""\ud800\u0041""#,
            "invalid string: lone leading surrogate",
            17,
        ),
        (
            r#""\ud800\ud800""#,
            "invalid string: lone leading surrogate",
            17,
        ),
        (r#""\udc00""#, "invalid string: lone leading surrogate", 11),
        (
            r#""\udfff\ud800""#,
            "invalid string: lone leading surrogate",
            11,
        ),
        ("\"\\é\"", "invalid string: invalid escape", 7),
        ("\"\t\"", "unescaped control character U+0009 in string", 6),
        (
            "\"ab\u{1f}\"",
            "unescaped control character U+001F in string",
            8,
        ),
        // An earlier bad escape is what is reported.
        ("\"\\x\n\"", "invalid string: invalid escape", 7),
        ("\"\\\n\"", "invalid string: invalid escape", 7),
        (r#""abc"#, "unterminated string (no closing '\"')", 5),
        (r#""a\"#, "unterminated string (ends inside an escape)", 5),
        (r#""a\""#, "unterminated string (no closing '\"')", 5),
    ] {
        let d = parse_err(&format!("a eq {bad}"));
        assert!(d.contains(what), "{bad}: {d}");
        assert!(d.ends_with(&format!("(at byte {at})")), "{bad}: {d}");
    }
}

#[test]
fn strings_decode_as_json() {
    // Every string a JSON encoder writes, and each of its characters written as `\u`
    // escapes (UTF-16 units), is that string.
    let mut tricky: Vec<String> = (0u8..0x20).map(|b| char::from(b).to_string()).collect();
    tricky.extend(
        [
            "",
            "\"",
            "\\",
            "/",
            "a\"b\\c/d",
            "é",
            "€",
            "😀",
            "\u{7f}",
            "\u{ffff}",
            "\u{10ffff}",
        ]
        .map(String::from),
    );
    for s in tricky {
        let written = serde_json::to_string(&s).unwrap();
        let escaped: String = s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
        for literal in [
            written,
            format!("\"{escaped}\""),
            format!("\"{}\"", escaped.to_uppercase().replace("\\U", "\\u")),
        ] {
            match parse_filter(&format!("a eq {literal}")).unwrap() {
                Filter::Compare(_, _, l) => assert_eq!(l, Literal::Str(s.clone()), "{literal}"),
                f => panic!("{literal}: {f:?}"),
            }
        }
    }
}

#[test]
fn limits_length_and_depth() {
    // exactly at the limits is fine
    let depth_ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    parse_filter(&depth_ok).unwrap();
    let too_deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_err(&too_deep).contains("nesting deeper"));
    let nots = format!(
        "{}a pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_err(&nots).contains("nesting deeper"));
    // 10,000 open parentheses: too long; 8,000: too deep
    let d = parse_err(&"(".repeat(10_000));
    assert!(d.contains("at most 8192"), "{d}");
    let d = parse_err(&"(".repeat(8_000));
    assert!(
        d.contains("nesting deeper") && d.contains("at byte 32"),
        "{d}"
    );
    let d = parse_err(&"emails[".repeat(1_000));
    assert!(d.contains("nested"), "{d}");
    let d = parse_err(&"not (".repeat(1_000));
    assert!(d.contains("nesting deeper"), "{d}");
    let d = parse_err(&format!("{}a pr{}", "(".repeat(4000), ")".repeat(4000)));
    assert!(d.contains("nesting deeper"), "{d}");
    // a 1 MB literal
    let big = format!("userName eq \"{}\"", "x".repeat(1 << 20));
    let d = parse_err(&big);
    assert!(d.contains("at most 8192"), "{d}");
    let exact = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 7));
    assert_eq!(exact.len(), MAX_FILTER_LEN);
    parse_filter(&exact).unwrap();
    let over = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 6));
    parse_err(&over);
    // the longest possible flat chain is parsed and evaluated without stack trouble
    let chain = vec!["title pr"; MAX_FILTER_LEN / 13].join(" and ");
    assert!(chain.len() <= MAX_FILTER_LEN);
    assert!(u(&chain));
    let chain = vec!["nickName pr"; MAX_FILTER_LEN / 15].join(" or ");
    assert!(!u(&chain));
    // path limits too
    assert_eq!(
        parse_path(&format!("a{}", "b".repeat(MAX_FILTER_LEN)))
            .unwrap_err()
            .scim_type,
        Some(ScimType::InvalidPath)
    );
}

/// A tiny deterministic PRNG (xorshift64*), so the fuzz test needs no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let seeds = [
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x\u00e9\ud83d\ude00""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z" and active eq true and x eq -1.5e3"#,
        r#"emails[type eq "work"].value"#,
    ];
    let alphabet: Vec<char> = "()[]\"\\ .:$-_aeiouqrnpswtAEOUNR019uU\t\0é😀{}"
        .chars()
        .collect();
    let words = [
        "and", "or", "not", "eq", "pr", "co", "(", ")", "[", "]", "\"", "\\u", "\\ud800", "null",
        "true", "1e9", "urn:", ".", ":", " ",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let users = [
        user(),
        group(),
        json!({}),
        json!([]),
        json!({"emails": "x", "name": 5}),
    ];
    let mut parsed = 0;
    for i in 0..6000 {
        let mut chars: Vec<char> = if i % 3 == 0 {
            (0..rng.below(60))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            seeds[rng.below(seeds.len())].chars().collect()
        };
        for _ in 0..1 + rng.below(4) {
            let pos = if chars.is_empty() {
                0
            } else {
                rng.below(chars.len() + 1)
            };
            match rng.below(4) {
                0 if !chars.is_empty() => {
                    chars.remove(pos.min(chars.len() - 1));
                }
                1 => chars.insert(pos, alphabet[rng.below(alphabet.len())]),
                2 => {
                    let w = words[rng.below(words.len())];
                    for (k, c) in w.chars().enumerate() {
                        chars.insert(pos + k, c);
                    }
                }
                _ if !chars.is_empty() => {
                    let p = pos.min(chars.len() - 1);
                    chars[p] = alphabet[rng.below(alphabet.len())];
                }
                _ => {}
            }
        }
        let input: String = chars.into_iter().collect();
        if let Ok(f) = parse_filter(&input) {
            parsed += 1;
            for v in &users {
                let _ = matches(&f, v, &USER_RESOURCE_TYPE);
                let _ = matches(&f, v, &GROUP_RESOURCE_TYPE);
            }
            let _ = matches_value(&f, &json!({"value": "x", "type": "work"}), &TYPED);
        } else if let Err(e) = parse_filter(&input) {
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
            assert!(!e.detail.is_empty());
        }
        if let Err(e) = parse_path(&input) {
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        }
    }
    assert!(parsed > 100, "only {parsed} mutated filters parsed");
}

// ---------------------------------------------------------------------------------------
// paths

#[test]
fn parses_patch_paths() {
    let p = |s: &str| parse_path(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(
        p("userName"),
        PatchPath {
            attr: ap("userName"),
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        p("name.familyName"),
        PatchPath {
            attr: ap_sub("name", "familyName"),
            filter: None,
            sub: None
        }
    );
    let work = cmp(ap("type"), CompareOp::Eq, s("work"));
    assert_eq!(
        p(r#"emails[type eq "work"]"#),
        PatchPath {
            attr: ap("emails"),
            filter: Some(work.clone()),
            sub: None
        }
    );
    assert_eq!(
        p(r#"emails[type eq "work"].value"#),
        PatchPath {
            attr: ap("emails"),
            filter: Some(work.clone()),
            sub: Some("value".into())
        }
    );
    assert_eq!(
        p(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).filter,
        Some(cmp(
            ap("value"),
            CompareOp::Eq,
            s("2819c223-7f76-453a-919d-413861904646")
        ))
    );
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(
        p(&format!("{ent}:manager")).attr,
        AttrPath {
            urn: Some(ent.into()),
            name: "manager".into(),
            sub: None
        }
    );
    assert_eq!(
        p(&format!("{ent}:manager.value")).attr,
        AttrPath {
            urn: Some(ent.into()),
            name: "manager".into(),
            sub: Some("value".into())
        }
    );
    assert_eq!(
        p("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").attr,
        AttrPath {
            urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
            name: "name".into(),
            sub: Some("givenName".into())
        }
    );
    // Entra quirks: surrounding whitespace, odd casing
    assert_eq!(p(" userName "), p("userName"));
    assert_eq!(p("EMAILS[TYPE EQ \"work\"].Value ").attr, ap("EMAILS"));
    assert_eq!(
        p(r#"addresses[type eq "work"].streetAddress"#)
            .sub
            .as_deref(),
        Some("streetAddress")
    );
}

#[test]
fn path_errors() {
    assert!(path_err("").contains("empty"));
    assert!(path_err("   ").contains("empty"));
    assert!(path_err("name givenName").contains("expected '[' or end of path"));
    assert!(path_err(r#"emails[type eq "work"]value"#).contains("expected end of path"));
    assert!(path_err(r#"emails[type eq "work"]."#).contains("expected an attribute name"));
    assert!(path_err(r#"emails[type eq "work"].a.b"#).contains("invalid attribute name"));
    assert!(path_err(r#"emails[type eq "work""#).contains("expected ']'"));
    assert!(path_err(r#"emails[type eq]"#).contains("at byte 14"));
    assert!(path_err(r#"  emails[type eq]"#).contains("at byte 16"));
    assert!(path_err(r#"emails.value[type eq "work"]"#).contains("not the sub-attribute"));
    assert!(path_err(r#"emails[type[value pr]]"#).contains("nested"));
    assert!(path_err("1name").contains("invalid attribute name"));
    assert!(path_err("[type pr]").contains("expected an attribute path"));
    assert!(path_err("a\u{0}").contains("invalid attribute name"));
    let deep = format!("emails[{}type pr{}]", "(".repeat(40), ")".repeat(40));
    assert!(path_err(&deep).contains("nesting deeper"));
}

// ---------------------------------------------------------------------------------------
// evaluation: RFC 7644 §3.4.2.2 examples

#[test]
fn rfc_examples() {
    assert!(!u(r#"userName eq "bjensen""#));
    assert!(u(r#"userName eq "bjensen@example.com""#));
    assert!(u(r#"name.familyName co "O'Malley""#));
    assert!(!u(r#"userName sw "J""#));
    assert!(u(r#"userName sw "B""#));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
    ));
    assert!(u("title pr"));
    assert!(u(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(!u(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
    assert!(u(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
    assert!(u(r#"meta.lastModified lt "2011-05-13T04:42:35Z""#));
    assert!(u(r#"meta.lastModified le "2011-05-13T04:42:34Z""#));
    assert!(!u(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
    assert!(u(r#"title pr and userType eq "Employee""#));
    assert!(u(r#"title pr or userType eq "Intern""#));
    assert!(u(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
    ));
    assert!(u(
        r#"schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER""#
    ));
    assert!(!u(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User""#
    ));
    assert!(u(
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(!u(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
    ));
    assert!(u(r#"userType eq "Employee" and (emails.type eq "work")"#));
    assert!(u(
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
    ));
    assert!(!u(
        r#"userType eq "Employee" and emails[type eq "home" and value co "@example.com"]"#
    ));
    assert!(u(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
    ));

    let other = json!({
        "userName": "jsmith", "userType": "Intern",
        "emails": [{"value": "j@example.org", "type": "home"}],
        "ims": [{"value": "j@foo.com", "type": "xmpp"}]
    });
    let on = |f: &str| eval_on(f, &other, &USER_RESOURCE_TYPE);
    assert!(!on("title pr"));
    assert!(on(r#"title pr or userType eq "Intern""#));
    assert!(on(
        r#"userType ne "Employee" and not (emails co "example.com")"#
    ));
    assert!(on(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
    ));
    assert!(on(r#"userName sw "J""#));
}

#[test]
fn entra_and_okta_filters() {
    let v = json!({"userName": "test@contoso.com", "externalId": "0a1b2c3d-4e5f", "emails": []});
    let on = |f: &str| eval_on(f, &v, &USER_RESOURCE_TYPE);
    assert!(on(r#"userName eq "test@contoso.com""#));
    assert!(on(r#"userName eq "TEST@Contoso.com""#));
    assert!(on(r#"externalId eq "0a1b2c3d-4e5f""#));
    assert!(!on(r#"externalId eq "0A1B2C3D-4E5F""#)); // caseExact
    assert!(!on(r#"id eq "7e4bd1b2-e6a7-45b3-a8a0-3ab2f5ec7a48""#));
    let g = group();
    let on = |f: &str| eval_on(f, &g, &GROUP_RESOURCE_TYPE);
    assert!(on(r#"displayName eq "Tour Guides""#));
    assert!(on(r#"displayName eq "tour guides""#));
    assert!(on(
        r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members.value eq "902c246b-6245-4190-8e05-00816be7344a""#
    ));
    assert!(!on(
        r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members.value eq "902C246B-6245-4190-8E05-00816BE7344A""#
    ));
    assert!(on(
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#
    ));
    assert!(on(r#"members eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(on(r#"externalId eq "tg-ext""#));
    assert!(on(r#"meta.resourceType eq "Group""#));
    // a group has no userName
    let f = parse_filter(r#"userName eq "x""#).unwrap();
    assert!(matches(&f, &g, &GROUP_RESOURCE_TYPE).is_err());
}

// ---------------------------------------------------------------------------------------
// evaluation: operators by type

#[test]
fn string_operators_case_insensitive() {
    assert!(u(r#"title eq "tour guide""#));
    assert!(u(r#"TITLE EQ "TOUR GUIDE""#));
    assert!(!u(r#"title eq "tour guid""#));
    assert!(u(r#"title ne "tour guid""#));
    assert!(!u(r#"title ne "TOUR GUIDE""#));
    assert!(u(r#"title co "UR GU""#));
    assert!(u(r#"title co """#));
    assert!(!u(r#"title co "xyz""#));
    assert!(u(r#"title sw "tOUR""#));
    assert!(!u(r#"title sw "guide""#));
    assert!(u(r#"title ew "GUIDE""#));
    assert!(!u(r#"title ew "tour""#));
    assert!(u(r#"title gt "tour""#));
    assert!(u(r#"title gt "TOUR A""#));
    assert!(!u(r#"title gt "tour guide""#));
    assert!(u(r#"title ge "TOUR GUIDE""#));
    assert!(u(r#"title lt "Tour Guides""#));
    assert!(u(r#"title lt "u""#));
    assert!(u(r#"title le "tour guide""#));
    assert!(!u(r#"title le "tour""#));
    // attribute names are case-insensitive, keys in the resource too
    assert!(u(r#"NAME.FAMILYNAME eq "o'malley""#));
    let v = json!({"DisplayName": "X", "Name": {"GivenName": "Y"}});
    assert!(eval_on(
        r#"displayName eq "x" and name.givenName eq "y""#,
        &v,
        &USER_RESOURCE_TYPE
    ));
}

#[test]
fn string_unicode_case_folding() {
    let v = json!({"displayName": "ÉMILIE Ærø Straße", "nickName": "\u{212A}elvin"});
    let on = |f: &str| eval_on(f, &v, &USER_RESOURCE_TYPE);
    assert!(on(r#"displayName eq "émilie ærø straße""#));
    assert!(on(r#"displayName sw "émilie""#));
    assert!(on(r#"displayName co "ÆRØ""#));
    assert!(on(r#"displayName ew "STRAßE""#));
    assert!(on(r#"displayName gt "émilie""#));
    assert!(!on(r#"displayName lt "émilie""#));
    // KELVIN SIGN lowercases to ASCII 'k': the ASCII fast path must not be taken
    assert!(on(r#"nickName eq "kelvin""#));
    assert!(on(r#"nickName sw "KEL""#));
}

#[test]
fn string_operators_case_exact() {
    // id, externalId, meta.resourceType and members.value are caseExact
    assert!(u(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
    assert!(!u(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
    assert!(u(r#"id ne "2819C223-7F76-453A-919D-413861904646""#));
    assert!(u(r#"externalId co "ext""#));
    assert!(!u(r#"externalId co "EXT""#));
    assert!(u(r#"externalId sw "bjensen""#));
    assert!(!u(r#"externalId sw "BJENSEN""#));
    assert!(u(r#"externalId ew "-ext""#));
    assert!(!u(r#"externalId ew "-EXT""#));
    // "B" < "b" in exact ordering
    assert!(u(r#"externalId gt "BJENSEN""#));
    assert!(!u(r#"externalId lt "BJENSEN""#));
    assert!(u(r#"meta.resourceType eq "User""#));
    assert!(!u(r#"meta.resourceType eq "user""#));
    // synthetic caseExact sub-attribute
    let el = json!({"code": "AbC"});
    assert!(t(r#"code eq "AbC""#, &el));
    assert!(!t(r#"code eq "abc""#, &el));
    assert!(t(r#"code ge "AbC" and code le "AbC""#, &el));
}

#[test]
fn reference_attributes() {
    assert!(u(r#"meta.location sw "https://example.com/v2/Users/""#));
    assert!(!u(r#"meta.location sw "HTTPS://EXAMPLE.COM""#)); // caseExact
    let el = json!({"$ref": "https://x/Users/1"});
    assert!(t(r#"$ref co "USERS""#, &el)); // not caseExact
    assert!(t(r#"$REF pr"#, &el));
}

#[test]
fn boolean_operators() {
    assert!(u("active eq true"));
    assert!(u("active eq TRUE"));
    assert!(!u("active eq false"));
    assert!(u("active ne false"));
    assert!(u(r#"active eq "true""#));
    assert!(u(r#"active eq "True""#));
    assert!(!u(r#"active eq "FALSE""#));
    assert!(u("active pr"));
    let off = json!({"active": false});
    assert!(eval_on("active eq false", &off, &USER_RESOURCE_TYPE));
    assert!(eval_on("active pr", &off, &USER_RESOURCE_TYPE)); // false is present
    assert!(!eval_on("active eq true", &json!({}), &USER_RESOURCE_TYPE));
    assert!(eval_on("active ne true", &json!({}), &USER_RESOURCE_TYPE));
    // a stored string never matches a boolean
    assert!(!eval_on(
        "active eq true",
        &json!({"active": "true"}),
        &USER_RESOURCE_TYPE
    ));
    for bad in [
        "active gt true",
        "active co true",
        "active sw false",
        "active le true",
    ] {
        assert!(u_err(bad).contains("not supported"), "{bad}");
    }
    for bad in ["active eq 1", r#"active eq "yes""#] {
        assert!(u_err(bad).contains("cannot be compared"), "{bad}");
    }
    assert!(t("flag eq true", &json!({"flag": true})));
    assert!(t(r#"flag eq "TRUE""#, &json!({"flag": true})));
    assert!(!t("flag eq true", &json!({"flag": 1})));
}

#[test]
fn integer_operators() {
    let el = json!({"count": 42});
    assert!(t("count eq 42", &el));
    assert!(!t("count eq 43", &el));
    assert!(t("count ne 43", &el));
    assert!(t("count gt 41", &el));
    assert!(!t("count gt 42", &el));
    assert!(t("count ge 42", &el));
    assert!(t("count lt 43", &el));
    assert!(t("count le 42", &el));
    assert!(!t("count lt -1", &el));
    assert!(t("count eq 42.0", &el));
    assert!(t("count lt 42.5", &el));
    assert!(t("count gt 4.2e1", &json!({"count": 43})));
    // exact beyond f64 precision
    let big = json!({"count": 9007199254740993u64});
    assert!(t("count gt 9007199254740992", &big));
    assert!(!t("count eq 9007199254740992", &big));
    assert!(t("count eq 9007199254740993", &big));
    let huge = json!({"count": u64::MAX});
    assert!(t("count gt 9223372036854775807", &huge));
    assert!(t("count gt -9223372036854775808", &huge));
    // wrong stored type just doesn't match
    assert!(!t("count eq 42", &json!({"count": "42"})));
    assert!(!t("count eq 42", &json!({"count": null})));
    for bad in ["count co 4", "count sw 4", "count ew 4"] {
        assert!(t_err(bad).contains("not supported"), "{bad}");
    }
    for bad in [r#"count eq "42""#, "count eq true"] {
        assert!(t_err(bad).contains("cannot be compared"), "{bad}");
    }
}

#[test]
fn decimal_operators() {
    let el = json!({"ratio": 0.5});
    assert!(t("ratio eq 0.5", &el));
    assert!(t("ratio eq 5e-1", &el));
    assert!(t("ratio ne 0.25", &el));
    assert!(t("ratio gt 0", &el));
    assert!(t("ratio ge 0.5", &el));
    assert!(t("ratio lt 1", &el));
    assert!(t("ratio le 0.5", &el));
    assert!(!t("ratio lt 0.5", &el));
    assert!(t("ratio gt -1.5e300", &el));
    assert!(t_err("ratio co 1").contains("not supported"));
    assert!(t_err(r#"ratio eq "0.5""#).contains("cannot be compared"));
}

#[test]
fn datetime_operators() {
    assert!(u(r#"meta.created eq "2010-01-23T04:56:22Z""#));
    assert!(u(r#"meta.created eq "2010-01-23T05:56:22+01:00""#)); // same instant
    assert!(u(r#"meta.created eq "2010-01-23T04:56:22.000Z""#));
    assert!(u(r#"meta.created ne "2010-01-23T04:56:23Z""#));
    // comparing two attributes is not part of the grammar
    assert!(parse_err("meta.created lt meta.lastModified").contains("expected a value"));
    assert!(u(r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#));
    assert!(u(r#"meta.lastModified le "2011-05-13T06:42:34+02:00""#));
    assert!(u(r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#));
    for bad in ["co", "sw", "ew"] {
        let d = u_err(&format!(r#"meta.created {bad} "2010""#));
        assert!(d.contains("not supported"), "{d}");
    }
    for bad in [
        r#""2010-01-23""#,
        r#""yesterday""#,
        r#""2010-13-01T00:00:00Z""#,
    ] {
        let d = u_err(&format!("meta.created gt {bad}"));
        assert!(d.contains("not an RFC 3339"), "{d}");
    }
    assert!(u_err("meta.created gt 5").contains("cannot be compared"));
    // malformed stored values don't match
    let el = json!({"when": "not a date"});
    assert!(!t(r#"when lt "2030-01-01T00:00:00Z""#, &el));
    assert!(t(r#"when ne "2030-01-01T00:00:00Z""#, &el));
    assert!(!t(r#"when lt "2030-01-01T00:00:00Z""#, &json!({"when": 5})));
}

#[test]
fn binary_operators() {
    let el = json!({"blob": "QUJD"});
    assert!(t(r#"blob eq "QUJD""#, &el));
    assert!(!t(r#"blob eq "qujd""#, &el)); // binary is compared exactly
    assert!(t(r#"blob ne "qujd""#, &el));
    assert!(t("blob pr", &el));
    for op in ["co", "sw", "ew", "gt", "ge", "lt", "le"] {
        assert!(
            t_err(&format!(r#"blob {op} "Q""#)).contains("not supported"),
            "{op}"
        );
    }
    assert!(u_err(r#"x509Certificates.value sw "M""#).contains("not supported"));
}

#[test]
fn presence_and_null() {
    let v = json!({
        "userName": "u", "title": "", "nickName": null, "emails": [], "ims": [{}],
        "phoneNumbers": [{"value": ""}, {"value": "1"}], "name": {},
        "addresses": [{"type": "work"}]
    });
    let on = |f: &str| eval_on(f, &v, &USER_RESOURCE_TYPE);
    assert!(on("userName pr"));
    assert!(!on("title pr"));
    assert!(!on("nickName pr"));
    assert!(!on("displayName pr"));
    assert!(!on("emails pr"));
    assert!(!on("ims pr"));
    assert!(!on("name pr"));
    assert!(on("phoneNumbers pr"));
    assert!(on("phoneNumbers.value pr"));
    assert!(on("addresses pr"));
    assert!(!on("addresses.locality pr"));
    assert!(on("title eq null"));
    assert!(on("displayName eq null"));
    assert!(!on("userName eq null"));
    assert!(on("userName ne null"));
    assert!(!on("title ne null"));
    assert!(on("emails eq null"));
    assert!(on("name eq null"));
    assert!(!on("not (userName pr)"));
    assert!(u_err("title gt null").contains("null"));
    assert!(u_err("title co null").contains("null"));
}

#[test]
fn multi_valued_and_complex() {
    // any value matches
    assert!(u(r#"emails.value eq "babs@jensen.org""#));
    assert!(u(r#"emails.type eq "home""#));
    assert!(u(r#"emails eq "BJENSEN@example.com""#)); // implicit .value
    assert!(u(r#"emails.primary eq true"#));
    assert!(!u(r#"emails.type eq "other""#));
    // ne is not(eq): a user with any email of that value does not match
    assert!(!u(r#"emails.value ne "babs@jensen.org""#));
    assert!(u(r#"emails.value ne "nobody@example.com""#));
    // a single complex value works for sub-attributes
    assert!(u(r#"name.givenName sw "barb""#));
    // complex attributes without a `value` sub-attribute cannot be compared directly
    let d = u_err(r#"name eq "x""#);
    assert!(d.contains("complex attribute 'name'"), "{d}");
    assert!(u_err(r#"meta eq "x""#).contains("complex"));
    assert!(u_err(r#"addresses co "x""#).contains("complex"));
    // value path vs. sub-attribute semantics: same element vs. any element
    let v = json!({"emails": [{"type": "work", "value": "a@x.org"}, {"type": "home", "value": "b@example.com"}]});
    let on = |f: &str| eval_on(f, &v, &USER_RESOURCE_TYPE);
    assert!(on(
        r#"emails.type eq "work" and emails.value co "example.com""#
    ));
    assert!(!on(r#"emails[type eq "work" and value co "example.com"]"#));
    assert!(on(r#"emails[type eq "home" and value co "example.com"]"#));
    assert!(on(r#"emails[not (type eq "home")]"#));
    assert!(on(r#"EMAILS[TYPE eq "WORK"]"#));
    assert!(!on(r#"ims[type pr]"#));
    // a single-valued complex attribute is accepted in a value path
    assert!(u(r#"name[givenName eq "Barbara" and familyName pr]"#));
    // malformed stored shapes don't match and don't panic
    let junk = json!({"emails": "x", "name": 5, "ims": [1, "a", null, [{"value": "v"}]], "title": 7, "userName": ["bjensen"]});
    let on = |f: &str| eval_on(f, &junk, &USER_RESOURCE_TYPE);
    assert!(!on(r#"emails.value eq "x""#));
    assert!(!on(r#"emails[value eq "x"]"#));
    assert!(!on(r#"name.givenName pr"#));
    assert!(!on(r#"ims.value eq "v""#));
    assert!(!on(r#"title eq "7""#));
    assert!(on(r#"userName eq "bjensen""#)); // array of strings: any element
    assert!(!eval_on(
        "title pr",
        &json!("not an object"),
        &USER_RESOURCE_TYPE
    ));
}

#[test]
fn extension_attributes() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert!(u(&format!(r#"{ent}:employeeNumber eq "701984""#)));
    assert!(u(&format!(r#"{ent}:department sw "tour""#)));
    assert!(u(&format!(
        r#"{ent}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    )));
    assert!(u(&format!(
        r#"{ent}:manager eq "26118915-6090-4610-87E4-49D8CA9F808D""#
    ))); // not caseExact
    assert!(u(&format!(r#"{ent}:manager.displayName co "smith""#)));
    assert!(u(&format!("{ent}:manager pr")));
    assert!(!u(&format!("{ent}:costCenter pr")));
    // URN case-insensitive, in the filter and in the resource key
    assert!(u(&format!(
        r#"{}:EmployeeNumber eq "701984""#,
        ent.to_uppercase()
    )));
    let v = json!({ ent.to_lowercase(): {"employeenumber": "1"} });
    assert!(eval_on(
        &format!(r#"{ent}:employeeNumber eq "1""#),
        &v,
        &USER_RESOURCE_TYPE
    ));
    // extension attributes are not reachable unqualified
    assert!(u_err(r#"employeeNumber eq "701984""#).contains("unknown attribute 'employeeNumber'"));
    // extension value path
    assert!(u(&format!(
        r#"{ent}:manager[value pr and displayName eq "john smith"]"#
    )));
    // ws1b extension, absent from this user
    let ws1b = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
    assert!(!u(&format!(r#"{ws1b}:domain eq "corp""#)));
    // the user extension is unknown to groups
    let f = parse_filter(&format!(r#"{ent}:department eq "x""#)).unwrap();
    assert!(matches(&f, &group(), &GROUP_RESOURCE_TYPE).is_err());
    // an unknown schema URN
    assert!(
        u_err(r#"urn:example:foo:bar eq "x""#).contains("unknown attribute 'urn:example:foo:bar'")
    );
    // explicit core URN
    assert!(u(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "o'malley""#
    ));
    assert!(u(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:schemas pr"#
    ));
    assert!(u(r#"urn:ietf:params:scim:schemas:core:2.0:User:id pr"#));
}

#[test]
fn unknown_attributes_are_errors() {
    let d = u_err(r#"foo eq "x""#);
    assert_eq!(d, "unknown attribute 'foo' in filter");
    assert!(u_err("name.nope pr").contains("unknown sub-attribute 'name.nope'"));
    assert!(u_err("userName.sub pr").contains("unknown sub-attribute"));
    assert!(u_err(r#"emails[nope eq "x"]"#).contains("unknown sub-attribute 'emails.nope'"));
    assert!(u_err(r#"userName[value pr]"#).contains("not complex"));
    // errors do not depend on short-circuiting or on the data
    assert!(u_err(r#"userName pr or foo pr"#).contains("'foo'"));
    assert!(u_err(r#"title eq "x" and foo pr"#).contains("'foo'"));
    // password cannot be probed through filters
    assert!(u_err(r#"password sw "a""#).contains("cannot be used in a filter"));
    // literal type mismatches name the attribute
    let d = u_err("userName eq 5");
    assert!(d.contains("'userName'") && d.contains("a number"), "{d}");
    assert!(u_err("userName eq true").contains("a boolean"));
    assert!(u_err("emails.primary eq 1").contains("'emails.primary'"));
}

#[test]
fn not_and_or_evaluation() {
    assert!(u(r#"not (userName eq "x")"#));
    assert!(!u(r#"not (not (userName eq "x"))"#));
    assert!(u(
        r#"userName eq "x" or title pr and userType eq "Employee""#
    ));
    assert!(!u(
        r#"(userName eq "x" or title pr) and userType eq "Intern""#
    ));
    assert!(u(
        r#"userName eq "x" or (title pr and userType eq "Employee")"#
    ));
    assert!(!u(r#"not (title pr) or userName eq "x""#));
    assert!(u(
        r#"title pr AND not (userType eq "Intern") Or userName eq "x""#
    ));
}

// ---------------------------------------------------------------------------------------
// matches_value (PATCH value filters)

#[test]
fn matches_value_for_patch() {
    use scim::schema::{GROUP, USER};
    let emails = USER.attr("emails").unwrap();
    let work = json!({"value": "a@x.org", "type": "work"});
    let home = json!({"value": "b@x.org", "type": "Home"});
    let f = parse_path(r#"emails[type eq "work"].value"#)
        .unwrap()
        .filter
        .unwrap();
    assert!(matches_value(&f, &work, emails).unwrap());
    assert!(!matches_value(&f, &home, emails).unwrap());
    let f = parse_filter(r#"type eq "HOME" and value ew "@X.ORG""#).unwrap();
    assert!(matches_value(&f, &home, emails).unwrap());
    let members = GROUP.attr("members").unwrap();
    let f = parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#)
        .unwrap()
        .filter
        .unwrap();
    assert!(matches_value(
        &f,
        &json!({"value": "2819c223-7f76-453a-919d-413861904646"}),
        members
    )
    .unwrap());
    assert!(!matches_value(
        &f,
        &json!({"value": "2819C223-7F76-453A-919D-413861904646"}),
        members
    )
    .unwrap());
    assert!(!matches_value(&f, &json!("2819c223-7f76-453a-919d-413861904646"), members).unwrap());
    // errors
    let e = matches_value(&parse_filter("nope pr").unwrap(), &work, emails).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    let nested = Filter::ValuePath(ap("type"), Box::new(Filter::Present(ap("value"))));
    assert!(matches_value(&nested, &work, emails)
        .unwrap_err()
        .detail
        .contains("nested"));
    let qualified = Filter::Present(ap_sub("type", "x"));
    assert!(matches_value(&qualified, &work, emails).is_err());
    let user_name = USER.attr("userName").unwrap();
    assert!(
        matches_value(&parse_filter("value pr").unwrap(), &work, user_name)
            .unwrap_err()
            .detail
            .contains("not complex")
    );
    // a complex attribute without `value` can't be compared directly in a top-level filter
    let f = parse_filter("count eq 1").unwrap();
    assert!(matches_value(&f, &json!({"count": 1}), &NO_VALUE).unwrap());
    let f = parse_filter(r#"value eq 1"#).unwrap();
    assert!(matches_value(&f, &json!({}), &NO_VALUE).is_err());
}

#[test]
fn hand_built_deep_filter_is_fine() {
    // A Filter built by hand (not via the parser) with moderate depth still evaluates.
    let mut f = Filter::Present(ap("title"));
    for _ in 0..50 {
        f = Filter::Not(Box::new(Filter::Not(Box::new(f))));
    }
    assert!(matches(&f, &user(), &USER_RESOURCE_TYPE).unwrap());
    // long chains of either associativity are flattened: no recursion along them
    let leaf = || Filter::Present(ap("title"));
    let (mut l, mut r) = (leaf(), leaf());
    for _ in 0..100_000 {
        l = Filter::And(Box::new(l), Box::new(leaf()));
        r = Filter::Or(Box::new(leaf()), Box::new(r));
    }
    assert!(matches(&l, &user(), &USER_RESOURCE_TYPE).unwrap());
    assert!(matches(&r, &user(), &USER_RESOURCE_TYPE).unwrap());
    // (dropping such a hand-built Filter recurses in the AST's own Drop; leak them here)
    std::mem::forget(l);
    std::mem::forget(r);
}

/// A decimal literal is read as the nearest f64 (serde_json's `float_roundtrip`), the
/// same value a JSON body with that number stores: found by the print → parse property
/// (tests/properties.rs), where `-251993509007.98694` came back one ULP off.
#[test]
fn decimal_literals_parse_to_the_nearest_double() {
    for text in [
        "-251993509007.98694",
        "0.1",
        "2.2250738585072014e-308",
        "1e300",
    ] {
        let f = parse_filter(&format!("x gt {text}")).unwrap();
        let Filter::Compare(_, CompareOp::Gt, Literal::Num(n)) = f else {
            panic!("{text}: not a comparison with a number")
        };
        assert_eq!(n.as_f64(), Some(text.parse::<f64>().unwrap()), "{text}");
        let stored: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            stored.as_f64(),
            n.as_f64(),
            "{text}: body and filter disagree"
        );
    }
}
