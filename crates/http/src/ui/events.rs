//! The Events pages: the workspace's collections with their event counts, and for one
//! collection its schema and most recent events. Both refresh themselves every few seconds.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::shell;
use crate::AppState;
use crate::auth::SignedIn;

/// How many recent events a collection page shows.
const RECENT: usize = 20;

pub(crate) async fn collections(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "events").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let collections = match state.switchboard.event_collections(&shell.access).await {
        Ok(list) => list,
        Err(e) => return state.pages.core_error(&e),
    };
    let collections: Vec<Value> =
        collections.iter().map(|(name, count)| context! { name => name.as_str(), count => *count }).collect();
    state.pages.render(StatusCode::OK, "events.html", context! { collections, ..shell.ctx })
}

pub(crate) async fn collection(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, collection)): Path<(String, String)>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "events").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let schema = match state.switchboard.event_schema(&shell.access, &collection).await {
        Ok(schema) => schema,
        Err(e) => return state.pages.core_error(&e),
    };
    if schema.is_empty() {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "Collection not found",
            "This workspace has no events in that collection.",
        );
    }
    let recent = match state.switchboard.latest_events(&shell.access, &collection, RECENT).await {
        Ok(events) => events,
        Err(e) => return state.pages.core_error(&e),
    };
    let properties: Vec<Value> = schema.iter().map(|(path, kind)| context! { path, kind }).collect();
    let events: Vec<Value> = recent
        .iter()
        .map(|event| {
            context! {
                timestamp => event["keen"]["timestamp"].as_str().unwrap_or_default(),
                json => serde_json::to_string_pretty(event).unwrap_or_default(),
            }
        })
        .collect();
    let ctx = context! { collection, properties, events, recent_limit => RECENT, ..shell.ctx };
    state.pages.render(StatusCode::OK, "events_collection.html", ctx)
}
