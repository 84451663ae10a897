//! The admin API's routes: path and method to one engine call, JSON in and out.

use super::views;
use crate::directory::{DirectorySettings, DirectoryUpdate, IdpKind, NewDirectory, Service};
use crate::error::{Result, ScimError};
use crate::mapping::{MappingEntry, Profile, Transform};
use crate::provider::params::{decode, Params};
use crate::provider::{Request, Response};
use crate::schema::ResourceKind;
use crate::token;
use crate::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Events `outbox` shows by default, and at most.
const OUTBOX_RECENT: usize = 20;
const OUTBOX_RECENT_MAX: usize = 200;
/// Activity items per answer by default, and at most.
const ACTIVITY_LIMIT: usize = 100;
const ACTIVITY_LIMIT_MAX: usize = 1_000;
/// The attributes a users page shows of each user (a groups page: all but members).
const USER_PAGE_ATTRIBUTES: &str =
    "attributes=userName,displayName,name,active,externalId,emails,meta";
const GROUP_PAGE_ATTRIBUTES: &str = "excludedAttributes=members";
/// Query parameters the users and groups pages pass on to SCIM.
const PAGE_PARAMS: [&str; 5] = ["filter", "startIndex", "count", "sortBy", "sortOrder"];

pub fn route(engine: &Engine, req: &Request) -> Result<Response> {
    let rest = req
        .path
        .strip_prefix(super::ADMIN_API_PATH)
        .unwrap_or("")
        .trim_end_matches('/');
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(segment)
        .collect::<Result<_>>()?;
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.to_ascii_uppercase();
    let m = method.as_str();
    let q = || Params::parse(&req.query);
    match seg.as_slice() {
        ["directories"] => match m {
            "GET" => list_directories(engine),
            "POST" => create_directory(engine, req),
            _ => not_allowed("GET, POST"),
        },
        ["directories", id] => match m {
            "GET" => ok(views::directory(&engine.directory(id)?, engine.now())),
            "PATCH" => update_directory(engine, id, req),
            "DELETE" => {
                engine.delete_directory(id)?;
                Ok(no_content())
            }
            _ => not_allowed("GET, PATCH, DELETE"),
        },
        ["directories", id, "token"] => match m {
            "POST" => issue_token(engine, id, req),
            "DELETE" => {
                engine.revoke_token(id)?;
                Ok(no_content())
            }
            _ => not_allowed("POST, DELETE"),
        },
        ["directories", id, "mappings"] => match m {
            "GET" => {
                let mappings = engine.mappings(id)?;
                ok(serde_json::to_value(mappings).map_err(internal)?)
            }
            _ => not_allowed("GET"),
        },
        ["directories", id, "mappings", service, "entries", target] => {
            let service = service_of(service)?;
            let kind = kind_of(&q()?)?;
            let mapping = match m {
                "PUT" => {
                    let entry = entry_of(req, target)?;
                    engine.set_mapping_entry(id, service, kind, &entry)?
                }
                "DELETE" => engine.remove_mapping_entry(id, service, kind, target)?,
                _ => return not_allowed("PUT, DELETE"),
            };
            ok(serde_json::to_value(mapping).map_err(internal)?)
        }
        ["directories", id, "oidc"] => match m {
            "PUT" => set_oidc(engine, id, req),
            "DELETE" => {
                engine.directory(id)?;
                engine.clear_oidc(id)?;
                Ok(no_content())
            }
            _ => not_allowed("PUT, DELETE"),
        },
        ["directories", id, "users"] => match m {
            "GET" => page(engine, id, "/Users", &req.query, ResourceKind::User),
            _ => not_allowed("GET"),
        },
        ["directories", id, "users", user] => match m {
            "GET" => user_detail(engine, id, user),
            _ => not_allowed("GET"),
        },
        ["directories", id, "groups"] => match m {
            "GET" => page(engine, id, "/Groups", &req.query, ResourceKind::Group),
            _ => not_allowed("GET"),
        },
        ["directories", id, "groups", group] => match m {
            "GET" => group_detail(engine, id, group),
            _ => not_allowed("GET"),
        },
        ["directories", id, "outbox"] => match m {
            "GET" => outbox(engine, id, &q()?),
            _ => not_allowed("GET"),
        },
        ["activity"] => match m {
            "GET" => activity(engine, &q()?),
            _ => not_allowed("GET"),
        },
        _ => Err(ScimError::not_found(format!(
            "no admin API endpoint at '{}'",
            req.path
        ))),
    }
}

