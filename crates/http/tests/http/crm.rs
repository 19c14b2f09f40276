//! The CRM's JSON API: pipelines and boxes created, read, changed under their version, listed
//! in pages with filters, deleted; bad input refused with nothing written; roles and key kinds.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::{Browser, TestApp, TestResponse, bearer};

backend_tests!(
    pipelines_and_boxes_are_created_read_changed_and_deleted,
    boxes_are_paged_filtered_and_sorted,
    bad_input_gets_a_clear_error_and_changes_nothing,
    viewers_and_read_keys_read_and_only_writers_write,
);

impl TestApp {
    /// A JSON request with `Authorization: Bearer KEY`.
    pub(crate) async fn key_json(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, bearer(key))
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(request.body(body).unwrap()).await
    }

    /// A JSON request with a session's cookies and its CSRF token.
    pub(crate) async fn browser_json(
        &self,
        browser: &Browser,
        csrf: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, browser.cookie_header())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", csrf)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }
}

pub(crate) fn sales() -> Value {
    json!({
        "name": "Sales",
        "description": "Deals we are working",
        "stages": [{"name": "Lead", "color": "#3366CC"}, {"name": "Won"}, {"name": "Lost"}],
        "fields": [
            {"name": "Amount", "type": "number"},
            {"name": "Size", "type": "dropdown", "options": ["S", "M", "L"]},
            {"name": "Tags", "type": "tags"},
            {"name": "Close", "type": "date"},
        ],
    })
}

pub(crate) fn created(response: TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    response.json()
}

pub(crate) fn ok(response: TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

pub(crate) fn error(response: &TestResponse, status: StatusCode, code: &str, words: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.json()["error_code"], code, "{}", response.body);
    let message = response.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(words), "{message:?} should mention {words:?}");
}

