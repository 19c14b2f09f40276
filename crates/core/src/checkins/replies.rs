//! Mail received for check-ins, from any path (SMTP listener, IMAP poller, provider webhooks):
//! the reply address says which workspace, member and day (or, for a reply sent to the From,
//! the prompt it answers by In-Reply-To or References); the one MIME parser and the reply
//! trimmer say what was typed; the message and its entries are stored together, once per
//! Message-ID. Anything that cannot become entries is either refused (no reply address of
//! ours, or an altered one: nobody to store it for) or stored and flagged with the reason.

use sb_store::{InboundRecord, InboundStored};
use sb_types::{InboundId, Timestamp};
use sha2::{Digest, Sha256};

use super::token::ReplyToken;
use super::{entries_from_reply, entry_record};
use crate::{CoreError, Switchboard};

/// Largest message taken in (25 MiB of attachments, base64-encoded, and then some).
pub const INBOUND_MAX_BYTES: usize = 40 * 1024 * 1024;

/// How a message reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedVia {
    Smtp,
    Imap,
    Sendgrid,
    Mailgun,
    Postmark,
}

impl ReceivedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceivedVia::Smtp => "smtp",
            ReceivedVia::Imap => "imap",
            ReceivedVia::Sendgrid => "sendgrid",
            ReceivedVia::Mailgun => "mailgun",
            ReceivedVia::Postmark => "postmark",
        }
    }
}

/// What became of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Stored, and turned into this many entries.
    Entries { inbound: InboundId, entries: usize },
    /// Stored, not acted on, for this reason.
    Flagged { inbound: InboundId, reason: String },
    /// Seen before (same Message-ID): nothing changed.
    Duplicate { inbound: InboundId },
    /// Not ours to keep, for this reason; nothing was stored.
    Rejected { reason: String },
}

impl Receipt {
    /// The outcome's name on the wire.
    pub fn outcome(&self) -> &'static str {
        match self {
            Receipt::Entries { .. } => "entries",
            Receipt::Flagged { .. } => "flagged",
            Receipt::Duplicate { .. } => "duplicate",
            Receipt::Rejected { .. } => "rejected",
        }
    }
}

/// The bare address of `text`, lower-cased.
fn bare(text: &str) -> String {
    let text = text.trim();
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    inner.trim().to_ascii_lowercase()
}

