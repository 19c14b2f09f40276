//! [`OutgoingMail`]: one outgoing message as the RFC 5322 bytes handed to the relay. lettre's
//! builder does the encoding (RFC 2047 words for non-ASCII headers, folding, CRLF, quoted-
//! printable or base64 bodies); this module checks every value first, so that nothing the
//! caller passes can inject a header, and signs with DKIM after the final formatting.

use std::time::{Duration, SystemTime};

use lettre::Address;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox as LettreMailbox, Message, MultiPart, SinglePart};

use crate::dkim::Dkim;
use crate::error::MailError;

/// The longest id or URL written on one header line. Neither may be folded (they hold no
/// spaces), and RFC 5322 caps a line at 998 characters, header name included.
const MAX_UNFOLDABLE: usize = 900;

/// The last second httpdate (lettre's `Date` formatter) can write: 9999-12-31T23:59:59Z.
const MAX_DATE_UNIX: i64 = 253_402_300_799;

/// A person and their address, as in `From: Ana Souza <ana@acme.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, any Unicode; encoded as RFC 2047 words when not ASCII.
    pub name: Option<String>,
    /// `local@domain`, ASCII (internationalised addresses need SMTPUTF8, which relays may not
    /// offer, so they are refused rather than mangled).
    pub address: String,
}

/// The RFC 2369 / RFC 8058 unsubscribe targets of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// The one-click URL (`https://…`), which receives `POST List-Unsubscribe=One-Click`.
    pub https: String,
    /// An optional `mailto:` alternative.
    pub mailto: Option<String>,
}

/// An outgoing message, complete: every header value the mail will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// `Message-ID` without angle brackets, fixed by the caller when the mail is queued, so a
    /// retry or a "maybe sent" replay carries the same id.
    pub message_id: String,
    pub from: Mailbox,
    pub to: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    /// The `Date` header, seconds since the Unix epoch (written in UTC).
    pub date_unix: i64,
    /// The text/plain part, always present.
    pub text: String,
    /// When present, the message is multipart/alternative: the text, then this HTML.
    pub html: Option<String>,
    /// The `Message-ID` (without brackets) this answers; written to `In-Reply-To` and
    /// `References`.
    pub in_reply_to: Option<String>,
    /// `List-Unsubscribe` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub list_unsubscribe: Option<ListUnsubscribe>,
    /// Marks the mail as machine-sent: `Auto-Submitted: auto-generated` (RFC 3834) and
    /// `X-Auto-Response-Suppress: OOF, AutoReply`, so out-of-office robots stay quiet.
    pub auto_submitted: bool,
}

impl OutgoingMail {
    /// The message as RFC 5322 bytes with CRLF line endings, DKIM-signed when `dkim` is given.
    pub fn to_bytes(&self, dkim: Option<&Dkim>) -> Result<Vec<u8>, MailError> {
        let mut builder = Message::builder()
            .message_id(Some(format!("<{}>", message_id(&self.message_id, "message-id")?)))
            .from(mailbox(&self.from, "from")?)
            .to(mailbox(&self.to, "to")?)
            .subject(header_text(&self.subject, "subject")?)
            .date(date(self.date_unix)?);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(mailbox(reply_to, "reply-to")?);
        }
        if let Some(parent) = &self.in_reply_to {
            let parent = format!("<{}>", message_id(parent, "in-reply-to")?);
            builder = builder.in_reply_to(parent.clone()).references(parent);
        }
        if let Some(list) = &self.list_unsubscribe {
            builder = builder
                .raw_header(raw("List-Unsubscribe", list_unsubscribe(list)?))
                .raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
        }
        if self.auto_submitted {
            builder = builder
                .raw_header(raw("Auto-Submitted", "auto-generated".into()))
                .raw_header(raw("X-Auto-Response-Suppress", "OOF, AutoReply".into()));
        }
        let built = match &self.html {
            Some(html) => {
                builder.multipart(MultiPart::alternative_plain_html(self.text.clone(), html.clone()))
            }
            None => builder.singlepart(
                SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text_body(&self.text)),
            ),
        };
        let mut message = built.map_err(|error| MailError::Build(error.to_string()))?;
        if let Some(dkim) = dkim {
            message.sign(&dkim.config);
        }
        let mut bytes = message.formatted();
        // The last line ends like every other (a multipart's closing boundary does not), so
        // the relay stores exactly these bytes instead of adding the line break itself. The
        // signature is unaffected: canonical bodies end in one line break either way.
        if !bytes.ends_with(b"\r\n") {
            bytes.extend_from_slice(b"\r\n");
        }
        Ok(bytes)
    }
}

