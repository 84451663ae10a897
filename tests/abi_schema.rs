//! Every JSON value that crosses the C ABI has one definition: the core's serde types.
//! Their JSON Schemas (`include/schema/*.json`) are generated from those types here, and
//! this test fails when a committed file differs from what the types say
//! (`make schema`, or `LIBSCIM_WRITE_SCHEMA=1 cargo test --test abi_schema`, rewrites
//! them). The header's doc comments name the schema of every JSON argument and result;
//! the Python `TypedDict`s and the Go structs are checked against these files by their
//! own tests (`bindings/python/tests/test_schema.py`, `bindings/go/schema_test.go`).

use schemars::{schema_for, JsonSchema, Schema};
use scim::error::ErrorKind;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include/schema")
}

fn titled<T: JsonSchema>(name: &str, description: &str) -> (String, Schema) {
    let mut s = schema_for!(T);
    s.insert(
        "$id".into(),
        json!(format!("https://libscim.invalid/schema/{name}.json")),
    );
    s.insert("description".into(), json!(description));
    (name.to_owned(), s)
}

/// Every schema file: its name and what the core's types generate for it.
fn generated() -> Vec<(String, Value)> {
    use scim::directory::{Directory, DirectoryOidc, DirectoryUpdate, NewDirectory, Service};
    use scim::mapping::{FoundUser, Mapping, MappingEntry};
    let mut all = vec![
        titled::<scim::EngineConfig>(
            "engine_config",
            "The engine's configuration (scim_engine_open).",
        ),
        titled::<NewDirectory>("new_directory", "A directory to create."),
        titled::<DirectoryUpdate>("directory_update", "What changes in a directory."),
        titled::<Directory>("directory", "A directory as the admin sees it."),
        titled::<scim::token::IssuedToken>(
            "issued_token",
            "A newly issued token, with its secret (shown once).",
        ),
        titled::<scim::store::Event>("event", "One change event (results are arrays of them)."),
        titled::<scim::store::GroupCursor>("event_group", "A consumer group's cursors."),
        titled::<scim::engine::EventStats>("event_stats", "The state of a directory's outbox."),
        titled::<BTreeMap<Service, Mapping>>(
            "mappings",
            "A directory's mappings, per service it feeds.",
        ),
        titled::<Mapping>("mapping", "One service's mapping."),
        titled::<MappingEntry>("mapping_entry", "One mapping entry."),
        titled::<Option<FoundUser>>("found_user", "The user a reverse lookup found, or null."),
        titled::<DirectoryOidc>(
            "oidc_settings",
            "A directory's OpenID Connect login settings.",
        ),
        titled::<scim::oidc::LoginStart>(
            "login_start",
            "A login begun: where to send the browser.",
        ),
        titled::<scim::engine::Login>("login", "A completed login."),
        titled::<scim::server::ServerOptionsJson>(
            "server_options",
            "The built-in server's options.",
        ),
    ]
    .into_iter()
    .map(|(n, s)| (n, s.to_value()))
    .collect::<Vec<_>>();
    // The error kinds: each with its scim_result code and name (the header's enum).
    let kinds: Vec<Value> = ErrorKind::ALL
        .iter()
        .map(|&k| {
            json!({
                "kind": k.name(),
                "code": scim::ffi::scim_result::from(k) as u32,
                "result": format!("SCIM_RESULT_{}", k.name().to_uppercase()),
            })
        })
        .collect();
    all.push((
        "error_kinds".into(),
        json!({
            "$id": "https://libscim.invalid/schema/error_kinds.json",
            "description": "The library's error kinds, one per scim_result code (OK excepted).",
            "kinds": kinds,
        }),
    ));
    all
}

#[test]
fn schema_files_are_what_the_types_generate() {
    let write = std::env::var_os("LIBSCIM_WRITE_SCHEMA").is_some();
    let mut stale = Vec::new();
    for (name, value) in generated() {
        let path = dir().join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        if write {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "include/schema is out of date for {stale:?}: run `make schema` and commit it"
    );
    // No file the types no longer generate.
    let names: BTreeSet<String> = generated().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let stem = file.strip_suffix(".json").unwrap_or(&file);
        assert!(
            names.contains(stem),
            "include/schema/{file} is generated by nothing"
        );
    }
}

/// The header's codes and the error kinds agree, one to one.
#[test]
fn header_codes_are_the_error_kinds() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/scim.h"))
            .unwrap();
    let mut in_header = BTreeMap::new();
    for line in header.lines() {
        let line = line.trim().trim_end_matches(',');
        if let Some((name, value)) = line.split_once(" = ") {
            if name.starts_with("SCIM_RESULT_") && name != "SCIM_RESULT_OK" {
                in_header.insert(name.to_owned(), value.parse::<u32>().unwrap());
            }
        }
    }
    let from_kinds: BTreeMap<String, u32> = ErrorKind::ALL
        .iter()
        .map(|&k| {
            (
                format!("SCIM_RESULT_{}", k.name().to_uppercase()),
                scim::ffi::scim_result::from(k) as u32,
            )
        })
        .collect();
    assert_eq!(in_header, from_kinds);
}

/// Each declaration of the header with its doc comment.
fn declarations(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("*/") else { break };
        let comment = after[..end].to_owned();
        let tail = &after[end + 2..];
        let decl_end = tail.find(';').unwrap_or(tail.len());
        let next_comment = tail.find("/*").unwrap_or(tail.len());
        if decl_end < next_comment {
            out.push((comment, tail[..decl_end].to_owned()));
        }
        rest = tail;
    }
    out
}

/// Every JSON argument and result of the header (a parameter named `…_json` or
/// `…_json_out`) has its doc comment name a schema file, one per such parameter (`schema/<name>.json`) that
/// exists.
#[test]
fn header_docs_name_the_schema_of_every_json_value() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/scim.h"))
            .unwrap();
    let names: BTreeSet<String> = generated().into_iter().map(|(n, _)| n).collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (comment, decl) in declarations(&header) {
        let params: Vec<&str> = decl
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| w.ends_with("_json") || w.ends_with("_json_out"))
            .collect();
        if params.is_empty() {
            continue;
        }
        checked += 1;
        let named: BTreeSet<&str> = comment
            .split("schema/")
            .skip(1)
            .filter_map(|s| s.split(".json").next())
            .collect();
        for n in &named {
            assert!(
                names.contains(*n),
                "the header names schema/{n}.json, which does not exist"
            );
        }
        // One schema per JSON parameter (in and out differ wherever both exist).
        if named.len() < params.len() {
            missing.push(decl.split('(').next().unwrap_or(&decl).trim().to_owned());
        }
    }
    assert!(
        checked >= 20,
        "only {checked} declarations with JSON found: is the parser right?"
    );
    assert!(
        missing.is_empty(),
        "no schema named in the doc of {missing:?}"
    );
}
