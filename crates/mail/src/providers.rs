//! Inbound webhook payloads of the mail providers (SendGrid, Mailgun, Postmark): raw request
//! body in, an [`InboundDelivery`] (a complete RFC 5322 message for [`crate::parse`] and its
//! envelope) or SendGrid's [`DeliveryEvent`]s out, with each provider's authentication.
//!
//! Everything here is a pure function of the body bytes and header values: no HTTP types, no
//! clock (the caller passes `now_unix`), no state. Payloads that arrive already parsed by the
//! provider (SendGrid's default mode, Mailgun's and Postmark's JSON fields) are rebuilt into one
//! MIME message, so every path ends in the same parser. No function panics on any input.

mod error;
mod events;
mod form;
mod mailgun;
mod postmark;
mod rebuild;
mod sendgrid;

pub use error::ProviderError;
pub use events::{DeliveryEvent, DeliveryEventKind, sendgrid_events};
pub use mailgun::{MailgunInbound, mailgun_inbound};
pub use postmark::{check_basic_auth, postmark_inbound};
pub use sendgrid::{sendgrid_inbound, verify_sendgrid_signature};

/// One inbound message as a provider delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundDelivery {
    /// A complete RFC 5322 message, for [`crate::parse`]: the provider's own copy when it sent
    /// one, otherwise rebuilt (UTF-8 throughout) from the fields it sent.
    pub raw: Vec<u8>,
    /// Envelope recipients (SMTP `RCPT TO`), lower-cased; these, not the `To` header, say which
    /// mailbox the message was delivered to.
    pub envelope_to: Vec<String>,
    /// Envelope sender (SMTP `MAIL FROM`), when the provider reports it.
    pub envelope_from: Option<String>,
    /// The provider's own id of the message, for idempotency, when it sends one.
    pub provider_id: Option<String>,
}

/// Refuses a body over `limit` bytes before anything reads it.
fn check_size(body: &[u8], limit: usize) -> Result<(), ProviderError> {
    if body.len() > limit { Err(ProviderError::TooLarge) } else { Ok(()) }
}

/// Trims, strips one pair of angle brackets and lower-cases an envelope address; `None` when
/// nothing is left.
fn envelope_address(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(trimmed).trim();
    (!bare.is_empty()).then(|| bare.to_lowercase())
}
