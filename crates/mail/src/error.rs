//! The crate's one error type.

use sb_types::ErrorKind;

/// What went wrong. Parsing fails only with [`MailError::Empty`] or [`MailError::NoHeaders`]:
/// anything short of these is parsed on a best-effort basis and flagged in
/// [`crate::InboundMail::flaws`]. The other variants are the outbound side's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Zero bytes.
    #[error("the message is empty")]
    Empty,
    /// Bytes in which no header line could be found: not an RFC 5322 message.
    #[error("no mail headers found: not an internet message")]
    NoHeaders,
    /// An outgoing message names an address that is not a plain ASCII `local@domain`.
    #[error("the {field} address is not a valid mail address: {address:?}")]
    InvalidAddress { field: &'static str, address: String },
    /// An outgoing header value that cannot be written as given (a line break, a bad id).
    #[error("the {header} header {problem}")]
    InvalidHeader { header: &'static str, problem: &'static str },
    /// lettre refused to assemble the message.
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The DKIM key, domain or selector is unusable.
    #[error("dkim: {0}")]
    Dkim(String),
    /// A relay URL or relay setting that cannot be used.
    #[error("relay: {0}")]
    Relay(String),
}

impl MailError {
    /// Every parse failure is bad input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}
