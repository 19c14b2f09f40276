//! The mail side of `serve`: the sender and check-in planner rounds, the SMTP listener and
//! the IMAP poller, each a task that stops with the server. Mail they take in goes to
//! `Switchboard::receive_mail`, like the providers' webhooks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sb_config::MailConfig;
use sb_core::{MailSetup, Receipt, ReceivedVia, Switchboard};
use sb_mail::{
    ImapConfig, ImapCursor, MailSink, Mailbox, ReceivedMail, SinkError, SmtpListenerConfig, Throttle,
};
use sb_types::Timestamp;
use tokio::sync::watch;

/// How often the check-in planner runs (prompts, digests, reminders).
const CHECKIN_ROUND_EVERY: Duration = Duration::from_secs(15);
/// How long one IMAP wait lasts before polling again (servers drop IDLE after 30 minutes).
const IMAP_WAIT: Duration = Duration::from_secs(300);
/// How long to wait after an IMAP failure before trying again.
const IMAP_RETRY: Duration = Duration::from_secs(30);
/// Messages the first IMAP poll of a mailbox takes in (older ones are left alone).
const IMAP_FIRST_IMPORT: u32 = 500;

/// `Name <address>` or a bare address.
fn mailbox(text: &str) -> anyhow::Result<Mailbox> {
    let text = text.trim();
    let (name, address) = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = text[..open].trim().trim_matches('"').trim();
            (Some(name.to_owned()).filter(|n| !n.is_empty()), text[open + 1..close].trim())
        }
        _ => (None, text),
    };
    if !address.contains('@') {
        anyhow::bail!(
            "invalid --mail-from {text:?}: expected an address such as \"Team <checkins@example.com>\""
        );
    }
    Ok(Mailbox { name, address: address.to_owned() })
}

/// How mail goes out, from the configuration.
pub(super) fn setup(config: &MailConfig) -> anyhow::Result<MailSetup> {
    let from = mailbox(&config.from)?;
    let relay = match &config.smtp_relay {
        None => None,
        Some(url) => {
            let relay_config: sb_mail::RelayConfig =
                url.parse().map_err(|e| anyhow::anyhow!("invalid --smtp-relay: {e}"))?;
            Some(
                sb_mail::Relay::new(&relay_config)
                    .map_err(|e| anyhow::anyhow!("invalid --smtp-relay: {e}"))?,
            )
        }
    };
    let dkim = match &config.dkim_key_file {
        None => None,
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --dkim-key-file {}", path.display()))?;
            let domain = from.address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
            let dkim = sb_mail::Dkim::from_pem(&pem, &domain, &config.dkim_selector)
                .map_err(|e| anyhow::anyhow!("invalid --dkim-key-file {}: {e}", path.display()))?;
            Some(Arc::new(dkim))
        }
    };
    Ok(MailSetup {
        domain: config.domain.clone(),
        envelope_from: format!("bounces@{}", config.domain),
        from,
        public_url: config.public_url.clone(),
        relay,
        dkim,
        throttle: Arc::new(Throttle::new(config.rate, config.domain_concurrency)),
    })
}

