//! Mail options: where mail goes out (an SMTP relay), where it comes in (an SMTP listener, an
//! IMAP mailbox, provider webhooks) and the names it carries. Flags and `SWITCHBOARD_*`
//! variables, or the `[mail]` table of the TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::ConfigError;

/// The domain of reply addresses and Message-IDs unless told otherwise.
pub const DEFAULT_MAIL_DOMAIN: &str = "localhost";
/// Messages per second the sender hands to the relay unless told otherwise.
pub const DEFAULT_MAIL_RATE: u32 = 50;
/// Connections at once to one recipient domain unless told otherwise.
pub const DEFAULT_MAIL_DOMAIN_CONCURRENCY: usize = 8;
/// The DKIM selector unless told otherwise.
pub const DEFAULT_DKIM_SELECTOR: &str = "switchboard";

/// Mail flags and variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MailOptions {
    /// Domain of check-in reply addresses (`checkin+…@DOMAIN`) and Message-IDs; the SMTP
    /// listener accepts mail for it only [default: localhost].
    #[arg(long, global = true, env = "SWITCHBOARD_MAIL_DOMAIN", value_name = "DOMAIN")]
    pub mail_domain: Option<String>,
    /// From of check-in mail [default: Switchboard <checkins@MAIL_DOMAIN>].
    #[arg(long, global = true, env = "SWITCHBOARD_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// The server's address as browsers reach it, for links in mail [default: http://LISTEN].
    #[arg(long, global = true, env = "SWITCHBOARD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// SMTP relay for outgoing mail: smtp://[user:pass@]host[:port] (plain),
    /// smtp+starttls://… or smtps://… (TLS). Without it, mail waits in the outbox.
    #[arg(long, global = true, env = "SWITCHBOARD_SMTP_RELAY", value_name = "URL")]
    pub smtp_relay: Option<String>,
    /// Most messages per second handed to the relay; 0 for no bound [default: 50].
    #[arg(long, global = true, env = "SWITCHBOARD_MAIL_RATE", value_name = "N")]
    pub mail_rate: Option<u32>,
    /// Most messages in flight to one recipient domain [default: 8].
    #[arg(long, global = true, env = "SWITCHBOARD_MAIL_DOMAIN_CONCURRENCY", value_name = "N")]
    pub mail_domain_concurrency: Option<usize>,
    /// PEM RSA key to DKIM-sign outgoing mail with (for the From's domain).
    #[arg(long, global = true, env = "SWITCHBOARD_DKIM_KEY_FILE", value_name = "FILE")]
    pub dkim_key_file: Option<PathBuf>,
    /// DKIM selector [default: switchboard].
    #[arg(long, global = true, env = "SWITCHBOARD_DKIM_SELECTOR", value_name = "NAME")]
    pub dkim_selector: Option<String>,
    /// Address of the SMTP listener for replies, e.g. 0.0.0.0:25 [default: off].
    #[arg(long, global = true, env = "SWITCHBOARD_SMTP_LISTEN", value_name = "ADDR")]
    pub smtp_listen: Option<String>,
    /// IMAP mailbox to poll for replies: imap://user:pass@host[:port][/MAILBOX] or imaps://…
    /// [default: off].
    #[arg(long, global = true, env = "SWITCHBOARD_IMAP_URL", value_name = "URL")]
    pub imap_url: Option<String>,
    /// Mailgun webhook signing key: turns on POST /inbound/mailgun.
    #[arg(long, global = true, env = "SWITCHBOARD_MAILGUN_SIGNING_KEY", value_name = "KEY")]
    pub mailgun_signing_key: Option<String>,
    /// user:password of the SendGrid Inbound Parse URL: turns on POST /inbound/sendgrid.
    #[arg(long, global = true, env = "SWITCHBOARD_SENDGRID_INBOUND_AUTH", value_name = "USER:PASSWORD")]
    pub sendgrid_inbound_auth: Option<String>,
    /// SendGrid's signed-webhook public key (base64): turns on POST /inbound/sendgrid/events.
    #[arg(long, global = true, env = "SWITCHBOARD_SENDGRID_PUBLIC_KEY", value_name = "KEY")]
    pub sendgrid_public_key: Option<String>,
    /// user:password of the Postmark inbound webhook URL: turns on POST /inbound/postmark.
    #[arg(long, global = true, env = "SWITCHBOARD_POSTMARK_INBOUND_AUTH", value_name = "USER:PASSWORD")]
    pub postmark_inbound_auth: Option<String>,
}

