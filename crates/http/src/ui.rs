//! The web pages: login, the workspace shell with its navigation, the Events pages (collections,
//! explorer, dashboard), the CRM pages (pipelines, boxes, contacts, organizations, tasks,
//! import and export), the check-in pages, and settings.

mod analytics;
mod checkins;
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
        .route("/w/{id}/checkins", get(checkins::feed))
        .route("/w/{id}/checkins/entries", post(checkins::add_entries))
        .route("/w/{id}/checkins/entries/{entry}/like", post(checkins::like))
        .route("/w/{id}/checkins/entries/{entry}/comments", post(checkins::comment))
        .route("/w/{id}/checkins/entries/{entry}/edit", post(checkins::edit_entry))
        .route("/w/{id}/checkins/entries/{entry}/delete", post(checkins::delete_entry))
        .route("/w/{id}/checkins/me", get(checkins::mine))
        .route("/w/{id}/checkins/members/{user}", get(checkins::member).post(checkins::save_member))
        .route("/w/{id}/checkins/tags", get(checkins::tags))
        .route("/w/{id}/checkins/tags/{tag}", get(checkins::tag))
        .route("/w/{id}/checkins/settings", get(checkins::settings).post(checkins::save_settings))
        .route("/w/{id}/checkins/settings/holidays", post(checkins::holidays))
        .route("/w/{id}/checkins/outbox", get(checkins::outbox))
        .route("/w/{id}/checkins/outbox/{mail}", get(checkins::mail))
        .route("/w/{id}/checkins/outbox/suppressions/remove", post(checkins::unsuppress))
        .route("/w/{id}/settings", get(settings::page))
        .route("/w/{id}/settings/keys", post(settings::create_key))
        .route("/w/{id}/settings/keys/{key_id}/revoke", post(settings::revoke_key))
        .route("/w/{id}/{part}", get(workspace::part))
}
