//! `POST /api/v1/workspaces/{id}/sql`: read-only SQL over the collections, as JSON rows or
//! CSV, for keys and for sessions with the CSRF header; refused statements change nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse, bearer};

backend_tests!(sql_answers_json_and_csv_and_refuses_writes, sql_runs_for_a_session_only_with_csrf);

async fn record(app: &TestApp, events: Value) {
    let path = format!("/3.0/projects/{}/events", app.first.workspace.id);
    let request = Request::post(path)
        .header(header::AUTHORIZATION, app.first.write.secret.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "signups": events }).to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

async fn sql(app: &TestApp, key: &str, uri_suffix: &str, accept: Option<&str>, body: &str) -> TestResponse {
    let mut request = Request::post(format!("/api/v1/workspaces/{}/sql{uri_suffix}", app.first.workspace.id))
        .header(header::AUTHORIZATION, bearer(key));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    app.send(request.body(Body::from(body.to_owned())).unwrap()).await
}

async fn sql_answers_json_and_csv_and_refuses_writes(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    record(
        &app,
        json!([{"plan": "pro", "seats": 3}, {"plan": "pro", "seats": 2}, {"plan": "free, \"trial\""}]),
    )
    .await;
    let read = app.first.read.secret.clone();
    let query = r#"SELECT plan, count(*) AS n, sum(seats) AS seats FROM signups GROUP BY plan ORDER BY plan"#;
    let answer = sql(&app, &read, "", None, query).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"columns": ["plan", "n", "seats"], "rows": [["free, \"trial\"", 1, null], ["pro", 2, 5.0]]})
    );
    let wrapped = sql(&app, &read, "", None, &json!({ "query": query }).to_string()).await;
    assert_eq!(wrapped.json(), answer.json(), "a JSON body with `query` is the same query");

    let csv = sql(&app, &read, "", Some("text/csv"), query).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(csv.body, "plan,n,seats\r\n\"free, \"\"trial\"\"\",1,\r\npro,2,5.0\r\n");
    assert_eq!(sql(&app, &read, "?format=csv", None, query).await.body, csv.body);

    for refused in [
        "INSERT INTO signups (plan) VALUES ('x')",
        "CREATE TABLE t AS SELECT 1",
        "COPY (SELECT 1) TO '/tmp/switchboard-http-sql.csv'",
        "SELECT * FROM nowhere",
        "",
    ] {
        let response = sql(&app, &read, "", None, refused).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{refused}: {}", response.body);
        assert!(!response.json()["message"].as_str().unwrap_or_default().is_empty(), "{refused}");
    }
    assert_eq!(sql(&app, &read, "?format=xml", None, query).await.status, StatusCode::BAD_REQUEST);
    let count = sql(&app, &read, "", None, "SELECT count(*) AS n FROM signups").await;
    assert_eq!(count.json()["rows"], json!([[3]]), "nothing was written");
    assert_eq!(sql(&app, "not a key", "", None, query).await.status, StatusCode::UNAUTHORIZED);
}

async fn sql_runs_for_a_session_only_with_csrf(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    record(&app, json!([{"plan": "pro"}])).await;
    let mut owner = app.login_owner().await;
    let id = app.first.workspace.id.to_string();
    let csrf = app.browse(&mut owner, &format!("/w/{id}")).await.csrf();
    let request = |token: Option<&str>| {
        let mut request = Request::post(format!("/api/v1/workspaces/{id}/sql"))
            .header(header::COOKIE, owner.cookie_header());
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.body(Body::from("SELECT count(*) AS n FROM signups")).unwrap()
    };
    assert_eq!(app.send(request(None)).await.status, StatusCode::FORBIDDEN);
    let answer = app.send(request(Some(&csrf))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["rows"], json!([[1]]));
}
