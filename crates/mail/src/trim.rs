//! [`reply_text`]: what the person typed, without quoted history, signatures and
//! disclaimers. HTML with a known client's markers is trimmed by those markers first
//! ([`crate::html`]); the text is then classified line by line ([`quotes`]) and each run of
//! typed text loses its signature ([`signatures`]).

mod quotes;
mod signatures;

use std::fmt;

use crate::html::{self, HEADER_MARK};
use crate::message::InboundMail;
use quotes::LineKind;

/// A kind of text the trimmer removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trimmed {
    /// `>` quoted lines and their "On … wrote:" attribution.
    Quoted,
    /// Earlier messages below an Outlook header block, "Original Message" or forward marker,
    /// or a client's HTML history marker.
    History,
    /// A signature after a `-- ` line or in a client's signature container.
    Signature,
    /// "Sent from my iPhone" and the like.
    MobileSignature,
    /// An undelimited signature block starting with the sender's full name.
    SenderSignature,
    /// A confidentiality notice or disclaimer.
    Disclaimer,
}

impl Trimmed {
    /// A stable name for logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Trimmed::Quoted => "quoted",
            Trimmed::History => "history",
            Trimmed::Signature => "signature",
            Trimmed::MobileSignature => "mobile_signature",
            Trimmed::SenderSignature => "sender_signature",
            Trimmed::Disclaimer => "disclaimer",
        }
    }
}

impl fmt::Display for Trimmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trimmed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Plain text: no trailing whitespace, at most one blank line in a row, no blank line at
    /// either end.
    pub text: String,
    /// The message is an auto-reply: its text is trimmed all the same, but is no answer.
    pub auto_reply: bool,
    /// What was removed, each kind once, in a fixed order.
    pub trimmed: Vec<Trimmed>,
}

/// Trims `mail` to the reply its sender typed.
pub fn reply_text(mail: &InboundMail) -> Reply {
    let mut trimmed = Vec::new();
    let use_html = match (&mail.html, mail.text_from_html) {
        (Some(_), true) => true,
        (Some(body), false) => html::has_client_marker(body),
        (None, _) => false,
    };
    let converted;
    let source = match (&mail.html, use_html) {
        (Some(body), true) => {
            converted = html::to_text(body, html::Mode::Reply);
            if converted.cut {
                trimmed.push(Trimmed::History);
            }
            if converted.signature {
                trimmed.push(Trimmed::Signature);
            }
            converted.text.as_str()
        }
        _ => mail.text.as_str(),
    };
    let sender = mail.from.as_ref().and_then(|f| f.name.as_deref());
    let text = trim_text(source, sender, &mut trimmed);
    trimmed.sort_unstable();
    trimmed.dedup();
    Reply { text, auto_reply: mail.is_auto_reply(), trimmed }
}

/// Trims plain `text`; `sender` is the From display name.
pub(crate) fn trim_text(text: &str, sender: Option<&str>, trimmed: &mut Vec<Trimmed>) -> String {
    let normalized = normalize(text);
    let lines: Vec<&str> = normalized.lines().collect();
    let kinds = quotes::classify(&lines);
    let mut segments: Vec<Vec<&str>> = vec![Vec::new()];
    for (line, kind) in lines.iter().zip(&kinds) {
        match kind {
            LineKind::History => {
                trimmed.push(Trimmed::History);
                break;
            }
            LineKind::Quote | LineKind::Attribution => {
                trimmed.push(Trimmed::Quoted);
                if segments.last().is_some_and(|s| !s.is_empty()) {
                    segments.push(Vec::new());
                }
            }
            LineKind::Text => {
                if let Some(segment) = segments.last_mut() {
                    segment.push(line.trim_start_matches(HEADER_MARK));
                }
            }
        }
    }
    let mut kept: Vec<String> = Vec::new();
    for segment in &segments {
        let body = signatures::strip(segment, sender, !kept.is_empty(), trimmed);
        if !body.is_empty() {
            kept.push(body);
        }
    }
    kept.join("\n\n")
}

/// Line ends to `\n`, invisible characters out, trailing whitespace off, blank runs
/// collapsed.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.split('\n') {
        let line: String =
            line.chars().filter(|c| !matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{200C}')).collect();
        let line = line.replace('\u{a0}', " ");
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Joins kept lines: trailing whitespace removed, at most one blank line in a row, none at
/// either end.
pub(crate) fn join_lines(lines: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}
