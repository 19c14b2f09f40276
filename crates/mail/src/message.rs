//! [`parse`]: raw bytes in, an [`InboundMail`] out. The one MIME parser of every inbound
//! path; it keeps the raw message (for re-parsing after a parser fix) and the small facts
//! the rest of Switchboard needs, never the attachments' bytes.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::auto_reply::{self, AutoReplyReason};
use crate::error::MailError;
use crate::html;

/// A mailbox from an address header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    /// The address (`ana@acme.com`); `None` when the header named a person but no address.
    pub address: Option<String>,
    /// The display name (`Ana Souza`), decoded.
    pub name: Option<String>,
}

/// The `Date` header, when it parsed as a valid date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDate {
    /// Seconds since the Unix epoch, UTC.
    pub unix: i64,
    /// RFC 3339 text with the sender's offset.
    pub rfc3339: String,
}

/// An attachment's description; its bytes stay in the raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name given by the sender, if any.
    pub filename: Option<String>,
    /// `type/subtype`, lowercase.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// Something the parser had to guess about: the result is best effort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flaw {
    /// A body part named a charset no decoder knows; it was read as UTF-8 with replacements.
    UnknownCharset(String),
    /// A body held bytes that are invalid in its charset; they became U+FFFD.
    UndecodableText,
    /// There was no `From` header, or it held no address.
    MissingFrom,
}

/// A parsed inbound message.
#[derive(Debug, Clone)]
pub struct InboundMail {
    raw: Vec<u8>,
    /// `Message-ID` without angle brackets; `None` when absent.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first.
    pub references: Vec<String>,
    /// The first `From` mailbox.
    pub from: Option<MailAddress>,
    /// `To` mailboxes, groups flattened.
    pub to: Vec<MailAddress>,
    /// `Cc` mailboxes.
    pub cc: Vec<MailAddress>,
    /// `Reply-To` mailboxes.
    pub reply_to: Vec<MailAddress>,
    /// The decoded subject.
    pub subject: Option<String>,
    /// The `Date` header.
    pub date: Option<MailDate>,
    /// The text/plain body, or text derived from the HTML body when there is none.
    pub text: String,
    /// Whether [`InboundMail::text`] was derived from HTML.
    pub text_from_html: bool,
    /// The HTML body, if any.
    pub html: Option<String>,
    /// Attachments (and inline images), described.
    pub attachments: Vec<Attachment>,
    /// Why this is an automatic reply, when it is one.
    pub auto_reply: Option<AutoReplyReason>,
    /// What was guessed while parsing; empty for a well-formed message.
    pub flaws: Vec<Flaw>,
}

impl InboundMail {
    /// The message exactly as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Whether this is an auto-reply or out-of-office notice.
    pub fn is_auto_reply(&self) -> bool {
        self.auto_reply.is_some()
    }

    /// Whether the parser had to guess (see [`InboundMail::flaws`]).
    pub fn is_best_effort(&self) -> bool {
        !self.flaws.is_empty()
    }
}

/// Parses one raw RFC 5322 message. Malformed MIME and unknown charsets never panic: input
/// with no header at all is an error, anything else is parsed as far as it goes and flagged.
pub fn parse(raw: &[u8]) -> Result<InboundMail, MailError> {
    if raw.is_empty() {
        return Err(MailError::Empty);
    }
    let message = MessageParser::default().parse(raw).ok_or(MailError::NoHeaders)?;
    if message.headers().is_empty() {
        return Err(MailError::NoHeaders);
    }
    let mut flaws = Vec::new();
    let (plain, html_body) = bodies(&message, &mut flaws);
    let from = message.from().and_then(|a| addresses(Some(a)).into_iter().next());
    if from.as_ref().is_none_or(|f| f.address.is_none()) {
        flaws.push(Flaw::MissingFrom);
    }
    let (text, text_from_html) = match (plain, &html_body) {
        (Some(plain), _) => (plain, false),
        (None, Some(html_body)) => (html::to_text(html_body, html::Mode::Plain).text, true),
        (None, None) => (String::new(), false),
    };
    let date = message
        .date()
        .filter(|d| d.is_valid())
        .map(|d| MailDate { unix: d.to_timestamp(), rfc3339: d.to_rfc3339() });
    let mut mail = InboundMail {
        raw: Vec::new(),
        message_id: message.message_id().map(str::trim).filter(|id| !id.is_empty()).map(String::from),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        reply_to: addresses(message.reply_to()),
        subject: message.subject().map(String::from),
        date,
        text,
        text_from_html,
        html: html_body,
        attachments: message.attachments().map(attachment).collect(),
        auto_reply: auto_reply::detect(&message),
        from,
        flaws,
    };
    // Drop the parsed tree (and its decoded attachments) before copying the raw bytes, so a
    // large message is held at most twice (caller's and ours), not three times.
    drop(message);
    mail.raw = raw.to_vec();
    Ok(mail)
}

/// The text/plain and text/html bodies, each part of a kind joined in order.
fn bodies(message: &Message<'_>, flaws: &mut Vec<Flaw>) -> (Option<String>, Option<String>) {
    let mut plain: Option<String> = None;
    let mut html_body: Option<String> = None;
    let mut ids: Vec<u32> = message.text_body.iter().chain(&message.html_body).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    for part in ids.into_iter().filter_map(|id| message.parts.get(id as usize)) {
        if part.is_encoding_problem && !flaws.contains(&Flaw::UndecodableText) {
            flaws.push(Flaw::UndecodableText);
        }
        let (slot, body) = match &part.body {
            PartType::Text(text) => (&mut plain, text),
            PartType::Html(text) => (&mut html_body, text),
            _ => continue,
        };
        check_charset(part, body, flaws);
        let flowed = part.content_type().is_some_and(|c| {
            c.attribute("format").is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
                && c.c_subtype.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        });
        let body = if flowed && matches!(part.body, PartType::Text(_)) {
            let delsp = part
                .content_type()
                .and_then(|c| c.attribute("delsp"))
                .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
            std::borrow::Cow::Owned(crate::flowed::unflow(body, delsp))
        } else {
            std::borrow::Cow::Borrowed(body.as_ref())
        };
        match slot {
            Some(joined) => {
                joined.push('\n');
                joined.push_str(&body);
            }
            None => *slot = Some(body.into_owned()),
        }
    }
    (plain, html_body)
}

fn check_charset(part: &MessagePart<'_>, body: &str, flaws: &mut Vec<Flaw>) {
    if let Some(charset) = part.content_type().and_then(|c| c.attribute("charset")) {
        let name = charset.trim().to_ascii_lowercase();
        let utf8 = matches!(name.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii" | "");
        if !utf8 && charset_decoder(name.as_bytes()).is_none() {
            let flaw = Flaw::UnknownCharset(name);
            if !flaws.contains(&flaw) {
                flaws.push(flaw);
            }
        }
    }
    if body.contains('\u{FFFD}') && !flaws.contains(&Flaw::UndecodableText) {
        flaws.push(Flaw::UndecodableText);
    }
}

fn attachment(part: &MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{}", c.ctype(), sub),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase();
    Attachment { filename: part.attachment_name().map(String::from), content_type, size: part.len() }
}

fn addresses(address: Option<&Address<'_>>) -> Vec<MailAddress> {
    let Some(address) = address else { return Vec::new() };
    address
        .iter()
        .map(|a| MailAddress {
            address: a.address().map(str::trim).filter(|s| !s.is_empty()).map(String::from),
            name: a.name().map(str::trim).filter(|s| !s.is_empty()).map(String::from),
        })
        .collect()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}
