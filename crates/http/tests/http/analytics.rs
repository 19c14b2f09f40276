//! The Events analytics pages and the session API behind them: queries and saved queries run
//! for a logged-in user only with the CSRF header, roles decide who may save, the explorer and
//! the dashboard render, and the dashboard deletes.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::{Browser, TestApp, TestResponse, bearer};

backend_tests!(
    the_session_api_runs_and_saves_queries_behind_csrf_and_roles,
    the_explorer_and_dashboard_show_saved_queries_and_delete_them
);

impl TestApp {
    async fn record(&self, collection: &str, events: Value) {
        let path = format!("/3.0/projects/{}/events", self.first.workspace.id);
        let request = Request::post(path)
            .header(header::AUTHORIZATION, self.first.write.secret.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ collection: events }).to_string()))
            .unwrap();
        assert_eq!(self.send(request).await.status, StatusCode::OK);
    }

    /// A JSON request with the session's cookies and, when given, the CSRF header.
    async fn session_json(
        &self,
        browser: &Browser,
        method: Method,
        path: &str,
        csrf: Option<&str>,
        body: Value,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, browser.cookie_header())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap()).await
    }
}

fn by_plan() -> Value {
    json!({
        "query": {"analysis_type": "count", "event_collection": "signups", "group_by": "plan"},
        "metadata": {"display_name": "Signups by plan"},
    })
}

