//! Check-ins in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `GET|PATCH /api/v1/workspaces/{id}/checkins/settings`: the schedule (admins change it,
//!   with `version`).
//! - `GET …/checkins/members`, `PATCH …/checkins/members/{user}`: members with their own time
//!   zone, vacation and whether they are prompted and get the digest.
//! - `GET|POST …/checkins/entries`: entries by `user`, `from`/`to` dates, `tag`, keyset pages
//!   (`cursor`, `limit`, `order=newest`); add entries to a day in reply syntax, one per line.
//! - `GET|PATCH|DELETE …/checkins/entries/{entry}`; `PUT|DELETE …/entries/{entry}/like`;
//!   `POST …/entries/{entry}/comments`.
//! - `GET …/checkins/tags`: tags with how many entries carry each.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{
    CheckinMember, CheckinMemberPatch, CheckinSettings, CheckinSettingsPatch, Entry, EntryFilter, EntryPatch,
    NewEntries,
};
use sb_types::ErrorKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pipelines::{json_body, present, query};
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/checkins/settings", get(settings).patch(update_settings))
        .route("/api/v1/workspaces/{id}/checkins/members", get(members))
        .route("/api/v1/workspaces/{id}/checkins/members/{user}", patch(update_member))
        .route("/api/v1/workspaces/{id}/checkins/entries", get(list).post(create))
        .route("/api/v1/workspaces/{id}/checkins/entries/{entry}", get(show).patch(update).delete(delete))
        .route("/api/v1/workspaces/{id}/checkins/entries/{entry}/like", put(like).delete(unlike))
        .route("/api/v1/workspaces/{id}/checkins/entries/{entry}/comments", post(comment))
        .route("/api/v1/workspaces/{id}/checkins/tags", get(tags))
}

/// The wire form of the schedule.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinSettings")]
pub(super) struct SettingsOut {
    enabled: bool,
    question: String,
    /// `HH:MM`, in each member's own time zone (or `timezone`).
    prompt_time: String,
    digest_time: String,
    reminder_time: Option<String>,
    timezone: String,
    /// ISO weekdays as digits, 1 = Monday: `12345` is Monday to Friday.
    workdays: String,
    holidays: Vec<String>,
    version: i64,
    updated_at: String,
}

impl From<CheckinSettings> for SettingsOut {
    fn from(s: CheckinSettings) -> Self {
        SettingsOut {
            enabled: s.enabled,
            question: s.question,
            prompt_time: s.prompt_time,
            digest_time: s.digest_time,
            reminder_time: s.reminder_time,
            timezone: s.timezone,
            workdays: s.workdays,
            holidays: s.holidays,
            version: s.version,
            updated_at: s.updated_at.to_string(),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinSettingsPatch")]
pub(super) struct SettingsIn {
    version: Option<i64>,
    enabled: Option<bool>,
    question: Option<String>,
    prompt_time: Option<String>,
    digest_time: Option<String>,
    /// Absent: unchanged; `null`: no reminder.
    #[serde(default, deserialize_with = "present")]
    reminder_time: Option<Value>,
    timezone: Option<String>,
    workdays: Option<String>,
    holidays: Option<Vec<String>>,
}

/// Absent: unchanged (`None`); `null`: cleared (`Some(None)`); a string: set.
fn nullable(name: &str, value: Option<Value>) -> Result<Option<Option<String>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text))),
        Some(_) => Err(ApiError::new(ErrorKind::Invalid, format!("{name} must be a string or null"))),
    }
}

/// The wire form of a member's check-in settings.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinMember")]
pub(super) struct MemberOut {
    user: String,
    email: String,
    name: String,
    role: String,
    timezone: Option<String>,
    vacation_from: Option<String>,
    vacation_until: Option<String>,
    prompts: bool,
    digest: bool,
}

