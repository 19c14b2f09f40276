//! Recognising auto-replies and out-of-office messages from their headers and subject, so
//! that they are never turned into check-in entries.

use std::fmt;

use mail_parser::Message;

/// Why a message was taken for an auto-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReplyReason {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834).
    AutoSubmitted,
    /// An `X-Autoreply` or `X-Autorespond` header.
    AutoreplyHeader,
    /// `Precedence: bulk`, `junk` or `auto_reply`.
    Precedence,
    /// Outlook's `X-Auto-Response-Suppress` with an Outlook-style `Auto:` subject.
    OutlookOof,
    /// A subject that starts like an out-of-office notice in one of the common languages.
    Subject,
}

impl AutoReplyReason {
    /// A stable name for logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoReplyReason::AutoSubmitted => "auto-submitted",
            AutoReplyReason::AutoreplyHeader => "x-autoreply",
            AutoReplyReason::Precedence => "precedence",
            AutoReplyReason::OutlookOof => "outlook-oof",
            AutoReplyReason::Subject => "subject",
        }
    }
}

impl fmt::Display for AutoReplyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Subject openings of out-of-office and automatic replies, lowercase. A subject counts only
/// when it starts with one, so "Re: out of office next week" from a person is not taken.
const SUBJECT_PREFIXES: &[&str] = &[
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "autoresponse",
    "out of office",
    "out of the office",
    "abwesenheitsnotiz",
    "automatische antwort",
    "resposta automática",
    "resposta automatica",
    "ausência temporária",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "réponse automatique",
    "absence du bureau",
    "risposta automatica",
    "fuori sede",
    "risposta non al computer",
    "automatisch antwoord",
    "afwezig",
    "automatiskt svar",
    "automatisk svar",
    "autosvar",
    "frånvaro",
    "automatyczna odpowiedź",
    "odpowiedź automatyczna",
    "автоматический ответ",
    "автоответ",
    "自動応答",
    "自動返信",
    "不在通知",
    "自动回复",
    "自動回覆",
];

/// Decides whether `message` is an automatic reply.
pub(crate) fn detect(message: &Message<'_>) -> Option<AutoReplyReason> {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if let Some(value) = header("Auto-Submitted") {
        let value = value.split(';').next().unwrap_or("").trim();
        if !value.is_empty() && value != "no" {
            return Some(AutoReplyReason::AutoSubmitted);
        }
    }
    if header("X-Autoreply").is_some() || header("X-Autorespond").is_some() {
        return Some(AutoReplyReason::AutoreplyHeader);
    }
    if let Some(value) = header("Precedence")
        && matches!(value.as_str(), "bulk" | "junk" | "auto_reply")
    {
        return Some(AutoReplyReason::Precedence);
    }
    let subject = message.subject().unwrap_or("").trim().to_lowercase();
    if let Some(value) = header("X-Auto-Response-Suppress")
        && (value.contains("oof") || value.contains("all"))
        && (subject.starts_with("auto:") || subject_is_auto(&subject))
    {
        return Some(AutoReplyReason::OutlookOof);
    }
    subject_is_auto(&subject).then_some(AutoReplyReason::Subject)
}

fn subject_is_auto(subject: &str) -> bool {
    SUBJECT_PREFIXES.iter().any(|prefix| subject.starts_with(prefix))
}
