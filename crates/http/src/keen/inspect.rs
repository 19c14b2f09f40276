//! Inspection: the project (`GET /3.0/projects/{project}`, master key), the projects list,
//! and collection schemas with flattened property paths and Keen type names.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use sb_core::{Access, Permission};
use serde_json::{Value, json};

use super::auth::{presented_key, project_access};
use super::error::KeenError;
use crate::AppState;

type Params = Query<HashMap<String, String>>;

fn api_key(params: &HashMap<String, String>) -> Option<&str> {
    params.get("api_key").map(String::as_str)
}

async fn project_json(state: &AppState, access: &Access) -> Result<Value, KeenError> {
    access.require(Permission::Admin)?;
    let summary = state.switchboard.workspace_summary(access).await?;
    let id = summary.workspace.id.to_string();
    let url = format!("/3.0/projects/{id}");
    let events: Vec<Value> = state
        .switchboard
        .event_collections(access)
        .await?
        .into_iter()
        .map(|(name, _)| json!({ "name": name.as_str(), "url": format!("{url}/events/{name}") }))
        .collect();
    let saved_queries: Vec<Value> = state
        .switchboard
        .saved_queries(access)
        .await?
        .iter()
        .map(|saved| Value::Object(super::saved_query_definition(saved)))
        .collect();
    Ok(json!({
        "id": id,
        "name": summary.workspace.name.as_str(),
        "url": url,
        "events_url": format!("{url}/events"),
        "queries_url": format!("{url}/queries"),
        "events": events,
        "saved_queries": saved_queries,
    }))
}

/// `GET /3.0/projects/{project}` (master key).
pub(crate) async fn project(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    Ok(Json(project_json(&state, &access).await?).into_response())
}

/// `GET /3.0/projects`: the project the master key belongs to (a key opens one project).
pub(crate) async fn projects(
    State(state): State<AppState>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let key = presented_key(&headers, api_key(&params)).unwrap_or_default();
    let access = state.switchboard.authenticate_key(key).await?;
    Ok(Json(json!([project_json(&state, &access).await?])).into_response())
}

/// `GET /3.0/projects/{project}/events`: every collection with its schema.
pub(crate) async fn collections(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let mut list = Vec::new();
    for (name, _) in state.switchboard.event_collections(&access).await? {
        let properties = state.switchboard.event_schema(&access, name.as_str()).await?;
        list.push(json!({
            "name": name.as_str(),
            "properties": properties,
            "url": format!("/3.0/projects/{project}/events/{name}"),
        }));
    }
    Ok(Json(Value::Array(list)).into_response())
}

/// `GET /3.0/projects/{project}/events/{collection}` without `data`: the collection's schema.
pub(crate) async fn collection_schema(
    state: &AppState,
    access: &Access,
    project: &str,
    collection: &str,
) -> Result<Response, KeenError> {
    let properties = state.switchboard.event_schema(access, collection).await?;
    Ok(Json(json!({
        "name": collection,
        "properties": properties,
        "url": format!("/3.0/projects/{project}/events/{collection}"),
    }))
    .into_response())
}

/// `GET /3.0/projects/{project}/events/{collection}/properties/{property}`: one property's type.
pub(crate) async fn property(
    State(state): State<AppState>,
    Path((project, collection, property)): Path<(String, String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, KeenError> {
    let access = project_access(&state, &project, &headers, api_key(&params)).await?;
    let schema = state.switchboard.event_schema(&access, &collection).await?;
    let kind = schema.get(&property).ok_or_else(|| {
        KeenError::new(
            axum::http::StatusCode::NOT_FOUND,
            "ResourceNotFoundError",
            "no such property in this collection",
        )
    })?;
    Ok(Json(json!({
        "property_name": property,
        "type": kind,
        "url": format!("/3.0/projects/{project}/events/{collection}/properties/{property}"),
    }))
    .into_response())
}
