//! Mail out: composing messages into a workspace's outbox and the sender round that moves
//! them through their states (scheduled → queued → sending → sent, or deferred, failed,
//! expired, suppressed) over the configured SMTP relay, a global rate and per-domain
//! concurrency. Also the outbox's status for admins, the suppression list, one-click
//! unsubscribe (RFC 8058) and provider delivery events.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sb_mail::{ListUnsubscribe, Mailbox, OutgoingMail, Relay, Throttle};
use sb_store::{MailOutcome, MailRecord, MailState, NewMail, WorkspaceDb};
use sb_types::{MailId, Timestamp, WorkspaceId};

use crate::{Access, CoreError, Permission, Switchboard};

/// Attempts before a message that keeps failing transiently is given up on.
pub const MAIL_MAX_ATTEMPTS: i64 = 8;
/// The wait after the first transient failure; each later one doubles, up to the cap.
const RETRY_BASE_SECONDS: i64 = 60;
const RETRY_CAP_SECONDS: i64 = 3600;
/// How long a sender holds a claimed message before another may take it: well past the
/// relay's 30 s timeout, since a claim of twice `IN_FLIGHT` goes out `IN_FLIGHT` at a time.
const LEASE_SECONDS: i64 = 90;
/// At most how many messages are in flight at once, and how many one claim takes.
const IN_FLIGHT: usize = 16;
const CLAIM_BATCH: i64 = 2 * IN_FLIGHT as i64;

/// How the server sends mail, from the configuration.
#[derive(Clone)]
pub struct MailSetup {
    /// The domain of reply addresses, Message-IDs and the default sender.
    pub domain: String,
    /// The From of check-in mail.
    pub from: Mailbox,
    /// The envelope sender (bounces go here).
    pub envelope_from: String,
    /// The server's address as people's browsers reach it, for links in mail.
    pub public_url: String,
    /// Where mail goes; without one, mail waits in the outbox.
    pub relay: Option<Relay>,
    pub dkim: Option<Arc<sb_mail::Dkim>>,
    pub throttle: Arc<Throttle>,
}

impl MailSetup {
    /// Mail for `domain` that waits in the outbox (no relay), for tests and first starts.
    pub fn local(domain: &str, public_url: &str) -> MailSetup {
        MailSetup {
            domain: domain.to_owned(),
            from: Mailbox { name: Some("Switchboard".into()), address: format!("checkins@{domain}") },
            envelope_from: format!("bounces@{domain}"),
            public_url: public_url.trim_end_matches('/').to_owned(),
            relay: None,
            dkim: None,
            throttle: Arc::new(Throttle::new(0, 4)),
        }
    }
}

/// A message to compose.
pub(crate) struct Compose<'a> {
    pub kind: &'a str,
    pub dedupe_key: String,
    pub dedupe_group: String,
    pub to: Mailbox,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub state: MailState,
    pub send_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A message in the outbox, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: MailId,
    pub kind: String,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub state: &'static str,
    pub send_at: Timestamp,
    pub expires_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub attempts: i64,
    pub last_code: Option<i64>,
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One attempt at a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttempt {
    pub attempt: i64,
    pub at: Timestamp,
    pub outcome: &'static str,
    pub code: Option<i64>,
    pub enhanced: Option<String>,
    pub detail: String,
}

/// What a sender round did, summed over workspaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailRound {
    pub queued: u64,
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
    pub expired: u64,
    pub suppressed: u64,
}