/// A percent-decoded path segment (`+` is itself in a path).
fn segment(s: &str) -> Result<String> {
    decode(&s.replace('+', "%2B"))
        .map_err(|e| ScimError::not_found(format!("bad path segment: {}", e.detail)))
}

fn ok(body: Value) -> Result<Response> {
    Ok(Response::json(200, &body))
}

fn no_content() -> Response {
    Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn not_allowed(allow: &str) -> Result<Response> {
    Ok(
        Response::error(&ScimError::method_not_allowed(format!("use {allow} here")))
            .with_header("Allow", allow),
    )
}

fn internal(e: serde_json::Error) -> ScimError {
    ScimError::internal(format!("admin API JSON: {e}"))
}

/// The request body as `T`: 400 `invalidSyntax` for anything but JSON of that shape.
/// An empty body is `{}` when `empty_ok`.
fn body<T: DeserializeOwned>(req: &Request, empty_ok: bool) -> Result<T> {
    let bytes: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) && empty_ok {
        b"{}"
    } else {
        &req.body
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("request body: {e}")))
}

/// A number query parameter: 400 `invalidValue` when not one.
fn number(params: &Params, name: &str) -> Result<Option<u64>> {
    params
        .get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be a non-negative integer"))
            })
        })
        .transpose()
}

fn service_of(s: &str) -> Result<Service> {
    match s {
        "uem" => Ok(Service::Uem),
        "access" => Ok(Service::Access),
        _ => Err(ScimError::not_found(format!(
            "no service '{s}' (uem or access)"
        ))),
    }
}

fn kind_of(params: &Params) -> Result<ResourceKind> {
    match params.get("kind") {
        None | Some("user") => Ok(ResourceKind::User),
        Some("group") => Ok(ResourceKind::Group),
        Some(other) => Err(ScimError::invalid_value(format!(
            "kind must be 'user' or 'group' (got '{other}')"
        ))),
    }
}

/// Directory settings as the admin API gives them: each field optional, over `base`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsIn {
    enforce_domain: Option<bool>,
    strict: Option<bool>,
    fill_domain: Option<bool>,
}

impl SettingsIn {
    fn over(self, base: &DirectorySettings) -> DirectorySettings {
        DirectorySettings {
            enforce_domain: self.enforce_domain.unwrap_or(base.enforce_domain),
            strict: self.strict.unwrap_or(base.strict),
            fill_domain: self.fill_domain.unwrap_or(base.fill_domain),
        }
    }
}

