//! Email threads through the JSON API: messages threaded by In-Reply-To and References in any
//! arrival order, duplicates recognised, threads filed on and rejected from boxes, the context
//! queries (a thread's boxes and why, a contact's and an organization's threads and tasks, a
//! box's timeline), the audit trail, and bad input refused with nothing written.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::TestApp;

backend_tests!(
    messages_thread_by_their_references_in_any_order,
    context_queries_follow_contacts_organizations_and_filing,
    bad_messages_get_a_clear_error_and_change_nothing,
);

/// A message from `from` to the workspace owner, sent `minute` minutes into 5 January 2026.
fn message(id: &str, from: &str, minute: u32, references: &[&str]) -> Value {
    json!({
        "message_id": format!("<{id}>"),
        "in_reply_to": references.last().map(|r| format!("<{r}>")),
        "references": references.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" "),
        "subject": format!("Subject of {id}"),
        "sent_at": format!("2026-01-05T10:{minute:02}:00Z"),
        "from": from,
        "to": ["Owner <owner@acme.com>"],
        "body": format!("Text of {id}\n\nregards"),
    })
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

async fn messages_thread_by_their_references_in_any_order(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let messages = format!("{ws}/messages");

    let first = created(
        app.key_json(
            &key,
            Method::POST,
            &messages,
            Some(message("m1@acme.com", "Ana <ana@acme.com>", 0, &[])),
        )
        .await,
    );
    assert_eq!(first["message_id"], "m1@acme.com");
    assert_eq!(first["snippet"], "Text of m1@acme.com regards");
    assert_eq!(
        first["participants"],
        json!([
            {"role": "from", "email": "ana@acme.com", "name": "Ana"},
            {"role": "to", "email": "owner@acme.com", "name": "Owner"},
        ])
    );
    let thread = first["thread"].as_str().unwrap().to_owned();
    let again =
        app.key_json(&key, Method::POST, &messages, Some(message("m1@acme.com", "x@y.org", 9, &[]))).await;
    let again = ok(again);
    assert_eq!(
        (again["id"].clone(), again["subject"].clone()),
        (first["id"].clone(), first["subject"].clone())
    );

    // A reply to a message not yet seen, naming the first in References: the first's thread.
    let third = message("m3@acme.com", "carl@acme.com", 2, &["m1@acme.com", "m2@acme.com"]);
    let third = created(app.key_json(&key, Method::POST, &messages, Some(third)).await);
    assert_eq!(third["thread"], thread.as_str());
    // The missing one arrives late: the thread of the message that names it.
    let second = message("m2@acme.com", "owner@acme.com", 1, &["m1@acme.com"]);
    assert_eq!(
        created(app.key_json(&key, Method::POST, &messages, Some(second)).await)["thread"],
        thread.as_str()
    );

    // A second conversation, child first: the parent joins the child's thread.
    let child = message("x2@beta.io", "bo@beta.io", 30, &["x1@beta.io"]);
    let other = created(app.key_json(&key, Method::POST, &messages, Some(child)).await)["thread"].clone();
    assert_ne!(other, thread.as_str());
    let parent = message("x1@beta.io", "owner@acme.com", 20, &[]);
    assert_eq!(created(app.key_json(&key, Method::POST, &messages, Some(parent)).await)["thread"], other);

    // File the second conversation on a box, then a message that names both conversations
    // makes them one: the older thread keeps its id and takes the box.
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let deal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Beta deal"}))).await);
    let deal_threads = format!("{ws}/boxes/{}/threads", deal["id"].as_str().unwrap());
    let filed =
        app.key_json(&key, Method::PUT, &format!("{deal_threads}/{}", other.as_str().unwrap()), None).await;
    assert_eq!(ok(filed)["source"], "manual");
    let both = message("y@acme.com", "ana@acme.com", 40, &["m1@acme.com", "x2@beta.io"]);
    assert_eq!(
        created(app.key_json(&key, Method::POST, &messages, Some(both)).await)["thread"],
        thread.as_str()
    );
    let gone =
        app.key_json(&key, Method::GET, &format!("{ws}/threads/{}", other.as_str().unwrap()), None).await;
    error(&gone, StatusCode::NOT_FOUND, "not_found", "thread");

    let shown = ok(app.key_json(&key, Method::GET, &format!("{ws}/threads/{thread}"), None).await);
    assert_eq!(shown["message_count"], 6);
    assert_eq!(shown["subject"], "Subject of m1@acme.com", "the first message's subject");
    assert_eq!(shown["first_message_at"], "2026-01-05T10:00:00.000Z");
    assert_eq!(shown["last_message_at"], "2026-01-05T10:40:00.000Z");
    let order: Vec<&str> =
        shown["messages"].as_array().unwrap().iter().map(|m| m["message_id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        ["m1@acme.com", "m2@acme.com", "m3@acme.com", "x1@beta.io", "x2@beta.io", "y@acme.com"]
    );
    assert!(shown["messages"][0].get("body").is_none(), "a thread lists messages without their text");
    assert_eq!(shown["boxes"][0]["source"], "manual");
    assert_eq!(
        ids(&ok(app.key_json(&key, Method::GET, &deal_threads, None).await), "threads"),
        [thread.as_str()]
    );
    let full = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/messages/{}", first["id"].as_str().unwrap()), None)
        .await);
    assert_eq!(full["body"], "Text of m1@acme.com\n\nregards");

    let listed = ok(app.key_json(&key, Method::GET, &format!("{ws}/threads?limit=1"), None).await);
    assert_eq!(ids(&listed, "threads"), [thread.as_str()]);
    assert!(listed.get("next_cursor").is_none(), "one thread in all");
}

