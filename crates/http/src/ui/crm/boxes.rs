//! The box page (details, fields, links, threads, comments, tasks, timeline) and the tasks page
//! (open tasks overdue and due today).

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;

use super::{CrmPage, lookup_failed};
use crate::AppState;
use crate::auth::SignedIn;

/// `/w/{id}/boxes/{box}`: one box and everything attached to it.
pub(crate) async fn crm_box(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, crm_box)): Path<(String, String)>,
) -> Response {
    let page = match CrmPage::open(&state, &session, &id, "pipelines").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let crm_box = match state.switchboard.crm_box(&page.access, &crm_box).await {
        Ok(crm_box) => crm_box,
        Err(e) => return lookup_failed(&state, &e, "box"),
    };
    let pipeline = match state.switchboard.pipeline(&page.access, &crm_box.pipeline.to_string()).await {
        Ok(pipeline) => pipeline,
        Err(e) => return lookup_failed(&state, &e, "pipeline"),
    };
    let ctx = context! {
        crm_box => context! { id => crm_box.id.to_string(), name => crm_box.name },
        pipeline => context! { id => pipeline.id.to_string(), name => pipeline.name },
    };
    page.render(&state, "box.html", ctx)
}

/// `/w/{id}/tasks`: the open tasks due by today, overdue first.
pub(crate) async fn tasks(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match CrmPage::open(&state, &session, &id, "pipelines").await {
        Ok(page) => page.render(&state, "tasks.html", context! {}),
        Err(response) => response,
    }
}
