//! The suppression list (addresses nothing more is sent to: a permanent bounce, a complaint,
//! an unsubscribe) and the provider events that feed it, each applied once.

use sb_types::Timestamp;

use super::MailState;
use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, parsed};

/// A suppressed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionRecord {
    pub address: String,
    /// `bounce`, `complaint`, `unsubscribe` or `manual`.
    pub reason: String,
    pub detail: String,
    pub created_at: Timestamp,
}

impl WorkspaceDb {
    /// Puts `address` on the suppression list (a second time changes nothing).
    pub async fn suppress(
        &self,
        address: &str,
        reason: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_suppression(&mut tx, address, reason, detail, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Takes `address` off the suppression list; false if it was not on it.
    pub async fn unsuppress(&self, address: &str) -> Result<bool, StoreError> {
        let done = self
            .write_one(
                sqlx::query("DELETE FROM mail_suppressions WHERE address = $1")
                    .bind(address.to_ascii_lowercase()),
            )
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    /// The suppression list, newest first.
    pub async fn suppressions(&self) -> Result<Vec<SuppressionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, reason, detail, created_at FROM mail_suppressions ORDER BY created_at DESC, address",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(SuppressionRecord {
                    address: col(row, 0)?,
                    reason: col(row, 1)?,
                    detail: col(row, 2)?,
                    created_at: parsed(row, 3, "mail_suppressions.created_at", Timestamp::parse)?,
                })
            })
            .collect()
    }

    /// Applies a provider's report about a sent message once per `event_id`: the message
    /// named by `message_id` moves from `sent` to `state` (never backwards), and `suppress`
    /// puts `address` on the list. False if the event was seen before.
    pub async fn apply_mail_event(
        &self,
        event_id: &str,
        message_id: Option<&str>,
        address: &str,
        state: Option<MailState>,
        suppress: Option<(&str, &str)>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let seen = sqlx::query(
            "INSERT INTO mail_provider_events (event_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(now.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if seen.rows_affected() == 0 {
            tx.rollback().await.map_err(StoreError::from_sqlx)?;
            return Ok(false);
        }
        if let (Some(state), Some(message_id)) = (state, message_id) {
            sqlx::query(
                "UPDATE mail_outbox SET state = $1, updated_at = $2 WHERE message_id = $3 AND state = 'sent'",
            )
            .bind(state.as_str())
            .bind(now.to_string())
            .bind(message_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        }
        if let Some((reason, detail)) = suppress {
            insert_suppression(&mut tx, address, reason, detail, now).await?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(true)
    }
}

pub(crate) async fn insert_suppression(
    tx: &mut WriteTransaction,
    address: &str,
    reason: &str,
    detail: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_suppressions (address, reason, detail, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(address.to_ascii_lowercase())
    .bind(reason)
    .bind(detail)
    .bind(now.to_string())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}
