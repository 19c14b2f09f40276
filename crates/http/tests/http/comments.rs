//! Comments on boxes through the JSON API: @mentions of members, edits under their version by
//! the author or an admin only, deletes, bad input refused with nothing written.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::TestApp;

backend_tests!(comments_mention_members_and_only_authors_and_admins_change_them);

fn bodies(list: &Value) -> Vec<&str> {
    list["comments"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect()
}

async fn comments_mention_members_and_only_authors_and_admins_change_them(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let id = app.first.workspace.id;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{id}");
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let deal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Deal"}))).await);
    let comments = format!("{ws}/boxes/{}/comments", deal["id"].as_str().unwrap());
    let access = app.switchboard.operator_access(id).await.unwrap();
    app.switchboard.create_user("mia@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "mia@acme.com", sb_types::Role::Member).await.unwrap();
    let members = app.switchboard.members(&access).await.unwrap();
    let mia = members.iter().find(|m| m.user.email.as_str() == "mia@acme.com").unwrap().user.id.to_string();

    let body = json!({"body": "Can you call them, @MIA@acme.com? cc @nobody@x.org and @mia@acme.com."});
    let first = created(app.key_json(&key, Method::POST, &comments, Some(body)).await);
    assert_eq!(first["mentions"], json!([mia]), "members only, each once");
    assert!(first["created_by"].as_str().unwrap().starts_with("key:"));
    let write = app.first.write.secret.clone();
    let second = created(app.key_json(&write, Method::POST, &comments, Some(json!({"body": "Done."}))).await);
    assert_eq!(second["mentions"], json!([]));
    let read = app.first.read.secret.clone();
    let listed = ok(app.key_json(&read, Method::GET, &comments, None).await);
    assert_eq!(bodies(&listed).len(), 2);
    assert_eq!(bodies(&listed)[1], "Done.", "oldest first");

    let c = format!("{ws}/comments/{}", first["id"].as_str().unwrap());
    let mut member = app.login("mia@acme.com", "correct horse").await;
    let member_csrf = app.browse(&mut member, &format!("/w/{id}")).await.csrf();
    let refused = app
        .browser_json(&member, &member_csrf, Method::PATCH, &c, json!({"version": 1, "body": "Mine"}))
        .await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "only its author or an admin");
    let refused = app.key_json(&write, Method::DELETE, &c, None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "only its author or an admin");
    let mut owner = app.login_owner().await;
    let owner_csrf = app.browse(&mut owner, &format!("/w/{id}")).await.csrf();
    let edited = app
        .browser_json(&owner, &owner_csrf, Method::PATCH, &c, json!({"version": 1, "body": "Call them."}))
        .await;
    let edited = ok(edited);
    assert_eq!(
        (edited["version"].as_i64(), edited["mentions"].clone()),
        (Some(2), json!([])),
        "an admin may edit"
    );
    let stale = app.key_json(&key, Method::PATCH, &c, Some(json!({"version": 1, "body": "Old"}))).await;
    error(&stale, StatusCode::CONFLICT, "conflict", "now at version 2");
    let empty = app.key_json(&key, Method::PATCH, &c, Some(json!({"version": 2, "body": "  "}))).await;
    error(&empty, StatusCode::BAD_REQUEST, "invalid_request", "1 to 20000 characters");
    let refused = app.key_json(&read, Method::POST, &comments, Some(json!({"body": "X"}))).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let ghost = format!("{ws}/boxes/{}/comments", sb_types::BoxId::generate());
    error(
        &app.key_json(&key, Method::POST, &ghost, Some(json!({"body": "X"}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "box",
    );
    assert_eq!(bodies(&ok(app.key_json(&key, Method::GET, &comments, None).await)), ["Call them.", "Done."]);

    assert_eq!(app.key_json(&key, Method::DELETE, &c, None).await.status, StatusCode::NO_CONTENT);
    error(&app.key_json(&key, Method::DELETE, &c, None).await, StatusCode::NOT_FOUND, "not_found", "comment");
    let by_author = format!("{ws}/comments/{}", second["id"].as_str().unwrap());
    assert_eq!(
        app.key_json(&write, Method::DELETE, &by_author, None).await.status,
        StatusCode::NO_CONTENT,
        "its author may delete"
    );
    assert!(bodies(&ok(app.key_json(&key, Method::GET, &comments, None).await)).is_empty());
}
