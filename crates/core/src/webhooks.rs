//! Outgoing webhooks: subscriptions to the CRM's change events, and their deliveries as jobs.
//! A round (`run_webhooks`, every second from `serve`) first dispatches new outbox rows into
//! deliveries, then posts the due ones: signed with the subscription's secret, retried with
//! exponential backoff and jitter until the endpoint answers 2xx or `MAX_ATTEMPTS` attempts
//! failed, each object's changes in order; an answer of 410 Gone removes the subscription.
//! Managing subscriptions needs `Permission::Admin`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use sb_store::{DeliveryOutcome, DeliveryRecord, DeliveryState, OutboxRecord, WebhookRecord, WorkspaceDb};
use sb_types::{Timestamp, WebhookId, WorkspaceId};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Access, CoreError, Permission, Switchboard};

/// Every event a subscription may ask for (or `*` for all of them).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "PIPELINE_CREATE",
    "PIPELINE_UPDATE",
    "PIPELINE_DELETE",
    "BOX_CREATE",
    "BOX_EDIT",
    "BOX_CHANGE_STAGE",
    "BOX_DELETE",
    "BOX_LINK",
    "BOX_UNLINK",
    "BOX_THREAD_FILE",
    "BOX_THREAD_REJECT",
    "CONTACT_CREATE",
    "CONTACT_EDIT",
    "CONTACT_DELETE",
    "CONTACT_LINK",
    "CONTACT_UNLINK",
    "ORGANIZATION_CREATE",
    "ORGANIZATION_EDIT",
    "ORGANIZATION_DELETE",
    "TASK_CREATE",
    "TASK_EDIT",
    "TASK_DELETE",
    "COMMENT_CREATE",
    "COMMENT_EDIT",
    "COMMENT_DELETE",
    "MESSAGE_CREATE",
];

/// Attempts before a delivery is given up on (the last one about a day after the first).
pub const MAX_ATTEMPTS: i64 = 12;
/// Most subscriptions a workspace may have.
pub const WEBHOOKS_MAX: usize = 50;
/// Longest URL, in bytes.
const URL_MAX: usize = 2_000;
/// The wait before the second attempt; each later wait doubles, up to `RETRY_CAP_SECONDS`.
const RETRY_BASE_SECONDS: i64 = 30;
const RETRY_CAP_SECONDS: i64 = 4 * 3600;
/// How long a delivery being sent is held from other senders.
const LEASE_SECONDS: i64 = 60;
/// How long an endpoint has to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Outbox rows one dispatch reads, and most deliveries one round sends, per workspace.
const BATCH: i64 = 500;
/// The header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
pub const SIGNATURE_HEADER: &str = "switchboard-signature";

/// A subscription, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// One change on its way to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub object_id: String,
    pub event: String,
    pub state: &'static str,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i64>,
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What one round did, summed over workspaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookRound {
    /// Outbox rows dispatched.
    pub dispatched: usize,
    /// Attempts made, and how many were accepted.
    pub attempted: usize,
    pub delivered: usize,
}

fn webhook_from(record: WebhookRecord) -> Webhook {
    Webhook {
        id: record.id,
        url: record.url,
        events: record.events,
        created_by: record.created_by,
        created_at: record.created_at,
    }
}

fn delivery_from(record: DeliveryRecord) -> Delivery {
    Delivery {
        outbox_id: record.outbox_id,
        object_id: record.object_id,
        event: record.event,
        state: record.state.as_str(),
        attempts: record.attempts,
        next_attempt_at: record.next_attempt_at,
        last_status: record.last_status,
        last_error: record.last_error,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// An absolute http or https URL with a host, or a clear error.
fn endpoint(text: &str) -> Result<String, CoreError> {
    let invalid = |why: &str| CoreError::Invalid(format!("webhook url {text:?} {why}"));
    if text.len() > URL_MAX {
        return Err(invalid(&format!("is longer than {URL_MAX} bytes")));
    }
    let url = reqwest::Url::parse(text.trim()).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must be an http or https address with a host"));
    }
    Ok(url.to_string())
}

/// The events asked for, each known, each once; `*` alone means all.
fn events(asked: &[String]) -> Result<Vec<String>, CoreError> {
    if asked.is_empty() {
        return Err(CoreError::Invalid("name the events to deliver, or \"*\" for all".into()));
    }
    if asked.iter().any(|e| e == "*") {
        return Ok(vec!["*".into()]);
    }
    let mut chosen: Vec<String> = Vec::new();
    for event in asked {
        if !WEBHOOK_EVENTS.contains(&event.as_str()) {
            return Err(CoreError::Invalid(format!(
                "unknown event {event:?}; expected \"*\" or some of: {}",
                WEBHOOK_EVENTS.join(", ")
            )));
        }
        if !chosen.contains(event) {
            chosen.push(event.clone());
        }
    }
    Ok(chosen)
}

/// The JSON body posted for an outbox row.
fn body(row: &OutboxRecord) -> String {
    let data: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "event": row.event,
        "object": row.object_kind,
        "object_id": row.object_id,
        "created_at": row.created_at.to_string(),
        "data": data,
    })
    .to_string()
}

