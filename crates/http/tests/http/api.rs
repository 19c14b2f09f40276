//! The JSON API: authentication, the workspace route, error bodies.

use axum::http::{StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};

use crate::support::{TestApp, bearer};

backend_tests!(
    every_key_kind_reads_its_workspace,
    missing_wrong_and_malformed_credentials_get_401_json,
    a_revoked_key_stops_working_at_once,
    a_session_cookie_reads_the_api,
    unknown_routes_and_health,
    the_openapi_document_describes_the_api,
);

async fn every_key_kind_reads_its_workspace(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let id = app.first.workspace.id.to_string();
    for key in [&app.first.master, &app.first.write, &app.first.read] {
        let response = app.get(&format!("/api/v1/workspaces/{id}"), Some(&bearer(&key.secret))).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let body = response.json();
        assert_eq!(body["id"], id);
        assert_eq!(body["name"], "My workspace");
        assert_eq!(body["member_count"], 1);
        assert_eq!(body["created_at"], app.first.workspace.created_at.to_string());
    }
    let lower = bearer(&app.first.read.secret.to_lowercase());
    let response = app.get(&format!("/api/v1/workspaces/{id}"), Some(&lower)).await;
    assert_eq!(response.status, StatusCode::OK, "keys are hexadecimal, so case does not matter");
}

async fn missing_wrong_and_malformed_credentials_get_401_json(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let path = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let wrong = bearer(&"A".repeat(64));
    let raw_key = app.first.master.secret.clone();
    for authorization in
        [None, Some(wrong.as_str()), Some("Bearer short"), Some("Basic dXNlcjpwYXNz"), Some(raw_key.as_str())]
    {
        let response = app.get(&path, authorization).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(response.json()["error_code"], "unauthenticated");
        assert!(response.json()["message"].as_str().unwrap().len() > 10);
        assert_eq!(response.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
}

async fn a_revoked_key_stops_working_at_once(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let path = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.revoke_key(&access, app.first.write.key.id).await.unwrap();
    let response = app.get(&path, Some(&bearer(&app.first.write.secret))).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let response = app.get(&path, Some(&bearer(&app.first.read.secret))).await;
    assert_eq!(response.status, StatusCode::OK, "other keys keep working");
}

async fn a_session_cookie_reads_the_api(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = app.login_owner().await;
    let path = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let response = app.browse(&mut browser, &path).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.json()["id"], app.first.workspace.id.to_string());
}

async fn unknown_routes_and_health(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let health = app.get("/healthz", None).await;
    assert_eq!((health.status, health.json()["status"].as_str()), (StatusCode::OK, Some("ok")));
    let api = app.get("/api/v1/nothing-here", None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.json()["error_code"], "not_found");
    let page = app.get("/nothing-here", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
    let asset = app.get("/assets/app-2.css", None).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.headers[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
}

async fn the_openapi_document_describes_the_api(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let doc = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK, "public: it holds no workspace data");
    assert!(doc.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let create = &doc["paths"]["/api/v1/workspaces/{id}/pipelines/{pipeline}/boxes"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BoxCreate"
    );
    let box_create = &doc["components"]["schemas"]["BoxCreate"];
    assert_eq!(box_create["required"], serde_json::json!(["name"]));
    assert_eq!(box_create["additionalProperties"], false, "unknown keys are refused, and the schema says so");
}
