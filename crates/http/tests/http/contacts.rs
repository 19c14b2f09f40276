//! Contacts and organizations through the JSON API: normalised addresses and domains, links
//! by domain and by hand, versions, pages, bad input refused with nothing written, roles.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::TestApp;

backend_tests!(
    contacts_and_organizations_are_created_linked_changed_and_deleted,
    contacts_are_paged_and_found_by_email,
    bad_contact_input_gets_a_clear_error_and_changes_nothing,
    read_keys_and_viewers_cannot_change_contacts,
    boxes_are_linked_to_contacts_and_organizations,
);

fn names(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
}

async fn contacts_and_organizations_are_created_linked_changed_and_deleted(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let body =
        json!({"name": "Acme", "domains": ["https://www.Acme.com/about", "acme.io"], "custom": {"tier": 1}});
    let acme = created(app.key_json(&key, Method::POST, &format!("{ws}/organizations"), Some(body)).await);
    assert_eq!(acme["domains"], json!(["acme.com", "acme.io"]));
    let body = json!({
        "name": " Ana Lima ", "emails": ["Ana@ACME.com", "ana@gmail.com", "ana@acme.com"],
        "phones": ["+55 11 5555 0100"], "title": "CTO", "custom": {"linkedin": "ana"},
    });
    let ana = created(app.key_json(&key, Method::POST, &format!("{ws}/contacts"), Some(body)).await);
    assert_eq!(ana["name"], "Ana Lima");
    assert_eq!(ana["emails"], json!(["ana@acme.com", "ana@gmail.com"]), "normalised, duplicates dropped");
    assert_eq!(ana["version"], 1);
    let (ana_id, acme_id) = (ana["id"].as_str().unwrap(), acme["id"].as_str().unwrap());
    let c = format!("{ws}/contacts/{ana_id}");
    let o = format!("{ws}/organizations/{acme_id}");

    let read = ok(app.key_json(&key, Method::GET, &c, None).await);
    let link = json!({"contact": ana_id, "organization": acme_id, "manual": false, "by_domain": true});
    assert_eq!(read["organizations"], json!([link]), "linked by the address's domain");
    assert_eq!(ok(app.key_json(&key, Method::GET, &o, None).await)["contacts"], json!([link]));

    let globex = created(
        app.key_json(&key, Method::POST, &format!("{ws}/organizations"), Some(json!({"name": "Globex"})))
            .await,
    );
    let globex_id = globex["id"].as_str().unwrap();
    let by_hand = format!("{c}/organizations/{globex_id}");
    assert_eq!(app.key_json(&key, Method::PUT, &by_hand, None).await.status, StatusCode::NO_CONTENT);
    let links = ok(app.key_json(&key, Method::GET, &c, None).await)["organizations"].clone();
    assert_eq!(links.as_array().unwrap().len(), 2, "{links}");
    assert!(links.as_array().unwrap().iter().any(|l| l["organization"] == globex_id && l["manual"] == true));

    // The address at acme.com goes: the domain link goes with it, the manual one stays.
    let patch = json!({"version": 1, "emails": ["ana@gmail.com"], "title": "CEO"});
    let changed = ok(app.key_json(&key, Method::PATCH, &c, Some(patch)).await);
    assert_eq!((changed["version"].as_i64(), changed["title"].as_str()), (Some(2), Some("CEO")));
    assert_eq!(changed["phones"], json!(["+55 11 5555 0100"]), "parts not sent stay");
    let links = ok(app.key_json(&key, Method::GET, &c, None).await)["organizations"].clone();
    assert_eq!(
        links,
        json!([{"contact": ana_id, "organization": globex_id, "manual": true, "by_domain": false}])
    );
    let stale = app.key_json(&key, Method::PATCH, &c, Some(json!({"version": 1, "name": "Old"}))).await;
    error(&stale, StatusCode::CONFLICT, "conflict", "now at version 2");
    let unchanged =
        ok(app.key_json(&key, Method::PATCH, &c, Some(json!({"version": 2, "title": "CEO"}))).await);
    assert_eq!(unchanged["version"], 2, "a patch that changes nothing writes nothing");
    assert_eq!(app.key_json(&key, Method::DELETE, &by_hand, None).await.status, StatusCode::NO_CONTENT);
    let again = app.key_json(&key, Method::DELETE, &by_hand, None).await;
    error(&again, StatusCode::NOT_FOUND, "not_found", "manual link");

    // An organization that takes the domain back gets the contact back.
    let patch = json!({"version": 1, "domains": ["acme.com", "gmail.com"]});
    let acme = ok(app.key_json(&key, Method::PATCH, &o, Some(patch)).await);
    assert_eq!(acme["version"], 2);
    let contacts = ok(app.key_json(&key, Method::GET, &o, None).await)["contacts"].clone();
    assert_eq!(contacts[0]["contact"], ana_id);

    assert_eq!(app.key_json(&key, Method::DELETE, &o, None).await.status, StatusCode::NO_CONTENT);
    assert!(
        ok(app.key_json(&key, Method::GET, &c, None).await)["organizations"].as_array().unwrap().is_empty()
    );
    assert_eq!(app.key_json(&key, Method::DELETE, &c, None).await.status, StatusCode::NO_CONTENT);
    error(&app.key_json(&key, Method::GET, &c, None).await, StatusCode::NOT_FOUND, "not_found", "contact");
}