async fn the_session_api_runs_and_saves_queries_behind_csrf_and_roles(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    app.record("signups", json!([{"plan": "pro"}, {"plan": "pro"}, {"plan": "free"}])).await;
    let id = app.first.workspace.id.to_string();
    let mut owner = app.login_owner().await;
    let csrf = app.browse(&mut owner, &format!("/w/{id}")).await.csrf();
    let count = format!("/api/v1/workspaces/{id}/queries/count");
    let body = json!({"event_collection": "signups"});

    let refused = app.session_json(&owner, Method::POST, &count, None, body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a session without the CSRF header: {}", refused.body);
    let response = app.session_json(&owner, Method::POST, &count, Some(&csrf), body.clone()).await;
    assert_eq!((response.status, response.json()), (StatusCode::OK, json!({"result": 3})));
    let grouped = json!({"event_collection": "signups", "group_by": "plan", "filters":
        [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]});
    let response = app.session_json(&owner, Method::POST, &count, Some(&csrf), grouped).await;
    assert_eq!(response.json()["result"], json!([{"plan": "pro", "result": 2}]));
    let sum = format!("/api/v1/workspaces/{id}/queries/sum");
    let bad = app.session_json(&owner, Method::POST, &sum, Some(&csrf), body.clone()).await;
    assert_eq!(
        (bad.status, bad.json()["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(bad.json()["message"].as_str().unwrap().contains("target_property"), "{}", bad.body);

    let saved = format!("/api/v1/workspaces/{id}/saved_queries");
    let put = app.session_json(&owner, Method::PUT, &format!("{saved}/by-plan"), None, by_plan()).await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    let put =
        app.session_json(&owner, Method::PUT, &format!("{saved}/by-plan"), Some(&csrf), by_plan()).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.body);
    assert_eq!(put.json()["query_name"], "by-plan");
    let list = app.session_json(&owner, Method::GET, &saved, None, json!({})).await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
    let never =
        json!({"query": {"analysis_type": "count", "event_collection": "signups", "interval": "daily"}});
    let refused = app.session_json(&owner, Method::PUT, &format!("{saved}/never"), Some(&csrf), never).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // Keys work on the same routes; a read key runs queries but may not see definitions.
    let read = bearer(&app.first.read.secret);
    let request = |method: Method, path: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, read.clone())
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    assert_eq!(app.send(request(Method::POST, &count)).await.json()["result"], 3);
    assert_eq!(app.send(request(Method::GET, &saved)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.send(request(Method::DELETE, &format!("{saved}/by-plan"))).await.status,
        StatusCode::FORBIDDEN
    );

    // A viewer sees saved queries and the dashboard but cannot change them.
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.create_user("vera@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "vera@acme.com", sb_types::Role::Viewer).await.unwrap();
    let mut viewer = app.login("vera@acme.com", "correct horse").await;
    let dashboard = app.browse(&mut viewer, &format!("/w/{id}/dashboard")).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        dashboard.body.contains("Signups by plan") && !dashboard.body.contains("/delete"),
        "{}",
        dashboard.body
    );
    let viewer_csrf = dashboard.csrf();
    let put =
        app.session_json(&viewer, Method::PUT, &format!("{saved}/mine"), Some(&viewer_csrf), by_plan()).await;
    assert_eq!(put.status, StatusCode::FORBIDDEN, "{}", put.body);
    let ran = app.session_json(&viewer, Method::POST, &count, Some(&viewer_csrf), body).await;
    assert_eq!(ran.json()["result"], 3, "a viewer runs queries");
    let delete = [("csrf", viewer_csrf.as_str())];
    let refused =
        app.post_form(&mut viewer, &format!("/w/{id}/dashboard/by-plan/delete"), &delete, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.switchboard.saved_queries(&access).await.unwrap().len(), 1, "the viewer deleted nothing");
}

async fn the_explorer_and_dashboard_show_saved_queries_and_delete_them(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    app.record("signups", json!([{"plan": "pro", "user": {"age": 30}}, {"plan": "free"}])).await;
    let id = app.first.workspace.id.to_string();
    let mut owner = app.login_owner().await;

    let explorer = app.browse(&mut owner, &format!("/w/{id}/explore")).await;
    assert_eq!(explorer.status, StatusCode::OK);
    assert!(explorer.body.contains(r#"<option value="signups">signups</option>"#), "{}", explorer.body);
    assert!(explorer.body.contains("user.age") && explorer.body.contains("/assets/explorer-1.js"));
    assert!(!explorer.body.contains("data-saved"));
    for script in explorer.body.split("<script").skip(1) {
        assert!(script.trim_start().starts_with("src="), "no inline scripts under the CSP: <script{script}");
    }
    assert!(!explorer.body.contains("style="), "no inline styles under the CSP");
    for asset in ["/assets/chart-1.js", "/assets/explorer-1.js"] {
        assert_eq!(app.get(asset, None).await.status, StatusCode::OK, "{asset}");
    }

    let csrf = explorer.csrf();
    let path = format!("/api/v1/workspaces/{id}/saved_queries/by-plan");
    assert_eq!(
        app.session_json(&owner, Method::PUT, &path, Some(&csrf), by_plan()).await.status,
        StatusCode::CREATED
    );
    let sum = json!({"query": {"analysis_type": "sum", "event_collection": "signups", "target_property": "user.age"}});
    let path = format!("/api/v1/workspaces/{id}/saved_queries/ages");
    assert_eq!(
        app.session_json(&owner, Method::PUT, &path, Some(&csrf), sum).await.status,
        StatusCode::CREATED
    );

    let opened = app.browse(&mut owner, &format!("/w/{id}/explore?saved=by-plan")).await;
    assert!(
        opened.body.contains("data-saved=") && opened.body.contains("Signups by plan"),
        "{}",
        opened.body
    );
    let missing = app.browse(&mut owner, &format!("/w/{id}/explore?saved=nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let dashboard = app.browse(&mut owner, &format!("/w/{id}/dashboard")).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("Signups by plan") && dashboard.body.contains("/assets/chart-1.js"));
    assert_eq!(dashboard.body.matches("data-result=").count(), 2, "{}", dashboard.body);
    assert!(
        dashboard.body.contains(r#"data-result="30""#),
        "the sum of ages is computed for the card: {}",
        dashboard.body
    );

    let delete = format!("/w/{id}/dashboard/by-plan/delete");
    let expired = app.post_form(&mut owner, &delete, &[("csrf", "forged")], &[]).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    let form = [("csrf", csrf.as_str())];
    let deleted = app.post_form(&mut owner, &delete, &form, &[("hx-request", "true")]).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (StatusCode::OK, ""));
    let again = app.post_form(&mut owner, &delete, &form, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let delete_ages = format!("/w/{id}/dashboard/ages/delete");
    let redirected = app.post_form(&mut owner, &delete_ages, &form, &[]).await;
    assert_eq!(
        (redirected.status, redirected.location()),
        (StatusCode::SEE_OTHER, format!("/w/{id}/dashboard").as_str())
    );
    let empty = app.browse(&mut owner, &format!("/w/{id}/dashboard")).await;
    assert!(empty.body.contains("No saved queries yet"), "{}", empty.body);
}