fn outbox_mail(record: MailRecord) -> OutboxMail {
    OutboxMail {
        id: record.id,
        kind: record.kind,
        message_id: record.message_id,
        recipient: record.recipient,
        subject: record.subject,
        state: record.state.as_str(),
        send_at: record.send_at,
        expires_at: record.expires_at,
        next_attempt_at: record.next_attempt_at,
        attempts: record.attempts,
        last_code: record.last_code,
        last_error: record.last_error,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// When to try again after `attempts` attempts: doubling waits with up to a fifth added at
/// random, so that a relay's hiccup does not bring every message back at the same second.
fn retry_at(now: Timestamp, attempts: i64) -> Timestamp {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let wait = RETRY_BASE_SECONDS.saturating_mul(1_i64 << exponent).min(RETRY_CAP_SECONDS);
    let jitter = rand::thread_rng().gen_range(0..=wait / 5);
    Timestamp::from_millis(now.millis() + (wait + jitter) * 1000)
}

/// The Message-ID of the outbox row `id` of `workspace`: it names both, so a provider's report
/// about it finds its way back.
fn message_id(id: MailId, workspace: WorkspaceId, domain: &str) -> String {
    format!("{id}.{workspace}@{domain}")
}

/// The workspace a Message-ID of ours belongs to.
pub(crate) fn workspace_of_message(message_id: &str) -> Option<WorkspaceId> {
    let local = message_id.trim_matches(['<', '>']).split('@').next()?;
    WorkspaceId::parse(local.split('.').nth(1)?).ok()
}

impl Switchboard {
    /// Sets how mail is sent (from `serve`, and in tests).
    pub fn set_mail_setup(&self, setup: MailSetup) {
        *self.inner.mail.write().unwrap_or_else(std::sync::PoisonError::into_inner) = setup;
    }

    pub(crate) fn mail_setup(&self) -> MailSetup {
        self.inner.mail.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The one-click unsubscribe link for `address` in `workspace`.
    pub(crate) fn unsubscribe_url(&self, workspace: WorkspaceId, address: &str) -> String {
        let address = hex::encode(address.to_ascii_lowercase());
        let signature = self.secret().sign("unsubscribe", &format!("{workspace}:{address}"));
        format!(
            "{}/mail/unsubscribe/{workspace}.{address}.{}",
            self.mail_setup().public_url,
            &signature[..32]
        )
    }

    /// Whom an unsubscribe token names, if it is one of ours.
    fn unsubscribe_target(&self, token: &str) -> Option<(WorkspaceId, String)> {
        let mut parts = token.split('.');
        let (workspace, address, signature) = (parts.next()?, parts.next()?, parts.next()?);
        let expected = self.secret().sign("unsubscribe", &format!("{workspace}:{address}"));
        let matches = subtle::ConstantTimeEq::ct_eq(&expected.as_bytes()[..32], signature.as_bytes());
        if parts.next().is_some() || !bool::from(matches) {
            return None;
        }
        let workspace = WorkspaceId::parse(workspace).ok()?;
        let address = String::from_utf8(hex::decode(address).ok()?).ok()?;
        Some((workspace, address))
    }

    /// The address an unsubscribe token names (for the confirmation page), or `NotFound`.
    pub async fn unsubscribe_address(&self, token: &str) -> Result<String, CoreError> {
        let (workspace, address) =
            self.unsubscribe_target(token).ok_or(CoreError::NotFound("unsubscribe link"))?;
        if !self.workspace_exists(workspace).await? {
            return Err(CoreError::NotFound("unsubscribe link"));
        }
        Ok(address)
    }

    /// One-click unsubscribe: puts the token's address on its workspace's suppression list.
    pub async fn unsubscribe(&self, token: &str) -> Result<String, CoreError> {
        let (workspace, address) =
            self.unsubscribe_target(token).ok_or(CoreError::NotFound("unsubscribe link"))?;
        if !self.workspace_exists(workspace).await? {
            return Err(CoreError::NotFound("unsubscribe link"));
        }
        let db = self.store().workspace_db(workspace).await?;
        db.suppress(&address, "unsubscribe", "one-click unsubscribe", Timestamp::now()).await?;
        Ok(address)
    }

    /// Composes messages into `db`'s outbox; returns how many were new (a dedupe key already
    /// used makes none; a message that cannot be composed is logged and left out).
    pub(crate) async fn queue_mail(
        &self,
        db: &WorkspaceDb,
        messages: Vec<Compose<'static>>,
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        // Building (and DKIM-signing) tens of thousands of messages is CPU work: off the reactor.
        let switchboard = self.clone();
        let workspace = db.workspace();
        let rows = tokio::task::spawn_blocking(move || switchboard.compose(workspace, messages))
            .await
            .map_err(|e| CoreError::Unavailable(format!("mail composer stopped: {e}")))?;
        Ok(db.insert_mails(&rows, now).await?)
    }

    /// The outbox rows of `messages`; one that cannot be composed (an address or name the
    /// builder refuses) is logged and left out, so it does not hold up everyone else's mail.
    fn compose(&self, workspace: WorkspaceId, messages: Vec<Compose<'static>>) -> Vec<NewMail> {
        let setup = self.mail_setup();
        let mut rows = Vec::with_capacity(messages.len());
        for message in messages {
            let id = MailId::generate();
            let message_id = message_id(id, workspace, &setup.domain);
            let outgoing = OutgoingMail {
                message_id: message_id.clone(),
                from: setup.from.clone(),
                to: message.to.clone(),
                reply_to: message.reply_to.map(|address| Mailbox { name: setup.from.name.clone(), address }),
                subject: message.subject.clone(),
                date_unix: message.send_at.millis() / 1000,
                text: message.text,
                html: message.html,
                in_reply_to: None,
                // One-click unsubscribe (RFC 8058) needs an https:// link; a server reached over
                // plain http offers none rather than a link mail providers would not honour.
                list_unsubscribe: setup.public_url.starts_with("https://").then(|| ListUnsubscribe {
                    https: self.unsubscribe_url(workspace, &message.to.address),
                    mailto: None,
                }),
                auto_submitted: true,
            };
            let bytes = match outgoing.to_bytes(setup.dkim.as_deref()) {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::warn!(to = %message.to.address, %error, "cannot compose mail; not sent");
                    continue;
                }
            };
            rows.push(NewMail {
                id,
                kind: message.kind.to_owned(),
                dedupe_key: message.dedupe_key,
                dedupe_group: message.dedupe_group,
                message_id,
                recipient: message.to.address.to_ascii_lowercase(),
                envelope_from: setup.envelope_from.clone(),
                subject: message.subject,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                state: message.state,
                send_at: message.send_at,
                expires_at: message.expires_at,
            });
        }
        rows
    }

    /// One sender round in every workspace as of `now`. Without a relay, messages are moved
    /// along (queued, expired, suppressed) but none is sent.
    pub async fn run_mail(&self, now: Timestamp) -> Result<MailRound, CoreError> {
        let mut total = MailRound::default();
        for workspace in self.store().list_workspaces().await? {
            match self.run_workspace_mail(workspace.id, now).await {
                Ok(round) => {
                    total.queued += round.queued;
                    total.sent += round.sent;
                    total.deferred += round.deferred;
                    total.failed += round.failed;
                    total.expired += round.expired;
                    total.suppressed += round.suppressed;
                }
                Err(error) => tracing::warn!(workspace = %workspace.id, %error, "mail round failed"),
            }
        }
        Ok(total)
    }

    async fn run_workspace_mail(
        &self,
        workspace: WorkspaceId,
        now: Timestamp,
    ) -> Result<MailRound, CoreError> {
        let db = self.store().workspace_db(workspace).await?;
        let promoted = db.promote_mail(now).await?;
        let mut round = MailRound {
            queued: promoted.queued + promoted.reclaimed,
            expired: promoted.expired,
            suppressed: promoted.suppressed,
            ..MailRound::default()
        };
        let setup = self.mail_setup();
        let Some(relay) = setup.relay.clone() else {
            return Ok(round);
        };
        let owner = format!("{:016x}", rand::thread_rng().r#gen::<u64>());
        loop {
            let lease = Timestamp::now().plus_seconds(LEASE_SECONDS);
            let claimed = db.claim_mail(&owner, lease, CLAIM_BATCH, Timestamp::now()).await?;
            if claimed.is_empty() {
                break;
            }
            let outcomes = self.send_claimed(&db, &relay, &setup, &owner, claimed).await;
            for state in outcomes? {
                match state {
                    MailState::Sent => round.sent += 1,
                    MailState::Deferred => round.deferred += 1,
                    MailState::Failed => round.failed += 1,
                    _ => {}
                }
            }
        }
        Ok(round)
    }

    /// Sends `claimed` with at most `IN_FLIGHT` at once, recording outcomes as soon as they are
    /// known: whatever finished while the last record was being written goes in the next one
    /// transaction (group commit, so the disk's flush does not bound the rate). A message holds
    /// its slot until its outcome is written, so at most `IN_FLIGHT` messages are sent or being
    /// sent without a written outcome. A crash loses only those outcomes; those messages go out
    /// again after the lease (under their Message-IDs), so at most `IN_FLIGHT` repeat.
    async fn send_claimed(
        &self,
        db: &WorkspaceDb,
        relay: &Relay,
        setup: &MailSetup,
        owner: &str,
        claimed: Vec<MailRecord>,
    ) -> Result<Vec<MailState>, CoreError> {
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        for mail in claimed {
            let (relay, throttle, done, slots) =
                (relay.clone(), setup.throttle.clone(), done.clone(), slots.clone());
            tokio::spawn(async move {
                let Ok(slot) = slots.acquire_owned().await else { return };
                let outcome = attempt(&relay, &throttle, &mail).await;
                let _ = done.send((mail, outcome, slot));
            });
        }
        drop(done);
        let mut states = Vec::new();
        while let Some((mail, outcome, slot)) = finished.recv().await {
            let (mut batch, mut held) = (vec![(mail, outcome)], vec![slot]);
            while let Ok((mail, outcome, slot)) = finished.try_recv() {
                batch.push((mail, outcome));
                held.push(slot);
            }
            let recorded = db.finish_mail(&batch, owner, Timestamp::now()).await?;
            // Written: their slots go to the next messages.
            drop(held);
            if recorded < batch.len() {
                tracing::warn!(
                    lost = batch.len() - recorded,
                    "leases ran out while mail was being sent; those messages will go out again"
                );
            }
            states.extend(batch.iter().map(|(_, outcome)| outcome.state));
        }
        Ok(states)
    }

    /// The workspace's outbox, newest change first, optionally in one state.
    pub async fn mail_outbox(
        &self,
        access: &Access,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, CoreError> {
        access.require(Permission::Admin)?;
        let state = state
            .filter(|s| !s.is_empty())
            .map(|s| {
                MailState::parse(s).map_err(|_| {
                    let known: Vec<&str> = MailState::ALL.iter().map(|s| s.as_str()).collect();
                    CoreError::Invalid(format!(
                        "unknown mail state {s:?}; expected one of {}",
                        known.join(", ")
                    ))
                })
            })
            .transpose()?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.recent_mail(state, limit.clamp(1, 500)).await?.into_iter().map(outbox_mail).collect())
    }

    /// How many messages are in each state.
    pub async fn mail_counts(&self, access: &Access) -> Result<Vec<(&'static str, i64)>, CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.mail_counts().await?.into_iter().map(|(s, n)| (s.as_str(), n)).collect())
    }

    /// One message with every attempt at it, and its bytes as sent.
    pub async fn outbox_mail(
        &self,
        access: &Access,
        id: &str,
    ) -> Result<(OutboxMail, Vec<MailAttempt>, String), CoreError> {
        access.require(Permission::Admin)?;
        let id = MailId::parse(id).map_err(|_| CoreError::NotFound("mail"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let mail = db.mail(id).await?.ok_or(CoreError::NotFound("mail"))?;
        let attempts = db
            .mail_attempts(id)
            .await?
            .into_iter()
            .map(|a| MailAttempt {
                attempt: a.attempt,
                at: a.at,
                outcome: a.outcome.as_str(),
                code: a.code,
                enhanced: a.enhanced,
                detail: a.detail,
            })
            .collect();
        let raw = mail.body.clone();
        Ok((outbox_mail(mail), attempts, raw))
    }

    /// The suppression list: (address, reason, detail, since).
    pub async fn suppressions(&self, access: &Access) -> Result<Vec<sb_store::SuppressionRecord>, CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.suppressions().await?)
    }

    /// Takes `address` off the suppression list.
    pub async fn unsuppress(&self, access: &Access, address: &str) -> Result<(), CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        if db.unsuppress(address).await? { Ok(()) } else { Err(CoreError::NotFound("suppressed address")) }
    }

    /// Where the IMAP poller got to in `mailbox`: (UIDVALIDITY, last UID).
    pub async fn imap_cursor(&self, mailbox: &str) -> Result<Option<(u32, u32)>, CoreError> {
        Ok(self.store().imap_cursor(mailbox).await?.map(|c| (c.uid_validity, c.last_uid)))
    }

    /// Moves the IMAP poller's cursor of `mailbox` on.
    pub async fn put_imap_cursor(
        &self,
        mailbox: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<(), CoreError> {
        let cursor = sb_store::ImapCursorRecord { uid_validity, last_uid };
        Ok(self.store().put_imap_cursor(mailbox, cursor).await?)
    }

    /// Applies a provider's delivery reports (the SendGrid Event Webhook, already verified):
    /// bounces and complaints move the message on and suppress the address; each event once.
    /// Returns how many were applied.
    pub async fn apply_delivery_events(
        &self,
        events: &[sb_mail::providers::DeliveryEvent],
    ) -> Result<usize, CoreError> {
        use sb_mail::providers::DeliveryEventKind as Kind;
        let mut applied = 0;
        for event in events {
            let Some(message_id) = event.message_id.as_deref() else { continue };
            let Some(workspace) = workspace_of_message(message_id) else { continue };
            if !self.workspace_exists(workspace).await? {
                continue;
            }
            let (state, suppress) = match &event.kind {
                Kind::Bounce { permanent: true } => (Some(MailState::Bounced), Some("bounce")),
                Kind::SpamReport => (Some(MailState::Complained), Some("complaint")),
                Kind::Unsubscribe => (None, Some("unsubscribe")),
                _ => continue,
            };
            let event_id =
                event.event_id.clone().unwrap_or_else(|| format!("{message_id}:{}", event.timestamp));
            let db = self.store().workspace_db(workspace).await?;
            let reason = suppress.map(|r| (r, event.reason.as_str()));
            if db
                .apply_mail_event(
                    &event_id,
                    Some(message_id.trim_matches(['<', '>'])),
                    &event.email,
                    state,
                    reason,
                    Timestamp::now(),
                )
                .await?
            {
                applied += 1;
            }
        }
        Ok(applied)
    }
}

/// Sends one claimed message through the relay: how it went.
async fn attempt(relay: &Relay, throttle: &Throttle, mail: &MailRecord) -> MailOutcome {
    let domain = mail.recipient.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let permit = throttle.acquire(&domain).await;
    let sent =
        relay.send(&mail.envelope_from, std::slice::from_ref(&mail.recipient), mail.body.as_bytes()).await;
    drop(permit);
    let now = Timestamp::now();
    match sent {
        Ok(reply) => MailOutcome {
            state: MailState::Sent,
            next_attempt_at: now,
            code: Some(i64::from(reply.code)),
            enhanced: None,
            detail: reply.text,
        },
        Err(failure) => {
            let state = if failure.permanent || mail.attempts >= MAIL_MAX_ATTEMPTS {
                MailState::Failed
            } else {
                MailState::Deferred
            };
            MailOutcome {
                state,
                next_attempt_at: retry_at(now, mail.attempts),
                code: failure.code.map(i64::from),
                enhanced: failure.enhanced,
                detail: failure.text,
            }
        }
    }
}

/// How long `serve` waits between sender rounds.
pub const MAIL_ROUND_INTERVAL: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_name_their_workspace() {
        let workspace = WorkspaceId::generate();
        let id = message_id(MailId::generate(), workspace, "in.example.test");
        assert_eq!(workspace_of_message(&format!("<{id}>")), Some(workspace));
        assert_eq!(workspace_of_message("<abc@example.test>"), None);
    }

    #[test]
    fn retries_wait_longer_each_time() {
        let now = Timestamp::from_millis(0);
        for (attempts, base) in [(1, 60), (2, 120), (3, 240), (8, RETRY_CAP_SECONDS)] {
            let wait = retry_at(now, attempts).millis() / 1000;
            assert!((base..=base + base / 5).contains(&wait), "after {attempts}: {wait}s");
        }
    }
}
