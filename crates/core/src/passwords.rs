//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), off the async
//! reactor because one hash takes tens of milliseconds.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::CoreError;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted, in characters: bounds the hashing work an attacker can ask for.
pub const MAX_PASSWORD: usize = 1024;

/// Checks the length policy.
pub(crate) fn check_policy(password: &str) -> Result<(), CoreError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD {
        return Err(CoreError::Invalid(format!("password must be at least {MIN_PASSWORD} characters")));
    }
    if chars > MAX_PASSWORD {
        return Err(CoreError::Invalid(format!("password must be at most {MAX_PASSWORD} characters")));
    }
    Ok(())
}

/// The PHC string of an argon2id hash of `password`.
pub(crate) async fn hash(password: String) -> Result<String, CoreError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|_| CoreError::Secret("password hashing was interrupted".into()))?
}

fn hash_now(password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Secret(format!("cannot hash password: {e}")))
}

/// Whether `password` matches `stored`. With no stored hash (unknown user, or no password
/// set), a dummy hash is checked anyway so the answer takes the same time.
pub(crate) async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_now("not a password anyone has").unwrap_or_default());
        let (phc, real) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => (dummy.as_str(), false),
        };
        let matches = PasswordHash::new(phc)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        real && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let phc = hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(Some(phc.clone()), "correct horse".into()).await);
        assert!(!verify(Some(phc), "wrong horse".into()).await);
        assert!(!verify(None, "not a password anyone has".into()).await);
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        assert!(check_policy(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }
}