impl Switchboard {
    /// The check-in reply token among `recipients`, if one is addressed to our mail domain.
    pub fn checkin_token_in<'a>(&self, recipients: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let domain = self.mail_setup().domain;
        recipients.into_iter().find_map(|r| ReplyToken::from_address(&bare(r), &domain).map(str::to_owned))
    }

    /// Whether the SMTP listener takes mail for `address`: a reply address this server issued,
    /// or the address prompts come from (some clients answer that instead of the Reply-To).
    pub fn accepts_recipient(&self, address: &str) -> bool {
        let address = bare(address);
        address == self.mail_setup().from.address.to_ascii_lowercase()
            || self
                .checkin_token_in([address.as_str()])
                .is_some_and(|t| ReplyToken::decode(self.secret(), &t).is_some())
    }

    /// Takes in one message: `envelope_to` (the SMTP recipients, or what the provider reports)
    /// finds the reply address; without an envelope, the To and Cc headers are read.
    pub async fn receive_mail(
        &self,
        raw: Vec<u8>,
        via: ReceivedVia,
        envelope_from: Option<String>,
        envelope_to: Vec<String>,
    ) -> Result<Receipt, CoreError> {
        if raw.len() > INBOUND_MAX_BYTES {
            return Ok(Receipt::Rejected {
                reason: format!("the message is larger than {INBOUND_MAX_BYTES} bytes"),
            });
        }
        let parsed = tokio::task::spawn_blocking(move || {
            let mail = sb_mail::parse(&raw)?;
            let reply = sb_mail::reply_text(&mail);
            Ok::<_, sb_mail::MailError>((mail, reply, raw))
        })
        .await
        .map_err(|e| CoreError::Unavailable(format!("mail parser stopped: {e}")))?;
        let (mail, reply, raw) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return Ok(Receipt::Rejected { reason: format!("not an email message: {error}") }),
        };
        let header_recipients: Vec<String> =
            mail.to.iter().chain(&mail.cc).filter_map(|a| a.address.clone()).collect();
        let token = self
            .checkin_token_in(envelope_to.iter().map(String::as_str))
            .or_else(|| self.checkin_token_in(header_recipients.iter().map(String::as_str)));
        let token = match token {
            Some(text) => match ReplyToken::decode(self.secret(), &text) {
                Some(token) => token,
                None => {
                    return Ok(Receipt::Rejected {
                        reason: "the reply address was altered or is not one this server issued".into(),
                    });
                }
            },
            // Some clients answer the From instead of the Reply-To: the prompt it answers,
            // named in In-Reply-To or References, says whose and which day it is.
            None => match self.answered_prompt(&mail).await? {
                Some(token) => token,
                None => {
                    return Ok(Receipt::Rejected {
                        reason: "not addressed to a check-in reply address, nor an answer to a prompt".into(),
                    });
                }
            },
        };
        // One read on the usual path: the workspace is looked up only when the member is not found.
        let member = self.store().member(token.workspace, token.user).await?;
        if member.is_none() && !self.workspace_exists(token.workspace).await? {
            return Ok(Receipt::Rejected { reason: "the reply address's workspace no longer exists".into() });
        }
        let from =
            mail.from.as_ref().and_then(|f| f.address.clone()).unwrap_or_default().to_ascii_lowercase();
        let message_id = mail
            .message_id
            .clone()
            .unwrap_or_else(|| format!("{}@switchboard.invalid", hex::encode(Sha256::digest(&raw))));
        let flag = match &member {
            None => Some("the member this reply address was made for has left the workspace".to_owned()),
            Some(m) if !m.user.email.to_string().eq_ignore_ascii_case(&from) => Some(format!(
                "sent from {}, not from the member's address; not posted for them",
                if from.is_empty() { "no address" } else { &from }
            )),
            Some(_) if reply.auto_reply => Some("an automatic reply (out of office or similar)".to_owned()),
            Some(_) => None,
        };
        let now = Timestamp::now();
        let id = InboundId::generate();
        let date = token.date.to_string();
        let drafts = if flag.is_none() { entries_from_reply(&reply.text) } else { Vec::new() };
        let flag = flag
            .or_else(|| drafts.is_empty().then(|| "nothing was typed above the quoted prompt".to_owned()));
        let records: Vec<_> =
            drafts.into_iter().map(|d| entry_record(d, token.user, &date, "email", Some(id), now)).collect();
        let record = InboundRecord {
            id,
            message_id: message_id.trim_matches(['<', '>']).to_owned(),
            received_via: via.as_str().to_owned(),
            envelope_from: envelope_from.map(|a| bare(&a)).unwrap_or_default(),
            envelope_to: envelope_to.iter().map(|a| bare(a)).collect(),
            from_address: from,
            subject: mail.subject.clone().unwrap_or_default(),
            raw,
            outcome: if flag.is_some() { "flagged" } else { "entries" }.to_owned(),
            detail: flag.clone().unwrap_or_else(|| format!("{} entries for {date}", records.len())),
            received_at: now,
        };
        let db = self.store().workspace_db(token.workspace).await?;
        Ok(match self.inner.intake.store(&db, record, records).await? {
            InboundStored::Duplicate(existing) => Receipt::Duplicate { inbound: existing },
            InboundStored::New(entries) => match flag {
                Some(reason) => Receipt::Flagged { inbound: id, reason },
                None => Receipt::Entries { inbound: id, entries: entries.len() },
            },
        })
    }

    /// The prompt (or reminder) `mail` answers, by the Message-IDs it names, as a token.
    async fn answered_prompt(&self, mail: &sb_mail::InboundMail) -> Result<Option<ReplyToken>, CoreError> {
        for id in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
            let id = id.trim().trim_matches(['<', '>']);
            let Some(workspace) = crate::mail::workspace_of_message(id) else { continue };
            if !self.workspace_exists(workspace).await? {
                continue;
            }
            let db = self.store().workspace_db(workspace).await?;
            let Some(sent) = db.mail_by_message_id(id).await? else { continue };
            if let Some((user, date)) = super::rounds::prompted_by_key(&sent.dedupe_key) {
                return Ok(Some(ReplyToken { workspace, user, date }));
            }
        }
        Ok(None)
    }

    /// The latest messages received for the workspace (admins).
    pub async fn inbound_mail(
        &self,
        access: &crate::Access,
        limit: i64,
    ) -> Result<Vec<InboundRecord>, CoreError> {
        access.require(crate::Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.recent_inbound(limit.clamp(1, 500)).await?)
    }
}
