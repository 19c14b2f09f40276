//! The home redirect, a workspace's overview, and the pages of parts still to come.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::shell::{self, PARTS};
use crate::AppState;
use crate::auth::SignedIn;

/// `/`: the first of the user's workspaces, or a page saying they have none.
pub(crate) async fn home(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    match state.switchboard.workspaces_of_user(session.user.id).await {
        Ok(list) => match list.first() {
            Some((workspace, _)) => Redirect::to(&format!("/w/{}", workspace.id)).into_response(),
            None => {
                let ctx = context! {
                    user => context! { email => session.user.email.as_str() },
                    csrf => crate::auth::csrf_token(&state, &session.binding),
                };
                state.pages.render(StatusCode::OK, "no_workspace.html", ctx)
            }
        },
        Err(e) => state.pages.core_error(&e),
    }
}

/// `/w/{id}`: the workspace at a glance and how to send it data.
pub(crate) async fn overview(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let shell = match shell::open(&state, &session, &id, "overview").await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let summary = match state.switchboard.workspace_summary(&shell.access).await {
        Ok(summary) => summary,
        Err(e) => return state.pages.core_error(&e),
    };
    let parts: Vec<_> = PARTS.iter().map(|(slug, label, about)| context! { slug, label, about }).collect();
    let ctx = context! {
        created_at => summary.workspace.created_at.as_utc().format("%-d %B %Y").to_string(),
        member_count => summary.member_count,
        part_cards => parts,
        ..shell.ctx
    };
    state.pages.render(StatusCode::OK, "overview.html", ctx)
}

/// `/w/{id}/{part}`: a part of the product that later work fills in.
pub(crate) async fn part(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, part)): Path<(String, String)>,
) -> Response {
    let Some((slug, label, about)) = PARTS.iter().find(|(slug, _, _)| *slug == part) else {
        return state.pages.error(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address.",
        );
    };
    match shell::open(&state, &session, &id, slug).await {
        Ok(shell) => state.pages.render(StatusCode::OK, "part.html", context! { label, about, ..shell.ctx }),
        Err(page) => page,
    }
}
