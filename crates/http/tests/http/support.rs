//! A test application: the router over a fresh data folder with a first start done, and
//! small helpers to send requests, keep cookies and read CSRF tokens out of pages.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sb_core::{CreatedWorkspace, Switchboard};
use sb_test_support::TestBackend;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub switchboard: Switchboard,
    pub owner_email: String,
    pub owner_password: String,
    pub first: CreatedWorkspace,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The value set for cookie `name`, if the response sets it.
    pub fn set_cookie(&self, name: &str) -> Option<(String, String)> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| (value.to_owned(), attributes.to_owned()))
        })
    }

    /// The first hidden `csrf` field's value in the page.
    pub fn csrf(&self) -> String {
        self.field("csrf")
    }

    /// The value of the first field named `name`, with HTML entities decoded.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} field in: {}", self.body));
        let raw = self.body[start + marker.len()..].split('"').next().unwrap();
        raw.replace("&#x2f;", "/").replace("&quot;", "\"").replace("&amp;", "&")
    }
}

/// A browser's state: its cookies.
#[derive(Clone, Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn remember(&mut self, response: &TestResponse) {
        for name in ["sb_session", "sb_csrf"] {
            if let Some((value, _)) = response.set_cookie(name) {
                self.cookies.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_owned(), value));
                }
            }
        }
    }
}

impl TestApp {
    pub async fn start(backend: &TestBackend) -> TestApp {
        let switchboard = Switchboard::open(&backend.config()).await.expect("opens");
        let first = switchboard.first_start("owner@acme.com").await.unwrap().expect("first start");
        let router = sb_http::router(sb_http::AppState::new(switchboard.clone(), true));
        TestApp {
            router,
            switchboard,
            owner_email: first.owner_email,
            owner_password: first.owner_password,
            first: first.workspace.expect("first workspace"),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// A GET with an optional `Authorization` header value.
    pub async fn get(&self, path: &str, authorization: Option<&str>) -> TestResponse {
        let mut request = Request::get(path);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A browser GET, keeping cookies.
    pub async fn browse(&self, browser: &mut Browser, path: &str) -> TestResponse {
        let request =
            Request::get(path).header(header::COOKIE, browser.cookie_header()).body(Body::empty()).unwrap();
        let response = self.send(request).await;
        browser.remember(&response);
        response
    }

    /// A browser form POST, keeping cookies. `extra` headers are added (e.g. `hx-request`).
    pub async fn post_form(
        &self,
        browser: &mut Browser,
        path: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut request = Request::post(path)
            .header(header::COOKIE, browser.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = self.send(request.body(Body::from(body)).unwrap()).await;
        browser.remember(&response);
        response
    }

    /// Logs in through the login page; panics unless it works.
    pub async fn login(&self, email: &str, password: &str) -> Browser {
        let mut browser = Browser::default();
        let (status, _) = self.try_login(&mut browser, email, password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login of {email} failed");
        browser
    }

    /// Submits the login form; returns the status and the page.
    pub async fn try_login(
        &self,
        browser: &mut Browser,
        email: &str,
        password: &str,
    ) -> (StatusCode, TestResponse) {
        let page = self.browse(browser, "/login").await;
        let csrf = page.csrf();
        let response = self
            .post_form(browser, "/login", &[("email", email), ("password", password), ("csrf", &csrf)], &[])
            .await;
        (response.status, response)
    }

    pub async fn login_owner(&self) -> Browser {
        self.login(&self.owner_email.clone(), &self.owner_password.clone()).await
    }

    /// A second workspace with its own admin user; returns it and that user's browser.
    pub async fn other_workspace(&self, name: &str, admin: &str) -> (CreatedWorkspace, Browser) {
        let created = self.switchboard.create_workspace(name, None).await.unwrap();
        self.switchboard.create_user(admin, None, Some("correct horse".into())).await.unwrap();
        let access = self.switchboard.operator_access(created.workspace.id).await.unwrap();
        self.switchboard.add_member(&access, admin, sb_types::Role::Admin).await.unwrap();
        let browser = self.login(admin, "correct horse").await;
        (created, browser)
    }
}

pub fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}