async fn context_queries_follow_contacts_organizations_and_filing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let post = |path: String, body: Value| {
        let (app, key) = (&app, key.clone());
        async move { created(app.key_json(&key, Method::POST, &path, Some(body)).await) }
    };
    let pipeline = post(format!("{ws}/pipelines"), sales()).await;
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let mut box_ids = Vec::new();
    for name in ["Acme renewal", "Ana's referral", "Filed deal", "Suggested deal", "Owner's box", "Rejected"]
    {
        box_ids.push(post(boxes.clone(), json!({"name": name})).await["id"].as_str().unwrap().to_owned());
    }
    let acme = post(format!("{ws}/organizations"), json!({"name": "Acme", "domains": ["acme.com"]})).await;
    let ana = post(format!("{ws}/contacts"), json!({"name": "Ana", "emails": ["ana@acme.com"]})).await;
    let owner = post(format!("{ws}/contacts"), json!({"name": "Owner", "emails": ["owner@acme.com"]})).await;
    let (acme, ana, owner) =
        (acme["id"].as_str().unwrap(), ana["id"].as_str().unwrap(), owner["id"].as_str().unwrap());
    let link = |b: &str, path: String| {
        let (app, key) = (&app, key.clone());
        let url = format!("{ws}/boxes/{b}/{path}");
        async move { assert_eq!(app.key_json(&key, Method::PUT, &url, None).await.status, StatusCode::NO_CONTENT) }
    };
    link(&box_ids[0], format!("organizations/{acme}")).await;
    link(&box_ids[1], format!("contacts/{ana}")).await;
    link(&box_ids[4], format!("contacts/{owner}")).await;
    link(&box_ids[5], format!("contacts/{ana}")).await;

    let mut first = message("c1@acme.com", "Ana <ana@acme.com>", 0, &[]);
    first["box"] = json!(box_ids[2]);
    let thread = post(format!("{ws}/messages"), first).await["thread"].as_str().unwrap().to_owned();
    let suggest = format!("{ws}/boxes/{}/threads/{thread}", box_ids[3]);
    let suggested = ok(app.key_json(&key, Method::PUT, &suggest, Some(json!({"source": "suggested"}))).await);
    assert_eq!(suggested["source"], "suggested");
    let reject = format!("{ws}/boxes/{}/threads/{thread}", box_ids[5]);
    assert_eq!(app.key_json(&key, Method::DELETE, &reject, None).await.status, StatusCode::NO_CONTENT);

    let context = ok(app.key_json(&key, Method::GET, &format!("{ws}/threads/{thread}/boxes"), None).await);
    let mut found: Vec<(String, Vec<String>)> = context["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let reasons = b["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned());
            (b["name"].as_str().unwrap().to_owned(), reasons.collect())
        })
        .collect();
    found.sort();
    let expected = [
        ("Acme renewal", vec!["organization"]),
        ("Ana's referral", vec!["contact"]),
        ("Filed deal", vec!["filed"]),
        ("Suggested deal", vec!["suggested"]),
    ];
    let expected: Vec<(String, Vec<String>)> =
        expected.iter().map(|(n, r)| (n.to_string(), r.iter().map(ToString::to_string).collect())).collect();
    assert_eq!(found, expected, "the owner is a member, not a participant; the rejected box is left out");
    let filed =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/boxes/{}/threads", box_ids[2]), None).await);
    assert_eq!(filed["threads"][0]["source"], "automatic", "filed because the message named the box");
    let rejected =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/boxes/{}/threads", box_ids[5]), None).await);
    assert_eq!(rejected["threads"], json!([]));
    // Filing it again by hand undoes the rejection; filing with a made-up source does not.
    error(
        &app.key_json(&key, Method::PUT, &reject, Some(json!({"source": "rejected"}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "DELETE",
    );
    error(
        &app.key_json(&key, Method::PUT, &reject, Some(json!({"source": "magic"}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "unknown thread source",
    );

    // A thread between the owner and someone unknown concerns no box.
    let lone = post(format!("{ws}/messages"), message("l1@beta.io", "bo@beta.io", 5, &[])).await;
    let lone_boxes = format!("{ws}/threads/{}/boxes", lone["thread"].as_str().unwrap());
    assert_eq!(ok(app.key_json(&key, Method::GET, &lone_boxes, None).await)["boxes"], json!([]));

    // An address at the organization's domain that is no contact still ties the thread to it.
    let carl = post(format!("{ws}/messages"), message("k1@acme.com", "carl@acme.com", 7, &[])).await;
    let carl_thread = carl["thread"].as_str().unwrap();
    let get = |path: String| {
        let (app, key) = (&app, key.clone());
        async move { ok(app.key_json(&key, Method::GET, &path, None).await) }
    };
    assert_eq!(ids(&get(format!("{ws}/contacts/{ana}/threads")).await, "threads"), [thread.as_str()]);
    let acme_threads = ids(&get(format!("{ws}/organizations/{acme}/threads")).await, "threads");
    assert_eq!(acme_threads, [carl_thread.to_owned(), thread.clone()], "last written to first");

    // Tasks of a contact's and an organization's boxes.
    let tasks = |b: &str| format!("{ws}/boxes/{b}/tasks");
    post(tasks(&box_ids[1]), json!({"text": "Thank Ana", "due_date": "2026-02-01"})).await;
    post(tasks(&box_ids[0]), json!({"text": "Send renewal"})).await;
    post(tasks(&box_ids[2]), json!({"text": "Not Acme's"})).await;
    let texts = |list: Value| -> Vec<String> {
        list["tasks"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(texts(get(format!("{ws}/contacts/{ana}/tasks")).await), ["Thank Ana"]);
    assert_eq!(
        texts(get(format!("{ws}/organizations/{acme}/tasks")).await),
        ["Thank Ana", "Send renewal"],
        "its own boxes' and its contacts' boxes', dated first"
    );

    // The filed box's timeline: its creation, the email, a comment, a task and an edit.
    let filed_box = format!("{ws}/boxes/{}", box_ids[2]);
    post(format!("{filed_box}/comments"), json!({"body": "Looks good"})).await;
    let renamed =
        app.key_json(&key, Method::PATCH, &filed_box, Some(json!({"version": 1, "name": "Won deal"})));
    assert_eq!(ok(renamed.await)["name"], "Won deal");
    let timeline = get(format!("{filed_box}/timeline")).await;
    let entries = timeline["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["email", "stage", "task", "comment", "edit"], "{timeline}");
    assert_eq!(entries[0]["actor"], "ana@acme.com");
    assert_eq!(entries[0]["subject"], "Subject of c1@acme.com");
    assert_eq!(entries[4]["changes"], json!({"name": {"from": "Filed deal", "to": "Won deal"}}));
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order: {times:?}");

    // The audit trail says who changed the box and how; only admins read it.
    let audit = get(format!("{ws}/audit?object={}", box_ids[2])).await;
    let rows = audit["audit"].as_array().unwrap();
    assert_eq!(rows[0]["event"], "BOX_EDIT", "newest first");
    assert_eq!(rows[0]["changes"], json!({"name": {"from": "Filed deal", "to": "Won deal"}}));
    assert!(rows[0]["actor"].as_str().unwrap().starts_with("key:"));
    assert_eq!(rows.last().unwrap()["event"], "BOX_CREATE");
    assert_eq!(rows.last().unwrap()["changes"]["name"], json!({"from": null, "to": "Filed deal"}));
    let older = get(format!("{ws}/audit?object={}&limit=1&before={}", box_ids[2], rows[0]["id"])).await;
    assert_eq!(older["audit"][0]["id"], rows[1]["id"]);
    let read = app.first.read.secret.clone();
    let refused = app.key_json(&read, Method::GET, &format!("{ws}/audit"), None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "");
}

async fn bad_messages_get_a_clear_error_and_change_nothing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let messages = format!("{ws}/messages");
    let good = message("ok@acme.com", "ana@acme.com", 0, &[]);
    let with = |change: Value| {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (with(json!({"from": []})), "sender"),
        (with(json!({"from": "not an address"})), "from address"),
        (with(json!({"sent_at": "yesterday"})), "RFC 3339"),
        (with(json!({"message_id": "a b@c"})), "not a Message-ID"),
        (with(json!({"message_id": "<>"})), "message_id must be 1 to"),
        (with(json!({"references": "<ok> <bad id>"})), "a reference"),
        (with(json!({"subject": "x".repeat(1_001)})), "subject"),
        (with(json!({"colour": "red"})), "unknown field"),
        (with(json!({"message_id": null})), "message_id"),
    ];
    for (body, words) in cases {
        let response = app.key_json(&key, Method::POST, &messages, Some(body)).await;
        error(&response, StatusCode::BAD_REQUEST, "invalid_request", words);
    }
    let ghost = with(json!({"box": sb_types::BoxId::generate().to_string()}));
    error(
        &app.key_json(&key, Method::POST, &messages, Some(ghost)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "box",
    );
    let read = app.first.read.secret.clone();
    let refused = app.key_json(&read, Method::POST, &messages, Some(good.clone())).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let threads = ok(app.key_json(&key, Method::GET, &format!("{ws}/threads"), None).await);
    assert_eq!(threads["threads"], json!([]), "nothing was written");
    let missing =
        format!("{ws}/boxes/{}/threads/{}", sb_types::BoxId::generate(), sb_types::ThreadId::generate());
    error(&app.key_json(&key, Method::PUT, &missing, None).await, StatusCode::NOT_FOUND, "not_found", "box");
    created(app.key_json(&key, Method::POST, &messages, Some(good)).await);
}
