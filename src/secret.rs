//! Secrets the engine must keep usable (an OIDC client secret, needed at every token
//! exchange), sealed at rest with a key the host keeps outside the database: a copy of
//! the database alone does not reveal them. AES-256-GCM from ring; the directory id is
//! bound as associated data, so a sealed value moved to another directory does not open.

use crate::error::{Result, ScimError};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

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
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex.trim(), &mut bytes[..])
            .map_err(|_| ScimError::secrets_key(400, "secrets_key: must be 64 hex characters"))?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes[..])
            .map_err(|_| ScimError::internal("secrets_key: cannot build the key"))?;
        Ok(SecretKey(LessSafeKey::new(key)))
    }

    /// A new random key, as 64 hex characters (for a host to store, e.g. in a 0600 file).
    pub fn generate_hex() -> Result<String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ScimError::internal("the system random number generator failed"))?;
        Ok(hex::encode(bytes))
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
        Ok(format!(
            "{SEALED_PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(&data)
        ))
    }

    /// Open a value sealed for `context` (wiped from memory when dropped).
    pub fn open(&self, context: &str, sealed: &str) -> Result<Zeroizing<String>> {
        let bad =
            || ScimError::secrets_key(500, "a sealed secret does not open with this secrets_key");
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or_else(bad)?;
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut data = Zeroizing::new(data.to_vec());
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| bad())?;
        let text = std::str::from_utf8(plain).map_err(|_| bad())?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

/// The sealing key kept in the file `path` (64 hex characters), made there first when the
/// file does not exist: created exclusively (`O_EXCL`), mode 0600. The file is never
/// reached through a symbolic link (`O_NOFOLLOW`: a link there is refused, so neither
/// the key's source nor its destination can be redirected), must be a regular file, and
/// is made private (0600) when it was readable by others.
pub fn key_file(path: &std::path::Path) -> Result<String> {
    use std::io::{ErrorKind, Read, Write};
    let fail = |what: &str, e: std::io::Error| {
        ScimError::io(format!("secrets key {}: {what}: {e}", path.display()))
    };
    loop {
        match open_private(path, false) {
            Ok(mut f) => {
                let meta = f.metadata().map_err(|e| fail("cannot inspect", e))?;
                if !meta.is_file() {
                    return Err(ScimError::io(format!(
                        "secrets key {}: not a regular file",
                        path.display()
                    )));
                }
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    if meta.permissions().mode() & 0o077 != 0 {
                        f.set_permissions(std::fs::Permissions::from_mode(0o600))
                            .map_err(|e| fail("cannot make it private", e))?;
                    }
                }
                let mut text = zeroize::Zeroizing::new(String::new());
                f.read_to_string(&mut text)
                    .map_err(|e| fail("cannot read", e))?;
                SecretKey::from_hex(&text)?;
                return Ok(text.trim().to_owned());
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(refused(path, e)),
        }
        let key = SecretKey::generate_hex()?;
        match open_private(path, true) {
            Ok(mut f) => {
                f.write_all(format!("{key}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| fail("cannot write", e))?;
                return Ok(key);
            }
            // Made meanwhile (by another process): read that one.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(refused(path, e));
                }
            }
            Err(e) => return Err(refused(path, e)),
        }
    }
}

/// Open the key file without following a symbolic link: for reading, or created
/// exclusively (mode 0600) for writing.
fn open_private(path: &std::path::Path, create: bool) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    if create {
        opts.write(true).create_new(true);
    } else {
        opts.read(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

fn refused(path: &std::path::Path, e: std::io::Error) -> ScimError {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    ScimError::io(if link {
        format!(
            "secrets key {}: is a symbolic link; refusing to follow it",
            path.display()
        )
    } else {
        format!("secrets key {}: {e}", path.display())
    })
}

/// Whether a stored value is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let key = SecretKey::from_hex(&SecretKey::generate_hex().unwrap()).unwrap();
        let sealed = key.seal("dir-a", "client-secret").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("client-secret"));
        assert_eq!(
            key.open("dir-a", &sealed).unwrap().as_str(),
            "client-secret"
        );
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

    #[test]
    fn keys_and_sealed_values_are_hex() {
        let generated = SecretKey::generate_hex().unwrap();
        assert_eq!(generated.len(), 64);
        assert!(generated
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        // Either case, and surrounding white space (a key file's newline), is accepted.
        let key = SecretKey::from_hex(hex).unwrap();
        let sealed = key.seal("d", "x").unwrap();
        assert!(SecretKey::from_hex(&format!(" {}\n", hex.to_lowercase()))
            .unwrap()
            .open("d", &sealed)
            .is_ok());
        // 12 bytes of nonce, 1 of data, 16 of tag, in lowercase hex.
        let digits = sealed.strip_prefix(SEALED_PREFIX).unwrap();
        assert_eq!(digits.len(), 2 * (NONCE_LEN + 1 + 16));
        assert!(digits
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(
            key.open(
                "d",
                &sealed.to_uppercase().replace("SEALED:V1:", SEALED_PREFIX)
            )
            .unwrap()
            .as_str(),
            "x"
        );
        for bad in [
            &hex[..63],
            &hex[..62],
            &format!("{hex}00"),
            // `u8::from_str_radix` took a sign: "+f" was a digit pair.
            &format!("+f{}", &hex[2..]),
            &format!("0x{}", &hex[2..]),
            &format!("é{}", &hex[2..]),
            "",
        ] {
            let e = SecretKey::from_hex(bad).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert_eq!(e.detail, "secrets_key: must be 64 hex characters");
        }
        for bad in [
            &sealed[..sealed.len() - 1],
            &format!("{sealed}g0"),
            SEALED_PREFIX,
        ] {
            assert_eq!(key.open("d", bad).unwrap_err().status, 500, "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private_exclusive_and_never_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("libscim-keyfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.key");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

        // Made once, 0600, then read back the same.
        let key = key_file(&path).unwrap();
        SecretKey::from_hex(&key).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(key_file(&path).unwrap(), key);
        // A copy readable by others is made private.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(key_file(&path).unwrap(), key);
        assert_eq!(mode(&path), 0o600);

        // A dangling link: the key is not written where it points.
        let target = dir.join("elsewhere");
        let link = dir.join("link.key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = key_file(&link).unwrap_err();
        assert_eq!(e.status, 500);
        assert!(e.detail.contains("symbolic link"), "{}", e.detail);
        assert!(!target.exists());
        // A link to a real key: not read through it either.
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = key_file(&link).unwrap_err();
        assert!(e.detail.contains("symbolic link"), "{}", e.detail);
        // Garbage is refused, not used as a key.
        let bad = dir.join("bad.key");
        std::fs::write(&bad, "not a key").unwrap();
        assert_eq!(key_file(&bad).unwrap_err().status, 400);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
