//! Secrets the engine must keep usable (an OIDC client secret, needed at every token
//! exchange), sealed at rest with a key the host keeps outside the database: a copy of
//! the database alone does not reveal them. AES-256-GCM from ring; the directory id is
//! bound as associated data, so a sealed value moved to another directory does not open.

use crate::error::{Result, ScimError};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// Sealed values start with this; anything else is a value stored before a key was set.
const SEALED_PREFIX: &str = "sealed:v1:";

/// A 256-bit sealing key.
pub struct SecretKey(LessSafeKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A key from 64 hex characters.
    pub fn from_hex(hex: &str) -> Result<SecretKey> {
        let bytes = unhex(hex.trim())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| ScimError::invalid_value("secrets_key: must be 64 hex characters"))?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| ScimError::internal("secrets_key: cannot build the key"))?;
        Ok(SecretKey(LessSafeKey::new(key)))
    }

    /// A new random key, as 64 hex characters (for a host to store, e.g. in a 0600 file).
    pub fn generate_hex() -> Result<String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ScimError::internal("the system random number generator failed"))?;
        Ok(hex(&bytes))
    }

    /// Seal `plain` for directory `context`.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ScimError::internal("the system random number generator failed"))?;
        let mut data = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| ScimError::internal("cannot seal a secret"))?;
        Ok(format!("{SEALED_PREFIX}{}{}", hex(&nonce), hex(&data)))
    }

    /// Open a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String> {
        let bad = || ScimError::internal("a sealed secret does not open with this secrets_key");
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(unhex)
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or_else(bad)?;
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| bad())?;
        String::from_utf8(plain.to_vec()).map_err(|_| bad())
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let key = SecretKey::from_hex(&SecretKey::generate_hex().unwrap()).unwrap();
        let sealed = key.seal("dir-a", "client-secret").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("client-secret"));
        assert_eq!(key.open("dir-a", &sealed).unwrap(), "client-secret");
        assert_ne!(
            sealed,
            key.seal("dir-a", "client-secret").unwrap(),
            "fresh nonce"
        );
        assert!(
            key.open("dir-b", &sealed).is_err(),
            "bound to its directory"
        );
        let other = SecretKey::from_hex(&SecretKey::generate_hex().unwrap()).unwrap();
        assert!(other.open("dir-a", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('0') { '1' } else { '0' });
        assert!(key.open("dir-a", &tampered).is_err());
        assert!(SecretKey::from_hex("abcd").is_err());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(!format!("{key:?}").contains(&SecretKey::generate_hex().unwrap()[..8]));
    }
}