/// The `[mail]` table of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailFileOptions {
    mail_domain: Option<String>,
    mail_from: Option<String>,
    public_url: Option<String>,
    smtp_relay: Option<String>,
    mail_rate: Option<u32>,
    mail_domain_concurrency: Option<usize>,
    dkim_key_file: Option<PathBuf>,
    dkim_selector: Option<String>,
    smtp_listen: Option<String>,
    imap_url: Option<String>,
    mailgun_signing_key: Option<String>,
    sendgrid_inbound_auth: Option<String>,
    sendgrid_public_key: Option<String>,
    postmark_inbound_auth: Option<String>,
}

/// The validated mail configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub domain: String,
    pub from: String,
    pub public_url: String,
    pub smtp_relay: Option<String>,
    pub rate: u32,
    pub domain_concurrency: usize,
    pub dkim_key_file: Option<PathBuf>,
    pub dkim_selector: String,
    pub smtp_listen: Option<SocketAddr>,
    pub imap_url: Option<String>,
    pub mailgun_signing_key: Option<String>,
    pub sendgrid_inbound_auth: Option<(String, String)>,
    pub sendgrid_public_key: Option<String>,
    pub postmark_inbound_auth: Option<(String, String)>,
}

fn credentials(option: &'static str, value: Option<String>) -> Result<Option<(String, String)>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    match value.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok(Some((user.to_owned(), password.to_owned())))
        }
        _ => Err(ConfigError::Mail { option, message: "expected USER:PASSWORD".into() }),
    }
}

impl MailConfig {
    pub(crate) fn load(
        options: MailOptions,
        file: MailFileOptions,
        listen: SocketAddr,
    ) -> Result<MailConfig, ConfigError> {
        let domain = options
            .mail_domain
            .or(file.mail_domain)
            .unwrap_or_else(|| DEFAULT_MAIL_DOMAIN.into())
            .trim()
            .to_ascii_lowercase();
        if domain.is_empty() || domain.contains(['@', ' ', '/']) {
            return Err(ConfigError::Mail {
                option: "mail-domain",
                message: format!("{domain:?} is not a domain"),
            });
        }
        let smtp_listen = match options.smtp_listen.or(file.smtp_listen).filter(|v| !v.is_empty()) {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| ConfigError::Mail {
                option: "smtp-listen",
                message: format!("{text:?} is not an address such as 0.0.0.0:25"),
            })?),
        };
        let public_url = options.public_url.or(file.public_url).unwrap_or_else(|| format!("http://{listen}"));
        if !public_url.starts_with("http://") && !public_url.starts_with("https://") {
            return Err(ConfigError::Mail {
                option: "public-url",
                message: "must start with http:// or https://".into(),
            });
        }
        Ok(MailConfig {
            from: options
                .mail_from
                .or(file.mail_from)
                .unwrap_or_else(|| format!("Switchboard <checkins@{domain}>")),
            domain,
            public_url: public_url.trim_end_matches('/').to_owned(),
            smtp_relay: options.smtp_relay.or(file.smtp_relay).filter(|v| !v.is_empty()),
            rate: options.mail_rate.or(file.mail_rate).unwrap_or(DEFAULT_MAIL_RATE),
            domain_concurrency: options
                .mail_domain_concurrency
                .or(file.mail_domain_concurrency)
                .unwrap_or(DEFAULT_MAIL_DOMAIN_CONCURRENCY)
                .max(1),
            dkim_key_file: options.dkim_key_file.or(file.dkim_key_file),
            dkim_selector: options
                .dkim_selector
                .or(file.dkim_selector)
                .unwrap_or_else(|| DEFAULT_DKIM_SELECTOR.into()),
            smtp_listen,
            imap_url: options.imap_url.or(file.imap_url).filter(|v| !v.is_empty()),
            mailgun_signing_key: options
                .mailgun_signing_key
                .or(file.mailgun_signing_key)
                .filter(|v| !v.is_empty()),
            sendgrid_inbound_auth: credentials(
                "sendgrid-inbound-auth",
                options.sendgrid_inbound_auth.or(file.sendgrid_inbound_auth),
            )?,
            sendgrid_public_key: options
                .sendgrid_public_key
                .or(file.sendgrid_public_key)
                .filter(|v| !v.is_empty()),
            postmark_inbound_auth: credentials(
                "postmark-inbound-auth",
                options.postmark_inbound_auth.or(file.postmark_inbound_auth),
            )?,
        })
    }
}
