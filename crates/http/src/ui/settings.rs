//! Workspace settings: members, and API keys for admins (create, shown once; revoke).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use sb_core::{CoreError, CreatedKey, KeyView, SessionView};
use sb_types::{ApiKeyId, KeyKind};
use serde::Deserialize;

use super::shell::{self, Shell};
use crate::AppState;
use crate::auth::{SignedIn, csrf_ok};

#[derive(Deserialize)]
pub(crate) struct CreateKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    csrf: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    csrf: Option<String>,
}

fn key_value(key: &KeyView) -> Value {
    context! {
        id => key.id.to_string(),
        name => &key.name,
        kind => key.kind.as_str(),
        prefix => &key.prefix,
        created_at => key.created_at.as_utc().format("%Y-%m-%d %H:%M UTC").to_string(),
        revoked => key.revoked_at.is_some(),
    }
}

/// The settings page; `created` is a key just made, whose secret is shown this once.
async fn render(
    state: &AppState,
    shell: Shell,
    status: StatusCode,
    created: Option<&CreatedKey>,
    error: Option<&str>,
) -> Response {
    let members = match state.switchboard.members(&shell.access).await {
        Ok(members) => members,
        Err(e) => return state.pages.core_error(&e),
    };
    let members: Vec<Value> = members
        .iter()
        .map(|m| context! { email => m.user.email.as_str(), name => &m.user.name, role => m.role.as_str() })
        .collect();
    let keys: Vec<Value> = match state.switchboard.list_keys(&shell.access).await {
        Ok(keys) => keys.iter().map(key_value).collect(),
        Err(CoreError::Forbidden(_)) => Vec::new(),
        Err(e) => return state.pages.core_error(&e),
    };
    let created = created.map(|c| context! { secret => &c.secret, ..key_value(&c.key) });
    let kinds: Vec<&str> = KeyKind::ALL.iter().map(|k| k.as_str()).collect();
    let ctx = context! { members, keys, created, error, kinds, ..shell.ctx };
    state.pages.render(status, "settings.html", ctx)
}

pub(crate) async fn page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match shell::open(&state, &session, &id, "settings").await {
        Ok(shell) => render(&state, shell, StatusCode::OK, None, None).await,
        Err(page) => page,
    }
}

/// The settings shell for a form post, once its CSRF token checks out.
async fn open_form(
    state: &AppState,
    session: &SessionView,
    id: &str,
    csrf: Option<&str>,
) -> Result<Shell, Response> {
    let shell = shell::open(state, session, id, "settings").await?;
    if !csrf_ok(state, &session.binding, csrf) {
        return Err(state.pages.form_expired());
    }
    Ok(shell)
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CreateKeyForm>,
) -> Response {
    let shell = match open_form(&state, &session, &id, form.csrf.as_deref()).await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let kind = match KeyKind::parse(&form.kind) {
        Ok(kind) => kind,
        Err(e) => return render(&state, shell, StatusCode::BAD_REQUEST, None, Some(&e.0)).await,
    };
    match state.switchboard.create_key(&shell.access, kind, Some(&form.name)).await {
        Ok(created) => render(&state, shell, StatusCode::OK, Some(&created), None).await,
        Err(CoreError::Invalid(message)) => {
            render(&state, shell, StatusCode::BAD_REQUEST, None, Some(&message)).await
        }
        Err(e) => state.pages.core_error(&e),
    }
}

/// Revokes a key. htmx gets the updated table row; a plain form post goes back to settings.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    Path((id, key_id)): Path<(String, String)>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let shell = match open_form(&state, &session, &id, form.csrf.as_deref()).await {
        Ok(shell) => shell,
        Err(page) => return page,
    };
    let Ok(key_id) = ApiKeyId::parse(&key_id) else {
        return state.pages.error(StatusCode::NOT_FOUND, "Key not found", "This workspace has no such key.");
    };
    match state.switchboard.revoke_key(&shell.access, key_id).await {
        Ok(key) if headers.contains_key("hx-request") => {
            let ctx = context! { key => key_value(&key), ..shell.ctx };
            state.pages.render(StatusCode::OK, "key_row.html", ctx)
        }
        Ok(_) => Redirect::to(&format!("/w/{id}/settings")).into_response(),
        Err(CoreError::NotFound(_)) => {
            state.pages.error(StatusCode::NOT_FOUND, "Key not found", "This workspace has no such key.")
        }
        Err(e) => state.pages.core_error(&e),
    }
}
