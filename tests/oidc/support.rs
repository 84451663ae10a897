//! Test support for the OIDC tests and benchmark: a loopback IdP (discovery, JWKS and
//! token endpoint, canned answers, request counters; plain HTTP or TLS with the private
//! test CA) and signing keys for every allowed algorithm.
#![allow(dead_code)]

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------- keys

pub enum Signer {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A signing key with its `kid` and default `alg`.
pub struct Key {
    pub kid: String,
    pub alg: &'static str,
    pub signer: Signer,
}

impl Key {
    pub fn rsa(fixture_name: &str, kid: &str) -> Key {
        let kp = RsaKeyPair::from_pkcs8(&fixture(fixture_name)).unwrap();
        Key {
            kid: kid.into(),
            alg: "RS256",
            signer: Signer::Rsa(kp),
        }
    }
    pub fn es256(kid: &str) -> Key {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap();
        Key {
            kid: kid.into(),
            alg: "ES256",
            signer: Signer::P256(kp),
        }
    }
    pub fn es384(kid: &str) -> Key {
        let alg = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap();
        Key {
            kid: kid.into(),
            alg: "ES384",
            signer: Signer::P384(kp),
        }
    }
    pub fn ed25519(kid: &str) -> Key {
        let pk8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(pk8.as_ref()).unwrap();
        Key {
            kid: kid.into(),
            alg: "EdDSA",
            signer: Signer::Ed25519(kp),
        }
    }

    /// The public JWK (no `alg`, so one RSA key serves RS* and PS*).
    pub fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(kp) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Signer::P256(kp) | Signer::P384(kp) => {
                let p = kp.public_key().as_ref();
                let len = (p.len() - 1) / 2;
                let crv = if len == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "kid": self.kid, "crv": crv,
                       "x": b64(&p[1..1 + len]), "y": b64(&p[1 + len..])})
            }
            Signer::Ed25519(kp) => json!({"kty": "OKP", "kid": self.kid, "crv": "Ed25519",
                                          "x": b64(kp.public_key().as_ref())}),
        }
    }

    /// The raw signature of `msg` under `alg`.
    pub fn raw_sign(&self, alg: &str, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let pad: &dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    other => panic!("RSA cannot {other}"),
                };
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(pad, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::P256(kp) | Signer::P384(kp) => kp.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::Ed25519(kp) => kp.sign(msg).as_ref().to_vec(),
        }
    }

    /// A compact JWS of `claims` with the key's alg and kid, plus `extra` header members.
    pub fn sign(&self, claims: &Value, extra: Value) -> String {
        let mut header = json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                header.as_object_mut().unwrap().remove(k);
            } else {
                header[k] = v.clone();
            }
        }
        sign_raw(&header, claims, |msg| {
            self.raw_sign(header["alg"].as_str().unwrap_or(self.alg), msg)
        })
    }

    pub fn with_alg(mut self, alg: &'static str) -> Key {
        self.alg = alg;
        self
    }
}

pub fn sign_raw(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

// ---------------------------------------------------------------- loopback IdP

#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct IdpState {
    pub discovery: Value,
    pub jwks: Value,
    pub jwks_cache_control: Option<String>,
    pub discovery_fetches: usize,
    pub jwks_fetches: usize,
    pub token_response: (u16, Value),
    pub token_requests: Vec<Recorded>,
    /// Requests to any other path (e.g. a `jku` or `x5u` an attacker put in a header).
    pub other_requests: Vec<String>,
}

pub struct Idp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: Arc<Mutex<IdpState>>,
    stop: Arc<AtomicBool>,
}

impl Idp {
    pub fn start() -> Idp {
        Self::start_with(None)
    }

    /// Over TLS with `tests/oidc/server.pem`, issued by `tests/oidc/ca.pem`.
    pub fn start_tls() -> Idp {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = vec![CertificateDer::from_pem_slice(&fixture("server.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(&fixture("server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        Self::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{addr}");
        let state = Arc::new(Mutex::new(IdpState {
            discovery: json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }),
            jwks: json!({"keys": []}),
            token_response: (500, json!({"error": "not_configured"})),
            ..IdpState::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, tls) = (st.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(cfg) => {
                        let Ok(sc) = rustls::ServerConnection::new(cfg) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(sc, conn), &st);
                    }
                    None => serve(conn, &st),
                });
            }
        });
        Idp {
            base,
            addr,
            state,
            stop,
        }
    }

    pub fn config_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.base)
    }

    pub fn set_keys(&self, keys: &[&Key]) {
        self.state.lock().unwrap().jwks =
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn discovery_fetches(&self) -> usize {
        self.state.lock().unwrap().discovery_fetches
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve<S: Read + Write>(mut s: S, state: &Mutex<IdpState>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let (status, payload, extra) = {
        let mut st = state.lock().unwrap();
        match (method.as_str(), path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => {
                st.discovery_fetches += 1;
                (200, st.discovery.to_string(), String::new())
            }
            ("GET", "/jwks") => {
                st.jwks_fetches += 1;
                let cc = st
                    .jwks_cache_control
                    .as_ref()
                    .map(|c| format!("Cache-Control: {c}\r\n"))
                    .unwrap_or_default();
                (200, st.jwks.to_string(), cc)
            }
            ("POST", "/token") => {
                st.token_requests.push(Recorded {
                    method: method.clone(),
                    path: path.clone(),
                    headers: headers.clone(),
                    body: String::from_utf8_lossy(&body).into(),
                });
                (
                    st.token_response.0,
                    st.token_response.1.to_string(),
                    String::new(),
                )
            }
            _ => {
                st.other_requests.push(path.clone());
                (404, "{}".to_owned(), String::new())
            }
        }
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{payload}",
        payload.len()
    );
    let _ = s.write_all(resp.as_bytes());
    let _ = s.flush();
}
