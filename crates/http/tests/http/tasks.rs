//! Tasks on boxes through the JSON API: created, changed under their version, listed by box and
//! by due date, deleted; bad input refused with nothing written; read keys cannot write.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::TestApp;

backend_tests!(
    tasks_are_created_changed_listed_and_deleted,
    bad_task_input_gets_a_clear_error_and_changes_nothing
);

fn texts(list: &Value) -> Vec<&str> {
    list["tasks"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap()).collect()
}

/// A workspace with a pipeline and a box: (master key, the workspace's API prefix, the box's path).
async fn with_a_box(app: &TestApp) -> (String, String, String) {
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let deal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Deal"}))).await);
    let b = format!("{ws}/boxes/{}", deal["id"].as_str().unwrap());
    (key, ws, b)
}

async fn tasks_are_created_changed_listed_and_deleted(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (key, ws, b) = with_a_box(&app).await;
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let owner = app.switchboard.members(&access).await.unwrap()[0].user.id.to_string();
    let tasks = format!("{b}/tasks");
    let body = json!({"text": " Call Ana ", "due_date": "2026-12-01", "assignees": [owner]});
    let call = created(app.key_json(&key, Method::POST, &tasks, Some(body)).await);
    assert_eq!(
        (call["text"].as_str(), call["done"].as_bool(), call["version"].as_i64()),
        (Some("Call Ana"), Some(false), Some(1))
    );
    assert_eq!(call["assignees"], json!([owner]));
    let body = json!({"text": "Send the contract", "due_date": "2026-12-24"});
    created(app.key_json(&key, Method::POST, &tasks, Some(body)).await);
    created(app.key_json(&key, Method::POST, &tasks, Some(json!({"text": "Someday"}))).await);
    assert_eq!(
        texts(&ok(app.key_json(&key, Method::GET, &tasks, None).await)),
        ["Call Ana", "Send the contract", "Someday"]
    );

    let due = ok(app.key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=2026-12-05"), None).await);
    assert_eq!(texts(&due), ["Call Ana"]);
    let mine = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=2026-12-31&assignee={owner}"), None)
        .await);
    assert_eq!(texts(&mine), ["Call Ana"], "only the member's");
    let everyone = ok(app.key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=2026-12-31"), None).await);
    assert_eq!(texts(&everyone), ["Call Ana", "Send the contract"], "earliest due first; undated never due");

    let t = format!("{ws}/tasks/{}", call["id"].as_str().unwrap());
    let done = ok(app.key_json(&key, Method::PATCH, &t, Some(json!({"version": 1, "done": true}))).await);
    assert_eq!((done["done"].as_bool(), done["version"].as_i64()), (Some(true), Some(2)));
    assert_eq!(done["due_date"], "2026-12-01", "parts not sent stay");
    let due = ok(app.key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=2026-12-31"), None).await);
    assert_eq!(texts(&due), ["Send the contract"], "done tasks are not due");
    let cleared =
        ok(app.key_json(&key, Method::PATCH, &t, Some(json!({"version": 2, "due_date": null}))).await);
    assert_eq!(cleared["due_date"], Value::Null);
    let stale = app.key_json(&key, Method::PATCH, &t, Some(json!({"version": 1, "text": "Old"}))).await;
    error(&stale, StatusCode::CONFLICT, "conflict", "now at version 3");
    assert_eq!(ok(app.key_json(&key, Method::GET, &t, None).await)["version"], 3);
    assert_eq!(app.key_json(&key, Method::DELETE, &t, None).await.status, StatusCode::NO_CONTENT);
    error(&app.key_json(&key, Method::GET, &t, None).await, StatusCode::NOT_FOUND, "not_found", "task");

    let read = app.first.read.secret.clone();
    let refused = app.key_json(&read, Method::POST, &tasks, Some(json!({"text": "X"}))).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    assert_eq!(texts(&ok(app.key_json(&read, Method::GET, &tasks, None).await)).len(), 2, "read keys read");
    assert_eq!(app.key_json(&key, Method::DELETE, &b, None).await.status, StatusCode::NO_CONTENT);
    let gone = ok(app.key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=2026-12-31"), None).await);
    assert!(texts(&gone).is_empty(), "a box's tasks go with it");
}

async fn bad_task_input_gets_a_clear_error_and_changes_nothing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (key, ws, b) = with_a_box(&app).await;
    let tasks = format!("{b}/tasks");
    let stranger = sb_types::UserId::generate().to_string();
    let cases = [
        (json!({"text": " "}), "1 to 2000 characters"),
        (json!({"text": "x".repeat(2001)}), "1 to 2000 characters"),
        (json!({"text": "X", "due_date": "2026-02-30"}), "YYYY-MM-DD"),
        (json!({"text": "X", "due_date": "tomorrow"}), "YYYY-MM-DD"),
        (json!({"text": "X", "assignees": [stranger]}), "not a member"),
        (json!({"text": "X", "priority": 1}), "priority"),
    ];
    for (body, words) in cases {
        let response = app.key_json(&key, Method::POST, &tasks, Some(body)).await;
        error(&response, StatusCode::BAD_REQUEST, "invalid_request", words);
    }
    let ghost = format!("{ws}/boxes/{}/tasks", sb_types::BoxId::generate());
    let response = app.key_json(&key, Method::POST, &ghost, Some(json!({"text": "X"}))).await;
    error(&response, StatusCode::NOT_FOUND, "not_found", "box");
    let call = created(app.key_json(&key, Method::POST, &tasks, Some(json!({"text": "Call"}))).await);
    let t = format!("{ws}/tasks/{}", call["id"].as_str().unwrap());
    let bad_date = app.key_json(&key, Method::PATCH, &t, Some(json!({"version": 1, "due_date": 5}))).await;
    error(&bad_date, StatusCode::BAD_REQUEST, "invalid_request", "due_date");
    let no_version = app.key_json(&key, Method::PATCH, &t, Some(json!({"done": true}))).await;
    error(&no_version, StatusCode::BAD_REQUEST, "invalid_request", "version");
    let bad_day = app.key_json(&key, Method::GET, &format!("{ws}/tasks?due_by=soon"), None).await;
    error(&bad_day, StatusCode::BAD_REQUEST, "invalid_request", "YYYY-MM-DD");
    assert_eq!(
        texts(&ok(app.key_json(&key, Method::GET, &tasks, None).await)),
        ["Call"],
        "nothing refused was written"
    );
    assert_eq!(ok(app.key_json(&key, Method::GET, &t, None).await)["version"], 1);
}
