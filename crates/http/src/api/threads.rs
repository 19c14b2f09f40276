//! Email threads and the context queries in the native API, for keys and sessions (with
//! `X-CSRF-Token`):
//!
//! - `POST /api/v1/workspaces/{id}/messages`: add a message (`message_id`, `in_reply_to`,
//!   `references`, `subject`, `sent_at`, `from`, `to`, `cc`, `bcc`, `reply_to`, `body`, and
//!   `box` to file its thread there); 201 when new, 200 with the stored one when its
//!   Message-ID is known. An address is `"ana@acme.com"`, `"Ana <ana@acme.com>"` or
//!   `{"email", "name"}`.
//! - `GET …/messages/{message}`: one message with its text.
//! - `GET …/threads` (`limit`, `cursor`), `GET …/threads/{thread}` (its messages and boxes),
//!   `GET …/threads/{thread}/boxes`: the boxes it concerns, each with its `reasons`.
//! - `GET …/boxes/{box}/threads`; `PUT …/boxes/{box}/threads/{thread}` (`{"source"}`: manual by
//!   default, automatic or suggested) files it; `DELETE` rejects it from the box.
//! - `GET …/boxes/{box}/timeline`; `GET …/contacts/{c}/threads|tasks`,
//!   `GET …/organizations/{o}/threads|tasks`.
//! - `GET …/audit` (`object`, `before`, `limit`): who changed what, newest first (admins).

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{AuditEntry, Message, MessageDraft, Thread, ThreadLink, TimelineEntry, TimelineEvent};
use sb_types::{ErrorKind, ParticipantRole, ThreadSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::boxes::BoxOut;
use super::pipelines::{json_body, query};
use super::tasks::task_list;
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/messages", post(add_message))
        .route("/api/v1/workspaces/{id}/messages/{message}", get(show_message))
        .route("/api/v1/workspaces/{id}/threads", get(list_threads))
        .route("/api/v1/workspaces/{id}/threads/{thread}", get(show_thread))
        .route("/api/v1/workspaces/{id}/threads/{thread}/boxes", get(thread_boxes))
        .route("/api/v1/workspaces/{id}/boxes/{box}/threads", get(box_threads))
        .route("/api/v1/workspaces/{id}/boxes/{box}/threads/{thread}", put(file_thread).delete(reject_thread))
        .route("/api/v1/workspaces/{id}/boxes/{box}/timeline", get(timeline))
        .route("/api/v1/workspaces/{id}/contacts/{contact}/threads", get(contact_threads))
        .route("/api/v1/workspaces/{id}/contacts/{contact}/tasks", get(contact_tasks))
        .route("/api/v1/workspaces/{id}/organizations/{organization}/threads", get(organization_threads))
        .route("/api/v1/workspaces/{id}/organizations/{organization}/tasks", get(organization_tasks))
        .route("/api/v1/workspaces/{id}/audit", get(audit))
}

/// An address as a request may give it.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Address")]
pub(super) enum AddressIn {
    Text(String),
    Parts {
        email: String,
        #[serde(default)]
        name: String,
    },
}

impl AddressIn {
    /// (address, display name): `Name <address>` is split, a bare address has no name.
    fn parts(self) -> (String, String) {
        match self {
            AddressIn::Parts { email, name } => (email, name),
            AddressIn::Text(text) => match (text.rfind('<'), text.trim_end().strip_suffix('>')) {
                (Some(open), Some(inner)) if open < inner.len() => {
                    let name = text[..open].trim().trim_matches('"').trim().to_owned();
                    (inner[open + 1..].to_owned(), name)
                }
                _ => (text, String::new()),
            },
        }
    }
}

/// One address or a list of them.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Addresses")]
pub(super) enum AddressesIn {
    One(AddressIn),
    Many(Vec<AddressIn>),
}

impl AddressesIn {
    fn into_vec(self) -> Vec<AddressIn> {
        match self {
            AddressesIn::One(one) => vec![one],
            AddressesIn::Many(many) => many,
        }
    }
}

