//! The SCIM protocol surface (RFC 7644): routing, CRUD, query, PATCH, bulk, discovery,
//! ETags and errors. Transport-neutral: a [`Request`] in, a [`Response`] out.

mod bulk;
mod discovery;
mod message;
mod paging;
pub(crate) mod params;
mod query;
mod render;
mod resources;
mod tenant;

pub use message::{Request, Response, SCIM_JSON};

use crate::error::{Result, ScimError};
use crate::filter::Filter;
use crate::mapping::DirectoryMapping;
use crate::schema::{Mode, ResourceKind};
use crate::store::{Store, StoredResource};
use serde_json::Value;
use std::sync::Arc;
use time::OffsetDateTime;

/// The directory used by [`ServiceProvider::handle`] when the host does not name one.
pub const DEFAULT_DIRECTORY: &str = "default";

/// Provider settings; the limits are advertised under `/ServiceProviderConfig`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SCIM base URL clients use (`https://host/scim/v2`), for `meta.location`/`Location`.
    pub base_url: String,
    /// Reject unknown attributes and schema URNs (400 `invalidSyntax`) instead of ignoring them.
    pub strict: bool,
    /// Largest page a query returns (`filter.maxResults`); larger `count`s are clamped.
    pub max_results: usize,
    /// Most operations in one bulk request (`bulk.maxOperations`); more → 413.
    pub max_operations: usize,
    /// Largest request body in bytes (`bulk.maxPayloadSize`, and every other request); → 413.
    pub max_payload_size: usize,
    /// Above this many members, a group PATCH that asks for no particular attributes
    /// answers 204 No Content instead of the whole group (see the PATCH handler).
    pub large_group_members: usize,
    /// How long an RFC 9865 cursor, and an index-paging continuation, stays valid
    /// between page requests (`pagination.cursorTimeout`), in seconds.
    pub cursor_timeout_secs: u64,
    /// A sort on an attribute the store keeps no index for holds `startIndex + count - 1`
    /// resources in memory: at most this many (`tooMany` beyond). Sorts on `userName`,
    /// `displayName`, `externalId`, `meta.created` and `meta.lastModified` are index
    /// orders and have no such limit.
    pub max_sort_window: usize,
    /// Most stored resources of one type a query reads to answer what the store's indexes do not:
    /// the part of a filter evaluated here, a sort without an index, a query at the root
    /// (`tooMany` beyond). Indexed filters and sorts read only their page and have no
    /// such limit; this bounds the time a query on a huge directory can take.
    pub max_filter_scan: usize,
    /// A PATCH removing group members by a filter other than `value eq` (say
    /// `members[display sw "x"]`) evaluates it on every member while holding the
    /// store's writer: it is refused (`tooMany`) in groups of more than this many
    /// members. Removing by `value eq`, or by a `value` list, has no such limit.
    pub max_member_filter: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://localhost/scim/v2".into(),
            strict: false,
            max_results: 1000,
            max_operations: 1000,
            max_payload_size: 1024 * 1024,
            large_group_members: 1000,
            cursor_timeout_secs: 600,
            max_sort_window: 10_000,
            max_filter_scan: 200_000,
            max_member_filter: 10_000,
        }
    }
}

/// A SCIM 2.0 service provider over a [`Store`].
pub struct ServiceProvider {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
    paging: paging::Paging,
}

/// What one request is about, after routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint<'a> {
    Root,
    RootSearch,
    Collection(ResourceKind),
    Search(ResourceKind),
    Resource(ResourceKind, &'a str),
    Bulk,
    ServiceProviderConfig,
    ResourceTypes(Option<&'a str>),
    Schemas(Option<&'a str>),
}

/// The directory a request is bound to, and its rules.
#[derive(Clone, Copy, Debug)]
pub struct Tenant<'a> {
    /// The directory id: the store scope of every read and write.
    pub id: &'a str,
    /// The directory's SCIM base URL, for `Location` and `meta.location`.
    pub base_url: &'a str,
    /// The directory's domain: filled into the ws1b `domain` attribute of users and
    /// groups when absent (with `fill_domain`), and enforced with `enforce_domain`.
    pub domain: Option<&'a str>,
    pub fill_domain: bool,
    /// Reject user names and work emails in another domain (needs `domain`).
    pub enforce_domain: bool,
    /// Reject unknown attributes (in addition to [`Config::strict`]).
    pub strict: bool,
    /// The directory's attribute mappings: required/immutable checks on every write, and
    /// the `records` of every event. `None`: no checks, no records.
    pub mappings: Option<&'a DirectoryMapping>,
}

/// The per-request context handed to the handlers: its [`Scope`] (read through `Deref`,
/// as `ctx.config`, `ctx.dir`…) and how this request writes and answers.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub scope: Scope<'a>,
    /// Inside a bulk request: the write transaction its operations share; each write
    /// runs in a savepoint of it (see `resources::write`). `None`: its own transaction.
    pub shared: Option<&'a bulk::Shared<'a>>,
    /// A success answers without a body: a bulk operation's result carries only its
    /// status, `location` and `version`, so rendering the resource would be wasted.
    pub bodiless: bool,
}

