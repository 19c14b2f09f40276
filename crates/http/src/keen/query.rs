//! Queries: `GET|POST /3.0/projects/{project}/queries/{analysis}`. GET takes JSON-encoded
//! values in the query string (a value that is not JSON is taken as a string), POST a JSON
//! body; unknown keys are ignored. Answers `{"result": …}`.

use std::collections::HashMap;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::auth::project_access;
use super::error::KeenError;
use crate::AppState;

/// Parameters whose value is always a plain string, never JSON (a collection named `123`
/// stays a string).
const TEXT_PARAMETERS: &[&str] = &["event_collection", "target_property"];

/// A query-string value: JSON when it parses as JSON, else the raw text.
fn loose_json(key: &str, text: &str) -> Value {
    if TEXT_PARAMETERS.contains(&key) {
        return Value::String(text.to_owned());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

async fn answer(
    state: &AppState,
    project: &str,
    analysis: &str,
    headers: &HeaderMap,
    api_key: Option<&str>,
    parameters: Result<Map<String, Value>, KeenError>,
) -> Result<Response, KeenError> {
    let access = project_access(state, project, headers, api_key).await?;
    let now = sb_types::Timestamp::now().millis();
    let body = state.switchboard.run_analysis(&access, analysis, parameters?, now).await?;
    Ok(([(CONTENT_TYPE, "application/json")], body.to_json()).into_response())
}

pub(crate) async fn analysis_get(
    State(state): State<AppState>,
    Path((project, analysis)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let parameters: Map<String, Value> = params
        .iter()
        .filter(|(key, _)| *key != "api_key")
        .map(|(key, value)| (key.clone(), loose_json(key, value)))
        .collect();
    let api_key = params.get("api_key").map(String::as_str);
    answer(&state, &project, &analysis, &headers, api_key, Ok(parameters)).await
}

pub(crate) async fn analysis_post(
    State(state): State<AppState>,
    Path((project, analysis)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeenError> {
    let parameters = match serde_json::from_slice::<Value>(&body?) {
        Ok(Value::Object(parameters)) => Ok(parameters),
        _ => Err(KeenError::bad_request(
            "BadRequestError",
            "the body must be a JSON object of query parameters",
        )),
    };
    let api_key = params.get("api_key").map(String::as_str);
    answer(&state, &project, &analysis, &headers, api_key, parameters).await
}
