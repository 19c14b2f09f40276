//! The workspace's mail outbox as a state machine, with every attempt, the suppression list
//! and provider events; see migration 0014 for the states. Senders claim due rows under a
//! lease, so two senders never hold one message and a crashed sender's rows go out again (with
//! the same Message-ID and bytes) once the lease runs out.

use sb_types::{MailId, Timestamp};
use sqlx::any::AnyRow;

use crate::{StoreError, WorkspaceDb, col, parsed};

mod suppressions;

pub use suppressions::SuppressionRecord;
use suppressions::insert_suppression;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailState {
    /// Waiting for its send time.
    Scheduled,
    /// Due: the next sender takes it.
    Queued,
    /// A sender holds it (under a lease).
    Sending,
    /// The relay accepted it.
    Sent,
    /// A transient failure: queued again at `next_attempt_at`.
    Deferred,
    /// A permanent failure (5xx), or too many transient ones.
    Failed,
    /// A bounce reported after it was sent.
    Bounced,
    /// The recipient reported it as spam.
    Complained,
    /// Not sent before its content stopped mattering.
    Expired,
    /// Withdrawn before it was sent (vacation, holiday, schedule change).
    Cancelled,
    /// Not sent: the address is on the suppression list.
    Suppressed,
}

impl MailState {
    pub const ALL: [MailState; 11] = [
        MailState::Scheduled,
        MailState::Queued,
        MailState::Sending,
        MailState::Sent,
        MailState::Deferred,
        MailState::Failed,
        MailState::Bounced,
        MailState::Complained,
        MailState::Expired,
        MailState::Cancelled,
        MailState::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Scheduled => "scheduled",
            MailState::Queued => "queued",
            MailState::Sending => "sending",
            MailState::Sent => "sent",
            MailState::Deferred => "deferred",
            MailState::Failed => "failed",
            MailState::Bounced => "bounced",
            MailState::Complained => "complained",
            MailState::Expired => "expired",
            MailState::Cancelled => "cancelled",
            MailState::Suppressed => "suppressed",
        }
    }

    pub fn parse(text: &str) -> Result<MailState, String> {
        MailState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown mail state {text:?}"))
    }
}

/// A message to store in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub id: MailId,
    /// What it is, e.g. `checkin_prompt`.
    pub kind: String,
    /// What it is for; a second message with the same key is not stored.
    pub dedupe_key: String,
    /// Messages planned together (a day's prompts), looked up together.
    pub dedupe_group: String,
    /// Without angle brackets.
    pub message_id: String,
    pub recipient: String,
    pub envelope_from: String,
    pub subject: String,
    /// The whole message as sent (RFC 5322, CRLF line ends).
    pub body: String,
    /// `Scheduled` (sent at `send_at`) or `Queued`.
    pub state: MailState,
    pub send_at: Timestamp,
    /// After this it is not sent at all.
    pub expires_at: Timestamp,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub id: MailId,
    pub kind: String,
    pub dedupe_key: String,
    pub message_id: String,
    pub recipient: String,
    pub envelope_from: String,
    pub subject: String,
    pub body: String,
    pub state: MailState,
    pub send_at: Timestamp,
    pub expires_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub attempts: i64,
    pub last_code: Option<i64>,
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How an attempt ended, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOutcome {
    /// `Sent`, `Deferred`, `Failed` or `Expired`.
    pub state: MailState,
    pub next_attempt_at: Timestamp,
    pub code: Option<i64>,
    /// The enhanced status code, e.g. `5.1.1`.
    pub enhanced: Option<String>,
    /// The server's reply text, or what went wrong.
    pub detail: String,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttemptRecord {
    pub attempt: i64,
    pub at: Timestamp,
    pub outcome: MailState,
    pub code: Option<i64>,
    pub enhanced: Option<String>,
    pub detail: String,
}

/// What one pass over due messages changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailPromotion {
    pub queued: u64,
    pub expired: u64,
    pub suppressed: u64,
    /// Messages whose sender's lease ran out, queued again.
    pub reclaimed: u64,
}

/// States a message can still leave without being sent.
const PENDING: &str = "('scheduled', 'queued', 'deferred')";

const COLUMNS: &str = "id, kind, dedupe_key, message_id, recipient, envelope_from, subject, body, state, send_at, \
     expires_at, next_attempt_at, attempts, last_code, last_error, created_at, updated_at";

/// The same columns without the body, for lists.
const LIST_COLUMNS: &str = "id, kind, dedupe_key, message_id, recipient, envelope_from, subject, '', state, \
     send_at, expires_at, next_attempt_at, attempts, last_code, last_error, created_at, updated_at";

