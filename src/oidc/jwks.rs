//! The IdP's signing keys: JWK parsing (RFC 7517/7518, RFC 8037), key selection for a
//! token, signature verification through ring, and the cache with its rate-limited
//! refetch when a token names a key we do not know.

use super::error::{oidc_err, OidcResult};
use super::jws::{b64_decode, Alg, KeyKind};
use parking_lot::{Mutex, RwLock};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;
use std::sync::Arc;

/// Smallest RSA modulus accepted (NIST SP 800-131A; ring's verifier floor as well).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus ring verifies.
const MAX_RSA_BITS: usize = 8192;
/// After any JWKS fetch, a token naming an unknown key triggers no new fetch for this
/// long, so forged tokens cannot make us hammer the IdP.
pub const JWKS_REFETCH_COOLDOWN_SECS: i64 = 60;

/// Public key material, decoded once when the JWKS is fetched.
#[derive(Clone, Debug)]
pub(crate) enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed SEC1 point `04 || x || y`.
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

impl KeyMaterial {
    fn kind(&self) -> KeyKind {
        match self {
            KeyMaterial::Rsa { .. } => KeyKind::Rsa,
            KeyMaterial::P256(_) => KeyKind::P256,
            KeyMaterial::P384(_) => KeyKind::P384,
            KeyMaterial::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// Verifies `signature` over `message` with this key under `alg`.
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        use signature as s;
        match (self, alg) {
            (KeyMaterial::Rsa { n, e }, _) => {
                let params: &s::RsaParameters = match alg {
                    Alg::Rs256 => &s::RSA_PKCS1_2048_8192_SHA256,
                    Alg::Rs384 => &s::RSA_PKCS1_2048_8192_SHA384,
                    Alg::Rs512 => &s::RSA_PKCS1_2048_8192_SHA512,
                    Alg::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
                    Alg::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
                    Alg::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            (KeyMaterial::P256(point), Alg::Es256) => {
                UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::P384(point), Alg::Es384) => {
                UnparsedPublicKey::new(&s::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ed25519(x), Alg::EdDsa) => UnparsedPublicKey::new(&s::ED25519, x)
                .verify(message, sig)
                .is_ok(),
            _ => false,
        }
    }
}

/// Why a listed key cannot be used.
#[derive(Clone, Debug)]
pub(crate) enum Unusable {
    /// An RSA key below [`MIN_RSA_BITS`].
    Weak(usize),
    /// Not a signature key, an unsupported type or curve, or a broken encoding.
    Other(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Jwk {
    pub kid: Option<String>,
    /// The key's `alg`, when it names one.
    pub alg: Option<String>,
    pub key: Result<KeyMaterial, Unusable>,
}

/// A parsed JWKS. Keys that cannot serve (encryption keys, unknown types) are kept with
/// the reason, so an error can say why a named key was not used.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeySet {
    pub keys: Vec<Jwk>,
}

fn member<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, Unusable> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Unusable::Other(format!("no \"{name}\"")))
}

fn member_bytes(jwk: &Value, name: &str) -> Result<Vec<u8>, Unusable> {
    b64_decode(member(jwk, name)?)
        .ok_or_else(|| Unusable::Other(format!("\"{name}\" is not base64url")))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

fn parse_material(jwk: &Value) -> Result<KeyMaterial, Unusable> {
    if let Some(u) = jwk.get("use") {
        if u.as_str() != Some("sig") {
            return Err(Unusable::Other(format!("\"use\" is {u}, not \"sig\"")));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return Err(Unusable::Other("\"key_ops\" lacks \"verify\"".into()));
        }
    }
    match member(jwk, "kty")? {
        "RSA" => {
            let n = member_bytes(jwk, "n")?;
            let e = member_bytes(jwk, "e")?;
            let n = strip_zeros(&n);
            let bits = match n.first() {
                Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
                None => 0,
            };
            if bits < MIN_RSA_BITS {
                return Err(Unusable::Weak(bits));
            }
            if bits > MAX_RSA_BITS {
                return Err(Unusable::Other(format!("RSA modulus of {bits} bits")));
            }
            Ok(KeyMaterial::Rsa {
                n: n.to_vec(),
                e: strip_zeros(&e).to_vec(),
            })
        }
        "EC" => {
            let (len, p384) = match member(jwk, "crv")? {
                "P-256" => (32, false),
                "P-384" => (48, true),
                other => return Err(Unusable::Other(format!("curve {other:?} unsupported"))),
            };
            let x = member_bytes(jwk, "x")?;
            let y = member_bytes(jwk, "y")?;
            if x.len() != len || y.len() != len {
                return Err(Unusable::Other("EC coordinates of the wrong size".into()));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(if p384 {
                KeyMaterial::P384(point)
            } else {
                KeyMaterial::P256(point)
            })
        }
        "OKP" => match member(jwk, "crv")? {
            "Ed25519" => {
                let x = member_bytes(jwk, "x")?;
                if x.len() != 32 {
                    return Err(Unusable::Other("Ed25519 key of the wrong size".into()));
                }
                Ok(KeyMaterial::Ed25519(x))
            }
            other => Err(Unusable::Other(format!("curve {other:?} unsupported"))),
        },
        other => Err(Unusable::Other(format!("key type {other:?} unsupported"))),
    }
}

/// What a key set offers for one token.
pub(crate) enum Selection<'a> {
    /// Keys to try, in order.
    Candidates(Vec<&'a KeyMaterial>),
    /// Nothing fits, and a fresher JWKS might change that (the `kid` is not listed, or
    /// no `kid` and no compatible key).
    NotListed,
    /// The named key is listed but cannot verify this token; refetching will not help.
    Refused(super::OidcError),
}

impl KeySet {
    /// Parses a JWKS document.
    pub fn parse(body: &[u8]) -> OidcResult<KeySet> {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| oidc_err!(JwksFailed, "JWKS is not JSON: {e}"))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| oidc_err!(JwksFailed, "JWKS has no \"keys\" array"))?;
        Ok(KeySet {
            keys: keys
                .iter()
                .map(|k| Jwk {
                    kid: k.get("kid").and_then(Value::as_str).map(str::to_owned),
                    alg: k.get("alg").and_then(Value::as_str).map(str::to_owned),
                    key: parse_material(k),
                })
                .collect(),
        })
    }

    /// The keys that may have signed a token with this `alg` and `kid`: `kid` equal when
    /// the token names one (every compatible key otherwise), the key type and curve the
    /// algorithm needs, `use` absent or `sig`, `alg` absent or equal.
    pub fn select(&self, alg: Alg, kid: Option<&str>) -> Selection<'_> {
        let named: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .collect();
        let fits = |k: &Jwk| {
            k.alg.as_deref().is_none_or(|a| a == alg.name())
                && k.key.as_ref().is_ok_and(|m| m.kind() == alg.key_kind())
        };
        let candidates: Vec<&KeyMaterial> = named
            .iter()
            .filter(|k| fits(k))
            .filter_map(|k| k.key.as_ref().ok())
            .collect();
        if !candidates.is_empty() {
            return Selection::Candidates(candidates);
        }
        let Some(kid) = kid else {
            if let Some(bits) = weakest(&named, alg) {
                return Selection::Refused(weak(None, bits));
            }
            return Selection::NotListed;
        };
        if named.is_empty() {
            return Selection::NotListed;
        }
        if let Some(bits) = weakest(&named, alg) {
            return Selection::Refused(weak(Some(kid), bits));
        }
        let why = named
            .iter()
            .map(|k| match &k.key {
                Err(Unusable::Other(why)) => why.clone(),
                Err(Unusable::Weak(bits)) => format!("RSA key of {bits} bits"),
                Ok(m) => format!(
                    "a {:?} key{}",
                    m.kind(),
                    k.alg
                        .as_ref()
                        .map(|a| format!(" for {a}"))
                        .unwrap_or_default()
                ),
            })
            .collect::<Vec<_>>()
            .join("; ");
        Selection::Refused(oidc_err!(
            UnknownKey,
            "key {kid:?} cannot verify {alg}: {why}"
        ))
    }
}

fn weakest(keys: &[&Jwk], alg: Alg) -> Option<usize> {
    if alg.key_kind() != KeyKind::Rsa {
        return None;
    }
    keys.iter().find_map(|k| match k.key {
        Err(Unusable::Weak(bits)) => Some(bits),
        _ => None,
    })
}

fn weak(kid: Option<&str>, bits: usize) -> super::OidcError {
    let name = kid.map(|k| format!(" {k:?}")).unwrap_or_default();
    oidc_err!(
        WeakKey,
        "RSA key{name} has {bits} bits; at least {MIN_RSA_BITS} are required"
    )
}

/// One fetched JWKS.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub keys: KeySet,
    pub uri: String,
    pub fetched_at: i64,
    pub expires_at: i64,
    /// Increases with every fetch, so a waiter can tell someone else already refetched.
    pub generation: u64,
}

/// The JWKS cache. Fetches are serialized by `fetch_lock`: concurrent misses wait for
/// the one fetch in flight and then use its result.
#[derive(Default)]
pub(crate) struct JwksCache {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// The time of the last fetch attempt, successful or not.
    fetch_lock: Mutex<Option<i64>>,
}

/// Fetches the JWKS at a URI: the keys and their cache lifetime in seconds.
pub(crate) type Fetch<'a> = &'a dyn Fn(&str) -> OidcResult<(KeySet, u64)>;

impl JwksCache {
    /// The cached keys for `uri` if fresh, else a fetch (one at a time).
    pub fn get(&self, uri: &str, now: i64, fetch: Fetch<'_>) -> OidcResult<Arc<Snapshot>> {
        if let Some(s) = self.fresh(uri, now) {
            return Ok(s);
        }
        let mut last_attempt = self.fetch_lock.lock();
        if let Some(s) = self.fresh(uri, now) {
            return Ok(s);
        }
        *last_attempt = Some(now);
        self.store(uri, now, fetch)
    }

