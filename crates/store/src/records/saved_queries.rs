//! Saved queries in a workspace's records database: named analysis definitions, listed by name,
//! replaced whole, renamed in place and deleted. The query and metadata are JSON text that
//! `sb-core` checks before it stores them.

use sb_types::{QueryName, Timestamp};
use sqlx::any::AnyRow;

use crate::{StoreError, WorkspaceDb, col, conflict_as, parsed};

/// A saved query to store under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSavedQuery {
    pub name: QueryName,
    /// Seconds between refreshes; 0 for a plain saved query.
    pub refresh_rate: i64,
    /// The query as a JSON object.
    pub query: String,
    /// Display hints as a JSON object.
    pub metadata: String,
}

/// A stored saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQueryRecord {
    pub name: QueryName,
    pub refresh_rate: i64,
    pub query: String,
    pub metadata: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "name, refresh_rate, query, metadata, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<SavedQueryRecord, StoreError> {
    Ok(SavedQueryRecord {
        name: parsed(row, 0, "saved_queries.name", QueryName::parse)?,
        refresh_rate: col(row, 1)?,
        query: col(row, 2)?,
        metadata: col(row, 3)?,
        created_at: parsed(row, 4, "saved_queries.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 5, "saved_queries.updated_at", Timestamp::parse)?,
    })
}

impl WorkspaceDb {
    /// Every saved query, by name.
    pub async fn saved_queries(&self) -> Result<Vec<SavedQueryRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM saved_queries ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// The saved query named `name`, if any.
    pub async fn saved_query(&self, name: &QueryName) -> Result<Option<SavedQueryRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM saved_queries WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(from_row).transpose()
    }

    /// Stores `query` in place of the saved query named `current`, keeping its creation time.
    /// When `query.name` is `current`, creates it if it does not exist; when it is another
    /// name, renames `current` (`NotFound` if `current` does not exist, `Conflict` if the new
    /// name is taken).
    pub async fn put_saved_query(
        &self,
        current: &QueryName,
        query: NewSavedQuery,
        now: Timestamp,
    ) -> Result<SavedQueryRecord, StoreError> {
        if &query.name == current {
            self.write_one(
                sqlx::query(
                    "INSERT INTO saved_queries (name, refresh_rate, query, metadata, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (name) DO UPDATE SET refresh_rate = excluded.refresh_rate,
                     query = excluded.query, metadata = excluded.metadata, updated_at = excluded.updated_at",
                )
                .bind(query.name.as_str())
                .bind(query.refresh_rate)
                .bind(&query.query)
                .bind(&query.metadata)
                .bind(now.to_string()),
            )
            .await
            .map_err(StoreError::from_sqlx)?;
        } else {
            let renamed = self
                .write_one(
                    sqlx::query(
                        "UPDATE saved_queries SET name = $1, refresh_rate = $2, query = $3, metadata = $4,
                     updated_at = $5 WHERE name = $6",
                    )
                    .bind(query.name.as_str())
                    .bind(query.refresh_rate)
                    .bind(&query.query)
                    .bind(&query.metadata)
                    .bind(now.to_string())
                    .bind(current.as_str()),
                )
                .await
                .map_err(conflict_as("a saved query with this name already exists"))?;
            if renamed.rows_affected() == 0 {
                return Err(StoreError::NotFound("saved query"));
            }
        }
        self.saved_query(&query.name).await?.ok_or(StoreError::NotFound("saved query"))
    }

    /// Deletes the saved query named `name`; `NotFound` if there is none.
    pub async fn delete_saved_query(&self, name: &QueryName) -> Result<(), StoreError> {
        let deleted = self
            .write_one(sqlx::query("DELETE FROM saved_queries WHERE name = $1").bind(name.as_str()))
            .await
            .map_err(StoreError::from_sqlx)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("saved query"));
        }
        Ok(())
    }
}
