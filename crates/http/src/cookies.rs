//! Reading the `Cookie` header and writing `Set-Cookie` for the session and CSRF cookies.

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HeaderValue};

/// The session cookie: a random token; its hash names the session in the control database.
pub(crate) const SESSION: &str = "sb_session";
/// The pre-login CSRF cookie: random, binds the login form's token to this browser.
pub(crate) const CSRF: &str = "sb_csrf";

/// The value of cookie `name`, if the request carries it.
pub(crate) fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value: HTTP-only, SameSite=Lax, path `/`, `Secure` when configured.
/// `max_age` of 0 deletes the cookie.
pub(crate) fn set(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).expect("cookie values are hex")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; sb_session=abc ; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("sb_csrf=xyz"));
        assert_eq!(get(&headers, SESSION), Some("abc"));
        assert_eq!(get(&headers, CSRF), Some("xyz"));
        assert_eq!(get(&headers, "missing"), None);
    }

    #[test]
    fn set_cookie_is_http_only_and_same_site() {
        let value = set(SESSION, "abc", 60, true);
        assert_eq!(value, "sb_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert!(!set(SESSION, "", 0, false).to_str().unwrap().contains("Secure"));
    }
}
