//! The OIDC relying party against a loopback IdP: every accepted algorithm, every
//! rejection with its own code, the key cache and its rate-limited refetch, and the
//! authorization-code login.

#[path = "oidc/support.rs"]
mod support;

use ring::hmac;
use scim::oidc::{Alg, LoginSealer, OidcConfig, OidcError, RelyingParty, TokenEndpointAuth};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use support::{b64, fixture, sign_raw, Idp, Key};

const T0: i64 = 1_800_000_000;
const CLIENT: &str = "client-1";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Fx {
    idp: Idp,
    rp: RelyingParty,
    now: Arc<AtomicI64>,
    key: Key,
}

impl Fx {
    fn new() -> Fx {
        Self::with(|_| {})
    }

    fn with(tweak: impl FnOnce(&mut OidcConfig)) -> Fx {
        let idp = Idp::start();
        let key = Key::rsa("rsa2048-a.pk8", "key-a");
        idp.set_keys(&[&key]);
        let mut config = OidcConfig::new(
            CLIENT,
            "s3cret",
            idp.config_url(),
            "https://mdm.example.com/oidc/callback",
        );
        config.allow_http = true;
        tweak(&mut config);
        let now = Arc::new(AtomicI64::new(T0));
        let clock = now.clone();
        let rp = RelyingParty::with_clock(config, Arc::new(move || clock.load(Ordering::SeqCst)))
            .unwrap();
        Fx { idp, rp, now, key }
    }

    fn claims(&self) -> Value {
        let now = self.now();
        json!({
            "iss": self.idp.base, "aud": CLIENT, "sub": "00u1abcd",
            "email": "ada@example.com", "email_verified": true,
            "iat": now, "exp": now + 300, "nonce": NONCE,
        })
    }

    /// The standard claims with `changes` applied (`null` removes a claim).
    fn claims_with(&self, changes: Value) -> Value {
        let mut c = self.claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }

    fn validate(&self, token: &str) -> Result<scim::oidc::Claims, OidcError> {
        self.rp.validate_id_token(token, NONCE)
    }

    fn code(&self, token: &str) -> &'static str {
        match self.validate(token) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }
}

#[test]
fn every_allowed_algorithm_validates() {
    let fx = Fx::new();
    let es256 = Key::es256("ec-256");
    let es384 = Key::es384("ec-384");
    let ed = Key::ed25519("ed-1");
    fx.idp.set_keys(&[&fx.key, &es256, &es384, &ed]);
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let token = fx.key.sign(&fx.claims(), json!({"alg": alg}));
        let claims = fx.validate(&token).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.identifier(), "ada@example.com");
        assert_eq!(claims.identifier_claim(), "email");
        assert_eq!(claims.subject(), "00u1abcd");
    }
    for key in [&es256, &es384, &ed] {
        let token = key.sign(&fx.claims(), json!({}));
        assert_eq!(fx.code(&token), "ok", "{}", key.alg);
    }
    assert_eq!(fx.idp.jwks_fetches(), 1, "keys are cached");
    assert_eq!(fx.idp.discovery_fetches(), 1, "discovery is cached");
}

