//! Login, logout, cookies, CSRF and rate limits.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};

use crate::support::{Browser, TestApp};

backend_tests!(
    login_sets_a_secure_http_only_session_and_lands_in_the_workspace,
    a_wrong_password_is_refused_without_a_session,
    a_login_form_without_its_csrf_token_is_refused,
    logout_needs_its_token_and_ends_the_session,
    logins_are_rate_limited_per_account,
    pages_redirect_to_login_and_back,
    a_forged_session_cookie_is_no_session,
);

async fn login_sets_a_secure_http_only_session_and_lands_in_the_workspace(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = Browser::default();
    let page = app.browse(&mut browser, "/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<label for=\"email\">Email</label>"));
    let (_, csrf_attributes) = page.set_cookie("sb_csrf").expect("csrf cookie");
    assert!(csrf_attributes.contains("HttpOnly") && csrf_attributes.contains("SameSite=Lax"));

    let email = app.owner_email.clone();
    let password = app.owner_password.clone();
    let (status, response) = app.try_login(&mut browser, &email, &password).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), "/");
    let (token, attributes) = response.set_cookie("sb_session").expect("session cookie");
    assert_eq!(token.len(), 64);
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(attributes.contains(attribute), "{attribute} missing from {attributes}");
    }

    let home = app.browse(&mut browser, "/").await;
    let workspace = format!("/w/{}", app.first.workspace.id);
    assert_eq!(home.location(), workspace);
    let overview = app.browse(&mut browser, &workspace).await;
    assert_eq!(overview.status, StatusCode::OK);
    for label in ["Events", "Pipelines", "Contacts", "Check-ins", "Customers", "Search", "Settings"] {
        assert!(overview.body.contains(&format!(">{label}</a>")), "nav lacks {label}");
    }
    assert!(overview.body.contains("owner@acme.com"));
    for part in ["events", "pipelines", "contacts", "checkins", "customers", "search"] {
        let page = app.browse(&mut browser, &format!("{workspace}/{part}")).await;
        assert_eq!(page.status, StatusCode::OK, "{part}");
        assert!(page.body.contains("aria-current=\"page\""), "{part} is marked current");
    }
}

async fn a_wrong_password_is_refused_without_a_session(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    for (email, password) in [
        (app.owner_email.clone(), "wrong password"),
        ("nobody@acme.com".into(), "whatever1"),
        ("not an email".into(), "whatever2"),
    ] {
        let mut browser = Browser::default();
        let (status, page) = app.try_login(&mut browser, &email, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{email}");
        assert!(page.body.contains("role=\"alert\">Wrong email or password.</div>"));
        assert!(page.set_cookie("sb_session").is_none());
        assert!(!page.body.contains(password), "the password is not echoed back");
    }
}

async fn a_login_form_without_its_csrf_token_is_refused(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let email = app.owner_email.clone();
    let password = app.owner_password.clone();
    let mut browser = Browser::default();
    let page = app.browse(&mut browser, "/login").await;
    let good = page.csrf();
    let cases: [(&str, &str, Browser); 3] = [
        ("missing token", "", browser.clone()),
        ("token of another browser", &good, Browser::default()),
        ("forged token", "00ff", browser.clone()),
    ];
    for (why, token, mut who) in cases {
        let mut form = vec![("email", email.as_str()), ("password", password.as_str())];
        if !token.is_empty() {
            form.push(("csrf", token));
        }
        let response = app.post_form(&mut who, "/login", &form, &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{why}");
        assert!(response.set_cookie("sb_session").is_none(), "{why}");
        assert!(response.body.contains("Form expired"));
    }
}

async fn logout_needs_its_token_and_ends_the_session(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = app.login_owner().await;
    let workspace = format!("/w/{}", app.first.workspace.id);
    let refused = app.post_form(&mut browser, "/logout", &[], &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.browse(&mut browser, &workspace).await.status, StatusCode::OK, "still logged in");

    let stolen = browser.clone();
    let csrf = app.browse(&mut browser, &workspace).await.csrf();
    let out = app.post_form(&mut browser, "/logout", &[("csrf", &csrf)], &[]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/login"));
    assert!(out.set_cookie("sb_session").unwrap().1.contains("Max-Age=0"), "the cookie is deleted");
    let mut replay = stolen;
    let after = app.browse(&mut replay, &workspace).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the old cookie no longer works");
    assert!(after.location().starts_with("/login"));
}

async fn logins_are_rate_limited_per_account(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let email = app.owner_email.clone();
    for _ in 0..sb_core::LOGIN_FAILURES_PER_ACCOUNT {
        let (status, _) = app.try_login(&mut Browser::default(), &email, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let password = app.owner_password.clone();
    let (status, page) = app.try_login(&mut Browser::default(), &email, &password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(page.body.contains("Too many failed attempts"));
    assert!(page.headers.contains_key(header::RETRY_AFTER));
    assert!(page.set_cookie("sb_session").is_none());
}

async fn pages_redirect_to_login_and_back(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let settings = format!("/w/{}/settings", app.first.workspace.id);
    let response = app.get(&settings, None).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let expected = format!("/login?next=%2Fw%2F{}%2Fsettings", app.first.workspace.id);
    assert_eq!(response.location(), expected);

    let mut browser = Browser::default();
    let page = app.browse(&mut browser, &expected).await;
    assert_eq!(page.field("next"), settings);
    let csrf = page.csrf();
    let email = app.owner_email.clone();
    let password = app.owner_password.clone();
    let form =
        [("email", email.as_str()), ("password", password.as_str()), ("csrf", &csrf), ("next", &settings)];
    let response = app.post_form(&mut browser, "/login", &form, &[]).await;
    assert_eq!(response.location(), settings);

    let evil = [
        ("email", email.as_str()),
        ("password", password.as_str()),
        ("csrf", &csrf),
        ("next", "//evil.example/"),
    ];
    let response =
        app.post_form(&mut Browser { cookies: browser.cookies.clone() }, "/login", &evil, &[]).await;
    assert_eq!(response.location(), "/", "never redirects off-site");
}

async fn a_forged_session_cookie_is_no_session(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let request = Request::get(format!("/w/{}", app.first.workspace.id))
        .header(header::COOKIE, format!("sb_session={}", "0".repeat(64)))
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert!(response.location().starts_with("/login"));
}
