//! ID-token claim checks (OIDC Core §3.1.3.7, §3.1.3.8 for `at_hash`) and the validated
//! claims a host receives.

use super::error::{oidc_err, OidcResult};
use super::jws::{b64_encode, Alg};
use ring::digest;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// The claims of a validated ID token, and the value of the configured identifier claim
/// (what the directory lookup uses).
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    map: Map<String, Value>,
    identifier_claim: String,
    identifier: String,
}

impl Claims {
    /// Any claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
    /// A string claim.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }
    pub fn issuer(&self) -> &str {
        self.get_str("iss").unwrap_or_default()
    }
    pub fn subject(&self) -> &str {
        self.get_str("sub").unwrap_or_default()
    }
    /// The name of the identifier claim (the configuration's `claim`).
    pub fn identifier_claim(&self) -> &str {
        &self.identifier_claim
    }
    /// The identifier claim's value, to look the provisioned user up by.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }
    /// Every claim, as the token carried them.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }
}

/// What the claims must satisfy.
pub(crate) struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
    pub leeway: i64,
    pub alg: Alg,
    pub access_token: Option<&'a str>,
    pub identifier_claim: &'a str,
    pub require_email_verified: bool,
}

fn time_claim(map: &Map<String, Value>, name: &str, required: bool) -> OidcResult<Option<i64>> {
    match map.get(name) {
        None if required => Err(oidc_err!(MissingClaim, "\"{name}\" is missing")),
        None => Ok(None),
        Some(v) => match v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64)) {
            Some(t) => Ok(Some(t)),
            None => Err(oidc_err!(MissingClaim, "\"{name}\" is not a NumericDate")),
        },
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The left half of the access token's hash, base64url (OIDC Core §3.1.3.6).
pub(crate) fn at_hash(alg: Alg, access_token: &str) -> String {
    let d = digest::digest(alg.hash(), access_token.as_bytes());
    let bytes = d.as_ref();
    b64_encode(&bytes[..bytes.len() / 2])
}

/// Runs every check, in the order OIDC Core lists them.
pub(crate) fn check(map: Map<String, Value>, e: &Expect<'_>) -> OidcResult<Claims> {
    match map.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == e.issuer => {}
        Some(iss) => {
            return Err(oidc_err!(
                WrongIssuer,
                "iss {iss:?} is not the issuer {:?}",
                e.issuer
            ))
        }
        None => return Err(oidc_err!(WrongIssuer, "iss is missing")),
    }

    let audiences: Vec<&str> = match map.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(oidc_err!(WrongAudience, "aud is missing")),
    };
    if !audiences.contains(&e.client_id) {
        return Err(oidc_err!(
            WrongAudience,
            "aud {audiences:?} does not include the client id {:?}",
            e.client_id
        ));
    }
    match map.get("azp") {
        Some(Value::String(azp)) if azp == e.client_id => {}
        Some(azp) => {
            return Err(oidc_err!(
                AzpMismatch,
                "azp {azp} is not the client id {:?}",
                e.client_id
            ))
        }
        None if audiences.len() > 1 => {
            return Err(oidc_err!(
                AzpMismatch,
                "several audiences and no azp naming this client"
            ))
        }
        None => {}
    }

    let exp = time_claim(&map, "exp", true)?.unwrap_or_default();
    if e.now >= exp.saturating_add(e.leeway) {
        return Err(oidc_err!(
            Expired,
            "expired at {exp}, now {} (leeway {}s)",
            e.now,
            e.leeway
        ));
    }
    if let Some(nbf) = time_claim(&map, "nbf", false)? {
        if e.now.saturating_add(e.leeway) < nbf {
            return Err(oidc_err!(
                NotYetValid,
                "not valid before {nbf}, now {} (leeway {}s)",
                e.now,
                e.leeway
            ));
        }
    }
    let iat = time_claim(&map, "iat", true)?.unwrap_or_default();
    if iat > e.now.saturating_add(e.leeway) {
        return Err(oidc_err!(
            IssuedInFuture,
            "issued at {iat}, after now {} (leeway {}s)",
            e.now,
            e.leeway
        ));
    }

    match map.get("nonce") {
        None => return Err(oidc_err!(NonceMissing, "the token carries no nonce")),
        Some(Value::String(n)) if ct_eq(n, e.nonce) => {}
        Some(_) => {
            return Err(oidc_err!(
                NonceMismatch,
                "the nonce is not the one this login sent"
            ))
        }
    }

    if let (Some(h), Some(token)) = (map.get("at_hash"), e.access_token) {
        let ok = h.as_str().is_some_and(|h| ct_eq(h, &at_hash(e.alg, token)));
        if !ok {
            return Err(oidc_err!(
                AtHashMismatch,
                "at_hash does not match the access token"
            ));
        }
    }

    match map.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(oidc_err!(MissingClaim, "sub is missing or empty")),
    }

    let identifier = match map.get(e.identifier_claim) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(oidc_err!(
                MissingClaim,
                "identifier claim {:?} is not a string",
                e.identifier_claim
            ))
        }
        None => {
            return Err(oidc_err!(
                MissingClaim,
                "the token has no {:?} claim (check the IdP's claim configuration and the scopes)",
                e.identifier_claim
            ))
        }
    };
    if e.identifier_claim == "email" && e.require_email_verified {
        // Some IdPs send the boolean as a string.
        let verified = match map.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(oidc_err!(
                EmailNotVerified,
                "the IdP does not assert that {identifier:?} is verified (email_verified)"
            ));
        }
    }

    Ok(Claims {
        map,
        identifier_claim: e.identifier_claim.to_owned(),
        identifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OIDC Core appendix A.3: access token and at_hash of the RS256 example.
        assert_eq!(
            at_hash(Alg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
