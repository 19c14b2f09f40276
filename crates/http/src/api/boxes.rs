//! CRM boxes in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `GET|POST /api/v1/workspaces/{id}/pipelines/{pipeline}/boxes`: a page of boxes (`stage`,
//!   `assignee`, `field` with `value`, `updated_since`, `sort` = `updated`|`name`, `limit`, `cursor`); create.
//! - `GET|PATCH|DELETE …/boxes/{box}`: read (with its stage history and links); change (with
//!   `version`: a stale one is 409; `fields` merges, `null` clears a value); delete.
//! - `PUT|DELETE …/boxes/{box}/contacts/{contact}`, `…/organizations/{organization}` and
//!   `…/boxes/{other}`: link the box, or remove the link (a link between boxes shows on both).

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{BoxDraft, BoxFilter, BoxLinkKind, BoxPatch, CrmBox, StageMove};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::pipelines::{json_body, query, required_version};
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};
use sb_types::ErrorKind;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/pipelines/{pipeline}/boxes", get(list).post(create))
        .route("/api/v1/workspaces/{id}/boxes/{box}", get(show).patch(update).delete(delete))
        .route(
            "/api/v1/workspaces/{id}/boxes/{box}/contacts/{target}",
            put(link_contact).delete(unlink_contact),
        )
        .route(
            "/api/v1/workspaces/{id}/boxes/{box}/boxes/{target}",
            put(link_other_box).delete(unlink_other_box),
        )
        .route(
            "/api/v1/workspaces/{id}/boxes/{box}/organizations/{target}",
            put(link_organization).delete(unlink_organization),
        )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BoxCreate")]
pub(super) struct CreateIn {
    name: String,
    #[serde(default)]
    notes: String,
    stage: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
    #[serde(default)]
    assignees: Vec<String>,
    #[serde(default)]
    followers: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BoxPatch")]
pub(super) struct PatchIn {
    version: Option<i64>,
    name: Option<String>,
    notes: Option<String>,
    stage: Option<String>,
    fields: Option<Map<String, Value>>,
    assignees: Option<Vec<String>>,
    followers: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BoxListQuery")]
pub(super) struct ListIn {
    stage: Option<String>,
    assignee: Option<String>,
    field: Option<String>,
    value: Option<String>,
    updated_since: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The wire form of a box.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Box")]
pub(super) struct BoxOut {
    id: String,
    pipeline: String,
    stage: String,
    name: String,
    notes: String,
    fields: Map<String, Value>,
    assignees: Vec<String>,
    followers: Vec<String>,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage_history: Option<Vec<StageMoveOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    linked_boxes: Option<Vec<String>>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "StageMove")]
pub(super) struct StageMoveOut {
    from: Option<String>,
    to: String,
    changed_by: String,
    changed_at: String,
}

impl From<StageMove> for StageMoveOut {
    fn from(m: StageMove) -> Self {
        StageMoveOut {
            from: m.from.map(|s| s.to_string()),
            to: m.to.to_string(),
            changed_by: m.changed_by,
            changed_at: m.changed_at.to_string(),
        }
    }
}

impl From<CrmBox> for BoxOut {
    fn from(b: CrmBox) -> Self {
        BoxOut {
            id: b.id.to_string(),
            pipeline: b.pipeline.to_string(),
            stage: b.stage.to_string(),
            name: b.name,
            notes: b.notes,
            fields: b.fields,
            assignees: b.assignees.iter().map(ToString::to_string).collect(),
            followers: b.followers.iter().map(ToString::to_string).collect(),
            version: b.version,
            created_by: b.created_by,
            created_at: b.created_at.to_string(),
            updated_at: b.updated_at.to_string(),
            stage_history: None,
            contacts: None,
            organizations: None,
            linked_boxes: None,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "BoxPage")]
pub(super) struct BoxList {
    boxes: Vec<BoxOut>,
    next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, pipeline)): Path<(String, String)>,
    params: Result<Query<ListIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let field = match (p.field, p.value) {
        (Some(field), Some(value)) => Some((field, value)),
        (None, None) => None,
        _ => {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "field and value filter boxes together: give both",
            ));
        }
    };
    let filter = BoxFilter {
        stage: p.stage,
        assignee: p.assignee,
        field,
        updated_since: p.updated_since,
        sort: p.sort,
        limit: p.limit,
        cursor: p.cursor,
    };
    let page = state.switchboard.boxes(&access, &pipeline, filter).await?;
    let boxes = page.items.into_iter().map(BoxOut::from).collect();
    Ok(Json(BoxList { boxes, next_cursor: page.next_cursor }).into_response())
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, pipeline)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CreateIn = json_body(raw)?;
    let draft = BoxDraft {
        name: body.name,
        notes: body.notes,
        stage: body.stage,
        fields: body.fields,
        assignees: body.assignees,
        followers: body.followers,
    };
    let crm_box = state.switchboard.create_box(&access, &pipeline, draft).await?;
    Ok((StatusCode::CREATED, Json(BoxOut::from(crm_box))).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found = state.switchboard.crm_box(&access, &crm_box).await?;
    let history = state.switchboard.box_stage_history(&access, &crm_box).await?;
    let links = state.switchboard.box_links(&access, &crm_box).await?;
    let mut out = BoxOut::from(found);
    out.stage_history = Some(history.into_iter().map(StageMoveOut::from).collect());
    out.contacts = Some(links.contacts.iter().map(ToString::to_string).collect());
    out.organizations = Some(links.organizations.iter().map(ToString::to_string).collect());
    out.linked_boxes = Some(links.boxes.iter().map(ToString::to_string).collect());
    Ok(Json(out).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: PatchIn = json_body(raw)?;
    let patch = BoxPatch {
        version: required_version(body.version)?,
        name: body.name,
        notes: body.notes,
        stage: body.stage,
        fields: body.fields,
        assignees: body.assignees,
        followers: body.followers,
    };
    let updated = state.switchboard.update_box(&access, &crm_box, patch).await?;
    Ok(Json(BoxOut::from(updated)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_box(&access, &crm_box).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn link_box(
    state: &AppState,
    caller: ApiCaller,
    (id, crm_box, target): (String, String, String),
    kind: BoxLinkKind,
    linked: bool,
) -> Result<Response, ApiError> {
    let access = caller.access(state, &id).await?;
    state.switchboard.link_box(&access, &crm_box, kind, &target, linked).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn link_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Contact, true).await
}

async fn unlink_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Contact, false).await
}

async fn link_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Organization, true).await
}

async fn unlink_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Organization, false).await
}

async fn link_other_box(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Box, true).await
}

async fn unlink_other_box(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    link_box(&state, caller, path, BoxLinkKind::Box, false).await
}
