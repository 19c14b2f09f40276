//! What every workspace page shares: the signed-in user, the workspace and the switcher, the
//! navigation, and the CSRF token for the page's forms.

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use sb_core::{Access, CoreError, Permission, SessionView};
use sb_types::WorkspaceId;

use crate::AppState;
use crate::auth::csrf_token;

/// The parts of the product, in navigation order: (path segment, label, what it will hold).
pub(crate) const PARTS: &[(&str, &str, &str)] = &[
    (
        "events",
        "Events",
        "Record JSON events from your apps and ask counts, sums, uniques, percentiles and funnels, with the Keen IO API your clients already speak.",
    ),
    (
        "pipelines",
        "Pipelines",
        "Run sales, hiring or support as pipelines of boxes moving through stages, with custom fields and the email threads that belong to them.",
    ),
    (
        "contacts",
        "Contacts",
        "The people and organizations you work with, shared by every pipeline, with their boxes, threads and tasks.",
    ),
    (
        "checkins",
        "Check-ins",
        "Every evening each member is asked what they got done; replies arrive by email and the team gets a digest the next morning.",
    ),
    (
        "customers",
        "Customers",
        "Customer data pulled from your own systems, with KPIs and health scores computed from records and events.",
    ),
    (
        "search",
        "Search",
        "One Gmail-style search across boxes, contacts, organizations, emails and check-ins.",
    ),
];

/// A workspace page's access and shared template context.
pub(crate) struct Shell {
    pub access: Access,
    pub ctx: Value,
}

/// Resolves the signed-in user's access to workspace `id` and builds the shared context.
/// A malformed id, an unknown workspace and one the user is not a member of are the same 404.
pub(crate) async fn open(
    state: &AppState,
    session: &SessionView,
    id: &str,
    section: &str,
) -> Result<Shell, Response> {
    let not_found = || {
        state.pages.error(
            StatusCode::NOT_FOUND,
            "Workspace not found",
            "This workspace does not exist, or you are not a member of it.",
        )
    };
    let id = WorkspaceId::parse(id).map_err(|_| not_found())?;
    let access = match state.switchboard.user_access(session.user.id, id).await {
        Ok(access) => access,
        Err(CoreError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(state.pages.core_error(&e)),
    };
    let memberships = state
        .switchboard
        .workspaces_of_user(session.user.id)
        .await
        .map_err(|e| state.pages.core_error(&e))?;
    let current = memberships.iter().find(|(w, _)| w.id == id).ok_or_else(not_found)?;
    let workspaces: Vec<Value> = memberships
        .iter()
        .map(|(w, role)| context! { id => w.id.to_string(), name => w.name.as_str(), role => role.as_str() })
        .collect();
    let parts: Vec<Value> = PARTS.iter().map(|(slug, label, _)| context! { slug, label }).collect();
    let ctx = context! {
        user => context! { email => session.user.email.as_str(), name => &session.user.name },
        workspace => context! { id => id.to_string(), name => current.0.name.as_str() },
        role => current.1.as_str(),
        workspaces,
        parts,
        section,
        can_admin => access.allows(Permission::Admin),
        csrf => csrf_token(state, &session.binding),
    };
    Ok(Shell { access, ctx })
}