fn mail_from_row(row: &AnyRow) -> Result<MailRecord, StoreError> {
    Ok(MailRecord {
        id: parsed(row, 0, "mail_outbox.id", MailId::parse)?,
        kind: col(row, 1)?,
        dedupe_key: col(row, 2)?,
        message_id: col(row, 3)?,
        recipient: col(row, 4)?,
        envelope_from: col(row, 5)?,
        subject: col(row, 6)?,
        body: col(row, 7)?,
        state: parsed(row, 8, "mail_outbox.state", MailState::parse)?,
        send_at: parsed(row, 9, "mail_outbox.send_at", Timestamp::parse)?,
        expires_at: parsed(row, 10, "mail_outbox.expires_at", Timestamp::parse)?,
        next_attempt_at: parsed(row, 11, "mail_outbox.next_attempt_at", Timestamp::parse)?,
        attempts: col(row, 12)?,
        last_code: col(row, 13)?,
        last_error: col(row, 14)?,
        created_at: parsed(row, 15, "mail_outbox.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 16, "mail_outbox.updated_at", Timestamp::parse)?,
    })
}

/// The domain part of an address, lower-cased.
fn domain_of(address: &str) -> String {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default().to_ascii_lowercase()
}

impl WorkspaceDb {
    /// Stores `mails` in one transaction, skipping any whose dedupe key (or Message-ID) is
    /// already there; returns how many were new.
    pub async fn insert_mails(&self, mails: &[NewMail], now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut inserted = 0;
        for mail in mails {
            let done = sqlx::query(
                "INSERT INTO mail_outbox (id, kind, dedupe_key, dedupe_group, message_id, recipient, recipient_domain,
                     envelope_from, subject, body, state, send_at, expires_at, next_attempt_at, lease_owner,
                     lease_until, attempts, last_code, last_error, created_at, updated_at)
                 VALUES ($1, $2, $3, $14, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, NULL, NULL, 0, NULL, '', $13, $13)
                 ON CONFLICT DO NOTHING",
            )
            .bind(mail.id.to_string())
            .bind(&mail.kind)
            .bind(&mail.dedupe_key)
            .bind(&mail.message_id)
            .bind(&mail.recipient)
            .bind(domain_of(&mail.recipient))
            .bind(&mail.envelope_from)
            .bind(&mail.subject)
            .bind(&mail.body)
            .bind(mail.state.as_str())
            .bind(mail.send_at.to_string())
            .bind(mail.expires_at.to_string())
            .bind(now.to_string())
            .bind(&mail.dedupe_group)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
            inserted += done.rows_affected();
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(inserted)
    }

    /// Moves messages along as of `now`: suppressed addresses out, expired content out, due
    /// scheduled and deferred messages into the queue, and messages whose sender's lease ran
    /// out back into it.
    pub async fn promote_mail(&self, now: Timestamp) -> Result<MailPromotion, StoreError> {
        let now_text = now.to_string();
        let mut tx = self.begin().await?;
        let suppressed = sqlx::query(&format!(
            "UPDATE mail_outbox SET state = 'suppressed', updated_at = $1
             WHERE state IN {PENDING} AND recipient IN (SELECT address FROM mail_suppressions)"
        ))
        .bind(&now_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?
        .rows_affected();
        let expired = sqlx::query(&format!(
            "UPDATE mail_outbox SET state = 'expired', updated_at = $1
             WHERE state IN {PENDING} AND expires_at <= $1"
        ))
        .bind(&now_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?
        .rows_affected();
        let reclaimed = sqlx::query(
            "UPDATE mail_outbox SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1
             WHERE state = 'sending' AND lease_until <= $1",
        )
        .bind(&now_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?
        .rows_affected();
        let queued = sqlx::query(
            "UPDATE mail_outbox SET state = 'queued', updated_at = $1
             WHERE state IN ('scheduled', 'deferred') AND next_attempt_at <= $1",
        )
        .bind(&now_text)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?
        .rows_affected();
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(MailPromotion { queued, expired, suppressed, reclaimed })
    }

    /// Takes up to `limit` queued messages, oldest due first, for `owner` until `until`;
    /// each counts an attempt.
    pub async fn claim_mail(
        &self,
        owner: &str,
        until: Timestamp,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<MailRecord>, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE mail_outbox SET state = 'sending', lease_owner = $1, lease_until = $2,
                 attempts = attempts + 1, updated_at = $3
             WHERE state = 'queued' AND id IN (
                 SELECT id FROM mail_outbox WHERE state = 'queued' ORDER BY next_attempt_at, id LIMIT $4)",
        )
        .bind(owner)
        .bind(until.to_string())
        .bind(now.to_string())
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM mail_outbox WHERE state = 'sending' AND lease_owner = $1
             ORDER BY next_attempt_at, id"
        );
        let rows = sqlx::query(&sql).bind(owner).fetch_all(&mut *tx).await.map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(mail_from_row).collect()
    }

    /// Records how the attempts at `finished` (each a message held by `owner` and how it
    /// ended) went, in one transaction, so that senders finishing together share one commit;
    /// a message whose lease was lost meanwhile is left alone. Returns how many were recorded.
    /// A permanent failure with an address status (5.1.x) also suppresses the address.
    pub async fn finish_mail(
        &self,
        finished: &[(MailRecord, MailOutcome)],
        owner: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let mut recorded = 0;
        for (mail, outcome) in finished {
            let done = sqlx::query(
                "UPDATE mail_outbox SET state = $1, next_attempt_at = $2, last_code = $3, last_error = $4,
                     lease_owner = NULL, lease_until = NULL, updated_at = $5
                 WHERE id = $6 AND state = 'sending' AND lease_owner = $7",
            )
            .bind(outcome.state.as_str())
            .bind(outcome.next_attempt_at.to_string())
            .bind(outcome.code)
            .bind(&outcome.detail)
            .bind(now.to_string())
            .bind(mail.id.to_string())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
            if done.rows_affected() == 0 {
                continue;
            }
            recorded += 1;
            sqlx::query(
                "INSERT INTO mail_attempts (mail_id, attempt, at, outcome, code, enhanced, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(mail.id.to_string())
            .bind(mail.attempts)
            .bind(now.to_string())
            .bind(outcome.state.as_str())
            .bind(outcome.code)
            .bind(&outcome.enhanced)
            .bind(&outcome.detail)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
            if outcome.state == MailState::Failed
                && outcome.enhanced.as_deref().is_some_and(|e| e.starts_with("5.1."))
            {
                insert_suppression(&mut tx, &mail.recipient, "bounce", &outcome.detail, now).await?;
            }
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(recorded)
    }

    /// Deletes the messages of `kind` still `scheduled` (never attempted), or only those under
    /// `keys` when given, so that they can be planned again; returns how many.
    pub async fn withdraw_scheduled_mail(
        &self,
        kind: &str,
        keys: Option<&[String]>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut withdrawn = 0;
        match keys {
            None => {
                let done = sqlx::query("DELETE FROM mail_outbox WHERE state = 'scheduled' AND kind = $1")
                    .bind(kind)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                withdrawn += done.rows_affected();
            }
            Some(keys) => {
                for key in keys {
                    let done = sqlx::query(
                        "DELETE FROM mail_outbox WHERE state = 'scheduled' AND kind = $1 AND dedupe_key = $2",
                    )
                    .bind(kind)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    withdrawn += done.rows_affected();
                }
            }
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(withdrawn)
    }

    /// Marks the messages not yet sent under exactly these dedupe keys `cancelled`.
    pub async fn cancel_mail(&self, keys: &[String], now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut cancelled = 0;
        for key in keys {
            let done = sqlx::query(&format!(
                "UPDATE mail_outbox SET state = 'cancelled', updated_at = $1 WHERE state IN {PENDING} AND dedupe_key = $2"
            ))
            .bind(now.to_string())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
            cancelled += done.rows_affected();
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(cancelled)
    }

    /// The dedupe keys of the messages in `group`, with their states.
    pub async fn mail_keys(&self, group: &str) -> Result<Vec<(String, MailState)>, StoreError> {
        let rows = sqlx::query("SELECT dedupe_key, state FROM mail_outbox WHERE dedupe_group = $1")
            .bind(group)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| Ok((col(row, 0)?, parsed(row, 1, "mail_outbox.state", MailState::parse)?)))
            .collect()
    }

    /// The message `id`, body included.
    pub async fn mail(&self, id: MailId) -> Result<Option<MailRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(mail_from_row).transpose()
    }

    /// The message with this Message-ID (without angle brackets), body included.
    pub async fn mail_by_message_id(&self, message_id: &str) -> Result<Option<MailRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mail_outbox WHERE message_id = $1");
        let row = sqlx::query(&sql)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(mail_from_row).transpose()
    }

    /// The latest messages (without bodies), newest change first, optionally in one state.
    pub async fn recent_mail(
        &self,
        state: Option<MailState>,
        limit: i64,
    ) -> Result<Vec<MailRecord>, StoreError> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM mail_outbox WHERE ($1 = '' OR state = $1)
             ORDER BY updated_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(state.map_or("", MailState::as_str))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(mail_from_row).collect()
    }

    /// How many messages are in each state.
    pub async fn mail_counts(&self) -> Result<Vec<(MailState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM mail_outbox GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| Ok((parsed(row, 0, "mail_outbox.state", MailState::parse)?, col(row, 1)?)))
            .collect()
    }

    /// Every attempt at the message `id`, first first.
    pub async fn mail_attempts(&self, id: MailId) -> Result<Vec<MailAttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, at, outcome, code, enhanced, detail FROM mail_attempts WHERE mail_id = $1
             ORDER BY attempt",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(MailAttemptRecord {
                    attempt: col(row, 0)?,
                    at: parsed(row, 1, "mail_attempts.at", Timestamp::parse)?,
                    outcome: parsed(row, 2, "mail_attempts.outcome", MailState::parse)?,
                    code: col(row, 3)?,
                    enhanced: col(row, 4)?,
                    detail: col(row, 5)?,
                })
            })
            .collect()
    }
}
