//! The team's day: every member's entries of one day (blockers first), likes and comments,
//! the members not heard from yet, and the box where the signed-in member adds entries.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Days, NaiveDate};
use minijinja::context;
use sb_core::{CoreError, Entry, EntryFilter, NewEntries};
use sb_types::Timestamp;
use serde::Deserialize;

use super::{CheckinPage, back_to, kind_rank, not_saved};
use crate::AppState;
use crate::auth::SignedIn;

/// Entries read from the API at a time for one day.
const DAY_BATCH: i64 = 500;

/// `?date=YYYY-MM-DD`: the day to show instead of today.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct DayQuery {
    date: String,
}

/// `/w/{id}/checkins`: the day's entries of the whole team.
pub(crate) async fn feed(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<DayQuery>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "today").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    render_day(&state, &page, &query.date, StatusCode::OK, None, "").await
}

/// The feed of `date` (today if empty), with a refused entry box's `error` and `text`.
async fn render_day(
    state: &AppState,
    page: &CheckinPage,
    date: &str,
    status: StatusCode,
    error: Option<&str>,
    text: &str,
) -> Response {
    let today = match state.switchboard.checkin_today(&page.access, page.me, Timestamp::now()).await {
        Ok(today) => today,
        Err(e) => return state.pages.core_error(&e),
    };
    let day = if date.is_empty() {
        today
    } else {
        match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
            Ok(day) => day,
            Err(_) => {
                return state.pages.error(
                    StatusCode::BAD_REQUEST,
                    "Not a date",
                    "The day to show must be a date as YYYY-MM-DD.",
                );
            }
        }
    };
    let entries = match day_entries(state, page, day).await {
        Ok(entries) => entries,
        Err(e) => return state.pages.core_error(&e),
    };
    // The signed-in member first, then everyone else by name.
    let mut members: Vec<_> = page.members.iter().collect();
    members.sort_by_key(|m| (m.user_id != page.me, page.name_of(m.user_id).to_lowercase()));
    let mut groups = Vec::new();
    let mut waiting = Vec::new();
    for member in members {
        let mut own: Vec<&Entry> = entries.iter().filter(|e| e.user_id == member.user_id).collect();
        own.sort_by_key(|e| kind_rank(e.kind));
        if own.is_empty() {
            if member.prompts {
                waiting.push(page.name_of(member.user_id));
            }
            continue;
        }
        let blockers = own.iter().filter(|e| e.kind == sb_core::EntryKind::Blocker).count();
        let entries: Vec<_> = own.into_iter().map(|e| page.entry(e)).collect();
        groups.push(context! {
            user => member.user_id.to_string(),
            name => page.name_of(member.user_id),
            entries,
            blockers,
        });
    }
    let shift = |n: i64| {
        let moved =
            if n < 0 { day.checked_sub_days(Days::new(1)) } else { day.checked_add_days(Days::new(1)) };
        moved.map(|d| d.to_string())
    };
    let ctx = context! {
        day => day.to_string(),
        day_label => day.format("%A %-d %B %Y").to_string(),
        is_today => day == today,
        previous => shift(-1),
        next => (day < today).then(|| shift(1)).flatten(),
        groups,
        waiting,
        error,
        text,
        back => format!("/w/{}/checkins?date={day}", page.workspace()),
    };
    page.render(state, status, "checkins_feed.html", ctx)
}

/// Every entry of `day`, in the API's order (member, then as written).
async fn day_entries(state: &AppState, page: &CheckinPage, day: NaiveDate) -> Result<Vec<Entry>, CoreError> {
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let filter = EntryFilter {
            from: Some(day.to_string()),
            to: Some(day.to_string()),
            cursor,
            limit: Some(DAY_BATCH),
            ..EntryFilter::default()
        };
        let listed = state.switchboard.checkin_entries(&page.access, filter).await?;
        entries.extend(listed.items);
        match listed.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(entries),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AddEntriesForm {
    csrf: String,
    date: String,
    text: String,
}

/// `POST /w/{id}/checkins/entries`: the signed-in member's entries for a day, one per line.
pub(crate) async fn add_entries(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<AddEntriesForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "today", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let new = NewEntries { user: None, date: form.date.clone(), text: form.text.clone() };
    match state.switchboard.add_checkin_entries(&page.access, new).await {
        Ok(_) => back_to(&id, &format!("/w/{}/checkins?date={}", page.workspace(), form.date.trim())),
        Err(CoreError::Invalid(message)) => {
            let message = format!("Not saved: {message}.");
            render_day(&state, &page, form.date.trim(), StatusCode::BAD_REQUEST, Some(&message), &form.text)
                .await
        }
        Err(e) => state.pages.core_error(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct LikeForm {
    csrf: String,
    back: String,
    /// `true` to like, anything else to stop liking.
    like: String,
}

/// `POST /w/{id}/checkins/entries/{entry}/like`: likes or unlikes (the page's script does the
/// same through the JSON API without leaving the page).
pub(crate) async fn like(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entry)): Path<(String, String)>,
    Form(form): Form<LikeForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "today", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.like_checkin_entry(&page.access, &entry, form.like == "true").await {
        Ok(_) => back_to(&id, &form.back),
        Err(e) => not_saved(&state, &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CommentForm {
    csrf: String,
    back: String,
    text: String,
}

/// `POST /w/{id}/checkins/entries/{entry}/comments`: a comment by the signed-in member.
pub(crate) async fn comment(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, entry)): Path<(String, String)>,
    Form(form): Form<CommentForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "today", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.comment_checkin_entry(&page.access, &entry, &form.text).await {
        Ok(_) => back_to(&id, &form.back),
        Err(e) => not_saved(&state, &e),
    }
}
