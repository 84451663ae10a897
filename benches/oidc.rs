//! `cargo bench --bench oidc`: ID-token validation with a cached key against the raw
//! ring signature verification of the same token with the same key, measured in the
//! same run (the machines are shared and noisy, so the ratio is the figure that counts).
//!
//! Pass a substring to run only the matching groups: `cargo bench --bench oidc -- es256`.

#[path = "../tests/oidc/support.rs"]
mod support;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use scim::oidc::{OidcConfig, RelyingParty};
use serde_json::json;
use std::hint::black_box;

use support::{Idp, Key};

#[path = "harness/mod.rs"]
mod harness;
use harness::{measure, report};

fn setup(key: &Key) -> (Idp, RelyingParty, String) {
    let idp = Idp::start();
    idp.set_keys(&[key]);
    let mut config = OidcConfig::new(
        "bench-client",
        "s",
        idp.config_url(),
        "https://rp.example/cb",
    );
    config.allow_http = true;
    let rp = RelyingParty::new(config).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": idp.base, "aud": "bench-client", "sub": "00u1abcd",
        "email": "ada@example.com", "email_verified": true,
        "iat": now, "exp": now + 3600, "nonce": "bench-nonce",
        "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
    });
    let token = key.sign(&claims, json!({}));
    rp.validate_id_token(&token, "bench-nonce").unwrap(); // warms the caches
    (idp, rp, token)
}

fn split(token: &str) -> (&[u8], Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    (input.as_bytes(), sig)
}

fn rs256() {
    let key = Key::rsa("rsa2048-a.pk8", "rsa-1");
    let (idp, rp, token) = setup(&key);
    let jwk = key.jwk();
    use base64::Engine as _;
    let d = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let (n, e) = (d(jwk["n"].as_str().unwrap()), d(jwk["e"].as_str().unwrap()));
    let (input, sig) = split(&token);
    let raw = measure(2_000, |_| {
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(input),
                &sig,
            )
            .unwrap()
    });
    let full = measure(2_000, |_| {
        black_box(
            rp.validate_id_token(black_box(&token), "bench-nonce")
                .unwrap(),
        );
    });
    assert_eq!(idp.jwks_fetches(), 1);
    report(
        "RS256, 2048-bit key",
        ("ring RSA verify (raw signature)", raw),
        &[("validate_id_token (cached key)", full)],
    );
}

fn es256() {
    let key = Key::es256("ec-1");
    let (idp, rp, token) = setup(&key);
    let jwk = key.jwk();
    use base64::Engine as _;
    let d = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let mut point = vec![4u8];
    point.extend(d(jwk["x"].as_str().unwrap()));
    point.extend(d(jwk["y"].as_str().unwrap()));
    let (input, sig) = split(&token);
    let raw = measure(2_000, |_| {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
            .verify(black_box(input), &sig)
            .unwrap()
    });
    let full = measure(2_000, |_| {
        black_box(
            rp.validate_id_token(black_box(&token), "bench-nonce")
                .unwrap(),
        );
    });
    assert_eq!(idp.jwks_fetches(), 1);
    report(
        "ES256, P-256 key",
        ("ring ECDSA verify (raw signature)", raw),
        &[("validate_id_token (cached key)", full)],
    );
}

fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let groups: [(&str, fn()); 2] = [("rs256", rs256), ("es256", es256)];
    for (name, f) in groups {
        if only.as_deref().is_none_or(|o| name.contains(o)) {
            f();
        }
    }
}
