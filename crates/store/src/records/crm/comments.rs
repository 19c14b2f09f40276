//! Comments on boxes: added, read, listed by box oldest first, edited under optimistic
//! concurrency, deleted (with their box too).

use sb_types::{BoxId, CommentId, Timestamp, UserId};
use sqlx::any::AnyRow;

use super::pipelines::stale;
use super::{NewOutboxEntry, missing_as, write_outbox};
use crate::{StoreError, WorkspaceDb, col, decode, parsed};

/// A comment on a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    pub id: CommentId,
    pub box_id: BoxId,
    pub body: String,
    /// The members the body mentions.
    pub mentions: Vec<UserId>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Most comments one list returns.
const COMMENTS_MAX: i64 = 1_000;

const COLUMNS: &str = "id, box_id, body, mentions, version, created_by, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<CommentRecord, StoreError> {
    let mentions: String = col(row, 3)?;
    Ok(CommentRecord {
        id: parsed(row, 0, "crm_comments.id", CommentId::parse)?,
        box_id: parsed(row, 1, "crm_comments.box_id", BoxId::parse)?,
        body: col(row, 2)?,
        mentions: mentions
            .split_whitespace()
            .map(|id| decode("crm_comments.mentions", UserId::parse(id)))
            .collect::<Result<_, _>>()?,
        version: col(row, 4)?,
        created_by: col(row, 5)?,
        created_at: parsed(row, 6, "crm_comments.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 7, "crm_comments.updated_at", Timestamp::parse)?,
    })
}

fn mentions_text(mentions: &[UserId]) -> String {
    mentions.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

impl WorkspaceDb {
    /// Stores a new comment and writes `outbox`. `NotFound` if its box does not exist.
    pub async fn insert_comment(
        &self,
        comment: &CommentRecord,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_comments (id, box_id, body, mentions, version, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(comment.id.to_string())
        .bind(comment.box_id.to_string())
        .bind(&comment.body)
        .bind(mentions_text(&comment.mentions))
        .bind(comment.version)
        .bind(&comment.created_by)
        .bind(comment.created_at.to_string())
        .bind(comment.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(missing_as("box"))?;
        write_outbox(&mut tx, outbox, comment.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The comment `id`, if it exists.
    pub async fn comment(&self, id: CommentId) -> Result<Option<CommentRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM crm_comments WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(from_row).transpose()
    }

    /// The comments on the box `id`, oldest first (at most 1,000).
    pub async fn box_comments(&self, id: BoxId) -> Result<Vec<CommentRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM crm_comments WHERE box_id = $1 ORDER BY created_at, id LIMIT {COMMENTS_MAX}"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces the comment `comment.id`, if it is still at `expected_version`, and writes
    /// `outbox`. `NotFound` if it does not exist, `Conflict` if it is at another version.
    pub async fn update_comment(
        &self,
        comment: &CommentRecord,
        expected_version: i64,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_comments SET body = $1, mentions = $2, version = $3, updated_at = $4
             WHERE id = $5 AND version = $6",
        )
        .bind(&comment.body)
        .bind(mentions_text(&comment.mentions))
        .bind(comment.version)
        .bind(comment.updated_at.to_string())
        .bind(comment.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            return Err(
                stale(&mut tx, "crm_comments", "comment", &comment.id.to_string(), expected_version).await
            );
        }
        write_outbox(&mut tx, outbox, comment.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the comment `id` and writes `outbox`. `NotFound` if it does not exist.
    pub async fn delete_comment(
        &self,
        id: CommentId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.delete_row("crm_comments", "comment", &id.to_string(), outbox, now).await
    }
}
