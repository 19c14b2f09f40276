//! Outgoing webhooks in a workspace's records database: subscriptions, the dispatcher that
//! turns outbox rows into deliveries, and deliveries as jobs (due, leased, finished).

use sb_types::{Timestamp, WebhookId};
use sqlx::any::AnyRow;

use super::OutboxRecord;
use crate::{StoreError, WorkspaceDb, col, parsed};

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    /// Where deliveries are posted.
    pub url: String,
    /// Event names, or `*` for every event.
    pub events: Vec<String>,
    /// The key deliveries are signed with.
    pub secret: String,
    /// The outbox id it was made after: it receives later rows only.
    pub after_outbox: i64,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl WebhookRecord {
    fn wants(&self, row: &OutboxRecord) -> bool {
        row.id > self.after_outbox && self.events.iter().any(|e| e == "*" || *e == row.event)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet accepted: due at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up on after too many attempts.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(format!("unknown delivery state {other:?}")),
        }
    }
}

/// One outbox row on its way to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub webhook: WebhookId,
    pub outbox_id: i64,
    pub object_id: String,
    pub event: String,
    /// The JSON body to post.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    /// The status of the last answer, if there was one.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, empty if it did not.
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i64>,
    pub last_error: String,
}

const WEBHOOK_COLUMNS: &str = "id, url, events, secret, after_outbox, created_by, created_at";
const DELIVERY_COLUMNS: &str = "webhook_id, outbox_id, object_id, event, body, state, attempts, next_attempt_at, \
     last_status, last_error, created_at, updated_at";