async fn contacts_are_paged_and_found_by_email(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    for name in ["Cleo", "Ana", "Eve", "Bo", "Dan"] {
        let body = json!({"name": name, "emails": [format!("{}@x.org", name.to_lowercase())]});
        created(app.key_json(&key, Method::POST, &format!("{ws}/contacts"), Some(body)).await);
    }
    let mut seen = Vec::new();
    let mut path = format!("{ws}/contacts?limit=2");
    loop {
        let page = ok(app.key_json(&key, Method::GET, &path, None).await);
        seen.extend(names(&page, "contacts"));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{ws}/contacts?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Ana", "Bo", "Cleo", "Dan", "Eve"]);
    let newest =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts?sort=updated&limit=1"), None).await);
    assert_eq!(names(&newest, "contacts"), ["Dan"]);
    let cursor = newest["next_cursor"].as_str().unwrap();
    let wrong_list =
        app.key_json(&key, Method::GET, &format!("{ws}/contacts?sort=name&cursor={cursor}"), None).await;
    error(&wrong_list, StatusCode::BAD_REQUEST, "invalid_request", "cursor");
    let found = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts?email=EVE@x.org"), None).await);
    assert_eq!(names(&found, "contacts"), ["Eve"]);
    let none = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts?email=zed@x.org"), None).await);
    assert!(names(&none, "contacts").is_empty());
}

async fn bad_contact_input_gets_a_clear_error_and_changes_nothing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let contacts = format!("{ws}/contacts");
    let ana = created(
        app.key_json(&key, Method::POST, &contacts, Some(json!({"name": "Ana", "emails": ["ana@acme.com"]})))
            .await,
    );
    let c = format!("{contacts}/{}", ana["id"].as_str().unwrap());
    let cases = [
        (
            json!({"name": "Twin", "emails": ["ANA@acme.com"]}),
            StatusCode::CONFLICT,
            "conflict",
            "ana@acme.com",
        ),
        (
            json!({"name": "Bad", "emails": ["not an address"]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not an email",
        ),
        (json!({"name": " ", "emails": []}), StatusCode::BAD_REQUEST, "invalid_request", "must not be empty"),
        (json!({"name": "X".repeat(201)}), StatusCode::BAD_REQUEST, "invalid_request", "limit is 200"),
        (json!({"name": "X", "nickname": "x"}), StatusCode::BAD_REQUEST, "invalid_request", "nickname"),
        (json!({"name": "X", "phones": [""]}), StatusCode::BAD_REQUEST, "invalid_request", "phone number"),
        (
            json!({"name": "X", "emails": (0..21).map(|i| format!("x{i}@x.org")).collect::<Vec<_>>()}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "at most 20",
        ),
        (
            json!({"name": "X", "custom": {"blob": "x".repeat(70_000)}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "custom fields",
        ),
    ];
    for (body, status, code, words) in cases {
        let response = app.key_json(&key, Method::POST, &contacts, Some(body.clone())).await;
        error(&response, status, code, words);
    }
    let organizations = format!("{ws}/organizations");
    created(
        app.key_json(
            &key,
            Method::POST,
            &organizations,
            Some(json!({"name": "Acme", "domains": ["acme.com"]})),
        )
        .await,
    );
    let copy = app
        .key_json(
            &key,
            Method::POST,
            &organizations,
            Some(json!({"name": "Copy", "domains": ["WWW.acme.com"]})),
        )
        .await;
    error(&copy, StatusCode::CONFLICT, "conflict", "acme.com");
    let bad = app
        .key_json(&key, Method::POST, &organizations, Some(json!({"name": "Bad", "domains": ["acme"]})))
        .await;
    error(&bad, StatusCode::BAD_REQUEST, "invalid_request", "not a domain");
    let no_version = app.key_json(&key, Method::PATCH, &c, Some(json!({"name": "Ana B"}))).await;
    error(&no_version, StatusCode::BAD_REQUEST, "invalid_request", "version");
    let sort = app.key_json(&key, Method::GET, &format!("{contacts}?sort=age"), None).await;
    error(&sort, StatusCode::BAD_REQUEST, "invalid_request", "unknown sort");
    let ghost = format!("{contacts}/{}", sb_types::ContactId::generate());
    error(
        &app.key_json(&key, Method::GET, &ghost, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "contact",
    );
    let link = app.key_json(&key, Method::PUT, &format!("{ghost}/organizations/nope"), None).await;
    error(&link, StatusCode::NOT_FOUND, "not_found", "");

    let list = ok(app.key_json(&key, Method::GET, &contacts, None).await);
    assert_eq!(names(&list, "contacts"), ["Ana"], "nothing refused was written");
    assert_eq!(ok(app.key_json(&key, Method::GET, &c, None).await)["version"], 1);
    let list = ok(app.key_json(&key, Method::GET, &organizations, None).await);
    assert_eq!(names(&list, "organizations"), ["Acme"]);
}

async fn read_keys_and_viewers_cannot_change_contacts(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let id = app.first.workspace.id;
    let ws = format!("/api/v1/workspaces/{id}");
    let access = app.switchboard.operator_access(id).await.unwrap();
    app.switchboard.create_user("vic@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "vic@acme.com", sb_types::Role::Viewer).await.unwrap();
    let mut viewer = app.login("vic@acme.com", "correct horse").await;
    let viewer_csrf = app.browse(&mut viewer, &format!("/w/{id}")).await.csrf();
    let contacts = format!("{ws}/contacts");
    let write = app.first.write.secret.clone();
    let ana = created(app.key_json(&write, Method::POST, &contacts, Some(json!({"name": "Ana"}))).await);
    assert!(ana["created_by"].as_str().unwrap().starts_with("key:"));
    let c = format!("{contacts}/{}", ana["id"].as_str().unwrap());

    let read = app.first.read.secret.clone();
    let refused = app.key_json(&read, Method::POST, &contacts, Some(json!({"name": "X"}))).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let refused = app.key_json(&read, Method::DELETE, &c, None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    assert_eq!(ok(app.key_json(&read, Method::GET, &c, None).await)["name"], "Ana", "read keys read");
    let refused =
        app.browser_json(&viewer, &viewer_csrf, Method::PATCH, &c, json!({"version": 1, "name": "V"})).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    let organizations = format!("{ws}/organizations");
    let refused =
        app.browser_json(&viewer, &viewer_csrf, Method::POST, &organizations, json!({"name": "V"})).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
    assert_eq!(app.browse(&mut viewer, &c).await.json()["name"], "Ana", "viewers read");
}

async fn boxes_are_linked_to_contacts_and_organizations(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let boxes = format!("{ws}/pipelines/{}/boxes", pipeline["id"].as_str().unwrap());
    let deal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Deal"}))).await);
    let renewal = created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Renewal"}))).await);
    let body = json!({"name": "Acme", "domains": ["acme.com"]});
    let acme = created(app.key_json(&key, Method::POST, &format!("{ws}/organizations"), Some(body)).await);
    let body = json!({"name": "Ana", "emails": ["ana@acme.com"]});
    let ana = created(app.key_json(&key, Method::POST, &format!("{ws}/contacts"), Some(body)).await);
    let (ana_id, acme_id) = (ana["id"].as_str().unwrap(), acme["id"].as_str().unwrap());
    let deal_path = format!("{ws}/boxes/{}", deal["id"].as_str().unwrap());
    let renewal_path = format!("{ws}/boxes/{}", renewal["id"].as_str().unwrap());

    for path in [format!("{deal_path}/contacts/{ana_id}"), format!("{renewal_path}/organizations/{acme_id}")]
    {
        assert_eq!(app.key_json(&key, Method::PUT, &path, None).await.status, StatusCode::NO_CONTENT);
    }
    let read = ok(app.key_json(&key, Method::GET, &deal_path, None).await);
    assert_eq!((read["contacts"].clone(), read["organizations"].clone()), (json!([ana_id]), json!([])));
    let of_ana = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts/{ana_id}/boxes"), None).await);
    assert_eq!(names(&of_ana, "boxes"), ["Deal"]);
    let of_acme =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/organizations/{acme_id}/boxes"), None).await);
    let mut got = names(&of_acme, "boxes");
    got.sort();
    assert_eq!(got, ["Deal", "Renewal"], "through its contact, and directly");

    let unlink = app.key_json(&key, Method::DELETE, &format!("{deal_path}/contacts/{ana_id}"), None).await;
    assert_eq!(unlink.status, StatusCode::NO_CONTENT);
    let again = app.key_json(&key, Method::DELETE, &format!("{deal_path}/contacts/{ana_id}"), None).await;
    error(&again, StatusCode::NOT_FOUND, "not_found", "link");
    let ghost = sb_types::ContactId::generate();
    let missing = app.key_json(&key, Method::PUT, &format!("{deal_path}/contacts/{ghost}"), None).await;
    error(&missing, StatusCode::NOT_FOUND, "not_found", "contact");
    let of_acme =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/organizations/{acme_id}/boxes"), None).await);
    assert_eq!(names(&of_acme, "boxes"), ["Renewal"]);
    let read = app.first.read.secret.clone();
    let refused = app.key_json(&read, Method::PUT, &format!("{deal_path}/contacts/{ana_id}"), None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "may not write");
}
