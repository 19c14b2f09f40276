//! Boxes beyond their basics through the JSON API: person, contact and organization fields
//! checked against the workspace, followers, boxes linked to boxes, and boxes filtered by a
//! field's value.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok};
use crate::support::TestApp;

backend_tests!(reference_fields_followers_linked_boxes_and_value_filters);

fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> =
        list["boxes"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names
}

async fn reference_fields_followers_linked_boxes_and_value_filters(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let pipeline = json!({
        "name": "Hiring",
        "stages": [{"name": "Applied"}, {"name": "Hired"}],
        "fields": [
            {"name": "Recruiter", "type": "person"},
            {"name": "Candidate", "type": "contact"},
            {"name": "Agency", "type": "organization"},
            {"name": "Level", "type": "number"},
            {"name": "Skills", "type": "tags"},
            {"name": "Remote", "type": "checkbox"},
            {"name": "Summary", "type": "text"},
        ],
    });
    let pipeline =
        created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(pipeline)).await);
    let field = |n: usize| pipeline["fields"][n]["id"].as_str().unwrap().to_owned();
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let ana = created(
        app.key_json(&key, Method::POST, &format!("{ws}/contacts"), Some(json!({"name": "Ana"}))).await,
    );
    let agency = created(
        app.key_json(&key, Method::POST, &format!("{ws}/organizations"), Some(json!({"name": "Hunt"}))).await,
    );
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let owner = app.switchboard.members(&access).await.unwrap()[0].user.id.to_string();

    let body = json!({
        "name": "Ana for backend",
        "followers": [owner],
        "fields": {
            field(0): owner, field(1): ana["id"], field(2): agency["id"],
            field(3): 3, field(4): ["rust", "sql"], field(5): true,
        },
    });
    let first = created(app.key_json(&key, Method::POST, &boxes, Some(body)).await);
    assert_eq!(first["followers"], json!([owner]));
    assert_eq!(first["fields"][field(1)], ana["id"]);
    let second =
        json!({"name": "Bo for frontend", "fields": {field(3): 2, field(4): ["css"], field(5): false}});
    let second = created(app.key_json(&key, Method::POST, &boxes, Some(second)).await);

    // Values that name nothing in the workspace, or are of the wrong shape, are refused.
    let stranger = sb_types::UserId::generate().to_string();
    let cases = [
        (json!({field(0): stranger}), "is no member of this workspace"),
        (json!({field(1): sb_types::ContactId::generate().to_string()}), "is no contact of this workspace"),
        (json!({field(2): ana["id"]}), "is no organization of this workspace"),
        (json!({field(1): "ana@acme.com"}), "takes a contact id"),
    ];
    for (fields, words) in cases {
        let refused =
            app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "X", "fields": fields}))).await;
        error(&refused, StatusCode::BAD_REQUEST, "invalid_request", words);
    }
    let refused =
        app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "X", "followers": [stranger]})));
    error(&refused.await, StatusCode::BAD_REQUEST, "invalid_request", "follower");

    // Filter by a field's value: a number and a checkbox as JSON, a tag as itself.
    let filter = |f: String, v: &str| format!("{boxes}?field={f}&value={v}");
    let all = ok(app.key_json(&key, Method::GET, &filter(field(3), "3"), None).await);
    assert_eq!(names(&all), ["Ana for backend"]);
    let remote = ok(app.key_json(&key, Method::GET, &filter(field(5), "false"), None).await);
    assert_eq!(names(&remote), ["Bo for frontend"]);
    let css = ok(app.key_json(&key, Method::GET, &filter(field(4), "css"), None).await);
    assert_eq!(names(&css), ["Bo for frontend"]);
    let nobody = ok(app.key_json(&key, Method::GET, &filter(field(4), "go"), None).await);
    assert_eq!(names(&nobody), Vec::<&str>::new());
    error(
        &app.key_json(&key, Method::GET, &format!("{boxes}?field={}", field(4)), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "give both",
    );
    error(
        &app.key_json(&key, Method::GET, &filter("nope".into(), "1"), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "unknown field",
    );
    // A changed value moves the box in and out of the filter.
    let patch = json!({"version": 1, "fields": {field(4): ["rust", "go"]}});
    let box_path = format!("{ws}/boxes/{}", first["id"].as_str().unwrap());
    ok(app.key_json(&key, Method::PATCH, &box_path, Some(patch)).await);
    let go = ok(app.key_json(&key, Method::GET, &filter(field(4), "go"), None).await);
    assert_eq!(names(&go), ["Ana for backend"]);
    assert_eq!(names(&ok(app.key_json(&key, Method::GET, &filter(field(4), "sql"), None).await)).len(), 0);

    // A long text value is stored (it is left out of the filter index, which PostgreSQL could
    // not hold), and a filter on a value that long is refused.
    let long = "x".repeat(5_000);
    let essay = json!({"name": "Essay", "fields": {field(6): long}});
    assert_eq!(
        created(app.key_json(&key, Method::POST, &boxes, Some(essay)).await)["fields"][field(6)],
        long
    );
    error(
        &app.key_json(&key, Method::GET, &filter(field(6), &"x".repeat(201)), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "at most 200 characters",
    );
    let short = json!({"name": "Note", "fields": {field(6): "short"}});
    created(app.key_json(&key, Method::POST, &boxes, Some(short)).await);
    assert_eq!(names(&ok(app.key_json(&key, Method::GET, &filter(field(6), "short"), None).await)), ["Note"]);

    // Boxes linked to boxes show the link on both sides, and never to themselves.
    let (a, b) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let link = format!("{ws}/boxes/{a}/boxes/{b}");
    assert_eq!(app.key_json(&key, Method::PUT, &link, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(ok(app.key_json(&key, Method::GET, &box_path, None).await)["linked_boxes"], json!([b]));
    let other = ok(app.key_json(&key, Method::GET, &format!("{ws}/boxes/{b}"), None).await);
    assert_eq!(other["linked_boxes"], json!([a]));
    let itself = format!("{ws}/boxes/{a}/boxes/{a}");
    error(
        &app.key_json(&key, Method::PUT, &itself, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "itself",
    );
    let back = format!("{ws}/boxes/{b}/boxes/{a}");
    assert_eq!(app.key_json(&key, Method::DELETE, &back, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(ok(app.key_json(&key, Method::GET, &box_path, None).await)["linked_boxes"], json!([]));
    error(&app.key_json(&key, Method::DELETE, &link, None).await, StatusCode::NOT_FOUND, "not_found", "link");

    // Unfollowing is a patch like any other, and shows in the audit trail.
    let unfollow = json!({"version": 2, "followers": []});
    assert_eq!(
        ok(app.key_json(&key, Method::PATCH, &box_path, Some(unfollow)).await)["followers"],
        json!([])
    );
    let audit = ok(app.key_json(&key, Method::GET, &format!("{ws}/audit?object={a}&limit=1"), None).await);
    assert_eq!(audit["audit"][0]["changes"], json!({"followers": {"from": [owner], "to": []}}));
}