#[test]
fn bad_signature() {
    let fx = Fx::new();
    let token = fx.key.sign(&fx.claims(), json!({}));
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = base64_decode(sig);
    raw[10] ^= 1;
    assert_eq!(
        fx.code(&format!("{input}.{}", b64(&raw))),
        "invalid_signature"
    );
    // Signed by another key that claims our kid.
    let other = Key::rsa("rsa2048-b.pk8", "key-a");
    assert_eq!(
        fx.code(&other.sign(&fx.claims(), json!({}))),
        "invalid_signature"
    );
    // The claims changed after signing.
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let forged = fx.claims_with(json!({"sub": "admin"}));
    let forged = format!("{h}.{}.{s}", b64(forged.to_string().as_bytes()));
    assert_eq!(fx.code(&forged), "invalid_signature");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn alg_none_and_hmac_with_the_public_key_are_impossible() {
    let fx = Fx::new();
    let none = sign_raw(
        &json!({"alg": "none", "typ": "JWT"}),
        &fx.claims(),
        |_| vec![],
    );
    assert_eq!(fx.code(&none), "alg_not_allowed");
    let none = sign_raw(
        &json!({"alg": "none", "kid": "key-a"}),
        &fx.claims(),
        |_| vec![1],
    );
    assert_eq!(fx.code(&none), "alg_not_allowed");
    // The classic confusion: HS256 keyed with the RSA public key (its JWK `n`, its DER).
    let jwk = fx.key.jwk();
    for secret in [
        jwk["n"].as_str().unwrap().as_bytes().to_vec(),
        jwk.to_string().into_bytes(),
        fixture("rsa2048-a.pk8"),
    ] {
        for alg in ["HS256", "HS384", "HS512"] {
            let header = json!({"alg": alg, "kid": "key-a", "typ": "JWT"});
            let token = sign_raw(&header, &fx.claims(), |m| {
                let k = hmac::Key::new(hmac::HMAC_SHA256, &secret);
                hmac::sign(&k, m).as_ref().to_vec()
            });
            assert_eq!(fx.code(&token), "alg_not_allowed");
        }
    }
    // Not even configurable.
    for alg in ["none", "HS256"] {
        let cfg = json!({"client_id": "c", "client_secret": "s", "config_url": "x",
                         "redirect_uri": "y", "allowed_algs": [alg]});
        assert!(serde_json::from_value::<OidcConfig>(cfg).is_err());
    }
}

#[test]
fn algorithm_outside_the_configured_allowlist() {
    let fx = Fx::with(|c| c.allowed_algs = vec![Alg::Es256]);
    let token = fx.key.sign(&fx.claims(), json!({}));
    assert_eq!(fx.code(&token), "alg_not_allowed");
}

#[test]
fn algorithm_and_key_type_must_agree() {
    let fx = Fx::new();
    let ec = Key::es256("ec-256");
    fx.idp.set_keys(&[&fx.key, &ec]);
    // An ES256 header naming the RSA key, and RS256 naming the EC key.
    let t = ec.sign(&fx.claims(), json!({"kid": "key-a"}));
    assert_eq!(fx.code(&t), "unknown_key");
    let t = fx.key.sign(&fx.claims(), json!({"kid": "ec-256"}));
    assert_eq!(fx.code(&t), "unknown_key");
}

#[test]
fn unknown_kid_refetches_once_then_rejects_and_a_burst_fetches_once() {
    let fx = Fx::new();
    assert_eq!(fx.code(&fx.key.sign(&fx.claims(), json!({}))), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 1);
    // Within the cooldown of that fetch, an unknown kid fetches nothing.
    let stranger = Key::rsa("rsa2048-b.pk8", "stranger");
    assert_eq!(
        fx.code(&stranger.sign(&fx.claims(), json!({}))),
        "unknown_key"
    );
    assert_eq!(fx.idp.jwks_fetches(), 1);

    fx.advance(61);
    let forged: Vec<String> = (0..50)
        .map(|i| stranger.sign(&fx.claims(), json!({"kid": format!("forged-{i}")})))
        .collect();
    for t in &forged {
        assert_eq!(fx.code(t), "unknown_key");
    }
    assert_eq!(fx.idp.jwks_fetches(), 2, "50 forged kids, one refetch");

    // Concurrent misses coalesce into one fetch too.
    fx.advance(61);
    let fx = Arc::new(fx);
    let threads: Vec<_> = forged
        .into_iter()
        .map(|t| {
            let fx = fx.clone();
            std::thread::spawn(move || fx.code(&t))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "unknown_key");
    }
    assert_eq!(
        fx.idp.jwks_fetches(),
        3,
        "50 concurrent forged kids, one refetch"
    );
}

#[test]
fn key_rotation_is_followed() {
    let fx = Fx::new();
    assert_eq!(fx.code(&fx.key.sign(&fx.claims(), json!({}))), "ok");
    let next = Key::rsa("rsa2048-b.pk8", "key-b");
    fx.idp.set_keys(&[&next]);
    fx.advance(120);
    // The new kid triggers one refetch and validates.
    assert_eq!(fx.code(&next.sign(&fx.claims(), json!({}))), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 2);
    assert_eq!(fx.code(&next.sign(&fx.claims(), json!({}))), "ok");
    // The retired key is gone with the old set.
    assert_eq!(
        fx.code(&fx.key.sign(&fx.claims(), json!({}))),
        "unknown_key"
    );
    assert_eq!(fx.idp.jwks_fetches(), 2);
}

#[test]
fn jwks_cache_honours_cache_control_within_bounds() {
    let fx = Fx::new();
    fx.idp.state.lock().unwrap().jwks_cache_control = Some("public, max-age=900".into());
    let token = |fx: &Fx| fx.key.sign(&fx.claims(), json!({}));
    assert_eq!(fx.code(&token(&fx)), "ok");
    fx.advance(899);
    assert_eq!(fx.code(&token(&fx)), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 1);
    fx.advance(2);
    assert_eq!(fx.code(&token(&fx)), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 2, "expired after max-age");
    // max-age=1 is raised to the 5-minute floor.
    fx.idp.state.lock().unwrap().jwks_cache_control = Some("max-age=1".into());
    fx.advance(901);
    assert_eq!(fx.code(&token(&fx)), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 3);
    fx.advance(299);
    assert_eq!(fx.code(&token(&fx)), "ok");
    assert_eq!(fx.idp.jwks_fetches(), 3);
}

#[test]
fn several_keys_without_kid_are_each_tried() {
    let fx = Fx::new();
    let a = Key::rsa("rsa2048-a.pk8", "");
    let b = Key::rsa("rsa2048-b.pk8", "");
    let mut ja = a.jwk();
    let mut jb = b.jwk();
    ja.as_object_mut().unwrap().remove("kid");
    jb.as_object_mut().unwrap().remove("kid");
    fx.idp.state.lock().unwrap().jwks = json!({"keys": [ja, jb]});
    let t = b.sign(&fx.claims(), json!({"kid": null}));
    assert_eq!(fx.code(&t), "ok");
    let t = Key::rsa("rsa2048-a.pk8", "").sign(&fx.claims(), json!({"kid": null}));
    assert_eq!(fx.code(&t), "ok");
    let stranger = Key::es256("x");
    assert_eq!(
        fx.code(&stranger.sign(&fx.claims(), json!({"kid": null}))),
        "unknown_key"
    );
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let fx = Fx::new();
    let weak: Value = serde_json::from_slice(&fixture("rsa1024.jwk.json")).unwrap();
    fx.idp.state.lock().unwrap().jwks = json!({"keys": [fx.key.jwk(), weak]});
    // A token genuinely signed by the 1024-bit key.
    let token = String::from_utf8(fixture("rsa1024.jwt")).unwrap();
    assert_eq!(fx.code(token.trim()), "weak_key");
}

#[test]
fn time_claims_with_leeway() {
    let fx = Fx::new();
    let now = fx.now();
    let t = |c: Value| fx.key.sign(&fx.claims_with(c), json!({}));
    assert_eq!(fx.code(&t(json!({"exp": now - 61}))), "expired");
    assert_eq!(fx.code(&t(json!({"exp": now - 30}))), "ok", "within leeway");
    assert_eq!(fx.code(&t(json!({"nbf": now + 61}))), "not_yet_valid");
    assert_eq!(fx.code(&t(json!({"nbf": now + 30}))), "ok");
    assert_eq!(fx.code(&t(json!({"iat": now + 61}))), "issued_in_future");
    assert_eq!(fx.code(&t(json!({"iat": now + 30}))), "ok");
    assert_eq!(fx.code(&t(json!({"exp": null}))), "missing_claim");
    assert_eq!(fx.code(&t(json!({"iat": null}))), "missing_claim");
    assert_eq!(fx.code(&t(json!({"exp": "tomorrow"}))), "missing_claim");
}

#[test]
fn issuer_audience_and_azp() {
    let fx = Fx::new();
    let base = fx.idp.base.clone();
    let t = |c: Value| fx.key.sign(&fx.claims_with(c), json!({}));
    assert_eq!(
        fx.code(&t(json!({"iss": "https://evil.example"}))),
        "wrong_issuer"
    );
    assert_eq!(
        fx.code(&t(json!({"iss": format!("{base}/")}))),
        "wrong_issuer"
    );
    assert_eq!(fx.code(&t(json!({"iss": null}))), "wrong_issuer");
    assert_eq!(
        fx.code(&t(json!({"aud": "other-client"}))),
        "wrong_audience"
    );
    assert_eq!(
        fx.code(&t(json!({"aud": ["other", "another"]}))),
        "wrong_audience"
    );
    assert_eq!(fx.code(&t(json!({"aud": null}))), "wrong_audience");
    assert_eq!(fx.code(&t(json!({"aud": [CLIENT]}))), "ok");
    assert_eq!(
        fx.code(&t(json!({"aud": [CLIENT, "other"]}))),
        "azp_mismatch"
    );
    assert_eq!(
        fx.code(&t(json!({"aud": [CLIENT, "other"], "azp": "other"}))),
        "azp_mismatch"
    );
    assert_eq!(
        fx.code(&t(json!({"aud": [CLIENT, "other"], "azp": CLIENT}))),
        "ok"
    );
    assert_eq!(fx.code(&t(json!({"azp": "other"}))), "azp_mismatch");
}

#[test]
fn nonce_sub_and_at_hash() {
    let fx = Fx::new();
    let t = |c: Value| fx.key.sign(&fx.claims_with(c), json!({}));
    assert_eq!(fx.code(&t(json!({"nonce": null}))), "nonce_missing");
    assert_eq!(fx.code(&t(json!({"nonce": "other"}))), "nonce_mismatch");
    assert_eq!(fx.code(&t(json!({"nonce": 5}))), "nonce_mismatch");
    assert_eq!(fx.code(&t(json!({"sub": null}))), "missing_claim");
    assert_eq!(fx.code(&t(json!({"sub": ""}))), "missing_claim");

    let access = "ya29.access-token";
    let good = b64(&ring::digest::digest(&ring::digest::SHA256, access.as_bytes()).as_ref()[..16]);
    let token = t(json!({"at_hash": good}));
    let rp = &fx.rp;
    assert!(rp
        .validate_id_token_with_access_token(&token, NONCE, access)
        .is_ok());
    let e = rp
        .validate_id_token_with_access_token(&token, NONCE, "another-token")
        .unwrap_err();
    assert_eq!(e.code(), "at_hash_mismatch");
    let bad = t(json!({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}));
    let e = rp
        .validate_id_token_with_access_token(&bad, NONCE, access)
        .unwrap_err();
    assert_eq!(e.code(), "at_hash_mismatch");
}

#[test]
fn header_rules() {
    let fx = Fx::new();
    let c = fx.claims();
    let t = |h: Value| fx.key.sign(&c, h);
    assert_eq!(
        fx.code(&t(json!({"crit": ["exp"], "exp": 1}))),
        "crit_unsupported"
    );
    assert_eq!(
        fx.code(&t(json!({"crit": ["b64"], "b64": false}))),
        "crit_unsupported"
    );
    assert_eq!(fx.code(&t(json!({"typ": "at+jwt"}))), "wrong_type");
    assert_eq!(fx.code(&t(json!({"typ": "jwt"}))), "ok");
    assert_eq!(fx.code(&t(json!({"typ": null}))), "ok");
    assert_eq!(
        fx.code(&t(json!({"cty": "JWT"}))),
        "malformed",
        "nested JWT"
    );
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d";
    assert_eq!(fx.code(jwe), "malformed");
    let json_serialization =
        json!({"payload": "e30", "signatures": [{"protected": "e30", "signature": "AA"}]});
    assert_eq!(fx.code(&json_serialization.to_string()), "malformed");
    let good = t(json!({}));
    assert_eq!(fx.code(&format!("{good}=")), "malformed", "padding");
    assert_eq!(fx.code(&good.replace('.', ".x.")), "malformed", "segments");
    let huge = fx.key.sign(
        &fx.claims_with(json!({"pad": "x".repeat(20_000)})),
        json!({}),
    );
    assert_eq!(fx.code(&huge), "too_large");
}

#[test]
fn embedded_key_headers_are_ignored() {
    let fx = Fx::new();
    let attacker = Key::es256("key-a");
    let jku = format!("{}/attacker-jwks", fx.idp.base);
    let x5u = format!("{}/attacker-cert", fx.idp.base);
    let embedded = json!({"jwk": attacker.jwk(), "jku": jku, "x5u": x5u, "x5c": ["MIIB"]});
    // The attacker signs with their own key, offers it in `jwk` and under our kid.
    let mut h = embedded.clone();
    h["alg"] = json!("ES256");
    assert_eq!(
        fx.code(&attacker.sign(&fx.claims(), h.clone())),
        "unknown_key"
    );
    let attacker_rsa = Key::rsa("rsa2048-b.pk8", "key-a");
    let mut h2 = embedded.clone();
    h2["jwk"] = attacker_rsa.jwk();
    assert_eq!(
        fx.code(&attacker_rsa.sign(&fx.claims(), h2)),
        "invalid_signature"
    );
    h["kid"] = json!("attacker-kid");
    assert_eq!(fx.code(&attacker.sign(&fx.claims(), h)), "unknown_key");
    // A genuine token carrying the same headers still validates: they are simply unread.
    assert_eq!(fx.code(&fx.key.sign(&fx.claims(), embedded)), "ok");
    assert!(
        fx.idp.state.lock().unwrap().other_requests.is_empty(),
        "jku/x5u never fetched"
    );
}

#[test]
fn email_must_be_verified_when_it_is_the_identifier() {
    let fx = Fx::new();
    let t = |c: Value| fx.key.sign(&fx.claims_with(c), json!({}));
    assert_eq!(
        fx.code(&t(json!({"email_verified": false}))),
        "email_not_verified"
    );
    assert_eq!(
        fx.code(&t(json!({"email_verified": null}))),
        "email_not_verified"
    );
    assert_eq!(
        fx.code(&t(json!({"email_verified": "false"}))),
        "email_not_verified"
    );
    assert_eq!(fx.code(&t(json!({"email_verified": "true"}))), "ok");
    assert_eq!(fx.code(&t(json!({"email": null}))), "missing_claim");

    let off = Fx::with(|c| c.require_email_verified = false);
    let t = off.key.sign(
        &off.claims_with(json!({"email_verified": false})),
        json!({}),
    );
    assert_eq!(off.code(&t), "ok");

    let by_sub = Fx::with(|c| c.claim = "sub".into());
    let t = by_sub.key.sign(
        &by_sub.claims_with(json!({"email_verified": false})),
        json!({}),
    );
    let claims = by_sub.validate(&t).unwrap();
    assert_eq!(
        (claims.identifier_claim(), claims.identifier()),
        ("sub", "00u1abcd")
    );
}

#[test]
fn discovery_issuer_must_match_the_configuration_url() {
    let fx = Fx::new();
    fx.idp.state.lock().unwrap().discovery["issuer"] = json!("https://login.example.com");
    let e = fx.rp.discover().unwrap_err();
    assert_eq!(e.code(), "discovery_issuer_mismatch");
    assert!(e.detail.contains("https://login.example.com"), "{e}");
    assert_eq!(
        fx.code(&fx.key.sign(&fx.claims(), json!({}))),
        "discovery_issuer_mismatch"
    );
    assert_eq!(
        fx.rp.login_begin().unwrap_err().code(),
        "discovery_issuer_mismatch"
    );
}

#[test]
fn transport_failures_are_reported_as_such() {
    let fx = Fx::new();
    // A JWKS over the 1 MiB response cap.
    fx.idp.state.lock().unwrap().jwks = json!({"keys": [], "pad": "x".repeat(2 << 20)});
    assert_eq!(
        fx.code(&fx.key.sign(&fx.claims(), json!({}))),
        "jwks_failed"
    );
    // A configuration URL the IdP does not serve.
    let mut config = fx.rp.config().clone();
    config.config_url = format!("{}/tenant/.well-known/openid-configuration", fx.idp.base);
    let rp = RelyingParty::new(config).unwrap();
    assert_eq!(rp.discover().unwrap_err().code(), "discovery_failed");
    // Nothing listening.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let mut config = fx.rp.config().clone();
    config.config_url = format!("http://{addr}/.well-known/openid-configuration");
    let rp = RelyingParty::new(config).unwrap();
    assert_eq!(rp.discover().unwrap_err().code(), "discovery_failed");
}

#[test]
fn discovery_is_cached_and_refreshable() {
    let fx = Fx::new();
    fx.rp.discover().unwrap();
    fx.rp.discover().unwrap();
    fx.rp.login_begin().unwrap();
    assert_eq!(fx.idp.discovery_fetches(), 1);
    fx.rp.refresh().unwrap();
    assert_eq!(fx.idp.discovery_fetches(), 2);
    fx.advance(3601);
    fx.rp.discover().unwrap();
    assert_eq!(
        fx.idp.discovery_fetches(),
        3,
        "an hour without Cache-Control"
    );
}

#[test]
fn plain_http_needs_allow_http() {
    let idp = Idp::start();
    let config = OidcConfig::new(CLIENT, "s", idp.config_url(), "https://mdm.example.com/cb");
    assert_eq!(
        RelyingParty::new(config).unwrap_err().code(),
        "insecure_url"
    );
    // An https configuration whose discovery points at http endpoints is refused too
    // (checked in the unit tests of discovery), and so is a plain-http redirect URI
    // off loopback.
    let mut config = OidcConfig::new(CLIENT, "s", idp.config_url(), "http://mdm.example.com/cb");
    config.allow_http = false;
    config.config_url = "https://idp.example.com/.well-known/openid-configuration".into();
    assert_eq!(
        RelyingParty::new(config).unwrap_err().code(),
        "insecure_url"
    );
}

#[test]
fn allow_http_is_honoured_only_for_loopback_hosts() {
    // A configuration URL off this machine stays https-only with allow_http.
    let mut config = OidcConfig::new(
        CLIENT,
        "s",
        "http://idp.example.com/.well-known/openid-configuration",
        "https://mdm.example.com/cb",
    );
    config.allow_http = true;
    assert_eq!(
        RelyingParty::new(config).unwrap_err().code(),
        "insecure_url"
    );
    // So does a redirect URI.
    let idp = Idp::start();
    let mut config = OidcConfig::new(CLIENT, "s", idp.config_url(), "http://mdm.example.com/cb");
    config.allow_http = true;
    assert_eq!(
        RelyingParty::new(config).unwrap_err().code(),
        "insecure_url"
    );
    // A loopback IdP whose discovery sends the browser and the token exchange to a
    // plain-http host elsewhere is refused at discovery.
    let fx = Fx::new();
    fx.idp.state.lock().unwrap().discovery["token_endpoint"] =
        json!("http://tokens.example.com/token");
    assert_eq!(fx.rp.discover().unwrap_err().code(), "insecure_url");
    assert_eq!(fx.rp.login_begin().unwrap_err().code(), "insecure_url");
    // Loopback over http works (every other test here runs so).
    let fx = Fx::new();
    fx.rp.discover().unwrap();
}

#[test]
fn sealed_logins_keep_nothing_and_bind_the_browser() {
    let fx = Fx::new();
    let sealer = LoginSealer::new(&[42u8; 32]);
    let (start, sealed) = fx.rp.login_begin_sealed(&sealer).unwrap();
    let (_, other_browser) = fx.rp.login_begin_sealed(&sealer).unwrap();
    assert_eq!(fx.rp.pending_logins(), 0, "nothing is kept server-side");
    assert_eq!(start.expires_at, T0 + 600);
    let q = query(&start.authorization_url);
    assert_eq!(q["state"], start.state);
    assert!(!sealed.contains(&q["nonce"]));
    let at_hash = b64(&ring::digest::digest(&ring::digest::SHA256, b"at-s").as_ref()[..16]);
    let id_token = fx.key.sign(
        &fx.claims_with(json!({"nonce": q["nonce"], "at_hash": at_hash})),
        json!({}),
    );
    fx.idp.state.lock().unwrap().token_response =
        (200, json!({"access_token": "at-s", "id_token": id_token}));
    let complete = |state: &str, sealed: Option<&str>, sealer: &LoginSealer| {
        fx.rp
            .login_complete_sealed(sealer, "code-s", state, sealed)
            .map(|r| r.claims.identifier().to_owned())
            .map_err(|e| e.code())
    };
    let mismatch = Err("state_mismatch");
    assert_eq!(complete(&start.state, None, &sealer), mismatch);
    assert_eq!(
        complete(&start.state, Some(&other_browser), &sealer),
        mismatch
    );
    assert_eq!(complete("forged", Some(&sealed), &sealer), mismatch);
    let other_directory = LoginSealer::new(&[43u8; 32]);
    assert_eq!(
        complete(&start.state, Some(&sealed), &other_directory),
        mismatch
    );
    assert!(fx.idp.state.lock().unwrap().token_requests.is_empty());
    assert_eq!(
        complete(&start.state, Some(&sealed), &sealer),
        Ok("ada@example.com".to_owned())
    );
    let form = fx.idp.state.lock().unwrap().token_requests[0].body.clone();
    let verifier = query(&format!("?{form}"))["code_verifier"].clone();
    assert_eq!(s256(&verifier), q["code_challenge"]);
    fx.advance(600);
    assert_eq!(
        complete(&start.state, Some(&sealed), &sealer),
        Err("state_unknown"),
        "expired"
    );
}

#[test]
fn custom_ca_bundle_for_a_private_pki() {
    let idp = Idp::start_tls();
    let key = Key::es256("k1");
    idp.set_keys(&[&key]);
    let ca = String::from_utf8(fixture("ca.pem")).unwrap();
    let mut config = OidcConfig::new(CLIENT, "s", idp.config_url(), "https://mdm.example.com/cb");
    assert_eq!(
        RelyingParty::new(config.clone())
            .unwrap()
            .discover()
            .unwrap_err()
            .code(),
        "discovery_failed",
        "the private CA is not trusted by default"
    );
    config.ca_bundle_pem = Some(ca);
    let rp = RelyingParty::new(config).unwrap();
    assert_eq!(rp.discover().unwrap().issuer, idp.base);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": idp.base, "aud": CLIENT, "sub": "s", "email": "a@b.c",
                        "email_verified": true, "iat": now, "exp": now + 60, "nonce": "n"});
    assert!(rp
        .validate_id_token(&key.sign(&claims, json!({})), "n")
        .is_ok());
}

