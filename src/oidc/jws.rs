//! JWS compact serialization (RFC 7515) as an ID token may use it, and nothing else:
//! exactly three base64url segments without padding, a header whose `alg` is one of the
//! asymmetric algorithms below. `none` and the HMAC algorithms are not in [`Alg`] at all,
//! so a token cannot ask for them; JWE, nested JWTs, the JSON serialization and any
//! `crit` extension are refused. `jwk`, `jku`, `x5u` and `x5c` headers are never read:
//! keys come only from the IdP's JWKS.

use super::error::{oidc_err, OidcResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Largest token accepted, in bytes. Real ID tokens are 1–3 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The signature algorithms an ID token may use (the allowlist).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Alg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "RS384")]
    Rs384,
    #[serde(rename = "RS512")]
    Rs512,
    #[serde(rename = "PS256")]
    Ps256,
    #[serde(rename = "PS384")]
    Ps384,
    #[serde(rename = "PS512")]
    Ps512,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "ES384")]
    Es384,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// The key family an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Alg {
    pub const ALL: [Alg; 9] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::Es384,
        Alg::EdDsa,
    ];

    pub fn all() -> Vec<Alg> {
        Alg::ALL.to_vec()
    }

    /// The JOSE name (`RS256`, …).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
                KeyKind::Rsa
            }
            Alg::Es256 => KeyKind::P256,
            Alg::Es384 => KeyKind::P384,
            Alg::EdDsa => KeyKind::Ed25519,
        }
    }

    /// The hash `at_hash`/`c_hash` use: the one of the signature (OIDC Core §3.1.3.6);
    /// SHA-512 for EdDSA with Ed25519.
    pub(crate) fn hash(self) -> &'static digest::Algorithm {
        match self {
            Alg::Rs256 | Alg::Ps256 | Alg::Es256 => &digest::SHA256,
            Alg::Rs384 | Alg::Ps384 | Alg::Es384 => &digest::SHA384,
            Alg::Rs512 | Alg::Ps512 | Alg::EdDsa => &digest::SHA512,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed, not yet verified, JWS.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

/// Strict base64url: the URL-safe alphabet, no padding, canonical trailing bits.
pub(crate) fn b64_decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn json_object(segment: &str, what: &str) -> OidcResult<Map<String, Value>> {
    let bytes =
        b64_decode(segment).ok_or_else(|| oidc_err!(Malformed, "{what} is not base64url"))?;
    match serde_json::from_slice::<UniqueObject>(&bytes) {
        Ok(UniqueObject(m)) => Ok(m),
        Err(e) => Err(oidc_err!(Malformed, "{what} is not a JSON object: {e}")),
    }
}

/// A JSON object whose members are unique (RFC 7515 §5.2, RFC 7519 §7.2): with
/// duplicates, two parsers could read two different tokens out of one.
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    if map.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("duplicate member {k:?}")));
                    }
                    map.insert(k, v);
                }
                Ok(UniqueObject(map))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Parses a compact JWS and checks its header against `allowed`.
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Alg]) -> OidcResult<Jws<'a>> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(oidc_err!(
            TooLarge,
            "token is {} bytes; at most {MAX_TOKEN_BYTES} accepted",
            token.len()
        ));
    }
    if token.trim_start().starts_with('{') {
        return Err(oidc_err!(
            Malformed,
            "JWS JSON serialization is not accepted; compact only"
        ));
    }
    let segments: Vec<&str> = token.split('.').collect();
    match segments.len() {
        3 => {}
        5 => {
            return Err(oidc_err!(
                Malformed,
                "encrypted ID tokens (JWE) are not accepted"
            ))
        }
        n => {
            return Err(oidc_err!(
                Malformed,
                "a JWS has 3 segments, this token has {n}"
            ))
        }
    }
    // The header first, so that `alg: none` (whose signature is empty) is reported as
    // what it is.
    let header = json_object(segments[0], "header")?;
    if header.contains_key("crit") {
        return Err(oidc_err!(
            CritUnsupported,
            "header has \"crit\"; no JWS extension is supported"
        ));
    }
    let alg = match header.get("alg") {
        Some(Value::String(name)) => match Alg::from_name(name) {
            Some(a) if allowed.contains(&a) => a,
            _ => {
                return Err(oidc_err!(
                    AlgNotAllowed,
                    "alg {name:?} is not allowed (allowed: {})",
                    allowed
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        },
        _ => return Err(oidc_err!(Malformed, "header has no \"alg\" string")),
    };
    if header.contains_key("enc") {
        return Err(oidc_err!(
            Malformed,
            "encrypted ID tokens (JWE) are not accepted"
        ));
    }
    if let Some(cty) = header.get("cty") {
        if cty.as_str().is_none_or(|c| c.eq_ignore_ascii_case("JWT")) {
            return Err(oidc_err!(Malformed, "nested JWTs are not accepted"));
        }
    }
    if let Some(typ) = header.get("typ") {
        let ok = typ.as_str().is_some_and(|t| {
            t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt")
        });
        if !ok {
            return Err(oidc_err!(WrongType, "typ {typ} is not a JWT"));
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(oidc_err!(Malformed, "\"kid\" is not a string")),
    };
    if segments[1].is_empty() || segments[2].is_empty() {
        return Err(oidc_err!(Malformed, "a token segment is empty"));
    }
    let claims = json_object(segments[1], "payload")?;
    let signature = b64_decode(segments[2])
        .ok_or_else(|| oidc_err!(Malformed, "signature is not base64url"))?;
    let signing_input = &token.as_bytes()[..segments[0].len() + 1 + segments[1].len()];
    Ok(Jws {
        alg,
        kid,
        signing_input,
        signature,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(v: Value) -> String {
        b64_encode(v.to_string().as_bytes())
    }

    fn token(header: Value) -> String {
        format!(
            "{}.{}.c2ln",
            seg(header),
            seg(serde_json::json!({"sub": "x"}))
        )
    }

    #[test]
    fn algorithms_round_trip_by_name() {
        for a in Alg::ALL {
            assert_eq!(Alg::from_name(a.name()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        for bad in ["none", "HS256", "rs256", "ES512", ""] {
            assert_eq!(Alg::from_name(bad), None);
        }
    }

    #[test]
    fn header_rules() {
        use serde_json::json;
        let all = Alg::all();
        let code = |h: Value| parse(&token(h), &all).map(|_| ()).unwrap_err().code();
        assert!(parse(&token(json!({"alg": "RS256", "typ": "JWT"})), &all).is_ok());
        assert!(parse(
            &token(json!({"alg": "RS256", "typ": "application/jwt"})),
            &all
        )
        .is_ok());
        assert_eq!(code(json!({"alg": "none"})), "alg_not_allowed");
        let none = format!("{}.{}.", seg(json!({"alg": "none"})), seg(json!({})));
        assert_eq!(parse(&none, &all).unwrap_err().code(), "alg_not_allowed");
        assert_eq!(code(json!({"alg": "HS256"})), "alg_not_allowed");
        assert_eq!(code(json!({"typ": "JWT"})), "malformed");
        assert_eq!(
            code(json!({"alg": "RS256", "crit": ["exp"]})),
            "crit_unsupported"
        );
        assert_eq!(
            code(json!({"alg": "RS256", "crit": []})),
            "crit_unsupported"
        );
        assert_eq!(code(json!({"alg": "RS256", "cty": "JWT"})), "malformed");
        assert_eq!(code(json!({"alg": "RS256", "enc": "A128GCM"})), "malformed");
        assert_eq!(code(json!({"alg": "RS256", "typ": "at+jwt"})), "wrong_type");
        assert_eq!(code(json!({"alg": "RS256", "kid": 7})), "malformed");
        let dup = format!(
            "{}.{}.c2ln",
            b64_encode(br#"{"alg":"RS256","alg":"none"}"#),
            seg(json!({}))
        );
        assert_eq!(parse(&dup, &all).unwrap_err().code(), "malformed");
        let dup = format!(
            "{}.{}.c2ln",
            seg(json!({"alg": "RS256"})),
            b64_encode(br#"{"sub":"a","sub":"b"}"#)
        );
        assert_eq!(parse(&dup, &all).unwrap_err().code(), "malformed");
        let only_es = [Alg::Es256];
        let e = parse(&token(json!({"alg": "RS256"})), &only_es).unwrap_err();
        assert_eq!(e.code(), "alg_not_allowed");
    }

    #[test]
    fn shape_rules() {
        let all = Alg::all();
        let good = token(serde_json::json!({"alg": "ES256"}));
        let code = |t: &str| parse(t, &all).map(|_| ()).unwrap_err().code();
        assert_eq!(code("a.b"), "malformed");
        assert_eq!(code("a.b.c.d.e"), "malformed");
        assert_eq!(code(&format!("{good}.x")), "malformed");
        assert_eq!(code(&format!("{good}=")), "malformed");
        assert_eq!(code(&good.replacen('.', "=.", 1)), "malformed");
        assert_eq!(code("{\"payload\":\"x\",\"signatures\":[]}"), "malformed");
        let (h, rest) = good.split_once('.').unwrap();
        assert_eq!(code(&format!("{h}..{rest}")), "malformed");
        let big = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
        assert_eq!(code(&big), "too_large");
    }
}
