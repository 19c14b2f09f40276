//! `sb-mail`: the one MIME parser every inbound path (SMTP, IMAP, webhooks) ends in, and the
//! reply trimmer that turns a parsed message into what the person actually typed.
//!
//! [`parse`] keeps the raw bytes and extracts headers, bodies, attachment sizes and the
//! auto-reply verdict; [`reply_text`] removes quoted history, signatures and disclaimers.
//! Neither panics on any input: malformed mail gives a [`MailError`] or a result whose
//! [`InboundMail::flaws`] say what was guessed.

mod auto_reply;
mod dkim;
mod error;
mod flowed;
mod html;
mod imap_poller;
mod message;
mod outgoing;
pub mod providers;
mod relay;
mod smtp_server;
mod throttle;
mod trim;

pub use auto_reply::AutoReplyReason;
pub use dkim::{Dkim, SIGNED_HEADERS};
pub use error::MailError;
pub use imap_poller::{FetchedMail, ImapConfig, ImapCursor, ImapError, fetch_new, wait_for_mail};
pub use message::{Attachment, Flaw, InboundMail, MailAddress, MailDate, parse};
pub use outgoing::{ListUnsubscribe, Mailbox, OutgoingMail};
pub use relay::{DEFAULT_TIMEOUT, Relay, RelayConfig, RelayFailure, RelayReply, RelaySecurity};
pub use smtp_server::{MailSink, ReceivedMail, SinkError, SmtpListenerConfig, serve_smtp};
pub use throttle::{Permit, Throttle};
pub use trim::{Reply, Trimmed, reply_text};