/// The signature header's value for `body` sent at `unix` seconds.
pub fn signature(secret: &str, unix: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{unix}.{body}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// When to try again after `attempts` failed attempts: the doubling wait, with up to a fifth
/// of it added at random so that many failed deliveries do not return at once.
fn retry_at(now: Timestamp, attempts: i64) -> Timestamp {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let wait = RETRY_BASE_SECONDS.saturating_mul(1_i64 << exponent).min(RETRY_CAP_SECONDS);
    let jitter = rand::thread_rng().gen_range(0..=wait / 5);
    Timestamp::from_millis(now.millis() + (wait + jitter) * 1000)
}

/// How one attempt went.
enum Answer {
    Accepted(i64),
    Gone,
    /// Any other status; the body is not kept (it is the endpoint's, not ours to show).
    Refused(i64),
    Unreachable(String),
}

impl Switchboard {
    fn http_client(&self) -> Result<&reqwest::Client, CoreError> {
        if let Some(client) = self.inner.webhook_client.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreError::Unavailable(format!("cannot make an HTTP client: {e}")))?;
        Ok(self.inner.webhook_client.get_or_init(|| client))
    }

    /// Subscribes `url` to `events` (`*` for all); returns the subscription and the secret its
    /// deliveries are signed with, shown this once.
    pub async fn create_webhook(
        &self,
        access: &Access,
        url: &str,
        asked: &[String],
    ) -> Result<(Webhook, String), CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        if db.webhooks().await?.len() >= WEBHOOKS_MAX {
            return Err(CoreError::Conflict(format!("a workspace has at most {WEBHOOKS_MAX} webhooks")));
        }
        let mut secret = [0_u8; 32];
        rand::thread_rng().fill(&mut secret);
        let record = WebhookRecord {
            id: WebhookId::generate(),
            url: endpoint(url)?,
            events: events(asked)?,
            secret: hex::encode(secret),
            after_outbox: 0,
            created_by: access.actor_label(),
            created_at: Timestamp::now(),
        };
        let stored = db.insert_webhook(&record).await?;
        let secret = stored.secret.clone();
        Ok((webhook_from(stored), secret))
    }

    /// The workspace's subscriptions, oldest first.
    pub async fn webhooks(&self, access: &Access) -> Result<Vec<Webhook>, CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.webhooks().await?.into_iter().map(webhook_from).collect())
    }

    /// Removes the subscription `id` and its deliveries.
    pub async fn delete_webhook(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Admin)?;
        let id = WebhookId::parse(id).map_err(|_| CoreError::NotFound("webhook"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_webhook(id).await?)
    }

    /// The subscription `id`'s latest deliveries, newest first (at most 100).
    pub async fn webhook_deliveries(&self, access: &Access, id: &str) -> Result<Vec<Delivery>, CoreError> {
        access.require(Permission::Admin)?;
        let id = WebhookId::parse(id).map_err(|_| CoreError::NotFound("webhook"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.webhook(id).await?.ok_or(CoreError::NotFound("webhook"))?;
        Ok(db.deliveries(id, 100).await?.into_iter().map(delivery_from).collect())
    }

    /// One round of webhook work in every workspace, as of `now` (the clock, except in tests).
    /// A workspace that fails is logged and skipped; the others go on.
    pub async fn run_webhooks(&self, now: Timestamp) -> Result<WebhookRound, CoreError> {
        let mut total = WebhookRound::default();
        for workspace in self.store().list_workspaces().await? {
            match self.run_workspace_webhooks(workspace.id, now).await {
                Ok(round) => {
                    total.dispatched += round.dispatched;
                    total.attempted += round.attempted;
                    total.delivered += round.delivered;
                }
                Err(error) => tracing::warn!(workspace = %workspace.id, %error, "webhook round failed"),
            }
        }
        Ok(total)
    }

    async fn run_workspace_webhooks(
        &self,
        workspace: WorkspaceId,
        now: Timestamp,
    ) -> Result<WebhookRound, CoreError> {
        let db = self.store().workspace_db(workspace).await?;
        let mut round = WebhookRound::default();
        loop {
            let read = db.dispatch_webhooks(BATCH, now, body).await?;
            round.dispatched += read;
            if read < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        // Accepting a delivery makes the next change of the same object due: ask again until
        // nothing is, or a round has sent a batch's worth.
        while round.attempted < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            let due = db.due_deliveries(now, BATCH).await?;
            if due.is_empty() {
                break;
            }
            let webhooks = db.webhooks().await?;
            for delivery in due {
                let Some(webhook) = webhooks.iter().find(|w| w.id == delivery.webhook) else { continue };
                // From the clock, not the round's start: earlier attempts may have taken a while.
                let lease = Timestamp::now().plus_seconds(LEASE_SECONDS).max(now.plus_seconds(LEASE_SECONDS));
                if !db.lease_delivery(&delivery, lease).await? {
                    continue;
                }
                round.attempted += 1;
                if self.attempt(&db, webhook, &delivery, lease, now).await? {
                    round.delivered += 1;
                }
            }
        }
        Ok(round)
    }

    /// Posts `delivery` (leased until `lease`) to its endpoint and records the outcome: true if
    /// it was accepted.
    async fn attempt(
        &self,
        db: &WorkspaceDb,
        webhook: &WebhookRecord,
        delivery: &DeliveryRecord,
        lease: Timestamp,
        now: Timestamp,
    ) -> Result<bool, CoreError> {
        let unix = Timestamp::now().millis() / 1000;
        let sent = self
            .http_client()?
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature(&webhook.secret, unix, &delivery.body))
            .header("switchboard-event", &delivery.event)
            .header("switchboard-delivery", format!("{}-{}", webhook.id, delivery.outbox_id))
            .body(delivery.body.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(response) => {
                let status = i64::from(response.status().as_u16());
                match status {
                    200..=299 => Answer::Accepted(status),
                    410 => Answer::Gone,
                    _ => Answer::Refused(status),
                }
            }
            Err(error) => Answer::Unreachable(error.to_string()),
        };
        let attempts = delivery.attempts + 1;
        let outcome = |status, error: String| {
            let state = if attempts >= MAX_ATTEMPTS { DeliveryState::Failed } else { DeliveryState::Pending };
            DeliveryOutcome {
                state,
                attempts,
                next_attempt_at: retry_at(now, attempts),
                last_status: status,
                last_error: error,
            }
        };
        let outcome = match answer {
            Answer::Accepted(status) => DeliveryOutcome {
                state: DeliveryState::Delivered,
                attempts,
                next_attempt_at: now,
                last_status: Some(status),
                last_error: String::new(),
            },
            Answer::Gone => {
                tracing::info!(webhook = %webhook.id, url = %webhook.url, "endpoint answered 410 Gone: webhook removed");
                db.delete_webhook(webhook.id).await?;
                return Ok(false);
            }
            Answer::Refused(status) => outcome(Some(status), format!("the endpoint answered {status}")),
            Answer::Unreachable(error) => outcome(None, error),
        };
        let accepted = outcome.state == DeliveryState::Delivered;
        let still_ours = db.finish_delivery(delivery, lease, &outcome, Timestamp::now()).await?;
        Ok(accepted && still_ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // RFC 4231 test case 2 gives HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let signed = signature("Jefe", 0, "what do ya want for nothing?");
        assert_ne!(signed, signature("Jefe", 1, "what do ya want for nothing?"), "the time is signed too");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(signed, format!("t=0,v1={}", hex::encode(mac.finalize().into_bytes())));
        let plain =
            Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap().chain_update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(plain.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_wait_longer_each_time_with_a_little_jitter() {
        let now = Timestamp::from_millis(0);
        for (attempts, base) in [(1, 30), (2, 60), (3, 120), (12, RETRY_CAP_SECONDS)] {
            let wait = retry_at(now, attempts).millis() / 1000;
            assert!((base..=base + base / 5).contains(&wait), "after {attempts}: {wait}s");
        }
    }

    #[test]
    fn urls_and_events_are_checked() {
        assert_eq!(endpoint("https://hooks.example/in?x=1").unwrap(), "https://hooks.example/in?x=1");
        for bad in ["ftp://x.example/", "hooks.example/in", "http://", "mailto:a@b.c"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
        let asked = |list: &[&str]| events(&list.iter().map(ToString::to_string).collect::<Vec<_>>());
        assert_eq!(asked(&["BOX_EDIT", "BOX_EDIT", "TASK_CREATE"]).unwrap(), ["BOX_EDIT", "TASK_CREATE"]);
        assert_eq!(asked(&["BOX_EDIT", "*"]).unwrap(), ["*"]);
        assert!(asked(&[]).is_err());
        assert!(asked(&["BOX_EXPLODE"]).unwrap_err().to_string().contains("BOX_EXPLODE"));
    }
}