impl From<CheckinMember> for MemberOut {
    fn from(m: CheckinMember) -> Self {
        MemberOut {
            user: m.user_id.to_string(),
            email: m.email,
            name: m.name,
            role: m.role.as_str().to_owned(),
            timezone: m.timezone,
            vacation_from: m.vacation_from,
            vacation_until: m.vacation_until,
            prompts: m.prompts,
            digest: m.digest,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinMemberList")]
pub(super) struct MemberList {
    members: Vec<MemberOut>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinMemberPatch")]
pub(super) struct MemberIn {
    #[serde(default, deserialize_with = "present")]
    timezone: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    vacation_from: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    vacation_until: Option<Value>,
    prompts: Option<bool>,
    digest: Option<bool>,
}

/// The wire form of an entry.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinEntry")]
pub(super) struct EntryOut {
    id: String,
    user: String,
    /// The day it belongs to, `YYYY-MM-DD`.
    date: String,
    /// `done`, `goal` or `blocker`.
    kind: String,
    /// For goals: reached.
    completed: bool,
    text: String,
    tags: Vec<String>,
    mentions: Vec<String>,
    /// `email`, `api` or `web`.
    source: String,
    likes: Vec<String>,
    comments: Vec<CommentOut>,
    version: i64,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinEntryComment")]
pub(super) struct CommentOut {
    id: String,
    user: String,
    text: String,
    created_at: String,
}

impl From<Entry> for EntryOut {
    fn from(e: Entry) -> Self {
        EntryOut {
            id: e.id.to_string(),
            user: e.user_id.to_string(),
            date: e.date,
            kind: e.kind.as_str().to_owned(),
            completed: e.completed,
            text: e.text,
            tags: e.tags,
            mentions: e.mentions,
            source: e.source,
            likes: e.likes.iter().map(ToString::to_string).collect(),
            comments: e
                .comments
                .into_iter()
                .map(|c| CommentOut {
                    id: c.id.to_string(),
                    user: c.user_id.to_string(),
                    text: c.text,
                    created_at: c.created_at.to_string(),
                })
                .collect(),
            version: e.version,
            created_at: e.created_at.to_string(),
            updated_at: e.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinEntryList")]
pub(super) struct EntryList {
    entries: Vec<EntryOut>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinEntryQuery")]
pub(super) struct ListIn {
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    /// `oldest` (default) or `newest` day first.
    order: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinEntryCreate")]
pub(super) struct CreateIn {
    /// The member; yourself unless you are an admin or use a key.
    user: Option<String>,
    date: String,
    /// One entry per line: `[]` a goal, `[x]` a reached goal, `!` a blocker.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinEntryPatch")]
pub(super) struct PatchIn {
    version: Option<i64>,
    text: Option<String>,
    kind: Option<String>,
    completed: Option<bool>,
    date: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CheckinCommentCreate")]
pub(super) struct CommentIn {
    text: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinTagList")]
pub(super) struct TagList {
    tags: Vec<TagOut>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinTag")]
pub(super) struct TagOut {
    tag: String,
    entries: i64,
}

async fn settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(Json(SettingsOut::from(state.switchboard.checkin_settings(&access).await?)).into_response())
}

async fn update_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: SettingsIn = json_body(raw)?;
    let patch = CheckinSettingsPatch {
        enabled: body.enabled,
        question: body.question,
        prompt_time: body.prompt_time,
        digest_time: body.digest_time,
        reminder_time: nullable("reminder_time", body.reminder_time)?,
        timezone: body.timezone,
        workdays: body.workdays,
        holidays: body.holidays,
        version: body.version,
    };
    Ok(Json(SettingsOut::from(state.switchboard.update_checkin_settings(&access, patch).await?))
        .into_response())
}

async fn members(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let members = state.switchboard.checkin_members(&access).await?;
    Ok(Json(MemberList { members: members.into_iter().map(MemberOut::from).collect() }).into_response())
}

async fn update_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: MemberIn = json_body(raw)?;
    let patch = CheckinMemberPatch {
        timezone: nullable("timezone", body.timezone)?,
        vacation_from: nullable("vacation_from", body.vacation_from)?,
        vacation_until: nullable("vacation_until", body.vacation_until)?,
        prompts: body.prompts,
        digest: body.digest,
    };
    Ok(Json(MemberOut::from(state.switchboard.update_checkin_member(&access, &user, patch).await?))
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<ListIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let newest_first = match p.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!("order must be oldest or newest, not {other:?}"),
            ));
        }
    };
    let filter = EntryFilter {
        user: p.user,
        from: p.from,
        to: p.to,
        tag: p.tag,
        cursor: p.cursor,
        limit: p.limit,
        newest_first,
    };
    let page = state.switchboard.checkin_entries(&access, filter).await?;
    Ok(Json(EntryList {
        entries: page.items.into_iter().map(EntryOut::from).collect(),
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CheckinEntriesCreated")]
pub(super) struct Created {
    entries: Vec<EntryOut>,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CreateIn = json_body(raw)?;
    let new = NewEntries { user: body.user, date: body.date, text: body.text };
    let entries = state.switchboard.add_checkin_entries(&access, new).await?;
    Ok((StatusCode::CREATED, Json(Created { entries: entries.into_iter().map(EntryOut::from).collect() }))
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(Json(EntryOut::from(state.switchboard.checkin_entry(&access, &entry).await?)).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: PatchIn = json_body(raw)?;
    let patch = EntryPatch {
        text: body.text,
        kind: body.kind,
        completed: body.completed,
        date: body.date,
        version: body.version,
    };
    Ok(Json(EntryOut::from(state.switchboard.update_checkin_entry(&access, &entry, patch).await?))
        .into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_checkin_entry(&access, &entry).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn like(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(Json(EntryOut::from(state.switchboard.like_checkin_entry(&access, &entry, true).await?))
        .into_response())
}

async fn unlike(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(Json(EntryOut::from(state.switchboard.like_checkin_entry(&access, &entry, false).await?))
        .into_response())
}

async fn comment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, entry)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CommentIn = json_body(raw)?;
    let entry = state.switchboard.comment_checkin_entry(&access, &entry, &body.text).await?;
    Ok((StatusCode::CREATED, Json(EntryOut::from(entry))).into_response())
}

async fn tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let tags = state.switchboard.checkin_tags(&access).await?;
    Ok(Json(TagList { tags: tags.into_iter().map(|(tag, entries)| TagOut { tag, entries }).collect() })
        .into_response())
}
