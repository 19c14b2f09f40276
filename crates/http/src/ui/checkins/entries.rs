//! Entries over time: the signed-in member's own (with the calendar of the last months and the
//! streak, edited and deleted in place), a member's history, and the tags with their entries.
//! Histories are newest day first, a page at a time with the API's keyset cursor.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;
use minijinja::{Value, context};
use sb_core::{CalendarDay, EntryPatch};
use sb_types::Timestamp;
use serde::Deserialize;

use super::{CheckinPage, back_to, not_saved};
use crate::AppState;
use crate::auth::SignedIn;

/// `?cursor=`: where a history page starts.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PageQuery {
    cursor: String,
}

impl PageQuery {
    fn cursor(&self) -> Option<String> {
        Some(self.cursor.clone()).filter(|c| !c.is_empty())
    }
}

/// `/w/{id}/checkins/me`: my calendar, streak and entries.
pub(crate) async fn mine(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "me").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let me = page.me.to_string();
    let calendar = match state.switchboard.checkin_calendar(&page.access, &me, Timestamp::now()).await {
        Ok(calendar) => calendar,
        Err(e) => return state.pages.core_error(&e),
    };
    let (days, next) = match page.history(&state, Some(me), None, query.cursor()).await {
        Ok(history) => history,
        Err(response) => return response,
    };
    let checked_in = calendar.days.iter().filter(|d| d.entries > 0).count();
    let ctx = context! {
        months => months(&page.workspace(), &calendar.days, calendar.today),
        streak => calendar.streak,
        checked_in,
        since => calendar.days.first().map_or(calendar.today, |d| d.date).to_string(),
        today => calendar.today.to_string(),
        days,
        next,
        paged => !query.cursor.is_empty(),
        here => format!("/w/{}/checkins/me", page.workspace()),
    };
    page.render(&state, StatusCode::OK, "checkins_me.html", ctx)
}

/// The calendar's days as months of weeks (Monday first), with blanks before the first day.
fn months(workspace: &str, days: &[CalendarDay], today: chrono::NaiveDate) -> Vec<Value> {
    let mut months: Vec<(String, Vec<Option<Value>>)> = Vec::new();
    for day in days {
        let label = day.date.format("%B %Y").to_string();
        if months.last().is_none_or(|(l, _)| *l != label) {
            let blanks = day.date.weekday().num_days_from_monday() as usize;
            months.push((label, vec![None; blanks]));
        }
        let cell = context! {
            day => day.date.day(),
            date => day.date.to_string(),
            entries => day.entries,
            prompt_day => day.prompt_day,
            today => day.date == today,
            href => format!("/w/{workspace}/checkins?date={}", day.date),
        };
        if let Some((_, cells)) = months.last_mut() {
            cells.push(Some(cell));
        }
    }
    months
        .into_iter()
        .map(|(label, cells)| {
            let weeks: Vec<Vec<Option<Value>>> = cells.chunks(7).map(<[_]>::to_vec).collect();
            context! { label, weeks }
        })
        .collect()
}

/// `/w/{id}/checkins/members/{user}`: a member's entries, newest day first.
pub(crate) async fn member(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, user)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "today").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let Some(member) = page.members.iter().find(|m| m.user_id.to_string() == user) else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "Member not found",
            "This workspace has no member at this address.",
        );
    };
    let calendar = match state.switchboard.checkin_calendar(&page.access, &user, Timestamp::now()).await {
        Ok(calendar) => calendar,
        Err(e) => return state.pages.core_error(&e),
    };
    let (days, next) = match page.history(&state, Some(user.clone()), None, query.cursor()).await {
        Ok(history) => history,
        Err(response) => return response,
    };
    let ctx = context! {
        member => context! { id => &user, name => page.name_of(member.user_id), email => &member.email },
        streak => calendar.streak,
        days,
        next,
        paged => !query.cursor.is_empty(),
        here => format!("/w/{}/checkins/members/{user}", page.workspace()),
    };
    page.render(&state, StatusCode::OK, "checkins_member.html", ctx)
}

/// `/w/{id}/checkins/tags`: every tag with how many entries carry it.
pub(crate) async fn tags(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "tags").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.checkin_tags(&page.access).await {
        Ok(tags) => {
            let tags: Vec<Value> = tags.into_iter().map(|(tag, entries)| context! { tag, entries }).collect();
            page.render(&state, StatusCode::OK, "checkins_tags.html", context! { tags })
        }
        Err(e) => state.pages.core_error(&e),
    }
}

/// `/w/{id}/checkins/tags/{tag}`: the entries of a tag, newest day first.
pub(crate) async fn tag(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, tag)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "tags").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let tag = tag.trim_start_matches('#').to_lowercase();
    let (days, next) = match page.history(&state, None, Some(tag.clone()), query.cursor()).await {
        Ok(history) => history,
        Err(response) => return response,
    };
    let here = format!(
        "/w/{}/checkins/tags/{}",
        page.workspace(),
        url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
    );
    let ctx = context! { tag, days, next, paged => !query.cursor.is_empty(), here };
    page.render(&state, StatusCode::OK, "checkins_tag.html", ctx)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct EditForm {
    csrf: String,
    back: String,
    text: String,
    kind: String,
    /// Present when the goal's box is ticked.
    completed: Option<String>,
    version: String,
}

/// `POST /w/{id}/checkins/entries/{entry}/edit`: changes an entry's text, kind and completion.
pub(crate) async fn edit_entry(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entry)): Path<(String, String)>,
    Form(form): Form<EditForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "me", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let patch = EntryPatch {
        text: Some(form.text),
        kind: Some(form.kind).filter(|k| !k.is_empty()),
        completed: Some(form.completed.is_some()),
        date: None,
        version: form.version.parse().ok(),
    };
    match state.switchboard.update_checkin_entry(&page.access, &entry, patch).await {
        Ok(_) => back_to(&id, &form.back),
        Err(e) => not_saved(&state, &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct DeleteForm {
    csrf: String,
    back: String,
}

/// `POST /w/{id}/checkins/entries/{entry}/delete`: deletes an entry.
pub(crate) async fn delete_entry(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entry)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "me", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.delete_checkin_entry(&page.access, &entry).await {
        Ok(()) => back_to(&id, &form.back),
        Err(e) => not_saved(&state, &e),
    }
}