    /// A refetch because a token names a key `seen` does not have. `None` when the
    /// cooldown forbids it; the newer snapshot when another caller refetched meanwhile.
    pub fn refetch(
        &self,
        seen: &Snapshot,
        now: i64,
        fetch: Fetch<'_>,
    ) -> OidcResult<Option<Arc<Snapshot>>> {
        let mut last_attempt = self.fetch_lock.lock();
        if let Some(s) = self.current.read().clone() {
            if s.generation != seen.generation && s.uri == seen.uri {
                return Ok(Some(s));
            }
        }
        let last = last_attempt.unwrap_or(i64::MIN).max(seen.fetched_at);
        if now.saturating_sub(last) < JWKS_REFETCH_COOLDOWN_SECS {
            return Ok(None);
        }
        *last_attempt = Some(now);
        self.store(&seen.uri, now, fetch).map(Some)
    }

    fn fresh(&self, uri: &str, now: i64) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .as_ref()
            .filter(|s| s.uri == uri && now < s.expires_at)
            .cloned()
    }

    fn store(&self, uri: &str, now: i64, fetch: Fetch<'_>) -> OidcResult<Arc<Snapshot>> {
        let (keys, lifetime) = fetch(uri)?;
        let mut current = self.current.write();
        let generation = current.as_ref().map_or(0, |s| s.generation + 1);
        let snapshot = Arc::new(Snapshot {
            keys,
            uri: uri.to_owned(),
            fetched_at: now,
            expires_at: now.saturating_add(lifetime as i64),
            generation,
        });
        *current = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Forgets the keys (the next validation fetches).
    pub fn clear(&self) {
        *self.current.write() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(keys: Value) -> KeySet {
        KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn b64(b: &[u8]) -> String {
        super::super::jws::b64_encode(b)
    }

    #[test]
    fn parses_key_types_and_refuses_the_unusable() {
        let n2048 = b64(&[0xC5; 256]);
        let n1024 = b64(&[0xC5; 128]);
        let mut n2048_lz = vec![0u8];
        n2048_lz.extend_from_slice(&[0xC5; 256]);
        let ks = set(json!([
            {"kty": "RSA", "kid": "r", "n": n2048, "e": "AQAB"},
            {"kty": "RSA", "kid": "lz", "n": b64(&n2048_lz), "e": "AQAB"},
            {"kty": "RSA", "kid": "weak", "n": n1024, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n2048, "e": "AQAB"},
            {"kty": "EC", "kid": "p256", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])},
            {"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(&[3; 32])},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
        ]));
        let ok: Vec<bool> = ks.keys.iter().map(|k| k.key.is_ok()).collect();
        assert_eq!(
            ok,
            [true, true, false, false, true, true, false, true, false]
        );
        assert!(matches!(ks.keys[2].key, Err(Unusable::Weak(1024))));

        assert!(
            matches!(ks.select(Alg::Rs256, Some("r")), Selection::Candidates(c) if c.len() == 1)
        );
        assert!(matches!(
            ks.select(Alg::Ps512, Some("lz")),
            Selection::Candidates(_)
        ));
        assert!(
            matches!(ks.select(Alg::Rs256, Some("weak")), Selection::Refused(e) if e.code() == "weak_key")
        );
        assert!(
            matches!(ks.select(Alg::Rs256, Some("enc")), Selection::Refused(e) if e.code() == "unknown_key")
        );
        // Algorithm and key type must agree: an EC key never verifies RS256, and so on.
        assert!(matches!(
            ks.select(Alg::Rs256, Some("p256")),
            Selection::Refused(_)
        ));
        assert!(matches!(
            ks.select(Alg::Es384, Some("p256")),
            Selection::Refused(_)
        ));
        assert!(matches!(
            ks.select(Alg::Es256, Some("p256")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            ks.select(Alg::Es384, Some("p384")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            ks.select(Alg::EdDsa, Some("ed")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            ks.select(Alg::Rs256, Some("nope")),
            Selection::NotListed
        ));
        // Without a kid, every compatible key is a candidate.
        assert!(matches!(ks.select(Alg::Rs256, None), Selection::Candidates(c) if c.len() == 2));
    }

    #[test]
    fn key_alg_must_match_token_alg() {
        let n = b64(&[0xC5; 256]);
        let ks = set(json!([{"kty": "RSA", "kid": "r", "alg": "PS256", "n": n, "e": "AQAB"}]));
        assert!(matches!(
            ks.select(Alg::Ps256, Some("r")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            ks.select(Alg::Rs256, Some("r")),
            Selection::Refused(_)
        ));
    }
}