fn list_directories(engine: &Engine) -> Result<Response> {
    let now = engine.now();
    let list: Vec<Value> = engine
        .directories()?
        .iter()
        .map(|d| views::directory(d, now))
        .collect();
    ok(json!({ "directories": list }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewDirectoryIn {
    name: String,
    domain: String,
    idp: IdpKind,
    services: Vec<Service>,
    #[serde(default)]
    settings: Option<SettingsIn>,
    #[serde(default)]
    mapping_profile: Option<Profile>,
    #[serde(default)]
    token_lifespan_months: Option<u32>,
}

fn create_directory(engine: &Engine, req: &Request) -> Result<Response> {
    let new: NewDirectoryIn = body(req, false)?;
    // Checked first: a bad lifespan creates nothing.
    let months = token::lifespan(new.token_lifespan_months)?;
    let directory = engine.create_directory(&NewDirectory {
        name: new.name,
        domain: new.domain,
        idp: new.idp,
        services: new.services,
        settings: new
            .settings
            .unwrap_or_default()
            .over(&DirectorySettings::default()),
        mapping_profile: new.mapping_profile,
    })?;
    let issued = match engine.issue_token(&directory.id, Some(months)) {
        Ok(t) => t,
        Err(e) => {
            // No directory without its token: undo, then report.
            if let Err(undo) = engine.delete_directory(&directory.id) {
                log::error!(target: "scim::admin", "cannot undo directory {}: {undo}", directory.id);
            }
            return Err(e);
        }
    };
    let directory = engine.directory(&directory.id)?;
    Ok(Response::json(
        201,
        &json!({
            "directory": views::directory(&directory, engine.now()),
            "token": views::issued(&issued),
        }),
    )
    .with_header(
        "Location",
        &format!("{}/directories/{}", super::ADMIN_API_PATH, directory.id),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateIn {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    services: Option<Vec<Service>>,
    #[serde(default)]
    settings: Option<SettingsIn>,
}

fn update_directory(engine: &Engine, id: &str, req: &Request) -> Result<Response> {
    let update: UpdateIn = body(req, false)?;
    // Partial settings go over the current ones (the store's read-modify-write then
    // keeps any other change).
    let settings = match update.settings {
        Some(s) => Some(s.over(&engine.directory(id)?.settings)),
        None => None,
    };
    let d = engine.update_directory(
        id,
        &DirectoryUpdate {
            domain: update.domain,
            services: update.services,
            settings,
        },
    )?;
    ok(views::directory(&d, engine.now()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenIn {
    #[serde(default)]
    lifespan_months: Option<u32>,
}

fn issue_token(engine: &Engine, id: &str, req: &Request) -> Result<Response> {
    let t: TokenIn = body(req, true)?;
    let issued = engine.issue_token(id, t.lifespan_months)?;
    Ok(Response::json(201, &views::issued(&issued)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    #[serde(default)]
    target: Option<String>,
    source: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    immutable: bool,
    #[serde(default)]
    transform: Option<Transform>,
}

fn entry_of(req: &Request, target: &str) -> Result<MappingEntry> {
    let e: EntryIn = body(req, false)?;
    if let Some(t) = e
        .target
        .as_deref()
        .filter(|t| !t.eq_ignore_ascii_case(target))
    {
        return Err(ScimError::invalid_value(format!(
            "target '{t}' in the body is not the path's '{target}'"
        )));
    }
    Ok(MappingEntry {
        target: target.to_owned(),
        source: e.source,
        required: e.required,
        immutable: e.immutable,
        transform: e.transform,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OidcIn {
    client_id: String,
    client_secret: String,
    config_url: String,
    #[serde(default)]
    claim: Option<String>,
    #[serde(default)]
    attribute: Option<String>,
    #[serde(default)]
    allow_http: bool,
}

fn set_oidc(engine: &Engine, id: &str, req: &Request) -> Result<Response> {
    let o: OidcIn = body(req, false)?;
    let mut config = crate::oidc::OidcConfig::new(o.client_id, o.client_secret, o.config_url, "");
    if let Some(claim) = o.claim {
        config.claim = claim;
    }
    config.allow_http = o.allow_http;
    let d = engine.set_oidc(id, config, o.attribute.as_deref().unwrap_or("email"))?;
    ok(views::directory(&d, engine.now()))
}

/// A users or groups page: the directory's own SCIM list, with the page parameters
/// passed on as given (still percent-encoded) and the attributes a page shows.
fn page(
    engine: &Engine,
    id: &str,
    path: &str,
    query: &str,
    kind: ResourceKind,
) -> Result<Response> {
    engine.directory(id)?;
    let mut passed: Vec<&str> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let name = decode(part.split_once('=').map_or(part, |(k, _)| k))?;
        if !PAGE_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(&name)) {
            return Err(ScimError::invalid_value(format!(
                "unknown query parameter '{name}' (use {})",
                PAGE_PARAMS.join(", ")
            )));
        }
        passed.push(part);
    }
    passed.push(match kind {
        ResourceKind::User => USER_PAGE_ATTRIBUTES,
        ResourceKind::Group => GROUP_PAGE_ATTRIBUTES,
    });
    scim_json(engine.read_directory(id, path, &passed.join("&")))
}

/// A SCIM answer as the admin API's: errors as they are, success as plain JSON.
fn scim_json(resp: Response) -> Result<Response> {
    if resp.status >= 300 {
        return Ok(resp);
    }
    Ok(Response {
        status: resp.status,
        headers: Vec::new(),
        body: resp.body,
    })
}

/// A SCIM resource read through the directory, or its error.
fn resource(engine: &Engine, id: &str, path: &str) -> std::result::Result<Value, Response> {
    let resp = engine.read_directory(id, path, "");
    if resp.status != 200 {
        return Err(resp);
    }
    serde_json::from_slice(&resp.body).map_err(|e| Response::error(&internal(e)))
}

fn user_detail(engine: &Engine, id: &str, user: &str) -> Result<Response> {
    engine.directory(id)?;
    let resource = match resource(engine, id, &format!("/Users/{user}")) {
        Ok(r) => r,
        Err(resp) => return Ok(resp),
    };
    let records = engine.records(id, ResourceKind::User, &resource)?;
    let events: Vec<Value> = engine
        .activity_items(0, usize::MAX, Some(id))
        .0
        .iter()
        .filter_map(|i| match &i.what {
            crate::activity::ActivityKind::Event { event, .. }
                if event.resource_id == user
                    || event.data["members"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| m["value"] == user)) =>
            {
                Some(views::event(event))
            }
            _ => None,
        })
        .collect();
    ok(json!({ "user": resource, "records": records, "events": events }))
}

fn group_detail(engine: &Engine, id: &str, group: &str) -> Result<Response> {
    engine.directory(id)?;
    let resource = match resource(engine, id, &format!("/Groups/{group}")) {
        Ok(r) => r,
        Err(resp) => return Ok(resp),
    };
    let members: Vec<Value> = resource["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!({ "value": m["value"], "display": m["display"], "type": m["type"] }))
        .collect();
    ok(json!({ "group": resource, "members": members }))
}

fn outbox(engine: &Engine, id: &str, params: &Params) -> Result<Response> {
    let limit = number(params, "limit")?
        .map_or(OUTBOX_RECENT, |n| n as usize)
        .min(OUTBOX_RECENT_MAX);
    let stats = engine.event_stats(id)?;
    let recent: Vec<Value> = engine
        .pending_events(id, limit.max(1))?
        .iter()
        .take(limit)
        .map(views::event)
        .collect();
    let consumers: Vec<Value> = engine
        .event_groups(id)?
        .iter()
        .map(|g| json!({ "group": g.group, "acked": g.acked, "delivered": g.delivered }))
        .collect();
    ok(json!({
        "pending": stats.last_seq.saturating_sub(stats.acked).saturating_sub(stats.dropped),
        "lastSeq": stats.last_seq,
        "acked": stats.acked,
        "kept": stats.kept,
        "dropped": stats.dropped,
        "consumers": consumers,
        "recent": recent,
    }))
}

fn activity(engine: &Engine, params: &Params) -> Result<Response> {
    let after = number(params, "after")?.unwrap_or(0);
    let limit = number(params, "limit")?
        .map_or(ACTIVITY_LIMIT, |n| n as usize)
        .clamp(1, ACTIVITY_LIMIT_MAX);
    let directory = params.get("directory");
    if let Some(d) = directory {
        engine.directory(d)?;
    }
    let (items, next) = engine.activity_items(after, limit, directory);
    let names: HashMap<String, String> = engine
        .directories()?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let items: Vec<Value> = items
        .iter()
        .map(|i| views::activity_item(i, &names))
        .collect();
    ok(json!({ "items": items, "next": next }))
}
