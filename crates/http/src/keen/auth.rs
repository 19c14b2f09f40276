//! Keen key placement: the raw `Authorization` header (a `Bearer ` prefix is tolerated), else
//! the `api_key` query parameter. The project is checked before the key, as Keen does.

use axum::http::HeaderMap;
use sb_core::Access;
use sb_types::WorkspaceId;

use super::error::KeenError;
use crate::AppState;

/// The key a request presents: the `Authorization` header if present and non-empty, else
/// `api_key`.
pub(crate) fn presented_key<'a>(headers: &'a HeaderMap, api_key: Option<&'a str>) -> Option<&'a str> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().strip_prefix("Bearer ").unwrap_or(v.trim()))
        .filter(|v| !v.is_empty());
    header.or(api_key.filter(|k| !k.is_empty()))
}

/// The access a request has to project `project`: 404 for a malformed or unknown project or
/// another project's key, 401 for a missing, unknown or revoked key.
///
/// A key of the project proves that the project exists (a workspace's keys go with it), so a
/// request with a good key reads the control database once; the project is looked up only when
/// the key does not open it, to answer 404 before 401 as Keen does.
pub(crate) async fn project_access(
    state: &AppState,
    project: &str,
    headers: &HeaderMap,
    api_key: Option<&str>,
) -> Result<Access, KeenError> {
    let id = WorkspaceId::parse(project).map_err(|_| KeenError::not_found())?;
    let key = presented_key(headers, api_key);
    let authenticated = match key {
        Some(key) => Some(state.switchboard.authenticate_project_key(id, key).await),
        None => None,
    };
    let opens = matches!(&authenticated, Some(Ok(access)) if access.workspace() == id);
    if !opens && !state.switchboard.workspace_exists(id).await? {
        return Err(KeenError::not_found());
    }
    if !state.keen_rate.admit(project) {
        return Err(KeenError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsError",
            "this project is sending requests faster than the server accepts; slow down and retry",
        ));
    }
    let Some(authenticated) = authenticated else {
        return Err(KeenError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "InvalidApiKeyError",
            "an API key is required: send it in the Authorization header or as api_key",
        ));
    };
    let access = authenticated?;
    if access.workspace() != id {
        return Err(KeenError::not_found());
    }
    Ok(access)
}
