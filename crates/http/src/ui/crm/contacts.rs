//! The people pages: contacts and organizations listed with their create forms, and a contact's
//! or an organization's page with its boxes, threads and tasks.

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;

use super::{CrmPage, lookup_failed};
use crate::AppState;
use crate::auth::SignedIn;

/// `/w/{id}/contacts`: contacts and organizations by name, and forms to create them.
pub(crate) async fn contacts(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match CrmPage::open(&state, &session, &id, "contacts").await {
        Ok(page) => page.render(&state, "contacts.html", context! {}),
        Err(response) => response,
    }
}

/// `/w/{id}/contacts/{contact}`: a contact and its context.
pub(crate) async fn contact(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, contact)): Path<(String, String)>,
) -> Response {
    let page = match CrmPage::open(&state, &session, &id, "contacts").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.contact(&page.access, &contact).await {
        Ok(contact) => page.render(
            &state,
            "contact.html",
            context! { record => context! { kind => "contact", id => contact.id.to_string(), name => contact.name } },
        ),
        Err(e) => lookup_failed(&state, &e, "contact"),
    }
}

/// `/w/{id}/organizations/{organization}`: an organization and its context.
pub(crate) async fn organization(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, organization)): Path<(String, String)>,
) -> Response {
    let page = match CrmPage::open(&state, &session, &id, "contacts").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.organization(&page.access, &organization).await {
        Ok(organization) => page.render(
            &state,
            "contact.html",
            context! {
                record => context! { kind => "organization", id => organization.id.to_string(), name => organization.name },
            },
        ),
        Err(e) => lookup_failed(&state, &e, "organization"),
    }
}
