//! The Keen `/3.0` wire: writes (single, batch, beacon), CORS, keys, inspection, count;
//! the other analyses and the query deadline in `keen/queries.rs`, saved queries in
//! `keen/saved.rs`.

mod queries;
mod saved;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

backend_tests!(
    a_single_event_answers_exactly_created_true_and_is_counted_at_once,
    a_batch_answers_per_event_in_order_and_a_bad_event_fails_alone,
    beacon_writes_answer_a_pixel_or_a_redirect,
    cors_preflight_and_text_plain_bodies,
    projects_and_keys_are_checked_in_keen_order,
    schema_drift_is_accepted_and_described,
    uniqueness_tokens_and_placeholders,
    count_filters_and_timeframes,
    the_events_pages_show_collections_schema_and_recent_events,
);

impl TestApp {
    fn project(&self) -> String {
        self.first.workspace.id.to_string()
    }

    async fn keen(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> TestResponse {
        let mut request =
            Request::builder().method(method).uri(path).header(header::USER_AGENT, "keen-test/1");
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, key);
        }
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn post_event(&self, collection: &str, event: Value) -> TestResponse {
        let path = format!("/3.0/projects/{}/events/{collection}", self.project());
        let key = self.first.write.secret.clone();
        self.keen(Method::POST, &path, Some(&key), Some(event)).await
    }

    async fn count(&self, parameters: Value) -> TestResponse {
        self.query("count", parameters).await
    }

    async fn query(&self, analysis: &str, parameters: Value) -> TestResponse {
        let path = format!("/3.0/projects/{}/queries/{analysis}", self.project());
        let key = self.first.read.secret.clone();
        self.keen(Method::POST, &path, Some(&key), Some(parameters)).await
    }

    async fn count_of(&self, collection: &str) -> u64 {
        let response = self.count(json!({ "event_collection": collection })).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.json()["result"].as_u64().unwrap()
    }
}

async fn a_single_event_answers_exactly_created_true_and_is_counted_at_once(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let response = app.post_event("purchases", json!({"item": {"price": 5}})).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.json(), json!({ "created": true }));
    assert_eq!(app.count_of("purchases").await, 1, "read-your-writes");
    for (event, code) in [
        (json!([1]), "InvalidEventError"),
        (json!({"a.b": 1}), "InvalidPropertyNameError"),
        (json!({"keen": 1}), "NamespaceTypeError"),
    ] {
        let response = app.post_event("purchases", event).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.json()["error_code"], code);
        assert!(response.json()["message"].is_string());
    }
    let bad_name = app.post_event("$money", json!({})).await;
    assert_eq!(bad_name.json()["error_code"], "InvalidCollectionNameError");
    let path = format!("/3.0/projects/{}/events/purchases", app.project());
    let request = Request::post(&path)
        .header(header::AUTHORIZATION, app.first.write.secret.clone())
        .body(Body::from("{not json"))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(
        (response.status, response.json()["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidEventError"))
    );
    assert_eq!(app.count_of("purchases").await, 1, "bad events change nothing");
}

async fn a_batch_answers_per_event_in_order_and_a_bad_event_fails_alone(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let path = format!("/3.0/projects/{}/events", app.project());
    let key = app.first.write.secret.clone();
    let batch = json!({
        "signups": [{"plan": "pro"}, {"bad.name": 1}, {"plan": "free"}],
        "_hidden": [{"x": 1}],
        "views": [{"path": "/"}],
    });
    let response = app.keen(Method::POST, &path, Some(&key), Some(batch)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let body = response.json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["signups", "_hidden", "views"]);
    assert_eq!(body["signups"][0], json!({"success": true}));
    assert_eq!(body["signups"][1]["success"], false);
    assert_eq!(body["signups"][1]["error"]["name"], "InvalidPropertyNameError");
    assert!(body["signups"][1]["error"]["description"].as_str().unwrap().contains("bad.name"));
    assert_eq!(body["signups"][2], json!({"success": true}));
    assert_eq!(body["_hidden"][0]["error"]["name"], "InvalidCollectionNameError");
    assert_eq!(body["views"], json!([{"success": true}]));
    assert_eq!((app.count_of("signups").await, app.count_of("views").await), (2, 1));

    for malformed in [json!([1, 2]), json!({"signups": {"plan": "pro"}}), json!("text")] {
        let response = app.keen(Method::POST, &path, Some(&key), Some(malformed)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.json()["error_code"], "InvalidBatchError");
    }
    assert_eq!(app.count_of("signups").await, 2, "a malformed batch changes nothing");
}