/// The body of a text-only message. lettre ends a part with a line break of its own, which
/// in a multipart message belongs to the boundary but in a single part is body: a text
/// ending in a line break gives that one up, so the text reads back exactly (one without
/// gains a final line break). Base64 is the exception, as its line breaks are never content.
fn text_body(text: &str) -> Body {
    let body = Body::new(text.to_owned());
    let Some(shorter) = text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')) else { return body };
    let trimmed = Body::new(shorter.to_owned());
    let plain = |body: &Body| body.encoding() != ContentTransferEncoding::Base64;
    if plain(&body) && plain(&trimmed) { trimmed } else { body }
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Checks an address: ASCII, `local@domain`, as lettre's parser accepts it.
pub(crate) fn address(text: &str, field: &'static str) -> Result<Address, MailError> {
    let invalid = || MailError::InvalidAddress { field, address: text.to_owned() };
    let trimmed = text.trim();
    if !trimmed.is_ascii() || trimmed.len() > 254 {
        return Err(invalid());
    }
    trimmed.parse::<Address>().map_err(|_| invalid())
}

fn mailbox(mailbox: &Mailbox, field: &'static str) -> Result<LettreMailbox, MailError> {
    let name = match &mailbox.name {
        Some(name) => Some(header_text(name, field)?.trim().to_owned()).filter(|name| !name.is_empty()),
        None => None,
    };
    Ok(LettreMailbox::new(name, address(&mailbox.address, field)?))
}

/// Free text for a header (a subject, a display name): any Unicode but no control
/// characters, since a line break would end the header and start another.
fn header_text<'a>(text: &'a str, header: &'static str) -> Result<&'a str, MailError> {
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(MailError::InvalidHeader { header, problem: "holds a line break or control character" });
    }
    Ok(text)
}

/// A message id without brackets: `left@right`, printable ASCII with none of the
/// characters that would end or break the `<…>` form.
fn message_id<'a>(id: &'a str, header: &'static str) -> Result<&'a str, MailError> {
    let id = id.trim();
    let printable = id.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b));
    let well_formed = id
        .split_once('@')
        .is_some_and(|(left, right)| !left.is_empty() && !right.is_empty() && !right.contains('@'));
    if !printable || !well_formed {
        return Err(MailError::InvalidHeader { header, problem: "is not an id of the form left@right" });
    }
    if id.len() > MAX_UNFOLDABLE {
        return Err(MailError::InvalidHeader { header, problem: "is longer than 900 characters" });
    }
    Ok(id)
}

fn date(unix: i64) -> Result<SystemTime, MailError> {
    let seconds = u64::try_from(unix)
        .ok()
        .filter(|_| unix <= MAX_DATE_UNIX)
        .ok_or(MailError::InvalidHeader { header: "date", problem: "is outside the years 1970 to 9999" })?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// `<https://…>` and optionally `, <mailto:…>`. Receivers want the one-click URL first.
fn list_unsubscribe(list: &ListUnsubscribe) -> Result<String, MailError> {
    let https = uri(&list.https, "https://")?;
    match &list.mailto {
        Some(mailto) => Ok(format!("<{https}>, <{}>", uri(mailto, "mailto:")?)),
        None => Ok(format!("<{https}>")),
    }
}

fn uri<'a>(uri: &'a str, scheme: &'static str) -> Result<&'a str, MailError> {
    let header = "list-unsubscribe";
    let uri = uri.trim();
    let has_scheme = uri.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme));
    if !has_scheme || uri.len() == scheme.len() {
        return Err(MailError::InvalidHeader {
            header,
            problem: if scheme == "mailto:" { "needs a mailto: address" } else { "needs an https:// url" },
        });
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>') {
        return Err(MailError::InvalidHeader {
            header,
            problem: "holds spaces, angle brackets or non-ascii characters (percent-encode them)",
        });
    }
    if uri.len() > MAX_UNFOLDABLE {
        return Err(MailError::InvalidHeader { header, problem: "is longer than 900 characters" });
    }
    Ok(uri)
}