fn webhook_from_row(row: &AnyRow) -> Result<WebhookRecord, StoreError> {
    let events: String = col(row, 2)?;
    Ok(WebhookRecord {
        id: parsed(row, 0, "webhooks.id", WebhookId::parse)?,
        url: col(row, 1)?,
        events: events.split_whitespace().map(str::to_owned).collect(),
        secret: col(row, 3)?,
        after_outbox: col(row, 4)?,
        created_by: col(row, 5)?,
        created_at: parsed(row, 6, "webhooks.created_at", Timestamp::parse)?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        webhook: parsed(row, 0, "webhook_deliveries.webhook_id", WebhookId::parse)?,
        outbox_id: col(row, 1)?,
        object_id: col(row, 2)?,
        event: col(row, 3)?,
        body: col(row, 4)?,
        state: parsed(row, 5, "webhook_deliveries.state", DeliveryState::parse)?,
        attempts: col(row, 6)?,
        next_attempt_at: parsed(row, 7, "webhook_deliveries.next_attempt_at", Timestamp::parse)?,
        last_status: col(row, 8)?,
        last_error: col(row, 9)?,
        created_at: parsed(row, 10, "webhook_deliveries.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 11, "webhook_deliveries.updated_at", Timestamp::parse)?,
    })
}

impl WorkspaceDb {
    /// Stores a subscription that receives the changes committed from now on, and returns it
    /// with the outbox id it starts after.
    pub async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<WebhookRecord, StoreError> {
        let mut tx = self.begin().await?;
        // Taken first, as the dispatcher does: a dispatch runs wholly before or after this, so
        // the rows after `after_outbox` are all dispatched to the new subscription.
        sqlx::query("UPDATE webhook_cursor SET last = last WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        sqlx::query(
            "INSERT INTO webhooks (id, url, events, secret, after_outbox, created_by, created_at)
             VALUES ($1, $2, $3, $4, (SELECT last FROM outbox_sequence), $5, $6)",
        )
        .bind(webhook.id.to_string())
        .bind(&webhook.url)
        .bind(webhook.events.join(" "))
        .bind(&webhook.secret)
        .bind(&webhook.created_by)
        .bind(webhook.created_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        let after: i64 = sqlx::query_scalar("SELECT after_outbox FROM webhooks WHERE id = $1")
            .bind(webhook.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(WebhookRecord { after_outbox: after, ..webhook.clone() })
    }

    /// Every subscription, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// The subscription `id`, if it exists.
    pub async fn webhook(&self, id: WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// Deletes the subscription `id` with its deliveries. `NotFound` if there is none.
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<(), StoreError> {
        let deleted = self
            .write_one(sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.to_string()))
            .await
            .map_err(StoreError::from_sqlx)?;
        if deleted.rows_affected() == 0 { Err(StoreError::NotFound("webhook")) } else { Ok(()) }
    }

    /// Turns up to `batch` outbox rows not yet dispatched into deliveries, one for each
    /// subscription that wants the row, with the body `body` makes of it; returns how many rows
    /// it read. Dispatchers take turns (the cursor row is locked first), and a row dispatched
    /// twice makes no second delivery.
    pub async fn dispatch_webhooks(
        &self,
        batch: i64,
        now: Timestamp,
        body: impl Fn(&OutboxRecord) -> String,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE webhook_cursor SET last = last WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        let last: i64 = sqlx::query_scalar("SELECT last FROM webhook_cursor WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        let rows = sqlx::query(
            "SELECT id, object_kind, object_id, event, payload, created_at FROM outbox
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(last)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        let rows = rows.iter().map(super::crm::outbox_from_row).collect::<Result<Vec<_>, _>>()?;
        let Some(newest) = rows.last().map(|r| r.id) else {
            tx.rollback().await.map_err(StoreError::from_sqlx)?;
            return Ok(0);
        };
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks");
        let webhooks = sqlx::query(&sql).fetch_all(&mut *tx).await.map_err(StoreError::from_sqlx)?;
        let webhooks = webhooks.iter().map(webhook_from_row).collect::<Result<Vec<_>, _>>()?;
        for row in &rows {
            for webhook in webhooks.iter().filter(|w| w.wants(row)) {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (webhook_id, outbox_id, object_id, event, body, state,
                         attempts, next_attempt_at, last_status, last_error, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, NULL, '', $7, $7)
                     ON CONFLICT (webhook_id, outbox_id) DO NOTHING",
                )
                .bind(webhook.id.to_string())
                .bind(row.id)
                .bind(&row.object_id)
                .bind(&row.event)
                .bind(body(row))
                .bind(DeliveryState::Pending.as_str())
                .bind(now.to_string())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
            }
        }
        sqlx::query("UPDATE webhook_cursor SET last = $1 WHERE id = 1")
            .bind(newest)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(rows.len())
    }

    /// Pending deliveries due at `now`, oldest first, at most `limit`; a delivery waits while
    /// an older one of the same subscription and object is pending, so each endpoint receives
    /// an object's changes in order.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             WHERE state = $1 AND next_attempt_at <= $2
             AND NOT EXISTS (
                 SELECT 1 FROM webhook_deliveries e
                 WHERE e.webhook_id = d.webhook_id AND e.object_id = d.object_id AND e.state = $1
                 AND e.outbox_id < d.outbox_id)
             ORDER BY outbox_id, webhook_id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(DeliveryState::Pending.as_str())
            .bind(now.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Leases `delivery` until `until` if no one else has since it was read: true if this
    /// caller now holds it.
    pub async fn lease_delivery(
        &self,
        delivery: &DeliveryRecord,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let leased = self
            .write_one(
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = $1
             WHERE webhook_id = $2 AND outbox_id = $3 AND state = $4 AND next_attempt_at = $5",
                )
                .bind(until.to_string())
                .bind(delivery.webhook.to_string())
                .bind(delivery.outbox_id)
                .bind(DeliveryState::Pending.as_str())
                .bind(delivery.next_attempt_at.to_string()),
            )
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(leased.rows_affected() == 1)
    }

    /// Records how an attempt at `delivery`, leased until `lease`, ended, if the lease is still
    /// this caller's (false otherwise: the lease ran out and someone else took the delivery).
    pub async fn finish_delivery(
        &self,
        delivery: &DeliveryRecord,
        lease: Timestamp,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let finished = self.write_one(sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4,
                 last_error = $5, updated_at = $6
             WHERE webhook_id = $7 AND outbox_id = $8 AND state = $9 AND next_attempt_at = $10",
        )
        .bind(outcome.state.as_str())
        .bind(outcome.attempts)
        .bind(outcome.next_attempt_at.to_string())
        .bind(outcome.last_status)
        .bind(&outcome.last_error)
        .bind(now.to_string())
        .bind(delivery.webhook.to_string())
        .bind(delivery.outbox_id)
        .bind(DeliveryState::Pending.as_str())
        .bind(lease.to_string())
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(finished.rows_affected() == 1)
    }

    /// The latest deliveries of the subscription `id`, newest first, at most `limit`.
    pub async fn deliveries(&self, id: WebhookId, limit: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1
             ORDER BY outbox_id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(delivery_from_row).collect()
    }
}
