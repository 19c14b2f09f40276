//! `GET /api/v1/workspaces/{id}`: the workspace, to a key or a session of that workspace.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/workspaces/{id}", get(show))
}

/// The wire form of a workspace.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Workspace")]
pub(super) struct WorkspaceDto {
    id: String,
    name: String,
    created_at: String,
    member_count: i64,
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceDto>, ApiError> {
    let access = caller.access(&state, &id).await?;
    let summary = state.switchboard.workspace_summary(&access).await?;
    Ok(Json(WorkspaceDto {
        id: summary.workspace.id.to_string(),
        name: summary.workspace.name.to_string(),
        created_at: summary.workspace.created_at.to_string(),
        member_count: summary.member_count,
    }))
}
