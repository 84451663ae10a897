//! Outbound HTTP(S) for discovery, JWKS and the token endpoint: hyper 1 over tokio, TLS
//! by rustls (ring provider) with the public web roots plus an optional private CA
//! bundle. One connection per request (these calls are rare and cached), every request
//! bounded in time and size, no redirects followed. The API is synchronous: the I/O runs
//! on a small runtime shared by every client of the process.

use super::error::{oidc_err, OidcError, OidcErrorKind, OidcResult};
use super::url::HttpUrl;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Whole-request deadline: connect, TLS, request and response body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read (discovery documents and JWKS are a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The runtime every relying party's I/O runs on: one worker thread, created on first
/// use and kept for the life of the process (dropping a runtime inside another panics).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("scim-oidc-io")
        .enable_all()
        .build()
        .expect("start the OIDC I/O runtime")
});

/// Runs `fut` on the shared runtime and waits for it. Safe from any thread, including
/// one that is itself inside a tokio runtime (it blocks that thread, it does not panic).
/// `None` if the task died without an answer.
pub(crate) fn block_on<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    RUNTIME.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().ok()
}

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
pub(crate) struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
    allow_http: bool,
}

impl HttpClient {
    pub fn new(ca_bundle_pem: Option<&str>, allow_http: bool) -> OidcResult<HttpClient> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = ca_bundle_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| oidc_err!(InvalidConfig, "ca_bundle_pem: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| oidc_err!(InvalidConfig, "ca_bundle_pem: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err(oidc_err!(
                    InvalidConfig,
                    "ca_bundle_pem holds no PEM certificate"
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| oidc_err!(InvalidConfig, "TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpClient {
            tls: Arc::new(tls),
            allow_http,
        })
    }

    /// Performs one request; `fail` is the error kind for any transport failure.
    pub fn send(
        &self,
        fail: OidcErrorKind,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> OidcResult<HttpResponse> {
        let url = HttpUrl::parse(url, self.allow_http, "URL").map_err(|e| {
            if e.kind == OidcErrorKind::InsecureUrl {
                e
            } else {
                OidcError::new(fail, e.detail)
            }
        })?;
        let mut req = http::Request::builder()
            .method(method)
            .uri(url.path_and_query())
            .header(http::header::HOST, url.authority())
            .header(http::header::USER_AGENT, "libscim-oidc")
            .header(http::header::ACCEPT, "application/json");
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| OidcError::new(fail, format!("building the request: {e}")))?;
        let tls = self.tls.clone();
        let target = format!("{}:{}", url.host, url.port);
        let fut = exchange(tls, url, req);
        let what = target.clone();
        block_on(async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
                Ok(r) => r.map_err(|e| OidcError::new(fail, format!("{target}: {e}"))),
                Err(_) => Err(OidcError::new(
                    fail,
                    format!("{target}: no answer within {REQUEST_TIMEOUT:?}"),
                )),
            }
        })
        .unwrap_or_else(|| Err(OidcError::new(fail, format!("{what}: the I/O task failed"))))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn exchange(
    tls: Arc<rustls::ClientConfig>,
    url: HttpUrl,
    req: http::Request<Full<Bytes>>,
) -> Result<HttpResponse, BoxError> {
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await?;
    let _ = tcp.set_nodelay(true);
    if !url.is_https() && !tcp.peer_addr()?.ip().is_loopback() {
        // `localhost` resolved off this machine: plain http stays on loopback.
        return Err(format!("{} resolved to a non-loopback address", url.host).into());
    }
    if url.is_https() {
        let name = ServerName::try_from(url.host.clone())?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await?;
        round_trip(TokioIo::new(stream), req).await
    } else {
        round_trip(TokioIo::new(tcp), req).await
    }
}

async fn round_trip<IO>(io: IO, req: http::Request<Full<Bytes>>) -> Result<HttpResponse, BoxError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the response (limit {MAX_RESPONSE_BYTES} bytes): {e}"))?
        .to_bytes();
    driver.abort();
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// `max-age` of a `Cache-Control` header, clamped to `[min, max]`; `default` when the
/// header is absent, and `min` for `no-cache`/`no-store`.
pub(crate) fn cache_lifetime(headers: &http::HeaderMap, min: u64, max: u64, default: u64) -> u64 {
    let Some(value) = headers
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    else {
        return default.clamp(min, max);
    };
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return min;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<u64>().ok();
        }
    }
    age.unwrap_or(default).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cc: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CACHE_CONTROL, cc.parse().unwrap());
        h
    }

    #[test]
    fn cache_control_is_bounded() {
        assert_eq!(
            cache_lifetime(&http::HeaderMap::new(), 300, 86400, 3600),
            3600
        );
        assert_eq!(
            cache_lifetime(&headers("public, max-age=7200"), 300, 86400, 3600),
            7200
        );
        assert_eq!(cache_lifetime(&headers("max-age=5"), 300, 86400, 3600), 300);
        assert_eq!(
            cache_lifetime(&headers("max-age=9999999"), 300, 86400, 3600),
            86400
        );
        assert_eq!(cache_lifetime(&headers("no-store"), 300, 86400, 3600), 300);
        assert_eq!(cache_lifetime(&headers("private"), 300, 86400, 3600), 3600);
    }

    #[test]
    fn custom_ca_bundle_must_hold_a_certificate() {
        assert!(HttpClient::new(None, false).is_ok());
        let e = HttpClient::new(Some("not pem"), false).err().unwrap();
        assert_eq!(e.code(), "invalid_config");
    }
}