/// Runs the planner and the sender until told to stop. The sender runs every second; the
/// planner every `CHECKIN_ROUND_EVERY`. A stop in the middle leaves leased messages to be
/// sent again after their lease.
pub(super) async fn rounds(switchboard: Switchboard, mut stop: watch::Receiver<bool>) {
    let mut last_plan: Option<tokio::time::Instant> = None;
    loop {
        if last_plan.is_none_or(|at| at.elapsed() >= CHECKIN_ROUND_EVERY) {
            last_plan = Some(tokio::time::Instant::now());
            tokio::select! {
                round = switchboard.run_checkins(Timestamp::now()) => match round {
                    Ok(r) if r.prompts + r.digests + r.reminders + r.cancelled > 0 => tracing::info!(
                        prompts = r.prompts, digests = r.digests, reminders = r.reminders, cancelled = r.cancelled,
                        "check-in mail planned"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "check-in round failed"),
                },
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
        tokio::select! {
            round = switchboard.run_mail(Timestamp::now()) => match round {
                Ok(r) if r.sent + r.deferred + r.failed + r.expired + r.suppressed > 0 => tracing::info!(
                    sent = r.sent, deferred = r.deferred, failed = r.failed, expired = r.expired,
                    suppressed = r.suppressed, "mail round"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "mail round failed"),
            },
            _ = stop.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(sb_core::MAIL_ROUND_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Hands what the SMTP listener receives to the one inbound path.
struct Sink(Switchboard);

impl MailSink for Sink {
    fn accepts_recipient(&self, address: &str) -> bool {
        self.0.accepts_recipient(address)
    }

    async fn deliver(&self, message: ReceivedMail) -> Result<(), SinkError> {
        let receipt = self
            .0
            .receive_mail(message.raw, ReceivedVia::Smtp, message.envelope_from, message.envelope_to)
            .await
            .map_err(|e| SinkError::Transient(e.to_string()))?;
        match receipt {
            Receipt::Rejected { reason } => Err(SinkError::Permanent(reason)),
            _ => Ok(()),
        }
    }
}

/// Binds the SMTP listener now (so a bad address fails the start) and serves it until stop.
pub(super) async fn smtp_listener(
    switchboard: &Switchboard,
    config: &MailConfig,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = config.smtp_listen else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for SMTP on {address}"))?;
    println!("Receiving mail for {} by SMTP at {}", config.domain, listener.local_addr()?);
    let settings = SmtpListenerConfig::new(config.domain.clone(), [config.domain.clone()]);
    let sink = Arc::new(Sink(switchboard.clone()));
    Ok(Some(tokio::spawn(async move {
        let mut stop = stop;
        let shutdown = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(error) = sb_mail::serve_smtp(listener, settings, sink, shutdown).await {
            tracing::error!(%error, "the SMTP listener failed");
        }
    })))
}

/// Reads `imap://user:password@host[:port][/MAILBOX]` (or `imaps://`).
fn imap_config(url: &str) -> anyhow::Result<ImapConfig> {
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("invalid --imap-url: {e}"))?;
    let tls = match parsed.scheme() {
        "imap" => false,
        "imaps" => true,
        other => anyhow::bail!("invalid --imap-url: scheme {other:?}, expected imap or imaps"),
    };
    let host = parsed.host_str().filter(|h| !h.is_empty()).context("invalid --imap-url: no host")?;
    let decode = |text: &str| {
        url::form_urlencoded::parse(format!("x={text}").as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    let username =
        decode(parsed.username()).filter(|u| !u.is_empty()).context("invalid --imap-url: no user")?;
    let password = parsed.password().and_then(decode).context("invalid --imap-url: no password")?;
    let mailbox = parsed.path().trim_start_matches('/');
    Ok(ImapConfig {
        host: host.to_owned(),
        port: parsed.port().unwrap_or(if tls { 993 } else { 143 }),
        tls,
        username,
        password,
        mailbox: if mailbox.is_empty() { "INBOX".into() } else { mailbox.to_owned() },
        first_import_limit: IMAP_FIRST_IMPORT,
    })
}

/// Polls the IMAP mailbox until stop: fetch what is new, take each message in, move the
/// stored cursor on, then wait (IDLE where offered).
pub(super) fn imap_poller(
    switchboard: &Switchboard,
    config: &MailConfig,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(url) = &config.imap_url else { return Ok(None) };
    let imap = imap_config(url)?;
    let key = format!("{}@{}:{}/{}", imap.username, imap.host, imap.port, imap.mailbox);
    let switchboard = switchboard.clone();
    Ok(Some(tokio::spawn(async move {
        let mut stop = stop;
        loop {
            let pause = match poll_once(&switchboard, &imap, &key).await {
                Ok(cursor) => {
                    tokio::select! {
                        waited = sb_mail::wait_for_mail(&imap, cursor, IMAP_WAIT) => match waited {
                            Ok(_) => Duration::ZERO,
                            Err(error) => {
                                tracing::warn!(%error, "imap wait failed");
                                IMAP_RETRY
                            }
                        },
                        _ = stop.wait_for(|stop| *stop) => return,
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "imap poll failed");
                    IMAP_RETRY
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    })))
}

/// Takes in every new message of the mailbox; returns the cursor reached.
async fn poll_once(
    switchboard: &Switchboard,
    imap: &ImapConfig,
    key: &str,
) -> anyhow::Result<Option<ImapCursor>> {
    let mut cursor = switchboard
        .imap_cursor(key)
        .await?
        .map(|(uid_validity, last_uid)| ImapCursor { uid_validity, last_uid });
    loop {
        let (mails, next) = sb_mail::fetch_new(imap, cursor).await?;
        for mail in &mails {
            let receipt =
                switchboard.receive_mail(mail.raw.clone(), ReceivedVia::Imap, None, Vec::new()).await?;
            tracing::info!(uid = mail.uid, outcome = receipt.outcome(), "imap message taken in");
        }
        switchboard.put_imap_cursor(key, next.uid_validity, next.last_uid).await?;
        cursor = Some(next);
        if mails.is_empty() {
            return Ok(cursor);
        }
    }
}
