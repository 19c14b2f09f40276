//! The morning digest: the team's entries of one workday, blockers first, then each member's
//! dones and goals, as plain text and as HTML.

use std::fmt::Write as _;

use chrono::NaiveDate;
use sb_store::EntryRecord;
use sb_types::UserId;

/// A member as the digest names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMember {
    pub id: UserId,
    pub name: String,
}

/// A built digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn mark(entry: &EntryRecord) -> &'static str {
    match (entry.kind.as_str(), entry.completed) {
        ("goal", true) => "[x] ",
        ("goal", false) => "[ ] ",
        ("blocker", _) => "! ",
        _ => "",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The digest of `date` for a team whose entries are `entries` (any order), with a link to
/// the day's feed at `link`.
pub fn build_digest(
    team: &str,
    date: NaiveDate,
    members: &[DigestMember],
    entries: &[EntryRecord],
    link: &str,
) -> Digest {
    let day = date.format("%A, %B %-d").to_string();
    let subject = format!("{team}: what the team got done on {day}");
    let name_of =
        |id: UserId| members.iter().find(|m| m.id == id).map_or_else(|| id.to_string(), |m| m.name.clone());
    let blockers: Vec<&EntryRecord> = entries.iter().filter(|e| e.kind == "blocker").collect();
    let mut text = format!("{subject}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h1 style=\"font-size:18px\">{}</h1>",
        escape(&subject)
    );
    if !blockers.is_empty() {
        text.push_str("BLOCKERS\n");
        html.push_str("<h2 style=\"font-size:16px;color:#b42318\">Blockers</h2><ul>");
        for entry in &blockers {
            let _ = writeln!(text, "  ! {} ({})", entry.text, name_of(entry.user_id));
            let _ = write!(
                html,
                "<li>{} <em>({})</em></li>",
                escape(&entry.text),
                escape(&name_of(entry.user_id))
            );
        }
        text.push('\n');
        html.push_str("</ul>");
    }
    let mut people: Vec<&DigestMember> =
        members.iter().filter(|m| entries.iter().any(|e| e.user_id == m.id && e.kind != "blocker")).collect();
    people.sort_by_key(|m| m.name.to_lowercase());
    for member in people {
        let _ = writeln!(text, "{}", member.name);
        let _ = write!(html, "<h2 style=\"font-size:16px\">{}</h2><ul>", escape(&member.name));
        let mut own: Vec<&EntryRecord> =
            entries.iter().filter(|e| e.user_id == member.id && e.kind != "blocker").collect();
        own.sort_by_key(|e| e.position);
        for entry in own {
            let _ = writeln!(text, "  - {}{}", mark(entry), entry.text);
            let _ = write!(html, "<li>{}{}</li>", escape(mark(entry)), escape(&entry.text));
        }
        text.push('\n');
        html.push_str("</ul>");
    }
    let quiet: Vec<&str> = members
        .iter()
        .filter(|m| !entries.iter().any(|e| e.user_id == m.id))
        .map(|m| m.name.as_str())
        .collect();
    if entries.is_empty() {
        text.push_str("Nobody checked in that day.\n\n");
        html.push_str("<p>Nobody checked in that day.</p>");
    } else if !quiet.is_empty() {
        let _ = writeln!(text, "No entries from: {}\n", quiet.join(", "));
        let _ = write!(html, "<p style=\"color:#667085\">No entries from: {}</p>", escape(&quiet.join(", ")));
    }
    let _ = writeln!(text, "Like or comment: {link}");
    let _ = write!(
        html,
        "<p><a href=\"{}\">Like or comment on the team's entries</a></p></body></html>",
        escape(link)
    );
    Digest { subject, text, html }
}
