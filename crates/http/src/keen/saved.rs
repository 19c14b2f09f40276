//! Saved queries: `GET /3.0/projects/{project}/queries/saved` (list), `GET|PUT|DELETE
//! …/saved/{name}` and `GET …/saved/{name}/result`. Definitions need the master key, results a
//! read or master key (keen-api.md §2.3, §6). The definition's JSON shape lives here and is
//! shared with the native API, which the explorer page saves through.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sb_core::{CoreError, SavedQuery, SavedQueryDraft};
use sb_types::QueryName;
use serde_json::{Map, Value, json};

use super::auth::project_access;
use super::error::KeenError;
use crate::AppState;

type Params = Query<HashMap<String, String>>;

fn api_key(params: &HashMap<String, String>) -> Option<&str> {
    params.get("api_key").map(String::as_str)
}

fn invalid(code: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Query { code, message: message.into() }
}

/// The wire form of a saved query. `created_date` and `last_modified_date` repeat the times
/// under the names Keen's Explorer reads.
pub(crate) fn definition(saved: &SavedQuery) -> Map<String, Value> {
    let (created, updated) = (saved.created_at.to_string(), saved.updated_at.to_string());
    let value = json!({
        "query_name": saved.name.as_str(),
        "refresh_rate": saved.refresh_rate,
        "query": saved.query,
        "metadata": saved.metadata,
        "created_at": created,
        "updated_at": updated,
        "created_date": created,
        "last_modified_date": updated,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// Reads a PUT body: `query` (required object), `query_name` (the URL's name when absent; a
/// different one renames), `refresh_rate` (seconds, 0 when absent) and `metadata` (an object).
/// Read-only fields such as `created_at` are ignored, so a fetched definition can be sent back.
pub(crate) fn draft(url_name: &str, body: &[u8]) -> Result<SavedQueryDraft, CoreError> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid("BadRequestError", "the body must be a JSON object with a query"));
    };
    let present = |key: &str| body.get(key).filter(|v| !v.is_null());
    let name = match present("query_name") {
        None => url_name,
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(invalid("InvalidQueryNameError", "query_name must be a string")),
    };
    let name = QueryName::parse(name).map_err(|e| invalid("InvalidQueryNameError", e.0))?;
    let refresh_rate = match present("refresh_rate") {
        None => 0,
        Some(value) => value.as_i64().ok_or_else(|| {
            invalid("InvalidRefreshRateError", "refresh_rate must be a whole number of seconds")
        })?,
    };
    let query = match present("query") {
        Some(Value::Object(query)) => query.clone(),
        Some(_) => return Err(invalid("BadRequestError", "query must be a JSON object")),
        None => return Err(invalid("MissingRequiredPropertyError", "query is required")),
    };
    let metadata = match present("metadata") {
        None => Map::new(),
        Some(Value::Object(metadata)) => metadata.clone(),
        Some(_) => return Err(invalid("BadRequestError", "metadata must be a JSON object")),
    };
    Ok(SavedQueryDraft { name, refresh_rate, query, metadata })
}

/// A saved query unknown to Keen clients: `ResourceNotFoundError` naming the query.
fn not_found(error: CoreError) -> KeenError {
    match error {
        CoreError::NotFound("saved query") => {
            KeenError::new(StatusCode::NOT_FOUND, "ResourceNotFoundError", "saved query not found")
        }
        other => other.into(),
    }
}

/// `GET /3.0/projects/{project}/queries/saved` (master key): every definition, by name.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let saved = state.switchboard.saved_queries(&access).await?;
    let list: Vec<Value> = saved.iter().map(|s| Value::Object(definition(s))).collect();
    Ok(Json(list).into_response())
}

/// `GET /3.0/projects/{project}/queries/saved/{name}` (master key).
pub(crate) async fn show(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let saved = state.switchboard.saved_query(&access, &name).await.map_err(not_found)?;
    Ok(Json(definition(&saved)).into_response())
}

/// `GET /3.0/projects/{project}/queries/saved/{name}/result` (read or master key): the
/// definition plus `result`, computed now.
pub(crate) async fn result(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let now = sb_types::Timestamp::now().millis();
    let (saved, response) =
        state.switchboard.saved_query_result(&access, &name, now).await.map_err(not_found)?;
    let mut body = definition(&saved);
    body.extend(response.into_iter().filter(|(key, _)| key == "result" || key == "actors"));
    Ok(Json(body).into_response())
}

/// `PUT /3.0/projects/{project}/queries/saved/{name}` (master key): creates or replaces the
/// query, or renames it when the body names another; 201 with the definition.
pub(crate) async fn put(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let draft = draft(&name, &body?)?;
    let saved = state.switchboard.put_saved_query(&access, &name, draft).await.map_err(not_found)?;
    Ok((StatusCode::CREATED, Json(definition(&saved))).into_response())
}

/// `DELETE /3.0/projects/{project}/queries/saved/{name}` (master key): 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((project, name)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    state.switchboard.delete_saved_query(&access, &name).await.map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
