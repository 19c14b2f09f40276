//! Mail received for a workspace, kept raw once per Message-ID, stored in the same
//! transaction as what it became (check-in entries), so a message is either wholly taken in or
//! not at all and a second copy changes nothing. Messages arriving together share a commit.

use sb_types::{InboundId, Timestamp};
use sqlx::any::AnyRow;

use super::checkins::{EntryRecord, insert_entries};
use crate::{StoreError, WorkspaceDb, col, parsed};

/// A received message. Lists leave `raw` empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub id: InboundId,
    /// Without angle brackets.
    pub message_id: String,
    /// `smtp`, `imap`, `sendgrid`, `mailgun`, `postmark` or `api`.
    pub received_via: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub from_address: String,
    pub subject: String,
    pub raw: Vec<u8>,
    /// `entries` or `flagged`.
    pub outcome: String,
    /// Why it was flagged, or how many entries it made.
    pub detail: String,
    pub received_at: Timestamp,
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundStored {
    /// It was new: stored with these entries.
    New(Vec<EntryRecord>),
    /// A message with its Message-ID was already here (this one); nothing was written.
    Duplicate(InboundId),
}

const COLUMNS: &str = "id, message_id, received_via, envelope_from, envelope_to, from_address, subject, outcome, \
     detail, received_at";

fn from_row(row: &AnyRow) -> Result<InboundRecord, StoreError> {
    let to: String = col(row, 4)?;
    Ok(InboundRecord {
        id: parsed(row, 0, "inbound_mail.id", InboundId::parse)?,
        message_id: col(row, 1)?,
        received_via: col(row, 2)?,
        envelope_from: col(row, 3)?,
        envelope_to: to.split_whitespace().map(str::to_owned).collect(),
        from_address: col(row, 5)?,
        subject: col(row, 6)?,
        raw: Vec::new(),
        outcome: col(row, 7)?,
        detail: col(row, 8)?,
        received_at: parsed(row, 9, "inbound_mail.received_at", Timestamp::parse)?,
    })
}

impl WorkspaceDb {
    /// Stores each message with its entries, unless a message with the same Message-ID is
    /// already stored (or earlier in `received`), all in one transaction: messages taken in at
    /// the same moment share one commit. One result per message, in order.
    pub async fn record_inbound(
        &self,
        received: &[(InboundRecord, Vec<EntryRecord>)],
    ) -> Result<Vec<InboundStored>, StoreError> {
        let mut tx = self.begin().await?;
        let mut results = Vec::with_capacity(received.len());
        for (mail, entries) in received {
            let inserted = sqlx::query(
                "INSERT INTO inbound_mail (id, message_id, received_via, envelope_from, envelope_to, from_address,
                     subject, raw, outcome, detail, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(mail.id.to_string())
            .bind(&mail.message_id)
            .bind(&mail.received_via)
            .bind(&mail.envelope_from)
            .bind(mail.envelope_to.join(" "))
            .bind(&mail.from_address)
            .bind(&mail.subject)
            .bind(mail.raw.clone())
            .bind(&mail.outcome)
            .bind(&mail.detail)
            .bind(mail.received_at.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
            if inserted.rows_affected() == 0 {
                let id: String = sqlx::query_scalar("SELECT id FROM inbound_mail WHERE message_id = $1")
                    .bind(&mail.message_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                results
                    .push(InboundStored::Duplicate(crate::decode("inbound_mail.id", InboundId::parse(&id))?));
                continue;
            }
            results.push(InboundStored::New(insert_entries(&mut tx, entries).await?));
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(results)
    }

    /// The latest received messages, newest first, without their bytes.
    pub async fn recent_inbound(&self, limit: i64) -> Result<Vec<InboundRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM inbound_mail ORDER BY received_at DESC, id DESC LIMIT $1");
        let rows =
            sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// The received message `id` with its bytes.
    pub async fn inbound(&self, id: InboundId) -> Result<Option<InboundRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS}, raw FROM inbound_mail WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(|row| Ok(InboundRecord { raw: col(&row, 10)?, ..from_row(&row)? })).transpose()
    }
}
