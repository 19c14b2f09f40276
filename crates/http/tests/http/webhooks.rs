//! Outgoing webhooks end to end: subscriptions through the JSON API (admins only, bad input
//! refused), deliveries posted to a real HTTP server on loopback, signed, in order per object,
//! retried after a failure, given up on after too many, and a 410 removing the subscription.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::Timestamp;
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::TestApp;

backend_tests!(webhooks_deliver_signed_changes_in_order_and_retry);

/// What the receiving server saw: (path, event header, signature header, body).
type Seen = Arc<Mutex<Vec<(String, String, String, Value)>>>;

/// A real HTTP server on loopback: `/ok` accepts, `/flaky` refuses its first request with 500,
/// `/gone` answers 410. Returns its base URL and what it saw.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let flaky_failed = Arc::new(Mutex::new(false));
    let handler = |State((seen, flaky_failed)): State<(Seen, Arc<Mutex<bool>>)>,
                   Path(path): Path<String>,
                   headers: HeaderMap,
                   body: String| async move {
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        seen.lock().unwrap().push((
            path.clone(),
            header("switchboard-event"),
            header("switchboard-signature"),
            value,
        ));
        match path.as_str() {
            "gone" => StatusCode::GONE,
            "flaky" if !std::mem::replace(&mut *flaky_failed.lock().unwrap(), true) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::OK,
        }
    };
    let app = axum::Router::new()
        .route("/{path}", axum::routing::post(handler))
        .with_state((seen.clone(), flaky_failed));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), seen)
}

/// The events `path` received, in order.
fn events(seen: &Seen, path: &str) -> Vec<String> {
    seen.lock().unwrap().iter().filter(|s| s.0 == path).map(|s| s.1.clone()).collect()
}

fn minutes_later(minutes: i64) -> Timestamp {
    Timestamp::now().plus_seconds(minutes * 60)
}

