//! The web pages: login, the workspace shell with its navigation, the Events pages (collections,
//! explorer, dashboard), the CRM pages (pipelines, boxes, contacts, organizations, tasks,
//! import and export), and settings.

mod analytics;
mod crm;
mod events;
mod login;
mod settings;
mod shell;
mod workspace;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(workspace::home))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/w/{id}", get(workspace::overview))
        .route("/w/{id}/events", get(events::collections))
        .route("/w/{id}/events/{collection}", get(events::collection))
        .route("/w/{id}/explore", get(analytics::explorer))
        .route("/w/{id}/dashboard", get(analytics::dashboard))
        .route("/w/{id}/dashboard/{name}/delete", post(analytics::delete))
        .route("/w/{id}/pipelines", get(crm::pipelines))
        .route("/w/{id}/pipelines/{pipeline}", get(crm::board))
        .route("/w/{id}/pipelines/{pipeline}/table", get(crm::table))
        .route("/w/{id}/boxes/{box}", get(crm::crm_box))
        .route("/w/{id}/contacts", get(crm::contacts))
        .route("/w/{id}/contacts/import", get(crm::import_export))
        .route("/w/{id}/contacts/{contact}", get(crm::contact))
        .route("/w/{id}/organizations/{organization}", get(crm::organization))
        .route("/w/{id}/tasks", get(crm::tasks))
        .route("/w/{id}/settings", get(settings::page))
        .route("/w/{id}/settings/keys", post(settings::create_key))
        .route("/w/{id}/settings/keys/{key_id}/revoke", post(settings::revoke_key))
        .route("/w/{id}/{part}", get(workspace::part))
}
