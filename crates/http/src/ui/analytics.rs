//! The Events analytics pages: the explorer, where a query is built, run (through the session
//! API, so the browser holds no key), charted and saved; and the dashboard, which shows every
//! saved query with its result and chart, and deletes them.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use sb_core::{CoreError, Permission};
use serde::Deserialize;

use super::shell;
use crate::AppState;
use crate::auth::{SignedIn, csrf_ok};
use crate::keen::saved_query_definition;

#[derive(Deserialize)]
pub(crate) struct ExplorerParams {
    /// A saved query to open.
    saved: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    csrf: Option<String>,
}

fn saved_query_missing(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::NOT_FOUND,
        "Saved query not found",
        "This workspace has no saved query of that name.",
    )
}

/// `/w/{id}/explore[?saved=NAME]`: the query builder, with every collection's schema for the
/// property pickers, and the saved query to open if one is named.
pub(crate) async fn explorer(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(params): Query<ExplorerParams>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "events").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let collections = match state.switchboard.event_collections(&shell.access).await {
        Ok(list) => list,
        Err(e) => return state.pages.core_error(&e),
    };
    let mut schemas = BTreeMap::new();
    for (name, _) in &collections {
        match state.switchboard.event_schema(&shell.access, name.as_str()).await {
            Ok(schema) => schemas.insert(name.as_str().to_owned(), schema),
            Err(e) => return state.pages.core_error(&e),
        };
    }
    let saved = match params.saved.as_deref() {
        None => None,
        Some(name) => match state.switchboard.saved_query(&shell.access, name).await {
            Ok(saved) => Some(serde_json::Value::Object(saved_query_definition(&saved)).to_string()),
            Err(CoreError::NotFound(_)) => return saved_query_missing(&state),
            Err(e) => return state.pages.core_error(&e),
        },
    };
    let names: Vec<&str> = schemas.keys().map(String::as_str).collect();
    let ctx = context! {
        collections => names,
        schemas => serde_json::to_string(&schemas).unwrap_or_default(),
        saved,
        can_save => shell.access.allows(Permission::EditSavedQueries),
        ..shell.ctx
    };
    state.pages.render(StatusCode::OK, "explorer.html", ctx)
}

/// `/w/{id}/dashboard`: every saved query, run now, with its result for the chart script.
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "events").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let saved = match state.switchboard.saved_queries(&shell.access).await {
        Ok(saved) => saved,
        Err(e) => return state.pages.core_error(&e),
    };
    let now = sb_types::Timestamp::now().millis();
    let mut cards = Vec::with_capacity(saved.len());
    for query in &saved {
        let run = state
            .switchboard
            .run_analysis(&shell.access, query.analysis_type(), query.parameters(), now)
            .await;
        let (result, error) = match run {
            Ok(body) => (Some(body.result_text().into_owned()), None),
            Err(e) => (None, Some(crate::error::public_message(&e))),
        };
        let title = query.metadata.get("display_name").and_then(|v| v.as_str()).filter(|t| !t.is_empty());
        cards.push(context! {
            name => query.name.as_str(),
            title => title.unwrap_or(query.name.as_str()),
            analysis => query.analysis_type(),
            collection => query.query.get("event_collection").and_then(|v| v.as_str()),
            query => serde_json::Value::Object(query.query.clone()).to_string(),
            result,
            error,
        });
    }
    let ctx = context! {
        cards,
        can_edit => shell.access.allows(Permission::EditSavedQueries),
        ..shell.ctx
    };
    state.pages.render(StatusCode::OK, "dashboard.html", ctx)
}

/// Deletes a saved query from the dashboard. htmx gets an empty answer (it removes the card);
/// a plain form post goes back to the dashboard.
pub(crate) async fn delete(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "events").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    if !csrf_ok(&state, &session.binding, form.csrf.as_deref()) {
        return state.pages.form_expired();
    }
    match state.switchboard.delete_saved_query(&shell.access, &name).await {
        Ok(()) if headers.contains_key("hx-request") => StatusCode::OK.into_response(),
        Ok(()) => Redirect::to(&format!("/w/{id}/dashboard")).into_response(),
        Err(CoreError::NotFound(_)) => saved_query_missing(&state),
        Err(e) => state.pages.core_error(&e),
    }
}