async fn beacon_writes_answer_a_pixel_or_a_redirect(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.write.secret.clone();
    // {"v": "~?~?~?$$$3"} in the standard alphabet (with `+` sent unescaped as Python does, so
    // it arrives as a space, and `/`), then URL-safe (`-`, `_`) without padding.
    let standard = "eyJ2IjogIn4/fj9+PyQkJDMifQ==";
    let url_safe = standard.replace('+', "-").replace('/', "_").trim_end_matches('=').to_owned();
    for data in [standard.to_owned(), url_safe] {
        let path = format!("/3.0/projects/{}/events/visits?api_key={key}&data={data}", app.project());
        let response = app.keen(Method::GET, &path, None, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        assert_eq!(response.headers[header::CONTENT_TYPE], "image/gif");
        assert!(response.body.len() > 20, "a real 1x1 image");
    }
    let path = format!(
        "/3.0/projects/{}/events/visits?api_key={key}&data={standard}&redirect=https%3A%2F%2Fexample.com%2Fthanks",
        app.project()
    );
    let response = app.keen(Method::GET, &path, None, None).await;
    assert_eq!(response.status, StatusCode::FOUND);
    assert_eq!(response.location(), "https://example.com/thanks");
    assert_eq!(app.count_of("visits").await, 3);
    for bad in ["javascript%3Aalert(1)", "ftp%3A%2F%2Fexample.com%2F", "not-a-url"] {
        let path = format!(
            "/3.0/projects/{}/events/visits?api_key={key}&data={standard}&redirect={bad}",
            app.project()
        );
        let response = app.keen(Method::GET, &path, None, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(app.count_of("visits").await, 3, "a refused redirect records nothing");

    let path = format!("/3.0/projects/{}/events/visits?api_key={key}&data=%%%", app.project());
    let response = app.keen(Method::GET, &path, None, None).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_of("visits").await, 3);
}

async fn cors_preflight_and_text_plain_bodies(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let path = format!("/3.0/projects/{}/events/clicks", app.project());
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri(&path)
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization, content-type")
        .body(Body::empty())
        .unwrap();
    let response = app.send(preflight).await;
    assert!(response.status.is_success());
    assert_eq!(response.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let allowed = response.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));

    let beacon_api = Request::post(format!("{path}?api_key={}", app.first.write.secret))
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .header(header::ORIGIN, "https://shop.example")
        .body(Body::from(r#"{"button": "buy"}"#))
        .unwrap();
    let response = app.send(beacon_api).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(app.count_of("clicks").await, 1);

    let unknown = app.keen(Method::GET, "/3.0/projects/nope/nowhere", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "*",
        "errors are readable cross-origin too"
    );
    let page = app.get("/login", None).await;
    assert!(!page.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "pages are not cross-origin");
}

async fn projects_and_keys_are_checked_in_keen_order(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (other, _) = app.other_workspace("Globex", "gina@globex.com").await;
    let event = Some(json!({"a": 1}));
    let write = app.first.write.secret.clone();
    let cases = [
        (
            "/3.0/projects/riker/events/c".to_owned(),
            Some("bogus".to_owned()),
            StatusCode::NOT_FOUND,
            "ResourceNotFoundError",
        ),
        (
            format!("/3.0/projects/{}/events/c", "0".repeat(24)),
            Some(write.clone()),
            StatusCode::NOT_FOUND,
            "ResourceNotFoundError",
        ),
        (
            format!("/3.0/projects/{}/events/c", app.project()),
            None,
            StatusCode::UNAUTHORIZED,
            "InvalidApiKeyError",
        ),
        (
            format!("/3.0/projects/{}/events/c", app.project()),
            Some("A".repeat(64)),
            StatusCode::UNAUTHORIZED,
            "InvalidApiKeyError",
        ),
        (
            format!("/3.0/projects/{}/events/c", app.project()),
            Some(app.first.read.secret.clone()),
            StatusCode::UNAUTHORIZED,
            "InvalidApiKeyError",
        ),
        (
            format!("/3.0/projects/{}/events/c", other.workspace.id),
            Some(write.clone()),
            StatusCode::NOT_FOUND,
            "ResourceNotFoundError",
        ),
    ];
    for (path, key, status, code) in cases {
        let response = app.keen(Method::POST, &path, key.as_deref(), event.clone()).await;
        assert_eq!(response.status, status, "{path} {key:?}: {}", response.body);
        assert_eq!(response.json()["error_code"], code, "{path}");
    }
    let master = app.first.master.secret.clone();
    let response = app
        .keen(Method::POST, &format!("/3.0/projects/{}/events/c", app.project()), Some(&master), event)
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "the master key writes too");
    let count = app
        .keen(
            Method::GET,
            &format!("/3.0/projects/{}/queries/count?event_collection=c", app.project()),
            Some(&write),
            None,
        )
        .await;
    assert_eq!(count.status, StatusCode::UNAUTHORIZED, "a write key cannot query");
    assert_eq!(app.count_of("c").await, 1, "refused writes stored nothing");
    assert_eq!(
        app.switchboard
            .event_collections(&app.switchboard.operator_access(other.workspace.id).await.unwrap())
            .await
            .unwrap()
            .len(),
        0
    );

    let project =
        app.keen(Method::GET, &format!("/3.0/projects/{}", app.project()), Some(&master), None).await;
    assert_eq!(project.status, StatusCode::OK);
    let body = project.json();
    assert_eq!(body["id"], app.project());
    assert!(body["url"].as_str().unwrap().contains(&app.project()));
    assert_eq!(
        body["events"],
        json!([{"name": "c", "url": format!("/3.0/projects/{}/events/c", app.project())}])
    );
    let read_key = app.first.read.secret.clone();
    let refused =
        app.keen(Method::GET, &format!("/3.0/projects/{}", app.project()), Some(&read_key), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "project info needs the master key");
    let list = app.keen(Method::GET, "/3.0/projects", Some(&master), None).await;
    assert_eq!(list.json()[0]["id"], app.project());
}

async fn schema_drift_is_accepted_and_described(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut wide = serde_json::Map::new();
    for i in 0..1000 {
        wide.insert(format!("p{i}"), json!(i));
    }
    let mut deep = json!("bottom");
    for _ in 0..50 {
        deep = json!({ "d": deep });
    }
    let events = [
        json!({"amount": 5, "tags": ["a", "b"], "user": {"id": 1}}),
        json!({"amount": "five", "user": {"id": "u1", "address": {"city": "Porto"}}, "missing": null}),
        json!({"items": [{"sku": "x"}, {"sku": "y"}], "deep": deep}),
        Value::Object(wide),
        json!({}),
    ];
    for event in events {
        let response = app.post_event("drift", event).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }
    assert_eq!(app.count_of("drift").await, 5, "nothing was lost");
    let path = format!("/3.0/projects/{}/events/drift", app.project());
    let read_key = app.first.read.secret.clone();
    let schema = app.keen(Method::GET, &path, Some(&read_key), None).await.json();
    let properties = &schema["properties"];
    assert_eq!(properties["amount"], "string", "the latest type wins");
    assert_eq!(properties["tags"], "list");
    assert_eq!(properties["user.address.city"], "string");
    assert_eq!(properties["missing"], "null");
    assert_eq!(properties["items"], "list");
    assert_eq!(properties["p999"], "num");
    assert_eq!(properties["keen.timestamp"], "datetime");
    assert!(properties.as_object().unwrap().keys().any(|k| k.ends_with(".d.d")));
    let all = app
        .keen(Method::GET, &format!("/3.0/projects/{}/events", app.project()), Some(&read_key), None)
        .await
        .json();
    assert_eq!(all[0]["name"], "drift");
    assert_eq!(all[0]["properties"]["amount"], "string");
}

async fn uniqueness_tokens_and_placeholders(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    for _ in 0..3 {
        let response =
            app.post_event("orders", json!({"keen": {"uniqueness_token": "order-17"}, "n": 1})).await;
        assert_eq!(
            response.json(),
            json!({"created": true}),
            "a duplicate is acknowledged, not stored twice"
        );
    }
    assert_eq!(app.count_of("orders").await, 1);
    let response = app.post_event("orders", json!({"keen": {"uniqueness_token": "order-18"}})).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(app.count_of("orders").await, 2);

    app.post_event("hits", json!({"ip": "${keen.ip}", "ua": "${keen.user_agent}"})).await;
    let filtered = app
        .count(json!({"event_collection": "hits", "filters": [{"property_name": "ua", "operator": "eq", "property_value": "keen-test/1"}]}))
        .await;
    assert_eq!(filtered.json()["result"], 1, "{}", filtered.body);
}

async fn count_filters_and_timeframes(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    for (plan, when) in [
        ("pro", "2024-01-10T10:00:00Z"),
        ("free", "2024-01-11T10:00:00.000-0800"),
        ("pro", "2024-02-01T00:00:00"),
    ] {
        let response = app.post_event("signups", json!({"plan": plan, "keen": {"timestamp": when}})).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }
    let january = json!({"start": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z"});
    let pro = json!([{"property_name": "plan", "operator": "eq", "property_value": "pro"}]);
    for (parameters, expected) in [
        (json!({"event_collection": "signups"}), 3),
        (json!({"event_collection": "signups", "timeframe": january}), 2),
        (json!({"event_collection": "signups", "filters": pro}), 2),
        (json!({"event_collection": "signups", "filters": pro, "timeframe": january}), 1),
        (json!({"event_collection": "signups", "timeframe": "this_1_days"}), 0),
        (json!({"event_collection": "nothing"}), 0),
    ] {
        let response = app.count(parameters.clone()).await;
        assert_eq!(response.status, StatusCode::OK, "{parameters}: {}", response.body);
        assert_eq!(response.json()["result"], expected, "{parameters}");
    }
    let query = format!(
        "/3.0/projects/{}/queries/count?event_collection=signups&timeframe={}&filters={}",
        app.project(),
        url::form_urlencoded::byte_serialize(january.to_string().as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(pro.to_string().as_bytes()).collect::<String>(),
    );
    let read_key = app.first.read.secret.clone();
    let response = app.keen(Method::GET, &query, Some(&read_key), None).await;
    assert_eq!(response.json(), json!({"result": 1}), "GET with JSON in the query string");
    for (parameters, code) in [
        (json!({}), "MissingRequiredPropertyError"),
        (json!({"event_collection": "signups", "timeframe": "this_7_fortnights"}), ""),
        (
            json!({"event_collection": "signups", "filters": [{"property_name": "plan", "operator": "regex", "property_value": "("}]}),
            "",
        ),
    ] {
        let response = app.count(parameters.clone()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{parameters}: {}", response.body);
        let got = response.json()["error_code"].as_str().unwrap().to_owned();
        assert!(code.is_empty() || got == code, "{parameters}: {got}");
    }
}

async fn the_events_pages_show_collections_schema_and_recent_events(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = app.login_owner().await;
    let page = app.browse(&mut browser, &format!("/w/{}/events", app.project())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No events yet"));

    app.post_event("purchases", json!({"item": {"sku": "tea-17"}, "price": 4.5})).await;
    app.post_event("purchases", json!({"item": {"sku": "mug-2"}, "price": 12})).await;
    let page = app.browse(&mut browser, &format!("/w/{}/events", app.project())).await;
    assert!(page.body.contains("data-collection=\"purchases\""), "{}", page.body);
    assert!(page.body.contains("<td>2</td>"), "{}", page.body);
    assert!(page.body.contains("hx-trigger=\"every 5s\""), "the list refreshes itself");

    let detail = app.browse(&mut browser, &format!("/w/{}/events/purchases", app.project())).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("<code>item.sku</code>") && detail.body.contains("datetime"));
    let newest = detail.body.find("mug-2").expect("recent events shown");
    assert!(newest < detail.body.find("tea-17").unwrap(), "newest first");

    let missing = app.browse(&mut browser, &format!("/w/{}/events/nothing", app.project())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_oversized_body_gets_a_keen_413() {
    let backend = TestBackend::new(sb_test_support::BackendKind::Sqlite).await.unwrap();
    let app = TestApp::start(&backend).await;
    let path = format!("/3.0/projects/{}/events", app.project());
    let big = format!("{{\"c\": [{{\"s\": \"{}\"}}]}}", "x".repeat(sb_http::MAX_KEEN_BODY_BYTES));
    let request = Request::post(&path)
        .header(header::AUTHORIZATION, app.first.write.secret.clone())
        .body(Body::from(big))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.json()["error_code"], "RequestTooLargeError");
    assert_eq!(app.count_of("c").await, 0);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_answers_503_and_stores_nothing() {
    let backend = TestBackend::new(sb_test_support::BackendKind::Sqlite).await.unwrap();
    let app = TestApp::start(&backend).await;
    let events = backend.data_dir().join("workspaces").join(app.project()).join("events");
    std::fs::create_dir_all(&events).unwrap();
    // Writes to /dev/full fail with ENOSPC, exactly as on a full disk.
    std::os::unix::fs::symlink("/dev/full", events.join("events.wal")).unwrap();
    let response = app.post_event("purchases", json!({"n": 1})).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
    assert_eq!(response.json()["error_code"], "ServiceUnavailableError");
    assert!(response.json()["message"].as_str().unwrap().contains("nothing was changed"));
    assert_eq!(app.count_of("purchases").await, 0);
}

#[tokio::test]
async fn requests_past_the_rate_limit_get_a_keen_429_and_store_nothing() {
    let backend = TestBackend::new(sb_test_support::BackendKind::Sqlite).await.unwrap();
    let mut app = TestApp::start(&backend).await;
    let state = sb_http::AppState::new(app.switchboard.clone(), true).with_keen_rate_limit(3);
    app.router = sb_http::router(state);
    let mut statuses = Vec::new();
    for n in 0..5 {
        statuses.push(app.post_event("bursts", json!({ "n": n })).await.status);
    }
    assert_eq!(statuses[..3], [StatusCode::CREATED; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    let refused = app.post_event("bursts", json!({"n": 9})).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json()["error_code"], "TooManyRequestsError");
    let stored = app
        .switchboard
        .event_collections(&app.switchboard.operator_access(app.first.workspace.id).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored[0].1, 3, "refused requests stored nothing");
}
