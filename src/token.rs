//! Secret bearer tokens: generated from the system's CSPRNG, shown once, stored only as a
//! SHA-256 hash, compared in constant time, and valid for a lifespan in months.

use crate::error::{Result, ScimError};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::{Date, Month, OffsetDateTime};
use zeroize::{Zeroize, Zeroizing};

/// Lifespan bounds in months, and the default (the product's console offers 1–24, default 6).
pub const MIN_LIFESPAN_MONTHS: u32 = 1;
pub const MAX_LIFESPAN_MONTHS: u32 = 24;
pub const DEFAULT_LIFESPAN_MONTHS: u32 = 6;

/// Every token starts with this, so secret scanners and humans can recognise one.
pub const TOKEN_PREFIX: &str = "scim_";

/// A newly issued token: the secret is here and nowhere else, ever (and its memory is
/// wiped when it is dropped). As JSON (what `scim_token_issue` returns):
/// `{"secret", "issued_at", "expires_at", "lifespan_months"}`.
#[derive(Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IssuedToken {
    #[serde(serialize_with = "serialize_secret")]
    #[schemars(with = "String")]
    pub secret: Zeroizing<String>,
    #[serde(flatten)]
    pub info: TokenInfo,
}

fn serialize_secret<S: serde::Serializer>(s: &Zeroizing<String>, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(s)
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("secret", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// What is known about a directory's current token, without the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenInfo {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub expires_at: OffsetDateTime,
    pub lifespan_months: u32,
}

impl TokenInfo {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// Check a lifespan (`None` = the default).
pub fn lifespan(months: Option<u32>) -> Result<u32> {
    let m = months.unwrap_or(DEFAULT_LIFESPAN_MONTHS);
    if !(MIN_LIFESPAN_MONTHS..=MAX_LIFESPAN_MONTHS).contains(&m) {
        return Err(ScimError::invalid_value(format!(
            "token lifespan: must be {MIN_LIFESPAN_MONTHS} to {MAX_LIFESPAN_MONTHS} months (got {m})"
        )));
    }
    Ok(m)
}

/// A fresh token valid from `now` for `months` calendar months.
pub fn generate(now: OffsetDateTime, months: u32) -> Result<IssuedToken> {
    Ok(IssuedToken {
        secret: random_secret(TOKEN_PREFIX)?,
        info: TokenInfo {
            issued_at: now,
            expires_at: add_months(now, months),
            lifespan_months: months,
        },
    })
}

/// `prefix` and 256 bits from the system's CSPRNG in hex (wiped from memory when dropped).
pub(crate) fn random_secret(prefix: &str) -> Result<Zeroizing<String>> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ScimError::internal("the system random number generator failed"))?;
    let mut digits = Zeroizing::new([0u8; 64]);
    let encoded = hex::encode_to_slice(bytes, &mut digits[..]);
    bytes.zeroize();
    encoded.map_err(|_| ScimError::internal("secret: hex of 32 bytes is 64 digits"))?;
    // Room for all of it: the secret is never reallocated, so no copy of it is left
    // behind in freed memory.
    let mut secret = Zeroizing::new(String::with_capacity(prefix.len() + digits.len()));
    secret.push_str(prefix);
    secret.extend(digits.iter().map(|&d| char::from(d)));
    Ok(secret)
}

/// The stored form of a secret: hex SHA-256.
pub fn hash(secret: &str) -> String {
    // Into a buffer, not through `hex::encode` (a `String` collected char by char: a
    // third of the cost of authenticating a request).
    let mut hex = [0u8; 64];
    let digest = digest(&SHA256, secret.as_bytes());
    if hex::encode_to_slice(digest.as_ref(), &mut hex).is_err() {
        return hex::encode(digest);
    }
    String::from_utf8_lossy(&hex).into_owned()
}

/// The hash of the last secret one client connection presented. A client sends the same
/// token with every request of a kept-alive connection: hashed once per connection, not
/// once per request (SHA-256 was about 4,600 instructions of a GET by id's 65,000). The
/// secret is compared in constant time and wiped when replaced or dropped.
#[derive(Default)]
pub struct HashMemo {
    secret: Zeroizing<Vec<u8>>,
    hash: String,
}

impl HashMemo {
    /// [`hash`] of `secret`, computed only when it differs from the last one.
    pub fn hash(&mut self, secret: &str) -> &str {
        let same =
            !self.hash.is_empty() && bool::from(self.secret.as_slice().ct_eq(secret.as_bytes()));
        if !same {
            // A new buffer: the old one is wiped as it drops (clearing would not wipe).
            self.secret = Zeroizing::new(secret.as_bytes().to_vec());
            self.hash = hash(secret);
        }
        &self.hash
    }
}

/// Constant-time equality of two stored hashes.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `t` plus `months` calendar months; the day is clamped to the target month's length
/// (Aug 31 + 6 months = Feb 28/29).
pub fn add_months(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total = t.year() * 12 + (t.month() as i32 - 1) + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = Month::try_from(month0 as u8 + 1).unwrap_or(Month::January);
    let day = t.day().min(time::util::days_in_month(month, year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => t.replace_date(date),
        Err(_) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_hash_memo_answers_what_hash_does() {
        let mut memo = HashMemo::default();
        for s in [
            "scim_a", "scim_a", "scim_ab", "scim_a", "", "scim_b", "scim_b", "scim_a",
        ] {
            assert_eq!(memo.hash(s), hash(s), "{s:?}");
        }
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            add_months(datetime!(2026-08-31 10:00 UTC), 6),
            datetime!(2027-02-28 10:00 UTC)
        );
        assert_eq!(
            add_months(datetime!(2027-08-31 10:00 UTC), 6),
            datetime!(2028-02-29 10:00 UTC)
        );
        assert_eq!(
            add_months(datetime!(2026-11-29 00:00 UTC), 24),
            datetime!(2028-11-29 00:00 UTC)
        );
        assert_eq!(
            add_months(datetime!(2026-12-15 00:00 UTC), 1),
            datetime!(2027-01-15 00:00 UTC)
        );
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let now = datetime!(2026-11-29 00:00 UTC);
        let a = generate(now, 6).unwrap();
        let b = generate(now, 6).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + 64);
        // Lowercase hex, as stored and compared.
        assert!(a.secret[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        let s = random_secret("p_").unwrap();
        assert!(s.starts_with("p_") && s.len() == 66 && s.capacity() == 66);
        assert_eq!(hash(&a.secret).len(), 64);
        assert!(hashes_equal(&hash(&a.secret), &hash(&a.secret)));
        assert!(!hashes_equal(&hash(&a.secret), &hash(&b.secret)));
        assert!(!format!("{a:?}").contains(a.secret.as_str()));
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lifespan_bounds() {
        assert_eq!(lifespan(None).unwrap(), 6);
        assert_eq!(lifespan(Some(24)).unwrap(), 24);
        assert!(lifespan(Some(0)).is_err());
        assert!(lifespan(Some(25)).is_err());
    }
}
