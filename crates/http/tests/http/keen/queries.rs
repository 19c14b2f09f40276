//! Keen analyses on the wire: every result shape, and the query deadline.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::support::TestApp;

backend_tests!(analyses_answer_in_keen_shapes);

async fn analyses_answer_in_keen_shapes(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    app.post_event("lists", json!({"items": [{"sku": "a"}, {"sku": "b"}]})).await;
    for (price, plan, when) in [(10, "pro", "2024-01-10T10:00:00Z"), (20, "free", "2024-01-11T10:00:00Z")] {
        let event = json!({"price": price, "plan": plan, "keen": {"timestamp": when}});
        assert_eq!(app.post_event("purchases", event).await.status, StatusCode::CREATED);
    }
    let target = |extra: Value| {
        let mut parameters = json!({"event_collection": "purchases", "target_property": "price"});
        parameters.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        parameters
    };
    // The live-API expectations for [10, 20] (keen-api.md §5.8): actual data values, not interpolations.
    for (analysis, extra, expected) in [
        ("median", json!({}), json!(10)),
        ("percentile", json!({"percentile": 50}), json!(10)),
        ("percentile", json!({"percentile": 100}), json!(20)),
        ("count_unique", json!({}), json!(2)),
        ("average", json!({}), json!(15.0)),
        ("sum", json!({}), json!(30.0)),
        ("minimum", json!({}), json!(10.0)),
        ("maximum", json!({}), json!(20.0)),
    ] {
        let response = app.query(analysis, target(extra.clone())).await;
        assert_eq!(response.status, StatusCode::OK, "{analysis} {extra}: {}", response.body);
        let result = &response.json()["result"];
        assert_eq!(result.as_f64(), expected.as_f64(), "{analysis} {extra}: {result}");
    }
    let unique = app.query("select_unique", target(json!({}))).await.json()["result"].clone();
    let mut values: Vec<i64> = unique.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, [10, 20]);

    let grouped = app.query("sum", target(json!({"group_by": "plan"}))).await.json();
    let mut groups: Vec<(String, f64)> = grouped["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["plan"].as_str().unwrap().to_owned(), g["result"].as_f64().unwrap()))
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(groups, [("free".to_owned(), 20.0), ("pro".to_owned(), 10.0)]);

    let timeframe = json!({"start": "2024-01-10T00:00:00Z", "end": "2024-01-12T00:00:00Z"});
    let series = app
        .count(json!({"event_collection": "purchases", "timeframe": timeframe, "interval": "daily"}))
        .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.body);
    assert_eq!(
        series.json()["result"],
        json!([
            {"timeframe": {"start": "2024-01-10T00:00:00.000Z", "end": "2024-01-11T00:00:00.000Z"}, "value": 1},
            {"timeframe": {"start": "2024-01-11T00:00:00.000Z", "end": "2024-01-12T00:00:00.000Z"}, "value": 1},
        ])
    );

    let read_key = app.first.read.secret.clone();
    let path = format!(
        "/3.0/projects/{}/queries/maximum?event_collection=purchases&target_property=price",
        app.project()
    );
    assert_eq!(
        app.keen(Method::GET, &path, Some(&read_key), None).await.json()["result"].as_f64(),
        Some(20.0)
    );

    for (analysis, parameters, status) in [
        ("sum", json!({"event_collection": "purchases"}), StatusCode::BAD_REQUEST),
        ("count", json!({"event_collection": "purchases", "interval": "daily"}), StatusCode::BAD_REQUEST),
        ("funnel", json!({"steps": []}), StatusCode::BAD_REQUEST),
        ("funnel", json!({"steps": [{"event_collection": "purchases"}]}), StatusCode::BAD_REQUEST),
        ("multi_analysis", json!({"event_collection": "purchases", "analyses": {}}), StatusCode::BAD_REQUEST),
        ("extraction", json!({"event_collection": "purchases", "latest": 0}), StatusCode::BAD_REQUEST),
        ("telepathy", json!({"event_collection": "purchases"}), StatusCode::NOT_FOUND),
        // The three unanswerable queries issue 4 names: each a 400, never a 500.
        ("count", json!({"event_collection": "lists", "group_by": "items"}), StatusCode::BAD_REQUEST),
        (
            "count",
            json!({"event_collection": "purchases", "interval": "minutely",
                   "timeframe": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T18:00:00Z"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "count",
            json!({"event_collection": "purchases",
                   "filters": [{"property_name": "plan", "operator": "regex", "property_value": "(["}]}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = app.query(analysis, parameters.clone()).await;
        assert_eq!(response.status, status, "{analysis} {parameters}: {}", response.body);
        assert!(response.json()["error_code"].is_string());
    }
}

#[tokio::test]
async fn a_query_past_its_deadline_gets_a_clear_400() {
    let backend = TestBackend::new(sb_test_support::BackendKind::Sqlite).await.unwrap();
    let app = TestApp::start(&backend).await;
    // Enough events that the work cannot be done by the time the expired deadline is checked
    // (the timer fires on its next tick, up to a millisecond late), even in a release build.
    let path = format!("/3.0/projects/{}/events", app.project());
    let write_key = app.first.write.secret.clone();
    for _ in 0..10 {
        let batch = json!({ "purchases": vec![json!({"price": 1}); 5000] });
        assert_eq!(app.keen(Method::POST, &path, Some(&write_key), Some(batch)).await.status, StatusCode::OK);
    }
    app.switchboard.set_query_timeout(std::time::Duration::ZERO);
    let response =
        app.query("sum", json!({"event_collection": "purchases", "target_property": "price"})).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.body);
    assert_eq!(response.json()["error_code"], "QueryTimeoutError");
    assert!(response.json()["message"].as_str().unwrap().contains("narrow"));
    app.switchboard.set_query_timeout(std::time::Duration::from_secs(25));
    let response =
        app.query("sum", json!({"event_collection": "purchases", "target_property": "price"})).await;
    assert_eq!(response.json()["result"], 50_000, "{}", response.body);
}
