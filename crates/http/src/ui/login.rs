//! Login and logout. The login form's CSRF token is bound to a random cookie set with the
//! form; logout's to the session.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Extension;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use rand::RngCore;
use sb_core::{CoreError, SESSION_LIFETIME_SECONDS};
use serde::Deserialize;

use crate::auth::{SignedIn, csrf_ok, csrf_token};
use crate::{AppState, cookies};

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf: Option<String>,
}

/// Only same-site paths are followed after login: never another host.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/",
    }
}

/// The login page. A browser that already has a session goes straight on.
pub(crate) async fn page(
    State(state): State<AppState>,
    signed_in: Result<SignedIn, Response>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    if signed_in.is_ok() {
        return Redirect::to(safe_next(query.next.as_deref())).into_response();
    }
    render(&state, &headers, StatusCode::OK, "", query.next.as_deref(), None)
}

/// Renders the form, setting the CSRF cookie if the browser has none yet.
fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: Option<&str>,
    error: Option<&str>,
) -> Response {
    let (binding, new_cookie) = match cookies::get(headers, cookies::CSRF) {
        Some(existing) => (existing.to_owned(), None),
        None => {
            let mut raw = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut raw);
            let fresh = hex::encode(raw);
            (
                fresh.clone(),
                Some(cookies::set(cookies::CSRF, &fresh, SESSION_LIFETIME_SECONDS, state.cookie_secure)),
            )
        }
    };
    let ctx = context! {
        csrf => csrf_token(state, &binding),
        email,
        next => safe_next(next),
        error,
    };
    let mut response = state.pages.render(status, "login.html", ctx);
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Checks the form's CSRF token and the credentials, then opens a session.
pub(crate) async fn submit(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let binding = cookies::get(&headers, cookies::CSRF).unwrap_or_default();
    if binding.is_empty() || !csrf_ok(&state, binding, form.csrf.as_deref()) {
        return state.pages.form_expired();
    }
    let client = connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    let next = form.next.as_deref();
    match state.switchboard.login(&form.email, form.password, client).await {
        Ok(session) => {
            let cookie =
                cookies::set(cookies::SESSION, &session.token, SESSION_LIFETIME_SECONDS, state.cookie_secure);
            let mut response = Redirect::to(safe_next(next)).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(CoreError::Unauthenticated(_)) => render(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            &form.email,
            next,
            Some("Wrong email or password."),
        ),
        Err(CoreError::RateLimited { retry_after_seconds }) => {
            let minutes = retry_after_seconds.div_ceil(60);
            let message = format!("Too many failed attempts. Try again in {minutes} minute(s).");
            let mut response =
                render(&state, &headers, StatusCode::TOO_MANY_REQUESTS, &form.email, next, Some(&message));
            response.headers_mut().insert(header::RETRY_AFTER, retry_after_seconds.into());
            response
        }
        Err(other) => state.pages.core_error(&other),
    }
}

/// Ends the session and clears the cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if !csrf_ok(&state, &session.binding, form.csrf.as_deref()) {
        return state.pages.form_expired();
    }
    if let Some(token) = cookies::get(&headers, cookies::SESSION)
        && let Err(e) = state.switchboard.logout(token).await
    {
        return state.pages.core_error(&e);
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::set(cookies::SESSION, "", 0, state.cookie_secure));
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/w/abc/settings")), "/w/abc/settings");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "settings"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