fn names(list: &Value) -> Vec<&str> {
    list["boxes"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect()
}

async fn pipelines_and_boxes_are_created_read_changed_and_deleted(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    assert_eq!((pipeline["name"].as_str(), pipeline["version"].as_i64()), (Some("Sales"), Some(1)));
    assert_eq!(pipeline["stages"][0]["color"], "#3366cc");
    assert_eq!(pipeline["stages"][1]["color"], "#9e9e9e");
    assert_eq!(pipeline["fields"][1]["options"], json!(["S", "M", "L"]));
    let p = format!("{ws}/pipelines/{}", pipeline["id"].as_str().unwrap());
    assert_eq!(ok(app.key_json(&key, Method::GET, &p, None).await), pipeline);

    let (lead, won) = (pipeline["stages"][0]["id"].clone(), pipeline["stages"][1]["id"].clone());
    let (amount, size) =
        (pipeline["fields"][0]["id"].as_str().unwrap(), pipeline["fields"][1]["id"].as_str().unwrap());
    let body = json!({"name": "Acme", "notes": "big one", "fields": {amount: 1200.5, size: "M"}});
    let deal = created(app.key_json(&key, Method::POST, &format!("{p}/boxes"), Some(body)).await);
    assert_eq!((&deal["stage"], deal["version"].as_i64()), (&lead, Some(1)), "first stage by default");
    assert_eq!(deal["fields"], json!({amount: 1200.5, size: "M"}));
    let b = format!("{ws}/boxes/{}", deal["id"].as_str().unwrap());

    let moved = ok(app
        .key_json(&key, Method::PATCH, &b, Some(json!({"version": 1, "stage": won, "fields": {size: null}})))
        .await);
    assert_eq!((&moved["stage"], moved["version"].as_i64()), (&won, Some(2)));
    assert_eq!(moved["fields"], json!({amount: 1200.5}), "null clears a value, others stay");
    assert_eq!(moved["notes"], "big one");
    let read = ok(app.key_json(&key, Method::GET, &b, None).await);
    let history = read["stage_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{read}");
    assert_eq!((&history[0]["from"], &history[0]["to"]), (&Value::Null, &lead));
    assert_eq!((&history[1]["from"], &history[1]["to"]), (&lead, &won));
    assert!(history[1]["changed_by"].as_str().unwrap().starts_with("key:"));

    let stale = app.key_json(&key, Method::PATCH, &b, Some(json!({"version": 1, "name": "Overwrite"}))).await;
    error(&stale, StatusCode::CONFLICT, "conflict", "now at version 2");
    let unchanged =
        ok(app.key_json(&key, Method::PATCH, &b, Some(json!({"version": 2, "notes": "big one"}))).await);
    assert_eq!(unchanged["version"], 2, "a patch that changes nothing writes nothing");
    assert_eq!(ok(app.key_json(&key, Method::GET, &b, None).await)["name"], "Acme");

    let renamed = ok(app
        .key_json(
            &key,
            Method::PATCH,
            &p,
            Some(json!({"version": 1, "name": "Deals", "fields": [
            {"id": amount, "name": "Value", "type": "number"}]})),
        )
        .await);
    assert_eq!((renamed["name"].as_str(), renamed["version"].as_i64()), (Some("Deals"), Some(2)));
    assert_eq!(renamed["stages"], pipeline["stages"], "stages are kept when not sent");
    let stale = app.key_json(&key, Method::PATCH, &p, Some(json!({"version": 1, "name": "Old"}))).await;
    error(&stale, StatusCode::CONFLICT, "conflict", "now at version 2");
    let drop_won = json!({"version": 2, "stages": [{"id": lead, "name": "Lead"}]});
    let in_use = app.key_json(&key, Method::PATCH, &p, Some(drop_won)).await;
    error(&in_use, StatusCode::CONFLICT, "conflict", "\"Won\" still holds 1 boxes");
    let not_empty = app.key_json(&key, Method::DELETE, &p, None).await;
    error(&not_empty, StatusCode::CONFLICT, "conflict", "still holds 1 boxes");

    assert_eq!(app.key_json(&key, Method::DELETE, &b, None).await.status, StatusCode::NO_CONTENT);
    error(&app.key_json(&key, Method::GET, &b, None).await, StatusCode::NOT_FOUND, "not_found", "box");
    error(&app.key_json(&key, Method::DELETE, &b, None).await, StatusCode::NOT_FOUND, "not_found", "box");
    assert_eq!(app.key_json(&key, Method::DELETE, &p, None).await.status, StatusCode::NO_CONTENT);
    error(&app.key_json(&key, Method::GET, &p, None).await, StatusCode::NOT_FOUND, "not_found", "pipeline");
}

async fn boxes_are_paged_filtered_and_sorted(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let owner = app.switchboard.list_users().await.unwrap()[0].id.to_string();
    for name in ["support", "hiring"] {
        let body = json!({"name": name, "stages": [{"name": "Open"}]});
        created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(body)).await);
    }
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let first = ok(app.key_json(&key, Method::GET, &format!("{ws}/pipelines?limit=2"), None).await);
    let listed: Vec<&str> =
        first["pipelines"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(listed, ["Sales", "hiring"], "by name");
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/pipelines?limit=2&cursor={cursor}"), None).await);
    assert_eq!(rest["pipelines"][0]["name"], "support");

    let p = format!("{ws}/pipelines/{}", pipeline["id"].as_str().unwrap());
    let won = pipeline["stages"][1]["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for (i, name) in ["delta", "alpha", "echo", "charlie", "bravo"].into_iter().enumerate() {
        let mut body = json!({"name": name});
        if i % 2 == 1 {
            body["stage"] = json!(won);
            body["assignees"] = json!([owner]);
        }
        ids.push(
            created(app.key_json(&key, Method::POST, &format!("{p}/boxes"), Some(body)).await)["id"].clone(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let list = |query: String| {
        let path = format!("{p}/boxes?{query}");
        let key = key.clone();
        let app = &app;
        async move { ok(app.key_json(&key, Method::GET, &path, None).await) }
    };
    assert_eq!(
        names(&list(String::new()).await),
        ["bravo", "charlie", "echo", "alpha", "delta"],
        "newest first"
    );
    let mut seen = Vec::new();
    let mut query = "sort=name&limit=2".to_owned();
    loop {
        let page = list(query.clone()).await;
        seen.extend(names(&page).into_iter().map(str::to_owned));
        let Some(cursor) = page["next_cursor"].as_str() else { break };
        query = format!("sort=name&limit=2&cursor={cursor}");
    }
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(names(&list(format!("stage={won}&sort=name")).await), ["alpha", "charlie"]);
    assert_eq!(names(&list(format!("assignee={owner}&sort=name")).await), ["alpha", "charlie"]);

    let charlie =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/boxes/{}", ids[3].as_str().unwrap()), None).await);
    let since = charlie["updated_at"].as_str().unwrap().replace(':', "%3A");
    assert_eq!(names(&list(format!("updated_since={since}")).await), ["bravo", "charlie"]);

    let cursor = list("sort=name&limit=2".into()).await["next_cursor"].as_str().unwrap().to_owned();
    let wrong_sort =
        app.key_json(&key, Method::GET, &format!("{p}/boxes?sort=updated&cursor={cursor}"), None).await;
    error(&wrong_sort, StatusCode::BAD_REQUEST, "invalid_request", "cursor");
    for (query, words) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("sort=size", "sort"),
        ("stage=nope", "unknown stage"),
        ("assignee=nope", "assignee"),
        ("updated_since=yesterday", "RFC 3339"),
        ("colour=red", "colour"),
    ] {
        let response = app.key_json(&key, Method::GET, &format!("{p}/boxes?{query}"), None).await;
        error(&response, StatusCode::BAD_REQUEST, "invalid_request", words);
    }
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let other = created(
        app.key_json(
            &key,
            Method::POST,
            &format!("{ws}/pipelines"),
            Some(json!({"name": "Other", "stages": [{"name": "A"}]})),
        )
        .await,
    );
    let p = format!("{ws}/pipelines/{}", pipeline["id"].as_str().unwrap());
    let (amount, size, tags, close) = (
        pipeline["fields"][0]["id"].as_str().unwrap(),
        pipeline["fields"][1]["id"].as_str().unwrap(),
        pipeline["fields"][2]["id"].as_str().unwrap(),
        pipeline["fields"][3]["id"].as_str().unwrap(),
    );
    let deal =
        created(app.key_json(&key, Method::POST, &format!("{p}/boxes"), Some(json!({"name": "Acme"}))).await);
    let b = format!("{ws}/boxes/{}", deal["id"].as_str().unwrap());
    let foreign_stage = other["stages"][0]["id"].as_str().unwrap();
    let long = "x".repeat(201);

    let (b_ws, _) = app.other_workspace("Globex", "gina@globex.com").await;
    let b_access = app.switchboard.operator_access(b_ws.workspace.id).await.unwrap();
    let draft = sb_core::PipelineDraft {
        name: "Theirs".into(),
        description: String::new(),
        stages: vec![sb_core::StageDraft { id: None, name: "Open".into(), color: None }],
        fields: Vec::new(),
    };
    let theirs = app.switchboard.create_pipeline(&b_access, draft).await.unwrap();

    let boxes = format!("{p}/boxes");
    let cases: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "stage": foreign_stage}),
            StatusCode::BAD_REQUEST,
            "unknown stage",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "fields": {"nope": 1}}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "fields": {amount: "12"}}),
            StatusCode::BAD_REQUEST,
            "takes a number",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "fields": {size: "XL"}}),
            StatusCode::BAD_REQUEST,
            "one of its options",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "fields": {tags: "vip"}}),
            StatusCode::BAD_REQUEST,
            "list of tags",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "fields": {close: "31/12/2024"}}),
            StatusCode::BAD_REQUEST,
            "YYYY-MM-DD",
        ),
        (Method::POST, boxes.clone(), json!({"name": long}), StatusCode::BAD_REQUEST, "the limit is 200"),
        (Method::POST, boxes.clone(), json!({"name": " "}), StatusCode::BAD_REQUEST, "must not be empty"),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "assignees": ["0123456789abcdef01234567"]}),
            StatusCode::BAD_REQUEST,
            "not a member",
        ),
        (
            Method::POST,
            boxes.clone(),
            json!({"name": "X", "colour": 1}),
            StatusCode::BAD_REQUEST,
            "unknown field `colour`",
        ),
        (Method::POST, boxes.clone(), json!(["X"]), StatusCode::BAD_REQUEST, "invalid JSON body"),
        (
            Method::POST,
            format!("{ws}/pipelines/{}/boxes", theirs.id),
            json!({"name": "X"}),
            StatusCode::NOT_FOUND,
            "pipeline not found",
        ),
        (
            Method::POST,
            format!("{ws}/pipelines/nope/boxes"),
            json!({"name": "X"}),
            StatusCode::NOT_FOUND,
            "pipeline not found",
        ),
        (Method::PATCH, b.clone(), json!({"name": "Y"}), StatusCode::BAD_REQUEST, "version is required"),
        (
            Method::PATCH,
            b.clone(),
            json!({"version": 1, "name": "Y", "stage": foreign_stage}),
            StatusCode::BAD_REQUEST,
            "unknown stage",
        ),
        (
            Method::PATCH,
            b.clone(),
            json!({"version": 1, "name": "Y", "fields": {size: 3}}),
            StatusCode::BAD_REQUEST,
            "one of its options",
        ),
        (
            Method::PATCH,
            b.clone(),
            json!({"version": 1, "pipeline": theirs.id.to_string()}),
            StatusCode::BAD_REQUEST,
            "unknown field `pipeline`",
        ),
        (
            Method::PATCH,
            format!("{ws}/boxes/0123456789abcdef01234567"),
            json!({"version": 1}),
            StatusCode::NOT_FOUND,
            "box not found",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"version": 1, "stages": []}),
            StatusCode::BAD_REQUEST,
            "1 to 50 stages",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"version": 1, "fields": [{"id": amount, "name": "A", "type": "text"}]}),
            StatusCode::BAD_REQUEST,
            "type cannot change",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"version": 1, "stages": [{"name": "A"}, {"name": "a"}]}),
            StatusCode::BAD_REQUEST,
            "two stages",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"version": 1, "stages": [{"name": "A", "color": "blue"}]}),
            StatusCode::BAD_REQUEST,
            "#rrggbb",
        ),
        (
            Method::PATCH,
            p.clone(),
            json!({"version": 1, "stages": [{"id": foreign_stage, "name": "A"}]}),
            StatusCode::BAD_REQUEST,
            "unknown stage",
        ),
        (
            Method::POST,
            format!("{ws}/pipelines"),
            json!({"name": "X", "stages": [{"name": "A"}], "fields": [{"name": "F", "type": "formula"}]}),
            StatusCode::BAD_REQUEST,
            "unknown field type",
        ),
        (
            Method::POST,
            format!("{ws}/pipelines"),
            json!({"name": "X", "stages": [{"name": "A"}], "fields": [{"name": "F", "type": "dropdown"}]}),
            StatusCode::BAD_REQUEST,
            "1 to 100 options",
        ),
        (
            Method::POST,
            format!("{ws}/pipelines"),
            json!({"name": long, "stages": [{"name": "A"}]}),
            StatusCode::BAD_REQUEST,
            "the limit is 200",
        ),
    ];
    for (method, path, body, status, words) in cases {
        let response = app.key_json(&key, method.clone(), &path, Some(body.clone())).await;
        let code = if status == StatusCode::NOT_FOUND { "not_found" } else { "invalid_request" };
        assert_eq!(response.status, status, "{method} {path} {body}: {}", response.body);
        error(&response, status, code, words);
    }

    assert_eq!(ok(app.key_json(&key, Method::GET, &b, None).await)["version"], 1, "the box is untouched");
    assert_eq!(ok(app.key_json(&key, Method::GET, &p, None).await), pipeline, "the pipeline is untouched");
    assert_eq!(names(&ok(app.key_json(&key, Method::GET, &boxes, None).await)), ["Acme"], "no box was added");
    let pipelines = ok(app.key_json(&key, Method::GET, &format!("{ws}/pipelines"), None).await);
    assert_eq!(pipelines["pipelines"].as_array().unwrap().len(), 2);
    let page = app
        .switchboard
        .boxes(&b_access, &theirs.id.to_string(), sb_core::BoxFilter::default())
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing was written into the other workspace");
}