#[test]
fn configuration_defaults_and_checks() {
    let cfg: OidcConfig = serde_json::from_value(json!({
        "client_id": "c", "client_secret": "top-secret",
        "config_url": "https://idp.example.com/.well-known/openid-configuration",
        "redirect_uri": "https://mdm.example.com/cb"
    }))
    .unwrap();
    assert_eq!(cfg.scopes, ["openid", "email", "profile"]);
    assert_eq!(cfg.claim, "email");
    assert_eq!(cfg.allowed_algs, Alg::all());
    assert_eq!(cfg.leeway_secs, 60);
    assert!(cfg.require_email_verified && !cfg.allow_http);
    assert_eq!(cfg.token_endpoint_auth, TokenEndpointAuth::Auto);
    assert!(!format!("{cfg:?}").contains("top-secret"));
    let rp = RelyingParty::new(cfg.clone()).unwrap();
    assert_eq!(rp.issuer(), "https://idp.example.com");
    assert!(!format!("{rp:?}").contains("top-secret"));

    let bad = |f: &dyn Fn(&mut OidcConfig)| {
        let mut c = cfg.clone();
        f(&mut c);
        RelyingParty::new(c).unwrap_err().code()
    };
    assert_eq!(
        bad(&|c| c.config_url = "https://idp.example.com/".into()),
        "invalid_config"
    );
    assert_eq!(bad(&|c| c.client_id.clear()), "invalid_config");
    assert_eq!(bad(&|c| c.scopes = vec!["email".into()]), "invalid_config");
    assert_eq!(bad(&|c| c.leeway_secs = 3600), "invalid_config");
    assert_eq!(bad(&|c| c.allowed_algs.clear()), "invalid_config");
    assert_eq!(
        bad(&|c| {
            c.extra_authorize_params
                .insert("nonce".into(), "fixed".into());
        }),
        "invalid_config"
    );
    assert_eq!(
        bad(&|c| c.ca_bundle_pem = Some("junk".into())),
        "invalid_config"
    );
}

