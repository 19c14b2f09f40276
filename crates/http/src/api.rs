//! The native JSON API under `/api/v1`. Request and response types here are wire types
//! (DTOs), converted explicitly from domain types.

mod boxes;
mod checkins;
mod comments;
mod contacts;
mod imports;
mod mail;
mod openapi;
mod pipelines;
mod queries;
mod sql;
mod tasks;
mod threads;
mod webhooks;
mod workspaces;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(workspaces::routes())
        .merge(queries::routes())
        .merge(sql::routes())
        .merge(pipelines::routes())
        .merge(boxes::routes())
        .merge(contacts::routes())
        .merge(tasks::routes())
        .merge(comments::routes())
        .merge(threads::routes())
        .merge(webhooks::routes())
        .merge(checkins::routes())
        .merge(mail::routes())
        .merge(openapi::routes())
}

/// Routes whose requests may outlast the request timeout (a CSV import reads and checks up to
/// a million rows before it writes): mounted outside it.
pub(crate) fn long_routes() -> Router<AppState> {
    imports::routes()
}
