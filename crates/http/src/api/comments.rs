//! CRM comments in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `GET|POST /api/v1/workspaces/{id}/boxes/{box}/comments`: a box's comments, oldest first;
//!   add one (`{"body"}`; `@address` mentions a member).
//! - `PATCH|DELETE …/comments/{comment}`: edit (`{"version", "body"}`; a stale version is 409)
//!   or delete, by its author or an admin.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::Comment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pipelines::{json_body, required_version};
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/boxes/{box}/comments", get(list).post(create))
        .route("/api/v1/workspaces/{id}/comments/{comment}", patch(update).delete(delete))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CommentInput")]
pub(super) struct CommentIn {
    version: Option<i64>,
    body: String,
}

/// The wire form of a comment.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Comment")]
pub(super) struct CommentOut {
    id: String,
    #[serde(rename = "box")]
    box_id: String,
    body: String,
    mentions: Vec<String>,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl From<Comment> for CommentOut {
    fn from(c: Comment) -> Self {
        CommentOut {
            id: c.id.to_string(),
            box_id: c.box_id.to_string(),
            body: c.body,
            mentions: c.mentions.iter().map(ToString::to_string).collect(),
            version: c.version,
            created_by: c.created_by,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CommentList")]
pub(super) struct CommentList {
    comments: Vec<CommentOut>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let comments = state.switchboard.box_comments(&access, &crm_box).await?;
    Ok(Json(CommentList { comments: comments.into_iter().map(CommentOut::from).collect() }).into_response())
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CommentIn = json_body(raw)?;
    let comment = state.switchboard.add_comment(&access, &crm_box, &body.body).await?;
    Ok((StatusCode::CREATED, Json(CommentOut::from(comment))).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, comment)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CommentIn = json_body(raw)?;
    let version = required_version(body.version)?;
    let edited = state.switchboard.edit_comment(&access, &comment, version, &body.body).await?;
    Ok(Json(CommentOut::from(edited)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, comment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_comment(&access, &comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
