//! The IMAP poller: fetches a mailbox's new messages by UID (RFC 3501) for teams that read
//! replies from an existing mailbox, and waits for new ones with IDLE (RFC 2177) where the
//! server offers it. Read-only: the mailbox is opened with EXAMINE and nothing is flagged,
//! moved or deleted; the caller's [`ImapCursor`] is the only state.

mod connection;

use std::collections::HashMap;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Mailbox;
use futures_util::TryStreamExt;
use sb_types::ErrorKind;

use connection::{ImapSession, within};

/// Where the mailbox is and how to log in.
#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    /// Implicit TLS (port 993 usually); plain text otherwise, for a server on the same host.
    pub tls: bool,
    pub username: String,
    pub password: String,
    /// The mailbox to read, `INBOX` usually.
    pub mailbox: String,
    /// How many of the newest messages the first fetch (or the first after a UIDVALIDITY
    /// change) imports; older ones are skipped for good.
    pub first_import_limit: u32,
}

impl std::fmt::Debug for ImapConfig {
    // The password stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("mailbox", &self.mailbox)
            .field("first_import_limit", &self.first_import_limit)
            .finish_non_exhaustive()
    }
}

/// How far a mailbox has been read: every message with a UID up to `last_uid` under this
/// `uid_validity` has been returned (or skipped by the first import's limit). The caller
/// stores it with the messages it imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapCursor {
    pub uid_validity: u32,
    pub last_uid: u32,
}

/// One message, exactly as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMail {
    pub uid: u32,
    pub raw: Vec<u8>,
}

/// Why a poll failed. Nothing is changed on the server, so any of them can be retried.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("could not connect to the imap server: {0}")]
    Connect(#[source] std::io::Error),
    #[error("tls with the imap server failed: {0}")]
    Tls(#[source] std::io::Error),
    #[error("the imap server name is not valid for tls: {0}")]
    ServerName(String),
    #[error("the imap server refused the login: {0}")]
    Login(String),
    #[error("the mailbox could not be opened: {0}")]
    Mailbox(String),
    #[error("the imap server gives no uidvalidity for the mailbox, so it cannot be read incrementally")]
    NoUidValidity,
    #[error("the imap server did not answer in time")]
    Timeout,
    #[error("imap protocol error: {0}")]
    Protocol(#[source] async_imap::error::Error),
}

impl ImapError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImapError::Login(_) => ErrorKind::Unauthenticated,
            ImapError::Mailbox(_) => ErrorKind::NotFound,
            ImapError::ServerName(_) => ErrorKind::Invalid,
            ImapError::Connect(_)
            | ImapError::Tls(_)
            | ImapError::NoUidValidity
            | ImapError::Timeout
            | ImapError::Protocol(_) => ErrorKind::Unavailable,
        }
    }
}

impl From<async_imap::error::Error> for ImapError {
    fn from(error: async_imap::error::Error) -> Self {
        ImapError::Protocol(error)
    }
}

/// A command's answer should come within this; a fetch of large messages gets longer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);
/// One call returns at most this many bytes of messages (but always at least one message),
/// so memory stays bounded after a long outage; the caller calls again until it gets none.
const FETCH_BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// And at most this many messages, which keeps the size query's command line short.
const FETCH_BATCH_COUNT: usize = 500;

/// The messages that arrived after `cursor`, oldest first, and the cursor to store with
/// them. Without a cursor, or when the mailbox's UIDVALIDITY changed (the server renumbered
/// it), only the newest `first_import_limit` messages are returned. A call returns at most
/// about 64 MiB of messages: call again until the list is empty.
pub async fn fetch_new(
    config: &ImapConfig,
    cursor: Option<ImapCursor>,
) -> Result<(Vec<FetchedMail>, ImapCursor), ImapError> {
    let mut session = connection::open(config).await?;
    let result = fetch_from(&mut session, config, cursor).await;
    connection::close(session).await;
    result
}

async fn fetch_from(
    session: &mut ImapSession,
    config: &ImapConfig,
    cursor: Option<ImapCursor>,
) -> Result<(Vec<FetchedMail>, ImapCursor), ImapError> {
    let mailbox = examine(session, config).await?;
    let uid_validity = mailbox.uid_validity.ok_or(ImapError::NoUidValidity)?;
    let resumed = cursor.filter(|cursor| cursor.uid_validity == uid_validity);
    if cursor.is_some() && resumed.is_none() {
        tracing::warn!(mailbox = %config.mailbox, uid_validity, "imap uidvalidity changed; importing the newest messages again");
    }
    let after = resumed.map_or(0, |cursor| cursor.last_uid);
    // Every UID below UIDNEXT that exists now is covered by the search below, and later
    // messages get larger UIDs, so the cursor may move up to UIDNEXT - 1 when all is fetched.
    let seen_up_to = mailbox.uid_next.map_or(after, |next| next.saturating_sub(1).max(after));
    if resumed.is_some() && seen_up_to == after {
        return Ok((Vec::new(), ImapCursor { uid_validity, last_uid: after }));
    }
    let query = format!("UID {}:*", after.saturating_add(1));
    let found = within(COMMAND_TIMEOUT, async { Ok(session.uid_search(&query).await?) }).await?;
    // `n:*` also matches the largest UID when it is below n (RFC 3501 §6.4.8).
    let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > after).collect();
    uids.sort_unstable();
    if resumed.is_none() {
        let skipped = uids.len().saturating_sub(config.first_import_limit as usize);
        uids.drain(..skipped);
    }
    if uids.is_empty() {
        return Ok((Vec::new(), ImapCursor { uid_validity, last_uid: seen_up_to }));
    }
    let batch = batch_by_size(session, &uids).await?;
    let complete = batch.len() == uids.len();
    let mut mails = fetch_bodies(session, &batch).await?;
    mails.sort_unstable_by_key(|mail| mail.uid);
    let batch_end = batch.last().copied().unwrap_or(after);
    let last_uid = if complete { seen_up_to.max(batch_end) } else { batch_end };
    Ok((mails, ImapCursor { uid_validity, last_uid }))
}

