//! The check-in pages: the team's day (`feed.rs`), a member's entries with the calendar and
//! streak, and tags (`entries.rs`), the schedule with members' own settings (`schedule.rs`),
//! and the mail outbox and received mail for admins (`outbox.rs`). Pages are rendered by the
//! server and their forms post back here, so they work without JavaScript; `checkins.js`
//! toggles likes through the JSON API with the session's CSRF token.
//!
//! Viewers read everything but get no controls to write entries or change the schedule. Likes,
//! comments and one's own mail settings need only read access in `sb-core`, so viewers have them.

mod entries;
mod feed;
mod outbox;
mod schedule;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use sb_core::{Access, CheckinMember, CoreError, Entry, EntryFilter, EntryKind, Permission, SessionView};
use sb_types::{Timestamp, UserId};

pub(crate) use entries::{delete_entry, edit_entry, member, mine, tag, tags};
pub(crate) use feed::{add_entries, comment, feed, like};
pub(crate) use outbox::{mail, outbox, unsuppress};
pub(crate) use schedule::{holidays, save_member, save_settings, settings};

use super::shell;
use crate::AppState;
use crate::auth::csrf_ok;

/// Entries one history page lists.
const HISTORY_PAGE: i64 = 50;

/// A check-in page's access, the signed-in member, every member, and the shared context.
struct CheckinPage {
    access: Access,
    me: UserId,
    members: Vec<CheckinMember>,
    ctx: Value,
}

impl CheckinPage {
    async fn open(
        state: &AppState,
        session: &SessionView,
        id: &str,
        tab: &str,
    ) -> Result<CheckinPage, Response> {
        let shell = shell::open(state, session, id, "checkins").await?;
        let members =
            state.switchboard.checkin_members(&shell.access).await.map_err(|e| state.pages.core_error(&e))?;
        let ctx = context! {
            tab,
            can_write => shell.access.allows(Permission::Write),
            ..shell.ctx
        };
        Ok(CheckinPage { access: shell.access, me: session.user.id, members, ctx })
    }

    /// The page for a form post, once its CSRF token checks out.
    async fn open_form(
        state: &AppState,
        session: &SessionView,
        id: &str,
        tab: &str,
        csrf: &str,
    ) -> Result<CheckinPage, Response> {
        let page = CheckinPage::open(state, session, id, tab).await?;
        if !csrf_ok(state, &session.binding, Some(csrf)) {
            return Err(state.pages.form_expired());
        }
        Ok(page)
    }

    fn render(&self, state: &AppState, status: StatusCode, template: &str, ctx: Value) -> Response {
        state.pages.render(status, template, context! { ..ctx, ..self.ctx.clone() })
    }

    fn workspace(&self) -> String {
        self.access.workspace().to_string()
    }

    /// A member's display name: their name, else their address.
    fn name_of(&self, user: UserId) -> String {
        match self.members.iter().find(|m| m.user_id == user) {
            Some(m) if !m.name.trim().is_empty() => m.name.clone(),
            Some(m) => m.email.clone(),
            None => "a former member".to_owned(),
        }
    }

    /// Whether the signed-in member may change `entry`: their own with write access, or an admin.
    fn may_edit(&self, entry: &Entry) -> bool {
        (entry.user_id == self.me && self.access.allows(Permission::Write))
            || self.access.allows(Permission::Admin)
    }

    /// An entry as the templates show it.
    fn entry(&self, entry: &Entry) -> Value {
        let comments: Vec<Value> = entry
            .comments
            .iter()
            .map(
                |c| context! { author => self.name_of(c.user_id), text => &c.text, at => when(c.created_at) },
            )
            .collect();
        context! {
            id => entry.id.to_string(),
            user => entry.user_id.to_string(),
            author => self.name_of(entry.user_id),
            date => &entry.date,
            kind => entry.kind.as_str(),
            completed => entry.completed,
            text => &entry.text,
            parts => text_parts(&entry.text, &entry.tags),
            source => &entry.source,
            likes => entry.likes.len(),
            liked => entry.likes.contains(&self.me),
            comments,
            version => entry.version,
            editable => self.may_edit(entry),
        }
    }

    /// Entries in their order, grouped by day (a new group whenever the day changes).
    fn days(&self, entries: &[Entry]) -> Vec<Value> {
        let mut days: Vec<(String, Vec<Value>)> = Vec::new();
        for entry in entries {
            match days.last_mut() {
                Some((date, list)) if *date == entry.date => list.push(self.entry(entry)),
                _ => days.push((entry.date.clone(), vec![self.entry(entry)])),
            }
        }
        days.into_iter().map(|(date, entries)| context! { date, entries }).collect()
    }

