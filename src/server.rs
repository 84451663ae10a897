//! The built-in HTTP server: hyper 1 on tokio, optional TLS through rustls. An adapter
//! only — every SCIM answer comes from [`Engine::handle`], exactly as in-process.

mod fair;
mod limits;
mod options;

use crate::admin::AdminOptions;
use crate::engine::{Engine, LoginError};
use crate::error::ScimError;
use crate::provider::{Request, Response};
use crate::token::HashMemo;
use bytes::Bytes;
use fair::FairTurns;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
pub use limits::RateLimit;
use limits::{Admission, Limits, RequestSlot};
pub use options::{AdminJson, RateLimitJson, ServerOptionsJson};
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Server settings. As JSON (the C ABI's, and `serde` from Rust): [`ServerOptionsJson`],
/// checked as [`ServerOptions::from_json`] does.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(try_from = "ServerOptionsJson")]
pub struct ServerOptions {
    /// Where to listen; port 0 picks a free port ([`Server::local_addr`] tells which).
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Longest time to receive a request head, and longest a kept-alive connection
    /// waits idle for the next one.
    pub header_timeout: Duration,
    /// Longest time to receive a request body, counted from the end of its head (`408`
    /// beyond). Once the engine has started on a request, it is answered with its real
    /// outcome, however long that takes: never a `408` for a write that was applied.
    pub request_timeout: Duration,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Open connections served at most; a connection beyond gets `503` with
    /// `Retry-After` to its request and is closed.
    pub max_connections: usize,
    /// Requests in flight at most (from their head to their answer); beyond, `503` with
    /// `Retry-After`.
    pub max_in_flight: usize,
    /// Requests of one directory in flight at most; beyond, `429` with `Retry-After`.
    /// Below [`Self::max_in_flight`], so one directory never takes every slot.
    pub max_in_flight_per_directory: usize,
    /// A directory's request rate (`429` with `Retry-After` beyond). Off by default: the
    /// library cannot know what its host can take, and the in-flight share already
    /// keeps one directory from crowding out the others.
    pub rate_limit: Option<RateLimit>,
    /// The admin API under `/admin/api/` (see [`crate::admin`] and `docs/admin-api.md`),
    /// with its own credential; off (`None`) by default. While it is on, the engine's
    /// activity feed records SCIM requests and change events.
    pub admin: Option<AdminOptions>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            max_header_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            max_connections: 512,
            max_in_flight: 256,
            max_in_flight_per_directory: 64,
            rate_limit: None,
            admin: None,
        }
    }
}

/// PEM files for TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert_chain: PathBuf,
    pub private_key: PathBuf,
}

/// A running server. [`Server::stop`] ends it gracefully; dropping it stops it too.
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A server bound to its address but not yet serving ([`Server::bind`]): the host learns
/// the port first (`addr` with port 0), then builds the engine whose `public_url` names
/// it, and only then serves ([`BoundServer::serve`]).
pub struct BoundServer {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    options: ServerOptions,
}

