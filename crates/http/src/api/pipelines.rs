//! CRM pipelines in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `GET|POST /api/v1/workspaces/{id}/pipelines`: a page by name (`limit`, `cursor`); create.
//! - `GET|PATCH|DELETE …/pipelines/{pipeline}`: read; change (with `version`: a stale one is
//!   409); delete when it holds no boxes.
//!
//! Also the wire helpers the box routes share: JSON bodies that refuse unknown keys.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{FieldDraft, Pipeline, PipelineDraft, PipelinePatch, StageDraft};
use sb_types::ErrorKind;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/pipelines", get(list).post(create))
        .route("/api/v1/workspaces/{id}/pipelines/{pipeline}", get(show).patch(update).delete(delete))
}

/// The body as `T`; a malformed body or an unknown key is a 400 that names the problem.
pub(super) fn json_body<T: DeserializeOwned>(raw: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = raw.map_err(|rejection| ApiError::new(ErrorKind::Invalid, rejection.body_text()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorKind::Invalid, format!("invalid JSON body: {e}")))
}

/// The query string as `T`, or a 400.
pub(super) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|rejection| ApiError::new(ErrorKind::Invalid, rejection.body_text()))
}

/// Keeps an explicit `null` as `Some(Value::Null)`, so that it differs from an absent key
/// (`#[serde(default, deserialize_with = "present")]`).
pub(super) fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `version`, which every change must carry.
pub(super) fn required_version(version: Option<i64>) -> Result<i64, ApiError> {
    version.ok_or_else(|| {
        ApiError::new(
            ErrorKind::Invalid,
            "version is required: send the version you read, so a change made since is not overwritten",
        )
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StageInput")]
pub(super) struct StageIn {
    id: Option<String>,
    name: String,
    color: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FieldInput")]
pub(super) struct FieldIn {
    id: Option<String>,
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    options: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PipelineCreate")]
pub(super) struct CreateIn {
    name: String,
    #[serde(default)]
    description: String,
    stages: Vec<StageIn>,
    #[serde(default)]
    fields: Vec<FieldIn>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PipelinePatch")]
pub(super) struct PatchIn {
    version: Option<i64>,
    name: Option<String>,
    description: Option<String>,
    stages: Option<Vec<StageIn>>,
    fields: Option<Vec<FieldIn>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PipelineListQuery")]
pub(super) struct ListIn {
    limit: Option<i64>,
    cursor: Option<String>,
}

fn stage_drafts(stages: Vec<StageIn>) -> Vec<StageDraft> {
    stages.into_iter().map(|s| StageDraft { id: s.id, name: s.name, color: s.color }).collect()
}

fn field_drafts(fields: Vec<FieldIn>) -> Vec<FieldDraft> {
    fields
        .into_iter()
        .map(|f| FieldDraft { id: f.id, name: f.name, field_type: f.field_type, options: f.options })
        .collect()
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Stage")]
pub(super) struct StageOut {
    id: String,
    name: String,
    color: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Field")]
pub(super) struct FieldOut {
    id: String,
    name: String,
    #[serde(rename = "type")]
    field_type: &'static str,
    options: Vec<String>,
}

/// The wire form of a pipeline.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Pipeline")]
pub(super) struct PipelineOut {
    id: String,
    name: String,
    description: String,
    stages: Vec<StageOut>,
    fields: Vec<FieldOut>,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl From<Pipeline> for PipelineOut {
    fn from(p: Pipeline) -> Self {
        PipelineOut {
            id: p.id.to_string(),
            name: p.name,
            description: p.description,
            stages: p
                .stages
                .into_iter()
                .map(|s| StageOut { id: s.id.to_string(), name: s.name, color: s.color })
                .collect(),
            fields: p
                .fields
                .into_iter()
                .map(|f| FieldOut {
                    id: f.id.to_string(),
                    name: f.name,
                    field_type: f.field_type.as_str(),
                    options: f.options,
                })
                .collect(),
            version: p.version,
            created_by: p.created_by,
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "PipelinePage")]
pub(super) struct PipelineList {
    pipelines: Vec<PipelineOut>,
    next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<ListIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let params = query(params)?;
    let page = state.switchboard.pipelines(&access, params.limit, params.cursor.as_deref()).await?;
    let pipelines = page.items.into_iter().map(PipelineOut::from).collect();
    Ok(Json(PipelineList { pipelines, next_cursor: page.next_cursor }).into_response())
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CreateIn = json_body(raw)?;
    let draft = PipelineDraft {
        name: body.name,
        description: body.description,
        stages: stage_drafts(body.stages),
        fields: field_drafts(body.fields),
    };
    let pipeline = state.switchboard.create_pipeline(&access, draft).await?;
    Ok((StatusCode::CREATED, Json(PipelineOut::from(pipeline))).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, pipeline)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let pipeline = state.switchboard.pipeline(&access, &pipeline).await?;
    Ok(Json(PipelineOut::from(pipeline)).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, pipeline)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: PatchIn = json_body(raw)?;
    let patch = PipelinePatch {
        version: required_version(body.version)?,
        name: body.name,
        description: body.description,
        stages: body.stages.map(stage_drafts),
        fields: body.fields.map(field_drafts),
    };
    let pipeline = state.switchboard.update_pipeline(&access, &pipeline, patch).await?;
    Ok(Json(PipelineOut::from(pipeline)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, pipeline)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_pipeline(&access, &pipeline).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