async fn webhooks_deliver_signed_changes_in_order_and_retry(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (base, seen) = receiver().await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let hooks = format!("{ws}/webhooks");
    let subscribe = |path: &str, events: Value| {
        let (app, key, hooks) = (&app, key.clone(), hooks.clone());
        let body = json!({"url": format!("{base}/{path}"), "events": events});
        async move { created(app.key_json(&key, Method::POST, &hooks, Some(body)).await) }
    };

    // Only admins subscribe, and only to a real URL and known events.
    let write = app.first.write.secret.clone();
    let body = json!({"url": format!("{base}/ok"), "events": ["*"]});
    error(
        &app.key_json(&write, Method::POST, &hooks, Some(body)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "",
    );
    for (body, words) in [
        (json!({"url": "ftp://x.example/", "events": ["*"]}), "http or https"),
        (json!({"url": format!("{base}/ok"), "events": ["BOX_EXPLODE"]}), "unknown event"),
        (json!({"url": format!("{base}/ok"), "events": []}), "name the events"),
        (json!({"url": format!("{base}/ok")}), "events"),
    ] {
        error(
            &app.key_json(&key, Method::POST, &hooks, Some(body)).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            words,
        );
    }

    let all = subscribe("ok", json!(["*"])).await;
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    let flaky = subscribe("flaky", json!(["BOX_CREATE", "BOX_CHANGE_STAGE"])).await;
    subscribe("gone", json!(["*"])).await;
    let listed = ok(app.key_json(&key, Method::GET, &hooks, None).await);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 3);
    assert!(listed["webhooks"][0].get("secret").is_none(), "the secret is shown once");

    // Changes: a pipeline, a box created, moved, then renamed.
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let deal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Deal"}))).await);
    let deal_path = format!("{ws}/boxes/{}", deal["id"].as_str().unwrap());
    let won = pipeline["stages"][1]["id"].clone();
    ok(app.key_json(&key, Method::PATCH, &deal_path, Some(json!({"version": 1, "stage": won}))).await);
    ok(app.key_json(&key, Method::PATCH, &deal_path, Some(json!({"version": 2, "name": "Big deal"}))).await);

    let first = app.switchboard.run_webhooks(Timestamp::now()).await.unwrap();
    assert_eq!(first.dispatched, 4);
    assert_eq!(events(&seen, "ok"), ["PIPELINE_CREATE", "BOX_CREATE", "BOX_CHANGE_STAGE", "BOX_EDIT"]);
    assert_eq!(events(&seen, "flaky"), ["BOX_CREATE"], "the move waits until the creation is accepted");
    assert_eq!(events(&seen, "gone"), ["PIPELINE_CREATE"], "a 410 ends the subscription at once");
    let listed = ok(app.key_json(&key, Method::GET, &hooks, None).await);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 2);

    // Each body is signed with the subscription's secret over its time and text.
    for (path, _, signature, body) in seen.lock().unwrap().iter().filter(|s| s.0 == "ok") {
        let unix: i64 = signature.trim_start_matches("t=").split(',').next().unwrap().parse().unwrap();
        assert_eq!(*signature, sb_core::signature(&secret, unix, &body.to_string()), "{path}");
        assert!((Timestamp::now().millis() / 1000 - unix).abs() < 60);
    }
    let edit = seen.lock().unwrap().iter().find(|s| s.1 == "BOX_EDIT").unwrap().3.clone();
    assert_eq!((edit["object"].clone(), edit["data"]["name"].clone()), (json!("box"), json!("Big deal")));

    // Nothing is due again until the retry time; then the creation, then the move, in order.
    assert_eq!(app.switchboard.run_webhooks(Timestamp::now()).await.unwrap().attempted, 0);
    let retried = app.switchboard.run_webhooks(minutes_later(10)).await.unwrap();
    assert_eq!((retried.attempted, retried.delivered), (2, 2));
    assert_eq!(events(&seen, "flaky"), ["BOX_CREATE", "BOX_CREATE", "BOX_CHANGE_STAGE"]);
    let flaky_id = flaky["id"].as_str().unwrap();
    let deliveries =
        ok(app.key_json(&key, Method::GET, &format!("{hooks}/{flaky_id}/deliveries"), None).await);
    let created_row = &deliveries["deliveries"][1];
    assert_eq!(created_row["event"], "BOX_CREATE");
    assert_eq!(
        (created_row["state"].clone(), created_row["attempts"].clone()),
        (json!("delivered"), json!(2))
    );
    assert_eq!(created_row["last_status"], 200);

    // A subscription hears only what happens after it is made; one that never answers is
    // given up on after its last attempt, with the reason kept.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/nobody", closed.local_addr().unwrap());
    drop(closed);
    let body = json!({"url": dead_url, "events": ["BOX_DELETE"]});
    let dead = created(app.key_json(&key, Method::POST, &hooks, Some(body)).await);
    assert_eq!(app.switchboard.run_webhooks(minutes_later(60)).await.unwrap().attempted, 0);
    assert_eq!(app.key_json(&key, Method::DELETE, &deal_path, None).await.status, StatusCode::NO_CONTENT);
    let mut later = 60;
    for _ in 0..sb_core::WEBHOOK_MAX_ATTEMPTS {
        later += 24 * 60;
        app.switchboard.run_webhooks(minutes_later(later)).await.unwrap();
    }
    let dead_id = dead["id"].as_str().unwrap();
    let deliveries =
        ok(app.key_json(&key, Method::GET, &format!("{hooks}/{dead_id}/deliveries"), None).await);
    let row = &deliveries["deliveries"][0];
    assert_eq!(
        (row["state"].clone(), row["attempts"].clone()),
        (json!("failed"), json!(sb_core::WEBHOOK_MAX_ATTEMPTS))
    );
    assert!(!row["last_error"].as_str().unwrap().is_empty());
    assert_eq!(events(&seen, "ok").last().unwrap(), "BOX_DELETE");

    assert_eq!(
        app.key_json(&key, Method::DELETE, &format!("{hooks}/{dead_id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    error(
        &app.key_json(&key, Method::DELETE, &format!("{hooks}/{dead_id}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "webhook",
    );
}