// ---------------------------------------------------------------- login

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn s256(verifier: &str) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

#[test]
fn login_begin_builds_the_authorization_url() {
    let fx = Fx::with(|c| {
        c.extra_authorize_params
            .insert("prompt".into(), "login".into());
        c.extra_authorize_params
            .insert("login_hint".into(), "ada@example.com".into());
    });
    fx.idp.state.lock().unwrap().discovery["authorization_endpoint"] =
        json!(format!("{}/authorize?tenant=acme", fx.idp.base));
    let start = fx.rp.login_begin().unwrap();
    assert!(start
        .authorization_url
        .starts_with(&format!("{}/authorize?tenant=acme&", fx.idp.base)));
    let q = query(&start.authorization_url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], "https://mdm.example.com/oidc/callback");
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["state"], start.state);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["prompt"], "login");
    assert_eq!(q["login_hint"], "ada@example.com");
    assert_eq!(q["tenant"], "acme");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(
        q["nonce"].len() >= 22 && q["state"].len() >= 22,
        "at least 128 bits"
    );
    assert_eq!(start.expires_at, T0 + 600);
    let again = fx.rp.login_begin().unwrap();
    let q2 = query(&again.authorization_url);
    assert_ne!(q2["state"], q["state"]);
    assert_ne!(q2["nonce"], q["nonce"]);
    assert_ne!(q2["code_challenge"], q["code_challenge"]);
    assert_eq!(fx.rp.pending_logins(), 2);
}

