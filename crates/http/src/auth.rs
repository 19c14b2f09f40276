//! Who is calling: an API key (`Authorization: Bearer …`) or a login session (cookie), and
//! the CSRF tokens that bind every form post to the session (or, before login, to the
//! browser's CSRF cookie).

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use sb_core::{Access, CoreError, SessionView};
use sb_types::{ErrorKind, WorkspaceId};

use crate::{ApiError, AppState, cookies};

/// The header htmx and scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_PURPOSE: &str = "csrf";

/// The CSRF token for forms of a session (`binding` = the session's hash) or of a browser
/// before login (`binding` = its CSRF cookie).
pub(crate) fn csrf_token(state: &AppState, binding: &str) -> String {
    state.switchboard.secret().sign(CSRF_PURPOSE, binding)
}

/// Whether `token` is the CSRF token for `binding`.
pub(crate) fn csrf_ok(state: &AppState, binding: &str, token: Option<&str>) -> bool {
    token.is_some_and(|t| state.switchboard.secret().verify(CSRF_PURPOSE, binding, t))
}

/// A caller of the JSON API.
pub(crate) enum ApiCaller {
    Key(Access),
    User(SessionView),
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let key = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::Unauthenticated,
                        "Authorization header must be: Bearer <API key>",
                    )
                })?;
            return Ok(ApiCaller::Key(state.switchboard.authenticate_key(key).await?));
        }
        if let Some(token) = cookies::get(&parts.headers, cookies::SESSION)
            && let Some(session) = state.switchboard.session(token).await?
        {
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !safe && !csrf_ok(state, &session.binding, sent) {
                return Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "requests made with a session cookie must send the X-CSRF-Token header",
                ));
            }
            return Ok(ApiCaller::User(session));
        }
        Err(ApiError::new(
            ErrorKind::Unauthenticated,
            "missing credentials: send Authorization: Bearer <API key>, or log in",
        ))
    }
}

impl ApiCaller {
    /// The caller's access to the workspace named in the path. A malformed id, an unknown
    /// workspace and another tenant's workspace all answer the same 404.
    pub(crate) async fn access(&self, state: &AppState, workspace: &str) -> Result<Access, ApiError> {
        let not_found = || ApiError::from(CoreError::NotFound("workspace"));
        let id = WorkspaceId::parse(workspace).map_err(|_| not_found())?;
        match self {
            ApiCaller::Key(access) if access.workspace() == id => Ok(access.clone()),
            ApiCaller::Key(_) => Err(not_found()),
            ApiCaller::User(session) => Ok(state.switchboard.user_access(session.user.id, id).await?),
        }
    }
}

/// A logged-in person on a page. Without a live session, pages redirect to the login page
/// and come back afterwards.
pub(crate) struct SignedIn(pub SessionView);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(token) = cookies::get(&parts.headers, cookies::SESSION) {
            match state.switchboard.session(token).await {
                Ok(Some(session)) => return Ok(SignedIn(session)),
                Ok(None) => {}
                Err(e) => return Err(state.pages.core_error(&e)),
            }
        }
        let uri = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.clone(), |o| o.0.clone());
        let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target = format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        Err(Redirect::to(&target).into_response())
    }
}
