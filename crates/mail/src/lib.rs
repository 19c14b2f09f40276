//! `sb-mail`: the one MIME parser every inbound path (SMTP, IMAP, webhooks) ends in, and the
//! reply trimmer that turns a parsed message into what the person actually typed.
//!
//! [`parse`] keeps the raw bytes and extracts headers, bodies, attachment sizes and the
//! auto-reply verdict; [`reply_text`] removes quoted history, signatures and disclaimers.
//! Neither panics on any input: malformed mail gives a [`MailError`] or a result whose
//! [`InboundMail::flaws`] say what was guessed.

mod auto_reply;
mod error;
mod html;
mod message;
pub mod providers;
mod trim;

pub use auto_reply::AutoReplyReason;
pub use error::MailError;
pub use message::{Attachment, Flaw, InboundMail, MailAddress, MailDate, parse};
pub use trim::{Reply, Trimmed, reply_text};
