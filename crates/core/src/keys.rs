//! API keys: 64 random uppercase hexadecimal characters (256 bits), the shape Keen clients
//! expect. Only a SHA-256 hash is stored for lookup; master keys are also sealed with the
//! server secret because Keen's scoped keys are encrypted with the master key itself.

use rand::RngCore;
use sb_store::NewApiKey;
use sb_types::{ApiKeyId, KeyKind, Timestamp, WorkspaceId};
use sha2::{Digest, Sha256};

use crate::{Access, Actor, CoreError, Permission, Switchboard};

/// Longest key name accepted, in characters.
pub const MAX_KEY_NAME: usize = 100;

/// A key as shown to people: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyView {
    pub id: ApiKeyId,
    pub workspace: WorkspaceId,
    pub kind: KeyKind,
    pub name: String,
    /// The first 8 characters of the secret.
    pub prefix: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl From<sb_store::ApiKeyRecord> for KeyView {
    fn from(r: sb_store::ApiKeyRecord) -> Self {
        KeyView {
            id: r.id,
            workspace: r.workspace,
            kind: r.kind,
            name: r.name,
            prefix: r.prefix,
            created_by: r.created_by,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A key just created: the only moment its secret is known outside the caller's hands.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: KeyView,
    pub secret: String,
}

/// Whether `text` has the shape of a Switchboard API key (64 hexadecimal characters).
pub(crate) fn looks_like_api_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.to_ascii_uppercase().as_bytes()))
}

pub(crate) fn key_name(name: Option<&str>, kind: KeyKind) -> Result<String, CoreError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let Some(name) = name else {
        let mut default = kind.as_str().to_owned();
        default[..1].make_ascii_uppercase();
        return Ok(format!("{default} key"));
    };
    if name.chars().count() > MAX_KEY_NAME {
        return Err(CoreError::Invalid(format!("key name must be at most {MAX_KEY_NAME} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::Invalid("key name must not contain control characters".into()));
    }
    Ok(name.to_owned())
}

impl Switchboard {
    /// Creates a key of `kind` in the caller's workspace. Needs admin rights.
    pub async fn create_key(
        &self,
        access: &Access,
        kind: KeyKind,
        name: Option<&str>,
    ) -> Result<CreatedKey, CoreError> {
        access.require(Permission::Admin)?;
        self.insert_key(access.workspace(), kind, key_name(name, kind)?, access.actor_label()).await
    }

    pub(crate) async fn insert_key(
        &self,
        workspace: WorkspaceId,
        kind: KeyKind,
        name: String,
        created_by: String,
    ) -> Result<CreatedKey, CoreError> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let secret = hex::encode_upper(raw);
        let record = self
            .store()
            .insert_api_key(NewApiKey {
                workspace,
                kind,
                name,
                secret_hash: secret_hash(&secret),
                prefix: secret[..8].to_owned(),
                sealed_secret: (kind == KeyKind::Master).then(|| self.secret().seal(secret.as_bytes())),
                created_by,
            })
            .await?;
        Ok(CreatedKey { key: record.into(), secret })
    }

    /// The caller's workspace's keys, revoked ones included. Needs admin rights.
    pub async fn list_keys(&self, access: &Access) -> Result<Vec<KeyView>, CoreError> {
        access.require(Permission::Admin)?;
        let keys = self.store().api_keys(access.workspace()).await?;
        Ok(keys.into_iter().map(KeyView::from).collect())
    }

    /// Revokes one of the caller's workspace's keys; it stops working on the next request.
    pub async fn revoke_key(&self, access: &Access, id: ApiKeyId) -> Result<KeyView, CoreError> {
        access.require(Permission::Admin)?;
        match self.store().revoke_api_key(access.workspace(), id).await {
            Err(e) if e.kind() == sb_types::ErrorKind::NotFound => Err(CoreError::NotFound("key")),
            other => Ok(other?.into()),
        }
    }

    /// The access a presented key grants, or `Unauthenticated`. Revocations take effect at
    /// once: every request looks the key up in the control database (one indexed read).
    pub async fn authenticate_key(&self, presented: &str) -> Result<Access, CoreError> {
        const UNKNOWN: CoreError = CoreError::Unauthenticated("unknown or revoked API key");
        let presented = presented.trim();
        if !looks_like_api_key(presented) {
            return Err(UNKNOWN);
        }
        let record = self.store().active_api_key_by_hash(&secret_hash(presented)).await?.ok_or(UNKNOWN)?;
        Ok(Access::new(record.workspace, Actor::Key { id: record.id, kind: record.kind }))
    }

    /// The access a key presented to project `project` grants: one of the workspace's keys,
    /// or a Keen scoped key that one of its active master keys opens. `Unauthenticated`
    /// otherwise.
    pub async fn authenticate_project_key(
        &self,
        project: WorkspaceId,
        presented: &str,
    ) -> Result<Access, CoreError> {
        let presented = presented.trim();
        match self.authenticate_key(presented).await {
            Err(CoreError::Unauthenticated(why)) if crate::scoped::looks_scoped(presented) => {
                let masters = self.store().api_keys(project).await?;
                for master in masters.iter().filter(|k| k.kind == KeyKind::Master && k.revoked_at.is_none()) {
                    let Some(sealed) = &master.sealed_secret else { continue };
                    let secret = String::from_utf8(self.secret().unseal(sealed)?).unwrap_or_default();
                    if let Some(options) = crate::scoped::open_scoped_key(&secret, presented) {
                        let actor =
                            Actor::Scoped { master: master.id, read: options.read, write: options.write };
                        return Ok(Access::new(project, actor).with_forced_filters(options.filters));
                    }
                }
                Err(CoreError::Unauthenticated(why))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_and_limits() {
        assert_eq!(key_name(None, KeyKind::Master).unwrap(), "Master key");
        assert_eq!(key_name(Some("  "), KeyKind::Read).unwrap(), "Read key");
        assert_eq!(key_name(Some(" web app "), KeyKind::Write).unwrap(), "web app");
        assert!(key_name(Some(&"k".repeat(MAX_KEY_NAME + 1)), KeyKind::Write).is_err());
    }

    #[test]
    fn key_shape_and_case_insensitive_hash() {
        assert!(looks_like_api_key(&"AB".repeat(32)));
        assert!(!looks_like_api_key("ab"));
        assert_eq!(secret_hash(&"ab".repeat(32)), secret_hash(&"AB".repeat(32)));
    }
}