impl<'a> std::ops::Deref for Ctx<'a> {
    type Target = Scope<'a>;
    fn deref(&self) -> &Scope<'a> {
        &self.scope
    }
}

/// What a request is about and under which rules: the part of [`Ctx`] that other
/// threads may share (`Sync`), so a bulk request prepares its operations in parallel
/// (a [`Ctx`] is not: its shared transaction is a `RefCell` over one connection).
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub config: &'a Config,
    pub base_url: &'a str,
    pub store: &'a dyn Store,
    pub dir: &'a str,
    pub now: OffsetDateTime,
    pub mode: Mode,
    pub domain: Option<&'a str>,
    pub fill_domain: bool,
    pub enforce_domain: bool,
    pub mappings: Option<&'a DirectoryMapping>,
    pub paging: &'a paging::Paging,
}

impl ServiceProvider {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        ServiceProvider {
            config,
            store,
            clock: Arc::new(OffsetDateTime::now_utc),
            paging: paging::Paging::new(),
        }
    }

    /// Seal pagination cursors with a key derived from `secret` instead of a random one,
    /// so that they stay valid across restarts and across processes sharing the secret.
    pub fn with_cursor_secret(mut self, secret: &[u8]) -> Self {
        self.paging = paging::Paging::from_secret(secret);
        self
    }

    /// Replace the clock (tests, and hosts that keep their own time).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answer one request on the default directory at the configured base URL.
    pub fn handle(&self, req: &Request) -> Response {
        self.handle_for(
            &Tenant {
                id: DEFAULT_DIRECTORY,
                base_url: &self.config.base_url,
                domain: None,
                fill_domain: false,
                enforce_domain: false,
                strict: false,
                mappings: None,
            },
            req,
        )
    }

    /// Answer one request on one directory. The caller has authenticated the request
    /// and bound it to `tenant` (see [`crate::Engine`]).
    pub fn handle_for(&self, tenant: &Tenant, req: &Request) -> Response {
        self.handle_at(tenant, req, &req.path)
    }

    /// [`Self::handle_for`] with the path below the SCIM base given apart from `req`
    /// (whose own `path` is then not read): the engine strips its directory prefix
    /// without copying the request.
    pub(crate) fn handle_at(&self, tenant: &Tenant, req: &Request, path: &str) -> Response {
        match dispatch_at(&self.ctx(tenant), req, path) {
            Ok(r) => r,
            Err(e) => Response::error(&e),
        }
    }

    /// The rendered users of `tenant` matching `filter` and accepted by `accept` (index
    /// point lookups where the filter allows; see [`query::find`]).
    pub(crate) fn find_for(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        filter: Option<&Filter>,
        accept: &mut dyn FnMut(&StoredResource) -> bool,
    ) -> Result<Vec<Value>> {
        query::find(&self.ctx(tenant), kind, filter, accept)
    }

    /// Append a `user.updated` event (with records) for every user of `tenant`, in write
    /// transactions of `batch` users; returns how many.
    pub(crate) fn resync_for(&self, tenant: &Tenant, batch: usize) -> Result<u64> {
        resources::resync(&self.ctx(tenant), batch)
    }

    fn ctx<'a>(&'a self, tenant: &Tenant<'a>) -> Ctx<'a> {
        Ctx {
            scope: Scope {
                config: &self.config,
                base_url: tenant.base_url.trim_end_matches('/'),
                store: &*self.store,
                dir: tenant.id,
                now: (self.clock)(),
                mode: Mode {
                    strict: self.config.strict || tenant.strict,
                },
                domain: tenant.domain,
                fill_domain: tenant.fill_domain,
                enforce_domain: tenant.enforce_domain && tenant.domain.is_some(),
                mappings: tenant.mappings,
                paging: &self.paging,
            },
            shared: None,
            bodiless: false,
        }
    }
}

/// Route and run one request at `path` (below the SCIM base; `req.path` is not read),
/// refusing an oversized body first.
fn dispatch_at(ctx: &Ctx, req: &Request, path: &str) -> Result<Response> {
    if req.body.len() > ctx.config.max_payload_size {
        return Err(ScimError::payload_too_large(format!(
            "request body of {} bytes exceeds maxPayloadSize {}",
            req.body.len(),
            ctx.config.max_payload_size
        )));
    }
    dispatch_with(ctx, req, path, None)
}