/// Begins a login and arms the token endpoint with an ID token for it.
fn arm_login(fx: &Fx, access_token: &str, changes: Value) -> (String, HashMap<String, String>) {
    let start = fx.rp.login_begin().unwrap();
    let q = query(&start.authorization_url);
    let at_hash =
        b64(&ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()).as_ref()[..16]);
    let mut claims = fx.claims_with(json!({"nonce": q["nonce"], "at_hash": at_hash}));
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let id_token = fx.key.sign(&claims, json!({}));
    fx.idp.state.lock().unwrap().token_response = (
        200,
        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600,
               "id_token": id_token}),
    );
    (start.state, q)
}

#[test]
fn login_complete_with_client_secret_basic() {
    let fx = Fx::with(|c| {
        c.client_id = "client:1 é".into();
        c.client_secret = "s3cr%t +/=".into();
    });
    let (state, q) = arm_login(&fx, "at-1", json!({"aud": "client:1 é"}));
    let result = fx.rp.login_complete("the-code", &state).unwrap();
    assert_eq!(result.claims.identifier(), "ada@example.com");
    assert_eq!(result.access_token.as_deref(), Some("at-1"));
    assert!(!format!("{result:?}").contains("at-1"));

    let req = fx.idp.state.lock().unwrap().token_requests[0].clone();
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    use base64::Engine as _;
    let basic = req
        .header("authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let basic = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap(),
    )
    .unwrap();
    let (id, secret) = basic.split_once(':').unwrap();
    assert_eq!(
        (unescape(id).as_str(), unescape(secret).as_str()),
        ("client:1 é", "s3cr%t +/=")
    );
    let form = query(&format!("?{}", req.body));
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(
        form["redirect_uri"],
        "https://mdm.example.com/oidc/callback"
    );
    assert_eq!(s256(&form["code_verifier"]), q["code_challenge"]);
    assert!((43..=128).contains(&form["code_verifier"].len()));
    assert!(!form.contains_key("client_secret"));

    // Single use.
    let e = fx.rp.login_complete("the-code", &state).unwrap_err();
    assert_eq!(e.code(), "state_unknown");
    assert_eq!(
        fx.rp
            .login_complete("c", "never-issued")
            .unwrap_err()
            .code(),
        "state_unknown"
    );
    assert_eq!(fx.rp.pending_logins(), 0);
}