/// Waits until the mailbox may hold messages after `cursor` (`true`) or `timeout` passes
/// (`false`). With IDLE the server's notice ends the wait early; without it this simply
/// waits, so the caller polls with [`fetch_new`] every `timeout`. A message that arrived
/// before the call (after `cursor`) returns `true` at once, so none is waited past.
pub async fn wait_for_mail(
    config: &ImapConfig,
    cursor: Option<ImapCursor>,
    timeout: Duration,
) -> Result<bool, ImapError> {
    let mut session = connection::open(config).await?;
    let mailbox = match examine(&mut session, config).await {
        Ok(mailbox) => mailbox,
        Err(error) => {
            connection::close(session).await;
            return Err(error);
        }
    };
    if has_news(cursor, &mailbox) {
        connection::close(session).await;
        return Ok(true);
    }
    let idle_offered =
        within(COMMAND_TIMEOUT, async { Ok(session.capabilities().await?.has_str("IDLE")) }).await;
    match idle_offered {
        Ok(true) => idle(session, timeout).await,
        Ok(false) => {
            connection::close(session).await;
            tokio::time::sleep(timeout).await;
            Ok(false)
        }
        Err(error) => {
            connection::close(session).await;
            Err(error)
        }
    }
}

async fn idle(session: ImapSession, timeout: Duration) -> Result<bool, ImapError> {
    let mut idle = session.idle();
    within(COMMAND_TIMEOUT, async { Ok(idle.init().await?) }).await?;
    let (wait, _interrupt) = idle.wait_with_timeout(timeout);
    // The library's timer restarts on every keep-alive ("* OK Still here"), so the caller's
    // deadline is kept here.
    let woken = match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(IdleResponse::NewData(_))) => Ok(true),
        Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) | Err(_) => Ok(false),
        Ok(Err(error)) => Err(ImapError::Protocol(error)),
    };
    if woken.is_ok() {
        // Ending IDLE and logging out are courtesies; the answer does not depend on them.
        if let Ok(Ok(session)) = tokio::time::timeout(COMMAND_TIMEOUT, idle.done()).await {
            connection::close(session).await;
        }
    }
    woken
}

fn has_news(cursor: Option<ImapCursor>, mailbox: &Mailbox) -> bool {
    let Some(cursor) = cursor else { return true };
    mailbox.uid_validity != Some(cursor.uid_validity)
        || mailbox.uid_next.is_some_and(|next| next > cursor.last_uid.saturating_add(1))
}

async fn examine(session: &mut ImapSession, config: &ImapConfig) -> Result<Mailbox, ImapError> {
    within(COMMAND_TIMEOUT, async {
        session.examine(&config.mailbox).await.map_err(|error| match error {
            async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                ImapError::Mailbox(text)
            }
            other => ImapError::Protocol(other),
        })
    })
    .await
}

/// The leading UIDs of `uids` (at most [`FETCH_BATCH_COUNT`]) whose messages add up to at
/// most [`FETCH_BATCH_BYTES`] (always at least one).
async fn batch_by_size(session: &mut ImapSession, uids: &[u32]) -> Result<Vec<u32>, ImapError> {
    let uids = &uids[..uids.len().min(FETCH_BATCH_COUNT)];
    let sizes: HashMap<u32, u32> = within(COMMAND_TIMEOUT, async {
        let fetches = session.uid_fetch(uid_set(uids), "(UID RFC822.SIZE)").await?;
        let sizes = fetches
            .try_filter_map(|fetch| async move { Ok(fetch.uid.map(|uid| (uid, fetch.size.unwrap_or(0)))) })
            .try_collect()
            .await?;
        Ok(sizes)
    })
    .await?;
    let mut total = 0u64;
    let mut batch = Vec::new();
    for &uid in uids {
        total += sizes.get(&uid).map_or(0, |size| u64::from(*size));
        if total > FETCH_BATCH_BYTES && !batch.is_empty() {
            break;
        }
        batch.push(uid);
    }
    Ok(batch)
}

async fn fetch_bodies(session: &mut ImapSession, uids: &[u32]) -> Result<Vec<FetchedMail>, ImapError> {
    within(FETCH_TIMEOUT, async {
        // BODY.PEEK leaves \Seen alone even where the mailbox is writable.
        let fetches = session.uid_fetch(uid_set(uids), "(UID BODY.PEEK[])").await?;
        let mails: Vec<FetchedMail> = fetches
            .try_filter_map(|fetch| async move {
                Ok(fetch.uid.zip(fetch.body()).map(|(uid, body)| FetchedMail { uid, raw: body.to_vec() }))
            })
            .try_collect()
            .await?;
        Ok(mails)
    })
    .await
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}
