//! Keen saved queries on the wire: create, list, get, result, replace, rename, delete, with the
//! keys the reference names and Keen's error shape for definitions that could never run.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

backend_tests!(
    saved_queries_round_trip_in_keen_shapes,
    saved_queries_need_the_right_key_and_refuse_bad_definitions
);

impl TestApp {
    async fn saved(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> TestResponse {
        let path = format!("/3.0/projects/{}/queries/saved{path}", self.project());
        self.keen(method, &path, Some(key), body).await
    }
}

fn total_price(extra: Value) -> Value {
    let mut query =
        json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price"});
    query.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({"refresh_rate": 0, "query": query, "metadata": {"display_name": "Total", "visualization": {"chart_type": "metric"}}})
}

async fn saved_queries_round_trip_in_keen_shapes(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    for (price, plan) in [(10, "pro"), (20, "free")] {
        app.post_event("purchases", json!({"price": price, "plan": plan})).await;
    }
    let master = app.first.master.secret.clone();
    let read = app.first.read.secret.clone();

    let created = app.saved(Method::PUT, "/total", &master, Some(total_price(json!({})))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let definition = created.json();
    assert_eq!(definition["query_name"], "total");
    assert_eq!(definition["refresh_rate"], 0);
    assert_eq!(definition["query"], total_price(json!({}))["query"]);
    assert_eq!(definition["metadata"]["display_name"], "Total");
    assert_eq!(definition["metadata"]["visualization"]["chart_type"], "metric");
    assert_eq!(definition["created_at"], definition["updated_at"]);
    assert!(definition["created_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(app.saved(Method::GET, "", &master, None).await.json(), json!([definition]));
    assert_eq!(app.saved(Method::GET, "/total", &master, None).await.json(), definition);
    let result = app.saved(Method::GET, "/total/result", &read, None).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.body);
    let mut expected = definition.clone();
    expected["result"] = json!(30);
    assert_eq!(result.json(), expected, "the definition plus its result");
    let project =
        app.keen(Method::GET, &format!("/3.0/projects/{}", app.project()), Some(&master), None).await;
    assert_eq!(project.json()["saved_queries"], json!([definition]));

    // A full replacement: a cached query's refresh rate is kept and echoed; created_at stays.
    let mut grouped = total_price(json!({"group_by": "plan"}));
    grouped["refresh_rate"] = json!(14_400);
    let replaced = app.saved(Method::PUT, "/total", &master, Some(grouped)).await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.body);
    assert_eq!(replaced.json()["refresh_rate"], 14_400);
    assert_eq!(replaced.json()["created_at"], definition["created_at"]);
    let groups = app.saved(Method::GET, "/total/result", &read, None).await.json()["result"].clone();
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");

    // Renaming: PUT another query_name to the old URL.
    let mut renamed = replaced.json();
    renamed["query_name"] = json!("revenue");
    let response = app.saved(Method::PUT, "/total", &master, Some(renamed)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.json()["query_name"], "revenue");
    let gone = app.saved(Method::GET, "/total", &master, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json()["error_code"], "ResourceNotFoundError");
    assert_eq!(app.saved(Method::GET, "/revenue", &master, None).await.json()["refresh_rate"], 14_400);

    let deleted = app.saved(Method::DELETE, "/revenue", &master, None).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (StatusCode::NO_CONTENT, ""));
    for (method, path) in
        [(Method::DELETE, "/revenue"), (Method::GET, "/revenue"), (Method::GET, "/revenue/result")]
    {
        let key = if path.ends_with("result") { &read } else { &master };
        let response = app.saved(method.clone(), path, key, None).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(response.json()["error_code"], "ResourceNotFoundError", "{method} {path}");
    }
    assert_eq!(app.saved(Method::GET, "", &master, None).await.json(), json!([]));

    // Keys in api_key work too, as Keen clients send them on GET.
    let path = format!("/3.0/projects/{}/queries/saved?api_key={master}", app.project());
    assert_eq!(app.keen(Method::GET, &path, None, None).await.status, StatusCode::OK);
}

async fn saved_queries_need_the_right_key_and_refuse_bad_definitions(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let master = app.first.master.secret.clone();
    let (read, write) = (app.first.read.secret.clone(), app.first.write.secret.clone());
    let good = total_price(json!({}));
    assert_eq!(
        app.saved(Method::PUT, "/total", &master, Some(good.clone())).await.status,
        StatusCode::CREATED
    );

    // Definitions are the master key's; a result is for read (or master) keys.
    for (method, path, key) in [
        (Method::GET, "", &read),
        (Method::GET, "/total", &read),
        (Method::PUT, "/total", &read),
        (Method::DELETE, "/total", &read),
        (Method::PUT, "/other", &write),
        (Method::GET, "/total/result", &write),
    ] {
        let response = app.saved(method.clone(), path, key, Some(good.clone())).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", response.body);
        assert_eq!(response.json()["error_code"], "InvalidApiKeyError");
    }
    assert_eq!(app.saved(Method::GET, "/total/result", &master, None).await.status, StatusCode::OK);

    let with_query = |query: Value| json!({"query": query});
    for (path, body, code) in [
        ("/x", json!([1]), "BadRequestError"),
        ("/x", json!({"refresh_rate": 0}), "MissingRequiredPropertyError"),
        ("/x", json!({"query": "count"}), "BadRequestError"),
        ("/x", with_query(json!({"event_collection": "purchases"})), "MissingRequiredPropertyError"),
        (
            "/x",
            with_query(json!({"analysis_type": "telepathy", "event_collection": "p"})),
            "InvalidAnalysisTypeError",
        ),
        (
            "/x",
            with_query(json!({"analysis_type": "sum", "event_collection": "p"})),
            "MissingRequiredPropertyError",
        ),
        (
            "/x",
            with_query(json!({"analysis_type": "count", "event_collection": "p", "timeframe": "someday"})),
            "",
        ),
        (
            "/x",
            with_query(json!({"analysis_type": "count", "event_collection": "p", "interval": "daily"})),
            "",
        ),
        ("/x", with_query(json!({"analysis_type": "funnel", "steps": []})), ""),
        ("/x", json!({"query": good["query"], "refresh_rate": -1}), "InvalidRefreshRateError"),
        ("/x", json!({"query": good["query"], "refresh_rate": 86_401}), "InvalidRefreshRateError"),
        ("/x", json!({"query": good["query"], "refresh_rate": "hourly"}), "InvalidRefreshRateError"),
        ("/x", json!({"query": good["query"], "metadata": "big"}), "BadRequestError"),
        ("/x", json!({"query": good["query"], "query_name": "a b"}), "InvalidQueryNameError"),
        ("/a.b", json!({"query": good["query"]}), "InvalidQueryNameError"),
        ("/total", json!({"query": good["query"], "query_name": 5}), "InvalidQueryNameError"),
    ] {
        let response = app.saved(Method::PUT, path, &master, Some(body.clone())).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}: {}", response.body);
        let error = response.json();
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
        if !code.is_empty() {
            assert_eq!(error["error_code"], code, "{body}");
        }
    }

    // Renaming onto a taken name, or from a name that does not exist, changes nothing.
    assert_eq!(
        app.saved(Method::PUT, "/other", &master, Some(good.clone())).await.status,
        StatusCode::CREATED
    );
    let mut onto_taken = good.clone();
    onto_taken["query_name"] = json!("other");
    onto_taken["refresh_rate"] = json!(60);
    let response = app.saved(Method::PUT, "/total", &master, Some(onto_taken.clone())).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.body);
    let response = app.saved(Method::PUT, "/missing", &master, Some(onto_taken)).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
    let list = app.saved(Method::GET, "", &master, None).await.json();
    let summary: Vec<(String, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["query_name"].as_str().unwrap().to_owned(), d["refresh_rate"].as_i64().unwrap()))
        .collect();
    assert_eq!(summary, [("other".to_owned(), 0), ("total".to_owned(), 0)], "refused writes changed nothing");
}
