//! The built-in HTTP server: hyper 1 on tokio, optional TLS through rustls. An adapter
//! only — every SCIM answer comes from [`Engine::handle`], exactly as in-process.

use crate::engine::{Engine, LoginError};
use crate::error::ScimError;
use crate::provider::{Request, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Where to listen; port 0 picks a free port ([`Server::local_addr`] tells which).
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Longest time to receive a request head.
    pub header_timeout: Duration,
    /// Longest time for a whole request: body upload and answer.
    pub request_timeout: Duration,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_grace: Duration,
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

impl Server {
    /// Bind and start serving every directory of `engine` on a thread of its own.
    pub fn start(engine: Arc<Engine>, options: ServerOptions) -> Result<Server, ScimError> {
        let tls = options.tls.as_ref().map(tls_acceptor).transpose()?;
        // One worker per core (tokio's default): reads run inline on the workers.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("libscim-http")
            .enable_all()
            .build()
            .map_err(|e| ScimError::internal(format!("cannot start the server runtime: {e}")))?;
        let listener = runtime
            .block_on(TcpListener::bind(options.addr))
            .map_err(|e| ScimError::internal(format!("cannot listen on {}: {e}", options.addr)))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ScimError::internal(format!("cannot read the bound address: {e}")))?;
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("libscim-server".into())
            .spawn(move || {
                runtime.block_on(serve(listener, engine, options, tls, stopped));
            })
            .map_err(|e| ScimError::internal(format!("cannot start the server thread: {e}")))?;
        log::info!(target: "scim::server", "listening on {local_addr}");
        Ok(Server {
            local_addr,
            stop,
            thread: Some(thread),
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
    let bad =
        |what: &str, e: &dyn std::fmt::Display| ScimError::internal(format!("TLS {what}: {e}"));
    let certs = CertificateDer::pem_file_iter(&files.cert_chain)
        .map_err(|e| bad(&format!("certificate {}", files.cert_chain.display()), &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if certs.is_empty() {
        return Err(ScimError::internal(format!(
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

async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    options: ServerOptions,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let options = Arc::new(options);
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
        let engine = engine.clone();
        let opts = options.clone();
        let service = service_fn(move |req| {
            let engine = engine.clone();
            let opts = opts.clone();
            async move { Ok::<_, std::convert::Infallible>(answer(req, engine, &opts).await) }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .keep_alive(true)
            .max_buf_size(options.max_header_bytes.max(8192))
            .header_read_timeout(options.header_timeout);
        match &tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        log::debug!(target: "scim::server", "connection from {peer}: {e}");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                let header_timeout = options.header_timeout;
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(header_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            log::debug!(target: "scim::server", "TLS handshake with {peer}: {e}");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn).await {
                        log::debug!(target: "scim::server", "connection from {peer}: {e}");
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(options.shutdown_grace) => {
            log::warn!(target: "scim::server", "in-flight requests still running after the grace period");
        }
    }
}

/// One request: limits, then the engine (writes on a blocking thread: the store may fsync).
async fn answer(
    req: hyper::Request<Incoming>,
    engine: Arc<Engine>,
    opts: &ServerOptions,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    // Kept for the access log only when it is on.
    let (method, path) = if log::log_enabled!(target: "scim::access", log::Level::Info) {
        (
            req.method().as_str().to_owned(),
            req.uri().path().to_owned(),
        )
    } else {
        (String::new(), String::new())
    };
    let resp = match tokio::time::timeout(opts.request_timeout, route(req, &engine)).await {
        Ok(r) => r,
        Err(_) => Response::error(&ScimError::new(408, None, "the request took too long")),
    };
    // One structured line per request; never the token, never the query (it may carry
    // personal data in a filter).
    log::info!(
        target: "scim::access",
        "method={method} path={path} status={} duration_ms={:.3} directory={}",
        resp.status,
        started.elapsed().as_secs_f64() * 1000.0,
        directory_of(&path, &engine.config().scim_path).unwrap_or("-"),
    );
    to_hyper(resp)
}

async fn route(req: hyper::Request<Incoming>, engine: &Arc<Engine>) -> Response {
    if req.uri().path() == "/healthz" {
        return Response {
            status: if req.method() == hyper::Method::GET {
                200
            } else {
                405
            },
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"ok\n".to_vec(),
        };
    }
    let login = engine.config().login_path.trim_end_matches('/').to_owned();
    if let Some(rest) = req
        .uri()
        .path()
        .strip_prefix(&login)
        .filter(|r| r.starts_with('/'))
    {
        let rest = rest.to_owned();
        return login_route(req, engine.clone(), rest).await;
    }
    let limit = engine.config().provider.max_payload_size;
    let too_large = || {
        Response::error(&ScimError::payload_too_large(format!(
            "request body exceeds maxPayloadSize {limit}"
        )))
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large()
        }
        Err(e) => {
            return Response::error(&ScimError::invalid_syntax(format!(
                "could not read the request body: {e}"
            )))
        }
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    // Reads run inline on the runtime worker: a GET is a short read transaction that
    // never waits on the writer (WAL), and handing it to the blocking pool cost more than
    // the read itself (futex wake/wait per request; 157 against 103 µs of CPU per GET by
    // id in the issue 13 measurements). Writes go to the blocking pool: they may wait
    // for a group commit (an fsync) with others. A GET that runs long holds its worker
    // meanwhile (the others keep serving); the time limit covers reading the request.
    if request.method.eq_ignore_ascii_case("GET") {
        return engine.handle(&request);
    }
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || engine.handle(&request))
        .await
        .unwrap_or_else(|_| Response::error(&ScimError::internal("the request handler failed")))
}

/// `GET <login>/<id>` → 302 to the IdP; `GET <login>/<id>/callback` → who logged in, as
/// JSON (`Accept: application/json`) or a small HTML page.
async fn login_route(req: hyper::Request<Incoming>, engine: Arc<Engine>, rest: String) -> Response {
    let json = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if req.method() != hyper::Method::GET {
        return login_error(json, 405, "method_not_allowed", "use GET");
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
    let mut builder = hyper::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(resp.body)))
        .unwrap_or_else(|_| {
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