/// References as a list of Message-IDs or as the header's text.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "References")]
pub(super) enum ReferencesIn {
    Header(String),
    List(Vec<String>),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MessageInput")]
pub(super) struct MessageIn {
    message_id: String,
    in_reply_to: Option<String>,
    references: Option<ReferencesIn>,
    #[serde(default)]
    subject: String,
    sent_at: String,
    from: AddressesIn,
    to: Option<AddressesIn>,
    cc: Option<AddressesIn>,
    bcc: Option<AddressesIn>,
    reply_to: Option<AddressesIn>,
    #[serde(default)]
    body: String,
    #[serde(rename = "box")]
    box_id: Option<String>,
}

impl MessageIn {
    fn into_draft(self) -> MessageDraft {
        let roles = [
            (ParticipantRole::From, Some(self.from)),
            (ParticipantRole::To, self.to),
            (ParticipantRole::Cc, self.cc),
            (ParticipantRole::Bcc, self.bcc),
            (ParticipantRole::ReplyTo, self.reply_to),
        ];
        let participants = roles
            .into_iter()
            .flat_map(|(role, addresses)| {
                addresses.map(AddressesIn::into_vec).unwrap_or_default().into_iter().map(move |a| {
                    let (email, name) = a.parts();
                    (role, email, name)
                })
            })
            .collect();
        let references = match self.references {
            Some(ReferencesIn::Header(text)) => text.split_whitespace().map(str::to_owned).collect(),
            Some(ReferencesIn::List(list)) => list,
            None => Vec::new(),
        };
        MessageDraft {
            message_id: self.message_id,
            in_reply_to: self.in_reply_to,
            references,
            subject: self.subject,
            sent_at: self.sent_at,
            participants,
            body: self.body,
            file_on: self.box_id,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Participant")]
pub(super) struct ParticipantOut {
    role: &'static str,
    email: String,
    name: String,
}

/// The wire form of a message.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Message")]
pub(super) struct MessageOut {
    id: String,
    thread: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Vec<String>,
    subject: String,
    sent_at: String,
    snippet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    participants: Vec<ParticipantOut>,
    created_by: String,
    created_at: String,
}

impl MessageOut {
    fn new(m: Message, with_body: bool) -> Self {
        MessageOut {
            id: m.id.to_string(),
            thread: m.thread.to_string(),
            message_id: m.message_id,
            in_reply_to: m.in_reply_to,
            references: m.references,
            subject: m.subject,
            sent_at: m.sent_at.to_string(),
            snippet: m.snippet,
            body: with_body.then_some(m.body),
            participants: m
                .participants
                .into_iter()
                .map(|p| ParticipantOut { role: p.role.as_str(), email: p.email.to_string(), name: p.name })
                .collect(),
            created_by: m.created_by,
            created_at: m.created_at.to_string(),
        }
    }
}

/// The wire form of a thread.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Thread")]
pub(super) struct ThreadOut {
    id: String,
    subject: String,
    message_count: i64,
    first_message_at: String,
    last_message_at: String,
    created_at: String,
    updated_at: String,
}

impl From<Thread> for ThreadOut {
    fn from(t: Thread) -> Self {
        ThreadOut {
            id: t.id.to_string(),
            subject: t.subject,
            message_count: t.message_count,
            first_message_at: t.first_message_at.to_string(),
            last_message_at: t.last_message_at.to_string(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ThreadLink")]
pub(super) struct LinkOut {
    #[serde(rename = "box")]
    box_id: String,
    thread: String,
    source: &'static str,
    added_by: String,
    added_at: String,
}

impl From<ThreadLink> for LinkOut {
    fn from(l: ThreadLink) -> Self {
        LinkOut {
            box_id: l.box_id.to_string(),
            thread: l.thread.to_string(),
            source: l.source.as_str(),
            added_by: l.added_by,
            added_at: l.added_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub(super) struct ThreadList {
    threads: Vec<ThreadOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn thread_list(threads: Vec<Thread>, next_cursor: Option<String>) -> Response {
    Json(ThreadList { threads: threads.into_iter().map(ThreadOut::from).collect(), next_cursor })
        .into_response()
}

async fn add_message(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: MessageIn = json_body(raw)?;
    let (message, created) = state.switchboard.add_message(&access, body.into_draft()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(MessageOut::new(message, true))).into_response())
}

async fn show_message(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, message)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let message = state.switchboard.message(&access, &message).await?;
    Ok(Json(MessageOut::new(message, true)).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ThreadListQuery")]
pub(super) struct PageIn {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list_threads(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<PageIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let page = state.switchboard.threads(&access, p.cursor.as_deref(), p.limit).await?;
    Ok(thread_list(page.items, page.next_cursor))
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ThreadWithMessages")]
pub(super) struct ThreadShow {
    #[serde(flatten)]
    thread: ThreadOut,
    messages: Vec<MessageOut>,
    boxes: Vec<LinkOut>,
}

async fn show_thread(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, thread)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let (thread, messages, links) = state.switchboard.thread(&access, &thread).await?;
    Ok(Json(ThreadShow {
        thread: thread.into(),
        messages: messages.into_iter().map(|m| MessageOut::new(m, false)).collect(),
        boxes: links.into_iter().map(LinkOut::from).collect(),
    })
    .into_response())
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ContextBox")]
pub(super) struct ContextBoxOut {
    #[serde(flatten)]
    crm_box: BoxOut,
    reasons: Vec<&'static str>,
}

async fn thread_boxes(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, thread)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found = state.switchboard.thread_boxes(&access, &thread).await?;
    let boxes: Vec<ContextBoxOut> = found
        .into_iter()
        .map(|(crm_box, reasons)| ContextBoxOut {
            crm_box: crm_box.into(),
            reasons: reasons.iter().map(|r| r.as_str()).collect(),
        })
        .collect();
    Ok(Json(json!({ "boxes": boxes })).into_response())
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "BoxThread")]
pub(super) struct BoxThreadOut {
    #[serde(flatten)]
    thread: ThreadOut,
    source: &'static str,
    added_by: String,
    added_at: String,
}

async fn box_threads(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found = state.switchboard.box_threads(&access, &crm_box).await?;
    let threads: Vec<BoxThreadOut> = found
        .into_iter()
        .map(|(thread, link)| BoxThreadOut {
            thread: thread.into(),
            source: link.source.as_str(),
            added_by: link.added_by,
            added_at: link.added_at.to_string(),
        })
        .collect();
    Ok(Json(json!({ "threads": threads })).into_response())
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ThreadFiling")]
pub(super) struct FileIn {
    source: Option<String>,
}

async fn file_thread(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box, thread)): Path<(String, String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let empty = raw.as_ref().is_ok_and(|b| b.iter().all(u8::is_ascii_whitespace));
    let body: FileIn = if empty { FileIn::default() } else { json_body(raw)? };
    let source = match body.source.as_deref() {
        None => ThreadSource::Manual,
        Some(text) => match ThreadSource::parse(text) {
            Ok(ThreadSource::Rejected) => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    "to reject a thread from a box, DELETE the link",
                ));
            }
            Ok(source) => source,
            Err(e) => return Err(ApiError::new(ErrorKind::Invalid, e.to_string())),
        },
    };
    let link = state.switchboard.file_thread(&access, &crm_box, &thread, source).await?;
    Ok(Json(LinkOut::from(link)).into_response())
}

async fn reject_thread(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box, thread)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.file_thread(&access, &crm_box, &thread, ThreadSource::Rejected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn timeline_json(entry: TimelineEntry) -> Value {
    let mut out = json!({"at": entry.at.to_string(), "actor": entry.actor});
    let details = match entry.event {
        TimelineEvent::Stage { from, to } => {
            json!({"kind": "stage", "from": from.map(|s| s.to_string()), "to": to.to_string()})
        }
        TimelineEvent::Email { message, subject, snippet } => {
            json!({"kind": "email", "message": message.to_string(), "subject": subject, "snippet": snippet})
        }
        TimelineEvent::Comment { comment, body } => {
            json!({"kind": "comment", "comment": comment, "body": body})
        }
        TimelineEvent::Task { task, text, done } => {
            json!({"kind": "task", "task": task, "text": text, "done": done})
        }
        TimelineEvent::Edit { changes } => json!({"kind": "edit", "changes": changes}),
    };
    if let (Some(out), Value::Object(details)) = (out.as_object_mut(), details) {
        out.extend(details);
    }
    out
}

async fn timeline(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let entries = state.switchboard.box_timeline(&access, &crm_box).await?;
    let timeline: Vec<Value> = entries.into_iter().map(timeline_json).collect();
    Ok(Json(json!({ "timeline": timeline })).into_response())
}

async fn contact_threads(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(thread_list(state.switchboard.contact_threads(&access, &contact).await?, None))
}

async fn contact_tasks(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(task_list(state.switchboard.contact_tasks(&access, &contact).await?))
}

async fn organization_threads(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(thread_list(state.switchboard.organization_threads(&access, &organization).await?, None))
}

async fn organization_tasks(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(task_list(state.switchboard.organization_tasks(&access, &organization).await?))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "AuditQuery")]
pub(super) struct AuditIn {
    object: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "AuditEntry")]
pub(super) struct AuditOut {
    id: i64,
    at: String,
    actor: String,
    object_kind: String,
    object_id: String,
    event: String,
    changes: Map<String, Value>,
}

impl From<AuditEntry> for AuditOut {
    fn from(a: AuditEntry) -> Self {
        AuditOut {
            id: a.id,
            at: a.at.to_string(),
            actor: a.actor,
            object_kind: a.object_kind,
            object_id: a.object_id,
            event: a.event,
            changes: a.changes,
        }
    }
}

async fn audit(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<AuditIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let entries = state.switchboard.audit(&access, p.object.as_deref(), p.before, p.limit).await?;
    let audit: Vec<AuditOut> = entries.into_iter().map(AuditOut::from).collect();
    Ok(Json(json!({ "audit": audit })).into_response())
}
