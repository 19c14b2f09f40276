//! The server secret: 32 random bytes in a file outside the databases (mode 0600).
//!
//! It seals master keys at rest (AES-256-CBC, then HMAC-SHA256 over IV and ciphertext) and
//! signs CSRF tokens. A leaked database without this file yields no usable key; see
//! docs/ARCHITECTURE.md for the reasoning.

use std::io::Write;
use std::path::Path;

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::CoreError;

type HmacSha256 = Hmac<Sha256>;

/// Version tag of the sealed format, so the format can change without ambiguity.
const SEALED_PREFIX: &str = "v1:";

/// The loaded secret, with one derived key per purpose.
#[derive(Clone)]
pub struct ServerSecret {
    seal_encryption: [u8; 32],
    seal_mac: [u8; 32],
    signing: [u8; 32],
}

impl ServerSecret {
    /// Reads the secret, or creates it (readable by the owner only) if the file is missing.
    pub fn load_or_create(path: &Path) -> Result<ServerSecret, CoreError> {
        let fail = |what: &str, e: std::io::Error| {
            CoreError::Secret(format!("cannot {what} {}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => ServerSecret::from_hex(text.trim()).ok_or_else(|| {
                CoreError::Secret(format!("{} does not hold 64 hexadecimal characters", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut raw = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut raw);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| fail("create the folder of", e))?;
                }
                let mut file = create_private(path).map_err(|e| fail("create", e))?;
                file.write_all(hex::encode(raw).as_bytes()).map_err(|e| fail("write", e))?;
                file.sync_all().map_err(|e| fail("sync", e))?;
                Ok(ServerSecret::from_raw(&raw))
            }
            Err(e) => Err(fail("read", e)),
        }
    }

    fn from_hex(text: &str) -> Option<ServerSecret> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(text, &mut raw).ok()?;
        Some(ServerSecret::from_raw(&raw))
    }

    fn from_raw(raw: &[u8; 32]) -> ServerSecret {
        let derive = |purpose: &[u8]| -> [u8; 32] {
            let mut mac = HmacSha256::new_from_slice(raw).expect("HMAC takes any key length");
            mac.update(purpose);
            mac.finalize().into_bytes().into()
        };
        ServerSecret {
            seal_encryption: derive(b"switchboard seal encryption"),
            seal_mac: derive(b"switchboard seal mac"),
            signing: derive(b"switchboard signing"),
        }
    }

    /// Encrypts and authenticates `plaintext`; the result is text safe for a TEXT column.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut iv = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut iv);
        let ciphertext = cbc::Encryptor::<Aes256>::new(&self.seal_encryption.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let mut sealed = iv.to_vec();
        sealed.extend_from_slice(&ciphertext);
        let tag = self.seal_tag(&sealed);
        sealed.extend_from_slice(&tag);
        format!("{SEALED_PREFIX}{}", hex::encode(sealed))
    }

    /// Checks and decrypts what `seal` produced with the same secret.
    pub fn unseal(&self, sealed: &str) -> Result<Vec<u8>, CoreError> {
        let corrupt =
            || CoreError::Secret("sealed value is damaged or was sealed with another secret".into());
        let bytes =
            sealed.strip_prefix(SEALED_PREFIX).and_then(|h| hex::decode(h).ok()).ok_or_else(corrupt)?;
        if bytes.len() < 16 + 16 + 32 {
            return Err(corrupt());
        }
        let (body, tag) = bytes.split_at(bytes.len() - 32);
        let mut mac = HmacSha256::new_from_slice(&self.seal_mac).expect("any key length");
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| corrupt())?;
        let (iv, ciphertext) = body.split_at(16);
        let iv: [u8; 16] = iv.try_into().map_err(|_| corrupt())?;
        cbc::Decryptor::<Aes256>::new(&self.seal_encryption.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
            .map_err(|_| corrupt())
    }

    fn seal_tag(&self, body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.seal_mac).expect("any key length");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// An HMAC of `message` for `purpose`, as hex.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        hex::encode(self.signature(purpose, message))
    }

    /// Whether `signature` is `sign(purpose, message)`, compared in constant time.
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.signing).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    fn signature(&self, purpose: &str, message: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.signing).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_round_trip_and_detect_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let secret = ServerSecret::load_or_create(&path).unwrap();
        let sealed = secret.seal(b"24077ACB");
        assert!(!sealed.contains("24077ACB"));
        let again = ServerSecret::load_or_create(&path).unwrap();
        assert_eq!(again.unseal(&sealed).unwrap(), b"24077ACB");

        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(secret.unseal(std::str::from_utf8(&tampered).unwrap()).is_err());

        let other = ServerSecret::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(other.unseal(&sealed).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        ServerSecret::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn signatures_verify_only_for_their_purpose_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let secret = ServerSecret::load_or_create(&dir.path().join("s")).unwrap();
        let sig = secret.sign("csrf", "session-1");
        assert!(secret.verify("csrf", "session-1", &sig));
        assert!(!secret.verify("csrf", "session-2", &sig));
        assert!(!secret.verify("other", "session-1", &sig));
        assert!(!secret.verify("csrf", "session-1", "zz"));
    }

    #[test]
    fn a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "nope").unwrap();
        let err = ServerSecret::load_or_create(&path).err().unwrap();
        assert!(err.to_string().contains("64 hexadecimal characters"), "{err}");
    }
}