#[test]
fn login_complete_with_client_secret_post_when_only_that_is_supported() {
    let fx = Fx::new();
    fx.idp.state.lock().unwrap().discovery["token_endpoint_auth_methods_supported"] =
        json!(["client_secret_post"]);
    let (state, _) = arm_login(&fx, "at-2", json!({}));
    fx.rp.login_complete("code-2", &state).unwrap();
    let req = fx.idp.state.lock().unwrap().token_requests[0].clone();
    assert_eq!(req.header("authorization"), None);
    let form = query(&format!("?{}", req.body));
    assert_eq!(
        (form["client_id"].as_str(), form["client_secret"].as_str()),
        (CLIENT, "s3cret")
    );
}

#[test]
fn login_state_expires() {
    let fx = Fx::new();
    let (state, _) = arm_login(&fx, "at", json!({}));
    fx.advance(601);
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "state_unknown"
    );
    assert!(
        fx.idp.state.lock().unwrap().token_requests.is_empty(),
        "no exchange for a dead state"
    );
}

#[test]
fn login_failures_consume_the_state() {
    let fx = Fx::new();
    // The token endpoint refuses the code.
    let (state, _) = arm_login(&fx, "at", json!({}));
    fx.idp.state.lock().unwrap().token_response = (
        400,
        json!({"error": "invalid_grant", "error_description": "code expired"}),
    );
    let e = fx.rp.login_complete("c", &state).unwrap_err();
    assert_eq!(e.code(), "token_exchange_failed");
    assert!(e.detail.contains("invalid_grant"), "{e}");
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "state_unknown"
    );

    // at_hash of another access token.
    let (state, _) = arm_login(&fx, "at", json!({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}));
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "at_hash_mismatch"
    );
    // An ID token minted for another login (its nonce).
    let (state, _) = arm_login(&fx, "at", json!({"nonce": "someone-else"}));
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "nonce_mismatch"
    );
    // email_verified false: the nOAuth takeover.
    let (state, _) = arm_login(&fx, "at", json!({"email_verified": false}));
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "email_not_verified"
    );
    // No id_token at all.
    let (state, _) = arm_login(&fx, "at", json!({}));
    fx.idp.state.lock().unwrap().token_response = (200, json!({"access_token": "x"}));
    assert_eq!(
        fx.rp.login_complete("c", &state).unwrap_err().code(),
        "token_exchange_failed"
    );
    assert_eq!(fx.rp.pending_logins(), 0);
}
