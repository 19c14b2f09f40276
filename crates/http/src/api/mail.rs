//! The mail outbox and inbox in the native API, for admins:
//!
//! - `GET /api/v1/workspaces/{id}/mail/outbox?state=&limit=`: messages, newest change first,
//!   with counts per state; `GET …/mail/outbox/{mail}`: one, with every attempt.
//! - `GET …/mail/suppressions`, `DELETE …/mail/suppressions/{address}`: addresses nothing is
//!   sent to (bounced, complained, unsubscribed), and taking one off.
//! - `GET …/mail/inbound?limit=`: messages received, with what became of each.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use sb_core::{MailAttempt, OutboxMail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pipelines::query;
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/mail/outbox", get(outbox))
        .route("/api/v1/workspaces/{id}/mail/outbox/{mail}", get(show))
        .route("/api/v1/workspaces/{id}/mail/suppressions", get(suppressions))
        .route("/api/v1/workspaces/{id}/mail/suppressions/{address}", delete(unsuppress))
        .route("/api/v1/workspaces/{id}/mail/inbound", get(inbound))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OutboxQuery")]
pub(super) struct OutboxIn {
    /// scheduled, queued, sending, sent, deferred, failed, bounced, complained, expired,
    /// cancelled or suppressed.
    state: Option<String>,
    limit: Option<i64>,
}

/// The wire form of an outgoing message.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "OutboxMail")]
pub(super) struct MailOut {
    id: String,
    kind: String,
    message_id: String,
    recipient: String,
    subject: String,
    state: String,
    send_at: String,
    expires_at: String,
    next_attempt_at: String,
    attempts: i64,
    /// The SMTP reply code of the last attempt.
    last_code: Option<i64>,
    /// The server's reply to the last attempt, or what went wrong.
    last_error: String,
    created_at: String,
    updated_at: String,
}

impl From<OutboxMail> for MailOut {
    fn from(m: OutboxMail) -> Self {
        MailOut {
            id: m.id.to_string(),
            kind: m.kind,
            message_id: m.message_id,
            recipient: m.recipient,
            subject: m.subject,
            state: m.state.to_owned(),
            send_at: m.send_at.to_string(),
            expires_at: m.expires_at.to_string(),
            next_attempt_at: m.next_attempt_at.to_string(),
            attempts: m.attempts,
            last_code: m.last_code,
            last_error: m.last_error,
            created_at: m.created_at.to_string(),
            updated_at: m.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Outbox")]
pub(super) struct OutboxOut {
    /// How many messages are in each state.
    counts: std::collections::BTreeMap<String, i64>,
    mail: Vec<MailOut>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "MailAttempt")]
pub(super) struct AttemptOut {
    attempt: i64,
    at: String,
    outcome: String,
    code: Option<i64>,
    enhanced: Option<String>,
    detail: String,
}

impl From<MailAttempt> for AttemptOut {
    fn from(a: MailAttempt) -> Self {
        AttemptOut {
            attempt: a.attempt,
            at: a.at.to_string(),
            outcome: a.outcome.to_owned(),
            code: a.code,
            enhanced: a.enhanced,
            detail: a.detail,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "OutboxMailDetail")]
pub(super) struct DetailOut {
    #[serde(flatten)]
    mail: MailOut,
    attempts: Vec<AttemptOut>,
    /// The message as sent, headers and body.
    raw: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SuppressionList")]
pub(super) struct SuppressionList {
    suppressions: Vec<SuppressionOut>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Suppression")]
pub(super) struct SuppressionOut {
    address: String,
    /// bounce, complaint, unsubscribe.
    reason: String,
    detail: String,
    created_at: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InboundQuery")]
pub(super) struct InboundIn {
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "InboundList")]
pub(super) struct InboundList {
    inbound: Vec<InboundOut>,
}

/// A received message and what became of it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "InboundMail")]
pub(super) struct InboundOut {
    id: String,
    message_id: String,
    received_via: String,
    from: String,
    subject: String,
    /// `entries` or `flagged`.
    outcome: String,
    detail: String,
    received_at: String,
}

async fn outbox(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<OutboxIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let mail = state.switchboard.mail_outbox(&access, p.state.as_deref(), p.limit.unwrap_or(100)).await?;
    let counts = state.switchboard.mail_counts(&access).await?;
    Ok(Json(OutboxOut {
        counts: counts.into_iter().map(|(s, n)| (s.to_owned(), n)).collect(),
        mail: mail.into_iter().map(MailOut::from).collect(),
    })
    .into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, mail)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let (mail, attempts, raw) = state.switchboard.outbox_mail(&access, &mail).await?;
    let attempts = attempts.into_iter().map(AttemptOut::from).collect();
    Ok(Json(DetailOut { mail: mail.into(), attempts, raw }).into_response())
}

async fn suppressions(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let list = state.switchboard.suppressions(&access).await?;
    Ok(Json(SuppressionList {
        suppressions: list
            .into_iter()
            .map(|s| SuppressionOut {
                address: s.address,
                reason: s.reason,
                detail: s.detail,
                created_at: s.created_at.to_string(),
            })
            .collect(),
    })
    .into_response())
}

async fn unsuppress(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, address)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.unsuppress(&access, &address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn inbound(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<InboundIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let list = state.switchboard.inbound_mail(&access, p.limit.unwrap_or(100)).await?;
    Ok(Json(InboundList {
        inbound: list
            .into_iter()
            .map(|m| InboundOut {
                id: m.id.to_string(),
                message_id: m.message_id,
                received_via: m.received_via,
                from: m.from_address,
                subject: m.subject,
                outcome: m.outcome,
                detail: m.detail,
                received_at: m.received_at.to_string(),
            })
            .collect(),
    })
    .into_response())
}