    /// One page of entries, newest day first, with the cursor of the next.
    async fn history(
        &self,
        state: &AppState,
        user: Option<String>,
        tag: Option<String>,
        cursor: Option<String>,
    ) -> Result<(Vec<Value>, Option<String>), Response> {
        let filter = EntryFilter {
            user,
            tag,
            cursor,
            limit: Some(HISTORY_PAGE),
            newest_first: true,
            ..EntryFilter::default()
        };
        match state.switchboard.checkin_entries(&self.access, filter).await {
            Ok(page) => Ok((self.days(&page.items), page.next_cursor)),
            Err(e) => Err(state.pages.core_error(&e)),
        }
    }
}

/// Blockers first, then dones, then goals; otherwise in the order written.
fn kind_rank(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Blocker => 0,
        EntryKind::Done => 1,
        EntryKind::Goal => 2,
    }
}

/// An instant as the pages show it.
fn when(at: Timestamp) -> String {
    at.as_utc().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `text` cut into runs of plain text and `#tags` (those in `tags`), so the template can link
/// the tags and escape everything.
fn text_parts(text: &str, tags: &[String]) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let starts_word = previous.is_none_or(|p| !p.is_alphanumeric() && p != '_' && p != '#');
        if c == '#' && starts_word {
            let word: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            let word = word.trim_end_matches(['.', '-']);
            let tag = word.to_lowercase();
            if !word.is_empty() && tags.contains(&tag) {
                if !plain.is_empty() {
                    parts.push(context! { text => std::mem::take(&mut plain) });
                }
                parts.push(context! { text => format!("#{word}"), tag });
                previous = word.chars().last();
                rest = &rest[1 + word.len()..];
                continue;
            }
        }
        plain.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    if !plain.is_empty() {
        parts.push(context! { text => plain });
    }
    parts
}

/// Where a form goes back to: its `back` field if that is one of this workspace's check-in
/// pages, else the day's feed.
fn back_to(workspace: &str, back: &str) -> Response {
    let prefix = format!("/w/{workspace}/checkins");
    let safe = back.starts_with(&prefix)
        && back[prefix.len()..].chars().next().is_none_or(|c| matches!(c, '/' | '?' | '#'))
        && !back.contains("//")
        && back.chars().all(|c| c.is_ascii_graphic());
    Redirect::to(if safe { back } else { &prefix }).into_response()
}

/// The page for a refused change to an entry: what went wrong, in the product's words.
fn not_saved(state: &AppState, error: &CoreError) -> Response {
    match error {
        CoreError::Invalid(message) => {
            state.pages.error(StatusCode::BAD_REQUEST, "Not saved", &format!("Not saved: {message}. Go back and try again."))
        }
        CoreError::Conflict(_) => state.pages.error(
            StatusCode::CONFLICT,
            "Changed meanwhile",
            "Someone changed this entry since you loaded the page, so your change was not saved. Go back, reload and try again.",
        ),
        CoreError::NotFound(_) => state.pages.error(
            StatusCode::NOT_FOUND,
            "Entry not found",
            "This workspace has no entry at this address. It may have been deleted.",
        ),
        other => state.pages.core_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, tags: &[&str], expected: &[(&str, Option<&str>)]) {
        let tags: Vec<String> = tags.iter().map(ToString::to_string).collect();
        let parts: Vec<(String, Option<String>)> = text_parts(text, &tags)
            .iter()
            .map(|p| {
                let text = p.get_attr("text").unwrap().to_string();
                let tag = p.get_attr("tag").ok().filter(|t| !t.is_undefined()).map(|t| t.to_string());
                (text, tag)
            })
            .collect();
        let expected: Vec<(String, Option<String>)> =
            expected.iter().map(|(t, g)| ((*t).to_owned(), g.map(ToOwned::to_owned))).collect();
        assert_eq!(parts, expected, "{text:?}");
    }

    #[test]
    fn tags_are_cut_out_of_the_text() {
        check(
            "Shipped #Billing.",
            &["billing"],
            &[("Shipped ", None), ("#Billing", Some("billing")), (".", None)],
        );
        check(
            "#ops-2 and #ops",
            &["ops-2", "ops"],
            &[("#ops-2", Some("ops-2")), (" and ", None), ("#ops", Some("ops"))],
        );
        check("issue#4 and ##x", &["4", "x"], &[("issue#4 and ##x", None)]);
        check("<b>#é</b>", &["é"], &[("<b>", None), ("#é", Some("é")), ("</b>", None)]);
        check("no tags", &[], &[("no tags", None)]);
    }

    #[test]
    fn forms_go_back_only_to_check_in_pages() {
        let w = "0123456789abcdef01234567";
        let location =
            |back: &str| back_to(w, back).headers().get("location").unwrap().to_str().unwrap().to_owned();
        assert_eq!(location(&format!("/w/{w}/checkins/me")), format!("/w/{w}/checkins/me"));
        assert_eq!(
            location(&format!("/w/{w}/checkins?date=2026-12-04")),
            format!("/w/{w}/checkins?date=2026-12-04")
        );
        for bad in
            ["https://evil.example/", "//evil.example", "/w/other/checkins", "", &format!("/w/{w}/checkinsx")]
        {
            assert_eq!(location(bad), format!("/w/{w}/checkins"), "{bad}");
        }
    }
}
