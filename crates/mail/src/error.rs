//! The crate's one error type.

use sb_types::ErrorKind;

/// Why a message could not be parsed at all. Anything short of these is parsed on a
/// best-effort basis and flagged in [`crate::InboundMail::flaws`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Zero bytes.
    #[error("the message is empty")]
    Empty,
    /// Bytes in which no header line could be found: not an RFC 5322 message.
    #[error("no mail headers found: not an internet message")]
    NoHeaders,
}

impl MailError {
    /// Every parse failure is bad input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}
