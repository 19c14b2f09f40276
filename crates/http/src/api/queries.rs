//! Queries and saved queries in the native API, for the explorer page and scripts: a key
//! (`Authorization: Bearer …`) or a session cookie with `X-CSRF-Token`, so the browser never
//! holds a key.
//!
//! - `POST /api/v1/workspaces/{id}/queries/{analysis}`: the Keen query parameters as a JSON
//!   body; answers the Keen response body (`{"result": …}`).
//! - `GET /api/v1/workspaces/{id}/saved_queries`, `GET|PUT|DELETE …/saved_queries/{name}`: the
//!   Keen saved query definitions (same body and shape as `/3.0/…/queries/saved`).

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use sb_types::ErrorKind;
use serde_json::Value;

use crate::auth::ApiCaller;
use crate::keen::{saved_query_definition, saved_query_draft};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/queries/{analysis}", post(run))
        .route("/api/v1/workspaces/{id}/saved_queries", get(list))
        .route("/api/v1/workspaces/{id}/saved_queries/{name}", get(show).put(put).delete(delete))
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| ApiError::new(ErrorKind::Invalid, rejection.body_text()))
}

async fn run(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, analysis)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let Ok(Value::Object(parameters)) = serde_json::from_slice::<Value>(&body(raw)?) else {
        return Err(ApiError::new(ErrorKind::Invalid, "the body must be a JSON object of query parameters"));
    };
    let now = sb_types::Timestamp::now().millis();
    let response = state.switchboard.run_analysis(&access, &analysis, parameters, now).await?;
    Ok(([(CONTENT_TYPE, "application/json")], response.to_json()).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let saved = state.switchboard.saved_queries(&access).await?;
    let list: Vec<Value> = saved.iter().map(|s| Value::Object(saved_query_definition(s))).collect();
    Ok(Json(list).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let saved = state.switchboard.saved_query(&access, &name).await?;
    Ok(Json(saved_query_definition(&saved)).into_response())
}

async fn put(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, name)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let draft = saved_query_draft(&name, &body(raw)?)?;
    let saved = state.switchboard.put_saved_query(&access, &name, draft).await?;
    Ok((StatusCode::CREATED, Json(saved_query_definition(&saved))).into_response())
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_saved_query(&access, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