/// Route and run one request at `path` (below the SCIM base) whose body is `given` when
/// given (a bulk operation's `data`, already parsed: it is not serialised and parsed
/// again), else `req.body` (parsed only by the endpoints that take a body).
pub(crate) fn dispatch_with(
    ctx: &Ctx,
    req: &Request,
    path: &str,
    given: Option<&Value>,
) -> Result<Response> {
    let method = req.method.to_ascii_uppercase();
    let endpoint = route(path)?;
    let params = params::Params::parse(&req.query)?;
    let mut parsed = None;
    use Endpoint::*;
    match (endpoint, method.as_str()) {
        (Collection(kind), "GET") => query::list(ctx, &[kind], params.search()?),
        (Root, "GET") => query::list(
            ctx,
            &[ResourceKind::User, ResourceKind::Group],
            params.search()?,
        ),
        (Collection(kind), "POST") => resources::create(
            ctx,
            kind,
            &params,
            given_or_parsed(given, req, &mut parsed)?,
        ),
        (Search(kind), "POST") => query::search(
            ctx,
            &[kind],
            &params,
            given_or_parsed(given, req, &mut parsed)?,
        ),
        (RootSearch, "POST") => query::search(
            ctx,
            &[ResourceKind::User, ResourceKind::Group],
            &params,
            given_or_parsed(given, req, &mut parsed)?,
        ),
        (Resource(kind, id), "GET") => resources::get(ctx, kind, id, &params, req),
        (Resource(kind, id), "PUT") => resources::replace(
            ctx,
            kind,
            id,
            &params,
            req,
            given_or_parsed(given, req, &mut parsed)?,
        ),
        (Resource(kind, id), "PATCH") => resources::patch(
            ctx,
            kind,
            id,
            &params,
            req,
            given_or_parsed(given, req, &mut parsed)?,
        ),
        (Resource(kind, id), "DELETE") => resources::delete(ctx, kind, id, req),
        (Bulk, "POST") => bulk::run(ctx, given_or_parsed(given, req, &mut parsed)?),
        (ServiceProviderConfig, "GET") => Ok(discovery::service_provider_config(ctx)),
        (ResourceTypes(id), "GET") => discovery::resource_types(ctx, id, &params),
        (Schemas(id), "GET") => discovery::schemas(ctx, id, &params),
        (ep, m) => Ok(method_not_allowed(ep, m)),
    }
}

/// 405 with the `Allow` header listing what the endpoint supports (RFC 9110 §15.5.6).
fn method_not_allowed(ep: Endpoint, method: &str) -> Response {
    use Endpoint::*;
    let allowed = match ep {
        Root => "GET",
        RootSearch | Search(_) | Bulk => "POST",
        Collection(_) => "GET, POST",
        Resource(..) => "GET, PUT, PATCH, DELETE",
        ServiceProviderConfig | ResourceTypes(_) | Schemas(_) => "GET",
    };
    Response::error(&ScimError::method_not_allowed(format!(
        "method {method} is not allowed on this endpoint (allowed: {allowed})"
    )))
    .with_header("Allow", allowed)
}

/// Map a path below the SCIM base to an endpoint. Endpoint names match case-insensitively.
fn route(path: &str) -> Result<Endpoint<'_>> {
    let trimmed = path.trim_matches('/');
    let mut parts = trimmed.splitn(2, '/');
    let first = parts.next().unwrap_or("");
    let rest = parts.next().filter(|s| !s.is_empty());
    let is = |s: &str| first.eq_ignore_ascii_case(s);
    let kind = if is("Users") {
        Some(ResourceKind::User)
    } else if is("Groups") {
        Some(ResourceKind::Group)
    } else {
        None
    };
    let not_found = || ScimError::not_found(format!("no SCIM endpoint at '{path}'"));
    Ok(match (kind, rest) {
        (Some(k), None) => Endpoint::Collection(k),
        (Some(k), Some(".search")) => Endpoint::Search(k),
        (Some(_), Some(id)) if id.contains('/') => return Err(not_found()),
        (Some(k), Some(id)) => Endpoint::Resource(k, id),
        (None, None) if first.is_empty() => Endpoint::Root,
        (None, None) if first == ".search" => Endpoint::RootSearch,
        (None, None) if is("Bulk") => Endpoint::Bulk,
        (None, None) if is("ServiceProviderConfig") => Endpoint::ServiceProviderConfig,
        (None, r) if is("ResourceTypes") => Endpoint::ResourceTypes(r),
        (None, r) if is("Schemas") => Endpoint::Schemas(r),
        _ => return Err(not_found()),
    })
}

/// `given`, or else the request's body parsed into `slot`.
fn given_or_parsed<'a>(
    given: Option<&'a Value>,
    req: &Request,
    slot: &'a mut Option<Value>,
) -> Result<&'a Value> {
    match given {
        Some(v) => Ok(v),
        None => Ok(slot.insert(json_body(req)?)),
    }
}

/// The request body as JSON, after checking its media type.
fn json_body(req: &Request) -> Result<Value> {
    if let Some(ct) = req.header("Content-Type") {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(SCIM_JSON) && !media.eq_ignore_ascii_case("application/json")
        {
            return Err(ScimError::unsupported_media_type(format!(
                "Content-Type '{media}' is not supported; use {SCIM_JSON}"
            )));
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("request body is empty"));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ScimError::invalid_syntax(format!("request body is not valid JSON: {e}")))
}