impl BoundServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Start serving every directory of `engine` on a thread of its own.
    pub fn serve(self, engine: Arc<Engine>) -> Result<Server, ScimError> {
        let BoundServer {
            runtime,
            listener,
            local_addr,
            tls,
            options,
        } = self;
        if options.admin.is_some() {
            engine.enable_activity()?;
        }
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("libscim-server".into())
            .spawn(move || {
                runtime.block_on(serve(listener, engine, options, tls, stopped));
            })
            .map_err(|e| ScimError::io(format!("cannot start the server thread: {e}")))?;
        log::info!(target: "scim::server", "listening on {local_addr}");
        Ok(Server {
            local_addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Server {
    /// Bind and start serving every directory of `engine` on a thread of its own.
    pub fn start(engine: Arc<Engine>, options: ServerOptions) -> Result<Server, ScimError> {
        Server::bind(options)?.serve(engine)
    }

    /// Bind (and load the TLS files) without serving yet: see [`BoundServer`].
    pub fn bind(options: ServerOptions) -> Result<BoundServer, ScimError> {
        let tls = options.tls.as_ref().map(tls_acceptor).transpose()?;
        // One worker per core (tokio's default): reads run inline on the workers.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers())
            .thread_name("libscim-http")
            .enable_all()
            .build()
            .map_err(|e| ScimError::io(format!("cannot start the server runtime: {e}")))?;
        let listener = runtime
            .block_on(TcpListener::bind(options.addr))
            .map_err(|e| ScimError::io(format!("cannot listen on {}: {e}", options.addr)))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ScimError::io(format!("cannot read the bound address: {e}")))?;
        Ok(BoundServer {
            runtime,
            listener,
            local_addr,
            tls,
            options,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting connections, let in-flight requests finish (up to the grace
    /// period), then return.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ScimError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| ScimError::io(format!("TLS {what}: {e}"));
    let certs = CertificateDer::pem_file_iter(&files.cert_chain)
        .map_err(|e| bad(&format!("certificate {}", files.cert_chain.display()), &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if certs.is_empty() {
        return Err(ScimError::io(format!(
            "TLS certificate file {} holds no certificate",
            files.cert_chain.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| bad(&format!("key {}", files.private_key.display()), &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad("protocol versions", &e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad("certificate and key", &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Runtime worker threads, one per core (tokio's default); reads run inline on them, one
/// per fair turn.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// A map keyed by directory ids the server has authenticated (never a client's choice of
/// key before that): a fast hasher, where std's SipHash would cost more than the lookup.
type ByDirectory<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;

/// What every connection of one server shares.
struct Shared {
    engine: Arc<Engine>,
    options: ServerOptions,
    limits: Limits,
    /// Turns on the workers for requests that run inline, fair between directories.
    turns: FairTurns,
}

async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    options: ServerOptions,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shared = Arc::new(Shared {
        engine,
        limits: Limits::new(
            options.max_connections,
            options.max_in_flight,
            options.max_in_flight_per_directory,
            options.rate_limit,
        ),
        turns: FairTurns::new(workers()),
        options,
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!(target: "scim::server", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        // Each response goes out as soon as it is written: without this, the tail of a
        // response larger than a segment could wait for the client's delayed ACK.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!(target: "scim::server", "TCP_NODELAY for {peer}: {e}");
        }
        let (permit, refuse) = match shared.limits.connection() {
            Admission::Serve(p) => (p, false),
            Admission::Refuse(p) => (p, true),
            Admission::Drop => {
                log::debug!(target: "scim::server", "connection from {peer} dropped: far beyond the connection limit");
                continue;
            }
        };
        let shared = shared.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(TokioIo::new(stream), shared, refuse, watcher, peer).await,
                Some(acceptor) => {
                    let header_timeout = shared.options.header_timeout;
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            connection(TokioIo::new(s), shared, refuse, watcher, peer).await
                        }
                        Ok(Err(e)) => {
                            log::debug!(target: "scim::server", "TLS handshake with {peer}: {e}");
                        }
                        Err(_) => {}
                    }
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(shared.options.shutdown_grace) => {
            log::warn!(target: "scim::server", "in-flight requests still running after the grace period");
        }
    }
}

/// Serve one connection (plain or TLS): every request through [`answer`], or, for a
/// connection beyond the cap (`refuse`), one `503` and close.
async fn connection<I>(io: I, shared: Arc<Shared>, refuse: bool, watcher: Watcher, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let options = &shared.options;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(!refuse)
        .max_buf_size(options.max_header_bytes.max(8192))
        .header_read_timeout(options.header_timeout);
    let service = {
        let shared = shared.clone();
        // The hash of the token this connection sent last (see `HashMemo`): its requests
        // come one after another, so the lock is never contended.
        let tokens = Arc::new(Mutex::new(HashMemo::default()));
        service_fn(move |req| {
            let shared = shared.clone();
            let tokens = tokens.clone();
            async move {
                Ok::<_, std::convert::Infallible>(if refuse {
                    to_hyper(
                        limits::Refusal::Busy("the server is at its limit of open connections")
                            .response(),
                    )
                } else {
                    answer(req, shared, peer, &tokens).await
                })
            }
        })
    };
    if let Err(e) = watcher.watch(builder.serve_connection(io, service)).await {
        log::debug!(target: "scim::server", "connection from {peer}: {e}");
    }
}

/// One request, then its access-log line.
async fn answer(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    tokens: &Mutex<HashMemo>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    // A SCIM request goes to the activity feed while the admin API is on. The URI and
    // method are kept by reference count (no copy): the feed copies what it keeps.
    let activity = shared
        .options
        .admin
        .as_ref()
        .filter(|_| directory_of(req.uri().path(), &shared.engine.config().scim_path).is_some())
        .map(|_| (req.method().clone(), req.uri().clone()));
    // Kept for the access log only when it is on.
    let logged = log::log_enabled!(target: "scim::access", log::Level::Info).then(|| {
        let user_agent = req
            .headers()
            .get(hyper::header::USER_AGENT)
            .map_or(&b""[..], |v| v.as_bytes());
        (
            log_value(req.method().as_str().as_bytes(), false).into_owned(),
            log_value(req.uri().path().as_bytes(), false).into_owned(),
            log_value(user_agent, true).into_owned(),
            directory_of(req.uri().path(), &shared.engine.config().scim_path)
                .map(|d| log_value(d.as_bytes(), false).into_owned()),
        )
    });
    let resp = respond(req, &shared, started, peer, tokens).await;
    if let Some((method, uri)) = activity {
        let path = uri.path();
        if let Some(directory) = directory_of(path, &shared.engine.config().scim_path) {
            shared.engine.activity().request(
                directory,
                method.as_str(),
                path,
                resp.status,
                started.elapsed(),
            );
        }
    }
    if let Some((method, path, user_agent, directory)) = logged {
        // One structured line per request; never the token, never the query (it may
        // carry personal data in a filter); what the client chose is escaped. The same
        // fields are the record's key-values, for a host that formats its own line.
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let directory = directory.as_deref().unwrap_or("-");
        log::info!(
            target: "scim::access",
            method = method.as_str(),
            path = path.as_str(),
            status = resp.status,
            duration_ms,
            directory,
            user_agent = user_agent.as_str();
            "method={method} path={path} status={} duration_ms={duration_ms:.3} directory={directory} user_agent=\"{user_agent}\"",
            resp.status,
        );
    }
    to_hyper(resp)
}

/// The answer to one request, in the order that keeps the server safe: the caps, then
/// authentication and the directory's limits from the head alone, and only then the
/// body (within its time limit) and the engine.
async fn respond(
    req: hyper::Request<Incoming>,
    shared: &Arc<Shared>,
    started: Instant,
    peer: SocketAddr,
    tokens: &Mutex<HashMemo>,
) -> Response {
    let engine = &shared.engine;
    if req.uri().path() == "/healthz" {
        if req.method() != hyper::Method::GET {
            return Response::error(&ScimError::method_not_allowed("use GET on /healthz"))
                .with_header("Allow", "GET");
        }
        return Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"ok\n".to_vec(),
        };
    }
    let slot = match shared.limits.request() {
        Ok(s) => s,
        Err(refusal) => return refusal.response(),
    };
    if let Some(admin) = shared
        .options
        .admin
        .as_ref()
        .filter(|_| crate::admin::is_admin_path(req.uri().path()))
    {
        return admin_route(req, shared, admin, peer, started, slot).await;
    }
    if let Some(admin) = shared
        .options
        .admin
        .as_ref()
        .filter(|_| crate::admin::console::is_console_path(req.uri().path()))
    {
        // The console's files hold no data (the API behind them asks for the credential),
        // but only the API's clients get them: a peer the API refuses gets its 403 (the
        // 401 for the missing credential is the API's own business).
        if let Err(e) = admin.admit(peer, None) {
            if e.status == 403 {
                return Response::error(&e);
            }
        }
        return crate::admin::console::respond(req.method().as_str(), req.uri().path());
    }
    let login = engine.config().login_path.trim_end_matches('/');
    if let Some(rest) = req
        .uri()
        .path()
        .strip_prefix(login)
        .filter(|r| r.starts_with('/'))
    {
        let rest = rest.to_owned();
        return login_route(req, engine.clone(), rest, slot).await;
    }
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match engine.authenticate_with(req.uri().path(), authorization, &mut tokens.lock()) {
        Ok(a) => a,
        Err(e) => return Response::error(&e),
    };
    let directory_slot = match shared.limits.directory(auth.directory_id()) {
        Ok(s) => s,
        Err(refusal) => {
            if let Some(hold) = refusal.hold() {
                // Held without a slot: see `Refusal::hold`.
                drop(slot);
                tokio::time::sleep(hold).await;
            }
            return refusal.response();
        }
    };
    let deadline = started + shared.options.request_timeout;
    let request = match read_request(req, engine.config().provider.max_payload_size, deadline).await
    {
        Ok(r) => r,
        Err(e) => return Response::error(&e),
    };
    // Reads run inline on the runtime worker: a GET is a short read transaction that
    // never waits on the writer (WAL), and handing it to the blocking pool cost more than
    // the read itself (futex wake/wait per request; 157 against 103 µs of CPU per GET by
    // id in the issue 13 measurements). Writes go to the blocking pool: they may wait
    // for a group commit (an fsync) with others. A read waits for a fair turn on the
    // workers first (see `fair`): a directory flooding reads delays another's by at most
    // one read. Once the engine has the request, its answer is awaited with no time limit
    // (a write is never reported as timed out after it was applied), and the request
    // keeps its slots until then.
    if request.method.eq_ignore_ascii_case("GET") {
        let _turn = shared.turns.turn(auth.directory_id()).await;
        return engine.handle_authenticated(&auth, &request);
    }
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || {
        let _slots = (slot, directory_slot);
        engine.handle_authenticated(&auth, &request)
    })
    .await
    .unwrap_or_else(|_| Response::error(&ScimError::internal("the request handler failed")))
}

/// The whole request, its body read within `limit` bytes (`413` beyond, refused from a
/// declared length before reading) and by `deadline` (`408` after).
async fn read_request(
    req: hyper::Request<Incoming>,
    limit: usize,
    deadline: Instant,
) -> Result<Request, ScimError> {
    let too_large =
        || ScimError::payload_too_large(format!("request body exceeds maxPayloadSize {limit}"));
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    // A request without a body (a GET) has nothing to wait for.
    let collected = if hyper::body::Body::is_end_stream(&body) {
        Ok(http_body_util::Collected::default())
    } else {
        tokio::time::timeout_at(deadline.into(), Limited::new(body, limit).collect())
            .await
            .map_err(|_| ScimError::new(408, None, "the request body took too long to arrive"))?
    };
    let body = match collected {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(too_large())
        }
        Err(e) => {
            return Err(ScimError::invalid_syntax(format!(
                "could not read the request body: {e}"
            )))
        }
    };
    Ok(Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    })
}

/// An admin API request: the peer and credential checked from the head (403, 401), then
/// the body read as any request's, then the admin adapter on the blocking pool (its
/// calls may write).
async fn admin_route(
    req: hyper::Request<Incoming>,
    shared: &Arc<Shared>,
    admin: &AdminOptions,
    peer: SocketAddr,
    started: Instant,
    slot: RequestSlot,
) -> Response {
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = admin.admit(peer, authorization) {
        let mut resp = Response::error(&e).with_content_type("application/json");
        if e.status == 401 {
            resp.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("WWW-Authenticate"));
            resp.headers.push((
                "WWW-Authenticate".into(),
                "Bearer realm=\"libscim-admin\"".into(),
            ));
        }
        return resp;
    }
    let engine = shared.engine.clone();
    let deadline = started + shared.options.request_timeout;
    let request = match read_request(req, engine.config().provider.max_payload_size, deadline).await
    {
        Ok(r) => r,
        Err(e) => return Response::error(&e).with_content_type("application/json"),
    };
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        crate::admin::handle(&engine, &request)
    })
    .await
    .unwrap_or_else(|_| Response::error(&ScimError::internal("the admin handler failed")))
}

/// `GET <login>/<id>` → 302 to the IdP; `GET <login>/<id>/callback` → who logged in, as
/// JSON (`Accept: application/json`) or a small HTML page.
async fn login_route(
    req: hyper::Request<Incoming>,
    engine: Arc<Engine>,
    rest: String,
    slot: RequestSlot,
) -> Response {
    let json = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if req.method() != hyper::Method::GET {
        return login_error(json, 405, "method_not_allowed", "use GET").with_header("Allow", "GET");
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    // The login cookie binds the callback to the browser that began the login.
    let cookie = req
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(crate::engine::login_cookie_value)
        .map(str::to_owned);
    let ends = engine.clone();
    let callback_of = rest
        .trim_matches('/')
        .strip_suffix("/callback")
        .map(str::to_owned);
    let outcome = tokio::task::spawn_blocking(move || -> Result<Response, LoginError> {
        let _slot = slot;
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            [dir] if !dir.is_empty() => {
                let (start, sealed) = engine.login_begin_sealed(dir)?;
                Ok(Response {
                    status: 302,
                    headers: vec![
                        ("Location".into(), start.authorization_url),
                        ("Cache-Control".into(), "no-store".into()),
                        ("Set-Cookie".into(), engine.login_cookie(dir, Some(&sealed))),
                    ],
                    body: Vec::new(),
                })
            }
            [dir, "callback"] => {
                let params = crate::provider::params::Params::parse(&query)
                    .map_err(LoginError::Directory)?;
                if let Some(err) = params.get("error") {
                    let detail = params.get("error_description").unwrap_or(err);
                    return Ok(login_error(
                        json,
                        400,
                        "idp_error",
                        &format!("{err}: {detail}"),
                    ));
                }
                let (Some(code), Some(state)) = (params.get("code"), params.get("state")) else {
                    return Ok(login_error(
                        json,
                        400,
                        "malformed",
                        "the callback needs code and state",
                    ));
                };
                let login = engine.login_complete_sealed(dir, code, state, cookie.as_deref())?;
                Ok(login_success(json, &login))
            }
            _ => Ok(login_error(
                json,
                404,
                "not_found",
                "no login endpoint here",
            )),
        }
    })
    .await;
    // A callback ends this browser's login, whatever its outcome, unless it was not this
    // browser's (a forged callback must not cancel the login the browser has under way).
    let ended = !matches!(&outcome, Ok(Err(e)) if e.code() == "state_mismatch");
    let mut resp = match outcome {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => login_error(json, e.status(), e.code(), &e.to_string()),
        Err(_) => login_error(json, 500, "internal", "the login handler failed"),
    };
    if let Some(dir) = callback_of.filter(|d| ended && !d.is_empty() && !d.contains('/')) {
        resp.headers
            .push(("Set-Cookie".into(), ends.login_cookie(&dir, None)));
    }
    resp
}

fn login_success(json: bool, login: &crate::engine::Login) -> Response {
    if json {
        let body = serde_json::json!({ "user": login.user.record, "claims": login.claims });
        return Response::json(200, &body).with_content_type("application/json");
    }
    let name = login.user.resource["userName"]
        .as_str()
        .unwrap_or(&login.user.id);
    html(
        200,
        &format!("<h1>Signed in</h1><p>Welcome, {}.</p>", escape(name)),
    )
}

fn login_error(json: bool, status: u16, code: &str, detail: &str) -> Response {
    if json {
        let body = serde_json::json!({ "error": code, "detail": detail });
        return Response::json(status, &body).with_content_type("application/json");
    }
    html(
        status,
        &format!(
            "<h1>Sign-in failed</h1><p>{}</p><p><code>{}</code></p>",
            escape(detail),
            escape(code)
        ),
    )
}

fn html(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>libscim sign-in</title></head><body>{body}</body></html>").into_bytes(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn to_hyper(resp: Response) -> hyper::Response<Full<Bytes>> {
    // The header values move into the response (no copy); any invalid part makes it a 500
    // (as `http::response::Builder` would).
    let build = || -> Option<hyper::Response<Full<Bytes>>> {
        let mut r = hyper::Response::new(Full::new(Bytes::from(resp.body)));
        *r.status_mut() = hyper::StatusCode::from_u16(resp.status).ok()?;
        let headers = r.headers_mut();
        headers.reserve(resp.headers.len());
        for (k, v) in resp.headers {
            let name = hyper::header::HeaderName::from_bytes(k.as_bytes()).ok()?;
            let value = hyper::header::HeaderValue::from_maybe_shared(Bytes::from(v)).ok()?;
            headers.append(name, value);
        }
        Some(r)
    };
    build().unwrap_or_else(|| {
        let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"")));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// The directory id in a SCIM path, for the access log.
fn directory_of<'p>(path: &'p str, scim_path: &str) -> Option<&'p str> {
    path.strip_prefix(scim_path.trim_end_matches('/'))?
        .strip_prefix('/')?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// A client-supplied value as it may appear in a log line: `\\`, `"`, control characters,
/// bytes beyond ASCII and (unless `space`) the space are written `\\xNN`, so a value can
/// neither end its field nor start a forged line.
fn log_value(bytes: &[u8], space: bool) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    let plain = |b: u8| (b.is_ascii_graphic() || (space && b == b' ')) && b != b'"' && b != b'\\';
    match std::str::from_utf8(bytes) {
        Ok(s) if bytes.iter().all(|&b| plain(b)) => std::borrow::Cow::Borrowed(s),
        _ => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for &b in bytes {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    b if plain(b) => out.push(char::from(b)),
                    b => {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_value;

    #[test]
    fn log_values_cannot_break_their_field_or_line() {
        assert_eq!(log_value(b"/scim/v2/x/Users", false), "/scim/v2/x/Users");
        assert_eq!(log_value(b"Okta SCIM Client", true), "Okta SCIM Client");
        assert_eq!(log_value(b"a b", false), "a\\x20b");
        assert_eq!(
            log_value(b"x\" status=200\r\nforged\\\t\xff", true),
            "x\\\" status=200\\x0d\\x0aforged\\\\\\x09\\xff"
        );
    }
}
