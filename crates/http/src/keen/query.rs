//! Queries: `GET|POST /3.0/projects/{project}/queries/count`. GET takes JSON-encoded values in
//! the query string, POST a JSON body; unknown keys are ignored. Answers `{"result": …}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sb_core::CountQuery;
use serde_json::{Map, Value, json};

use super::auth::project_access;
use super::error::KeenError;
use crate::AppState;

/// A query-string value: JSON when it parses as JSON, else the raw text.
fn loose_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn count_query(parameters: &Map<String, Value>) -> Result<CountQuery, KeenError> {
    let collection = match parameters.get("event_collection") {
        Some(Value::String(name)) => name.clone(),
        _ => {
            return Err(KeenError::bad_request(
                "MissingRequiredPropertyError",
                "event_collection is required",
            ));
        }
    };
    let present = |key: &str| parameters.get(key).filter(|v| !v.is_null()).cloned();
    Ok(CountQuery {
        collection,
        timeframe: present("timeframe"),
        timezone: present("timezone"),
        filters: present("filters"),
    })
}

async fn answer(
    state: &AppState,
    project: &str,
    headers: &HeaderMap,
    api_key: Option<&str>,
    query: Result<CountQuery, KeenError>,
) -> Result<Response, KeenError> {
    let access = project_access(state, project, headers, api_key).await?;
    let count = state.switchboard.count_events(&access, query?, sb_types::Timestamp::now().millis()).await?;
    Ok(Json(json!({ "result": count })).into_response())
}

pub(crate) async fn count_get(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let parameters: Map<String, Value> = params
        .iter()
        .filter(|(key, _)| *key != "api_key")
        .map(|(key, value)| {
            let value =
                if key == "event_collection" { Value::String(value.clone()) } else { loose_json(value) };
            (key.clone(), value)
        })
        .collect();
    answer(&state, &project, &headers, params.get("api_key").map(String::as_str), count_query(&parameters))
        .await
}

pub(crate) async fn count_post(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeenError> {
    let query = match serde_json::from_slice::<Value>(&body?) {
        Ok(Value::Object(parameters)) => count_query(&parameters),
        _ => Err(KeenError::bad_request(
            "BadRequestError",
            "the body must be a JSON object of query parameters",
        )),
    };
    answer(&state, &project, &headers, params.get("api_key").map(String::as_str), query).await
}
