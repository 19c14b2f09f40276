//! CRM tasks in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `GET|POST /api/v1/workspaces/{id}/boxes/{box}/tasks`: a box's tasks, oldest first; create.
//! - `GET|PATCH|DELETE …/tasks/{task}`: read; change (with `version`: a stale one is 409;
//!   `due_date: null` clears the date); delete.
//! - `GET …/tasks?due_by=YYYY-MM-DD&assignee=USER`: the open tasks due by that day (today in
//!   UTC by default), everyone's or one member's, earliest due first: overdue and due today.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{Task, TaskDraft, TaskPatch};
use sb_types::ErrorKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pipelines::{json_body, present, query, required_version};
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/boxes/{box}/tasks", get(list).post(create))
        .route("/api/v1/workspaces/{id}/tasks", get(due))
        .route("/api/v1/workspaces/{id}/tasks/{task}", get(show).patch(update).delete(delete))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TaskCreate")]
pub(super) struct CreateIn {
    text: String,
    due_date: Option<String>,
    #[serde(default)]
    assignees: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TaskPatch")]
pub(super) struct PatchIn {
    version: Option<i64>,
    text: Option<String>,
    /// Absent: unchanged; `null`: cleared; a string: the new date.
    #[serde(default, deserialize_with = "present")]
    due_date: Option<Value>,
    assignees: Option<Vec<String>>,
    done: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DueTasksQuery")]
pub(super) struct DueIn {
    due_by: Option<String>,
    assignee: Option<String>,
}

/// The wire form of a task.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Task")]
pub(super) struct TaskOut {
    id: String,
    #[serde(rename = "box")]
    box_id: String,
    text: String,
    due_date: Option<String>,
    assignees: Vec<String>,
    done: bool,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl From<Task> for TaskOut {
    fn from(t: Task) -> Self {
        TaskOut {
            id: t.id.to_string(),
            box_id: t.box_id.to_string(),
            text: t.text,
            due_date: t.due_date,
            assignees: t.assignees.iter().map(ToString::to_string).collect(),
            done: t.done,
            version: t.version,
            created_by: t.created_by,
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "TaskList")]
pub(super) struct TaskList {
    tasks: Vec<TaskOut>,
}

pub(super) fn task_list(tasks: Vec<Task>) -> Response {
    Json(TaskList { tasks: tasks.into_iter().map(TaskOut::from).collect() }).into_response()
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(task_list(state.switchboard.box_tasks(&access, &crm_box).await?))
}

async fn due(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<DueIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let tasks = state.switchboard.due_tasks(&access, p.due_by.as_deref(), p.assignee.as_deref()).await?;
    Ok(task_list(tasks))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, crm_box)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: CreateIn = json_body(raw)?;
    let draft = TaskDraft { text: body.text, due_date: body.due_date, assignees: body.assignees };
    let task = state.switchboard.create_task(&access, &crm_box, draft).await?;
    Ok((StatusCode::CREATED, Json(TaskOut::from(task))).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    Ok(Json(TaskOut::from(state.switchboard.task(&access, &task).await?)).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, task)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: PatchIn = json_body(raw)?;
    let due_date = match body.due_date {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(date)) => Some(Some(date)),
        Some(_) => {
            return Err(ApiError::new(ErrorKind::Invalid, "due_date must be a date as YYYY-MM-DD or null"));
        }
    };
    let patch = TaskPatch {
        version: required_version(body.version)?,
        text: body.text,
        due_date,
        assignees: body.assignees,
        done: body.done,
    };
    let updated = state.switchboard.update_task(&access, &task, patch).await?;
    Ok(Json(TaskOut::from(updated)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_task(&access, &task).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