async fn viewers_and_read_keys_read_and_only_writers_write(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let id = app.first.workspace.id;
    let ws = format!("/api/v1/workspaces/{id}");
    let access = app.switchboard.operator_access(id).await.unwrap();
    app.switchboard.create_user("vic@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "vic@acme.com", sb_types::Role::Viewer).await.unwrap();
    let mut viewer = app.login("vic@acme.com", "correct horse").await;
    let viewer_csrf = app.browse(&mut viewer, &format!("/w/{id}")).await.csrf();
    let mut owner = app.login_owner().await;
    let owner_csrf = app.browse(&mut owner, &format!("/w/{id}")).await.csrf();
    let pipelines = format!("{ws}/pipelines");

    let by_owner = created(app.browser_json(&owner, &owner_csrf, Method::POST, &pipelines, sales()).await);
    let p = format!("{pipelines}/{}", by_owner["id"].as_str().unwrap());
    assert!(by_owner["created_by"].as_str().unwrap().starts_with("user:"));
    let no_csrf = app.browser_json(&owner, "forged", Method::POST, &pipelines, sales()).await;
    error(&no_csrf, StatusCode::FORBIDDEN, "forbidden", "X-CSRF-Token");

    let refused = app.browser_json(&viewer, &viewer_csrf, Method::POST, &pipelines, sales()).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let patch = json!({"version": 1, "name": "Mine"});
    let refused = app.browser_json(&viewer, &viewer_csrf, Method::PATCH, &p, patch.clone()).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let refused = app
        .browser_json(&viewer, &viewer_csrf, Method::POST, &format!("{p}/boxes"), json!({"name": "X"}))
        .await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    assert_eq!(app.browse(&mut viewer, &p).await.json(), by_owner, "viewers read");

    let (read, write) = (app.first.read.secret.clone(), app.first.write.secret.clone());
    let refused = app.key_json(&read, Method::POST, &format!("{p}/boxes"), Some(json!({"name": "X"}))).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let refused = app.key_json(&read, Method::DELETE, &p, None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    assert_eq!(ok(app.key_json(&read, Method::GET, &p, None).await), by_owner, "read keys read");
    let deal =
        created(app.key_json(&write, Method::POST, &format!("{p}/boxes"), Some(json!({"name": "X"}))).await);
    let refused = app
        .key_json(&write, Method::GET, &format!("{ws}/boxes/{}", deal["id"].as_str().unwrap()), None)
        .await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not read");
    let listed = ok(app.key_json(&read, Method::GET, &format!("{p}/boxes"), None).await);
    assert_eq!(names(&listed), ["X"], "only the write key's box was written");
}
