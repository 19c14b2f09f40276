//! API keys: stored as a SHA-256 hash plus a display prefix; master keys also sealed.

use sb_types::{ApiKeyId, KeyKind, Timestamp, WorkspaceId};
use sqlx::any::AnyRow;

#[cfg(target_os = "linux")]
use super::key_cache::{Lookup, Subject};
use crate::{Store, StoreError, col, conflict_as, parsed, parsed_opt};

/// A key to insert. The caller generates the secret and computes its hash and prefix.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub workspace: WorkspaceId,
    pub kind: KeyKind,
    pub name: String,
    pub secret_hash: String,
    pub prefix: String,
    pub sealed_secret: Option<String>,
    /// Who made it: a user id, or "cli".
    pub created_by: String,
}

/// A stored key, without anything that could be presented as the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub workspace: WorkspaceId,
    pub kind: KeyKind,
    pub name: String,
    pub prefix: String,
    pub sealed_secret: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

const KEY_COLUMNS: &str = "k.id, k.workspace_id, k.kind, k.name, k.prefix, k.sealed_secret, k.created_by, k.created_at, k.revoked_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: parsed(row, 0, "api_keys.id", ApiKeyId::parse)?,
        workspace: parsed(row, 1, "api_keys.workspace_id", WorkspaceId::parse)?,
        kind: parsed(row, 2, "api_keys.kind", KeyKind::parse)?,
        name: col(row, 3)?,
        prefix: col(row, 4)?,
        sealed_secret: col(row, 5)?,
        created_by: col(row, 6)?,
        created_at: parsed(row, 7, "api_keys.created_at", Timestamp::parse)?,
        revoked_at: parsed_opt(row, 8, "api_keys.revoked_at", Timestamp::parse)?,
    })
}

impl Store {
    /// Stores a new key. `NotFound` if the workspace does not exist.
    pub async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StoreError> {
        let record = ApiKeyRecord {
            id: ApiKeyId::generate(),
            workspace: key.workspace,
            kind: key.kind,
            name: key.name,
            prefix: key.prefix,
            sealed_secret: key.sealed_secret,
            created_by: key.created_by,
            created_at: Timestamp::now(),
            revoked_at: None,
        };
        let inserted = sqlx::query(
            "INSERT INTO api_keys
                 (id, workspace_id, kind, name, secret_hash, prefix, sealed_secret, created_by, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $2)",
        )
        .bind(record.id.to_string())
        .bind(record.workspace.to_string())
        .bind(record.kind.as_str())
        .bind(&record.name)
        .bind(&key.secret_hash)
        .bind(&record.prefix)
        .bind(&record.sealed_secret)
        .bind(&record.created_by)
        .bind(record.created_at.to_string())
        .execute(&self.control)
        .await
        .map_err(conflict_as("key already exists"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound("workspace"));
        }
        Ok(record)
    }

    /// The workspace's keys, revoked ones included, oldest first.
    pub async fn api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let read = self.read_api_keys(workspace);
        #[cfg(target_os = "linux")]
        let read = self.remembered(Subject::Workspace(workspace), read);
        read.await
    }

    async fn read_api_keys(&self, workspace: WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.workspace_id = $1 ORDER BY k.created_at, k.id"
        );
        let rows = sqlx::query(&sql)
            .bind(workspace.to_string())
            .fetch_all(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(key_from_row).collect()
    }

    /// The active key whose secret hashes to `secret_hash`, if any.
    pub async fn active_api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let read = self.read_active_key(secret_hash);
        #[cfg(target_os = "linux")]
        let read = self.remembered(Subject::Hash(secret_hash.to_owned()), read);
        Ok(read.await?.pop())
    }

    /// The active key whose secret hashes to `secret_hash` (one or none).
    async fn read_active_key(&self, secret_hash: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.secret_hash = $1 AND k.revoked_at IS NULL");
        let row = sqlx::query(&sql)
            .bind(secret_hash)
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(key_from_row).into_iter().collect()
    }

    /// The keys of `subject` as `read` reads them, remembered while the control database is
    /// unchanged where it can be (`key_cache`); no keys are not remembered.
    #[cfg(target_os = "linux")]
    async fn remembered(
        &self,
        subject: Subject,
        read: impl Future<Output = Result<Vec<ApiKeyRecord>, StoreError>>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let Some(keys) = &self.keys else { return read.await };
        let generation = match keys.get(&subject) {
            Lookup::Remembered(records) => return Ok(records),
            Lookup::Missing(generation) => generation,
        };
        let records = read.await?;
        if !records.is_empty() {
            keys.remember(&subject, &records, generation);
        }
        Ok(records)
    }

    /// Revokes a key of `workspace` (again is harmless). `NotFound` if the key is not the
    /// workspace's: one workspace cannot even learn that another's key exists.
    pub async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
    ) -> Result<ApiKeyRecord, StoreError> {
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL",
        )
        .bind(Timestamp::now().to_string())
        .bind(id.to_string())
        .bind(workspace.to_string())
        .execute(&self.control)
        .await
        .map_err(StoreError::from_sqlx)?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.workspace_id = $2");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(workspace.to_string())
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(key_from_row).transpose()?.ok_or(StoreError::NotFound("key"))
    }
}
