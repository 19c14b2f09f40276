//! Tenant isolation: a key or session of workspace A gets 401 or 404 on every route of
//! workspace B, and cannot change anything there.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};

use crate::support::{TestApp, bearer};

backend_tests!(a_tenant_cannot_reach_another_tenant, a_deleted_workspace_takes_its_keys_and_pages);

/// Every route that names a workspace, for workspace `id`, one of its keys, and one of its
/// pipelines, boxes, contacts and organizations (for the CRM pages).
fn workspace_routes(id: &str, key_id: &str, crm: [&str; 4]) -> Vec<(Method, String)> {
    let [pipeline, crm_box, contact, organization] = crm;
    let mut routes = vec![
        (Method::GET, format!("/api/v1/workspaces/{id}")),
        (Method::GET, format!("/w/{id}")),
        (Method::GET, format!("/w/{id}/settings")),
        (Method::GET, format!("/w/{id}/events/purchases")),
        (Method::POST, format!("/w/{id}/settings/keys")),
        (Method::POST, format!("/w/{id}/settings/keys/{key_id}/revoke")),
        (Method::POST, format!("/api/v1/workspaces/{id}/queries/count")),
        (Method::GET, format!("/api/v1/workspaces/{id}/saved_queries")),
        (Method::GET, format!("/api/v1/workspaces/{id}/saved_queries/weekly")),
        (Method::PUT, format!("/api/v1/workspaces/{id}/saved_queries/weekly")),
        (Method::DELETE, format!("/api/v1/workspaces/{id}/saved_queries/weekly")),
        (Method::POST, format!("/api/v1/workspaces/{id}/sql")),
        (Method::GET, format!("/w/{id}/explore")),
        (Method::GET, format!("/w/{id}/explore?saved=weekly")),
        (Method::GET, format!("/w/{id}/dashboard")),
        (Method::POST, format!("/w/{id}/dashboard/weekly/delete")),
        (Method::GET, format!("/w/{id}/pipelines/{pipeline}")),
        (Method::GET, format!("/w/{id}/pipelines/{pipeline}/table")),
        (Method::GET, format!("/w/{id}/boxes/{crm_box}")),
        (Method::GET, format!("/w/{id}/contacts/{contact}")),
        (Method::GET, format!("/w/{id}/organizations/{organization}")),
        (Method::GET, format!("/w/{id}/tasks")),
        (Method::GET, format!("/w/{id}/contacts/import")),
    ];
    for page in ["", "/me", "/tags", "/tags/billing", "/settings", "/outbox", &format!("/outbox/{key_id}")] {
        routes.push((Method::GET, format!("/w/{id}/checkins{page}")));
    }
    routes.push((Method::GET, format!("/w/{id}/checkins/members/{key_id}")));
    for action in ["like", "comments", "edit", "delete"] {
        routes.push((Method::POST, format!("/w/{id}/checkins/entries/{key_id}/{action}")));
    }
    for form in ["entries", "settings", "settings/holidays", "outbox/suppressions/remove"] {
        routes.push((Method::POST, format!("/w/{id}/checkins/{form}")));
    }
    routes.push((Method::POST, format!("/w/{id}/checkins/members/{key_id}")));
    for part in ["events", "pipelines", "contacts", "checkins", "customers", "search"] {
        routes.push((Method::GET, format!("/w/{id}/{part}")));
    }
    routes
}

/// Every CRM route of workspace `id`, for one of its pipelines, boxes, contacts and
/// organizations.
fn crm_routes(
    id: &str,
    pipeline: &str,
    crm_box: &str,
    contact: &str,
    organization: &str,
    task: &str,
    comment: &str,
) -> Vec<(Method, String)> {
    let ws = format!("/api/v1/workspaces/{id}");
    vec![
        (Method::GET, format!("{ws}/pipelines")),
        (Method::POST, format!("{ws}/pipelines")),
        (Method::GET, format!("{ws}/pipelines/{pipeline}")),
        (Method::PATCH, format!("{ws}/pipelines/{pipeline}")),
        (Method::DELETE, format!("{ws}/pipelines/{pipeline}")),
        (Method::GET, format!("{ws}/pipelines/{pipeline}/boxes")),
        (Method::POST, format!("{ws}/pipelines/{pipeline}/boxes")),
        (Method::GET, format!("{ws}/boxes/{crm_box}")),
        (Method::PATCH, format!("{ws}/boxes/{crm_box}")),
        (Method::DELETE, format!("{ws}/boxes/{crm_box}")),
        (Method::GET, format!("{ws}/contacts")),
        (Method::POST, format!("{ws}/contacts")),
        (Method::GET, format!("{ws}/contacts/{contact}")),
        (Method::PATCH, format!("{ws}/contacts/{contact}")),
        (Method::DELETE, format!("{ws}/contacts/{contact}")),
        (Method::PUT, format!("{ws}/contacts/{contact}/organizations/{organization}")),
        (Method::DELETE, format!("{ws}/contacts/{contact}/organizations/{organization}")),
        (Method::GET, format!("{ws}/organizations")),
        (Method::POST, format!("{ws}/organizations")),
        (Method::GET, format!("{ws}/organizations/{organization}")),
        (Method::PATCH, format!("{ws}/organizations/{organization}")),
        (Method::DELETE, format!("{ws}/organizations/{organization}")),
        (Method::GET, format!("{ws}/contacts/{contact}/boxes")),
        (Method::GET, format!("{ws}/organizations/{organization}/boxes")),
        (Method::PUT, format!("{ws}/boxes/{crm_box}/contacts/{contact}")),
        (Method::DELETE, format!("{ws}/boxes/{crm_box}/contacts/{contact}")),
        (Method::PUT, format!("{ws}/boxes/{crm_box}/organizations/{organization}")),
        (Method::DELETE, format!("{ws}/boxes/{crm_box}/organizations/{organization}")),
        (Method::GET, format!("{ws}/boxes/{crm_box}/tasks")),
        (Method::POST, format!("{ws}/boxes/{crm_box}/tasks")),
        (Method::GET, format!("{ws}/tasks")),
        (Method::GET, format!("{ws}/tasks/{task}")),
        (Method::PATCH, format!("{ws}/tasks/{task}")),
        (Method::DELETE, format!("{ws}/tasks/{task}")),
        (Method::GET, format!("{ws}/boxes/{crm_box}/comments")),
        (Method::POST, format!("{ws}/boxes/{crm_box}/comments")),
        (Method::PATCH, format!("{ws}/comments/{comment}")),
        (Method::DELETE, format!("{ws}/comments/{comment}")),
    ]
}

/// Every route of workspace `id` about email threads and the context queries, for one of its
/// boxes, threads, messages, contacts and organizations.
fn thread_routes(
    id: &str,
    crm_box: &str,
    thread: &str,
    message: &str,
    contact: &str,
    organization: &str,
    webhook: &str,
) -> Vec<(Method, String)> {
    let ws = format!("/api/v1/workspaces/{id}");
    vec![
        (Method::POST, format!("{ws}/messages")),
        (Method::GET, format!("{ws}/messages/{message}")),
        (Method::GET, format!("{ws}/threads")),
        (Method::GET, format!("{ws}/threads/{thread}")),
        (Method::GET, format!("{ws}/threads/{thread}/boxes")),
        (Method::GET, format!("{ws}/boxes/{crm_box}/threads")),
        (Method::PUT, format!("{ws}/boxes/{crm_box}/threads/{thread}")),
        (Method::DELETE, format!("{ws}/boxes/{crm_box}/threads/{thread}")),
        (Method::GET, format!("{ws}/boxes/{crm_box}/timeline")),
        (Method::GET, format!("{ws}/contacts/{contact}/threads")),
        (Method::GET, format!("{ws}/contacts/{contact}/tasks")),
        (Method::GET, format!("{ws}/organizations/{organization}/threads")),
        (Method::GET, format!("{ws}/organizations/{organization}/tasks")),
        (Method::GET, format!("{ws}/audit")),
        (Method::GET, format!("{ws}/webhooks")),
        (Method::POST, format!("{ws}/webhooks")),
        (Method::DELETE, format!("{ws}/webhooks/{webhook}")),
        (Method::GET, format!("{ws}/webhooks/{webhook}/deliveries")),
        (Method::POST, format!("{ws}/imports?kind=contacts")),
        (Method::GET, format!("{ws}/imports")),
        (Method::GET, format!("{ws}/exports/contacts")),
        (Method::GET, format!("{ws}/exports/boxes?pipeline=x")),
    ]
}

/// Every Keen route of project `id`.
fn keen_routes(id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/3.0/projects/{id}")),
        (Method::GET, format!("/3.0/projects/{id}/events")),
        (Method::POST, format!("/3.0/projects/{id}/events")),
        (Method::GET, format!("/3.0/projects/{id}/events/purchases")),
        (Method::GET, format!("/3.0/projects/{id}/events/purchases/properties/x")),
        (Method::POST, format!("/3.0/projects/{id}/events/purchases")),
        (Method::GET, format!("/3.0/projects/{id}/events/purchases?data=eyJ4IjoxfQ")),
        (Method::GET, format!("/3.0/projects/{id}/queries/count?event_collection=purchases")),
        (Method::POST, format!("/3.0/projects/{id}/queries/count")),
        (Method::GET, format!("/3.0/projects/{id}/queries/saved")),
        (Method::GET, format!("/3.0/projects/{id}/queries/saved/weekly")),
        (Method::PUT, format!("/3.0/projects/{id}/queries/saved/weekly")),
        (Method::DELETE, format!("/3.0/projects/{id}/queries/saved/weekly")),
        (Method::GET, format!("/3.0/projects/{id}/queries/saved/weekly/result")),
    ]
}

async fn a_tenant_cannot_reach_another_tenant(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (b, mut b_browser) = app.other_workspace("Globex", "gina@globex.com").await;
    let a = &app.first;
    let mut a_browser = app.login_owner().await;
    let a_csrf = app.browse(&mut a_browser, &format!("/w/{}", a.workspace.id)).await.csrf();
    let b_id = b.workspace.id.to_string();
    let b_access = app.switchboard.operator_access(b.workspace.id).await.unwrap();
    let weekly = sb_core::SavedQueryDraft {
        name: sb_types::QueryName::parse("weekly").unwrap(),
        refresh_rate: 0,
        query: serde_json::json!({"analysis_type": "count", "event_collection": "purchases"})
            .as_object()
            .unwrap()
            .clone(),
        metadata: serde_json::Map::new(),
    };
    let b_weekly = app.switchboard.put_saved_query(&b_access, "weekly", weekly).await.unwrap();
    let b_pipeline = app
        .switchboard
        .create_pipeline(
            &b_access,
            sb_core::PipelineDraft {
                name: "Sales".into(),
                description: String::new(),
                stages: vec![sb_core::StageDraft { id: None, name: "Lead".into(), color: None }],
                fields: Vec::new(),
            },
        )
        .await
        .unwrap();
    let b_box_draft = sb_core::BoxDraft { name: "Deal".into(), ..sb_core::BoxDraft::default() };
    let b_box = app.switchboard.create_box(&b_access, &b_pipeline.id.to_string(), b_box_draft).await.unwrap();
    let b_contact_draft = sb_core::ContactDraft {
        name: "Gina".into(),
        emails: vec!["gina@globex.com".into()],
        ..sb_core::ContactDraft::default()
    };
    let b_contact = app.switchboard.create_contact(&b_access, b_contact_draft).await.unwrap();
    let b_organization_draft = sb_core::OrganizationDraft {
        name: "Globex".into(),
        domains: vec!["globex.com".into()],
        ..sb_core::OrganizationDraft::default()
    };
    let b_organization = app.switchboard.create_organization(&b_access, b_organization_draft).await.unwrap();
    let (b_contact_id, b_organization_id) = (b_contact.id.to_string(), b_organization.id.to_string());
    let b_task_draft = sb_core::TaskDraft { text: "Call Gina".into(), ..sb_core::TaskDraft::default() };
    let b_task = app.switchboard.create_task(&b_access, &b_box.id.to_string(), b_task_draft).await.unwrap();
    let b_comment = app.switchboard.add_comment(&b_access, &b_box.id.to_string(), "Hello").await.unwrap();
    let b_message_draft = sb_core::MessageDraft {
        message_id: "<first@globex.com>".into(),
        sent_at: "2026-01-05T10:00:00Z".into(),
        participants: vec![(sb_types::ParticipantRole::From, "gina@globex.com".into(), "Gina".into())],
        body: "Hello".into(),
        file_on: Some(b_box.id.to_string()),
        ..sb_core::MessageDraft::default()
    };
    let (b_message, _) = app.switchboard.add_message(&b_access, b_message_draft).await.unwrap();
    let b_thread = app.switchboard.thread(&b_access, &b_message.thread.to_string()).await.unwrap();
    let (b_webhook, _) = app
        .switchboard
        .create_webhook(&b_access, "http://127.0.0.1:9/hook", &["*".to_owned()])
        .await
        .unwrap();
    let b_threads = thread_routes(
        &b_id,
        &b_box.id.to_string(),
        &b_message.thread.to_string(),
        &b_message.id.to_string(),
        &b_contact_id,
        &b_organization_id,
        &b_webhook.id.to_string(),
    );
    let b_crm = crm_routes(
        &b_id,
        &b_pipeline.id.to_string(),
        &b_box.id.to_string(),
        &b_contact_id,
        &b_organization_id,
        &b_task.id.to_string(),
        &b_comment.id.to_string(),
    );

    let (b_pipeline_id, b_box_id) = (b_pipeline.id.to_string(), b_box.id.to_string());
    let b_pages =
        [b_pipeline_id.as_str(), b_box_id.as_str(), b_contact_id.as_str(), b_organization_id.as_str()];
    let routes = workspace_routes(&b_id, &b.master.key.id.to_string(), b_pages)
        .into_iter()
        .chain(b_crm)
        .chain(b_threads);
    for (method, path) in routes {
        for key in [&a.master, &a.write, &a.read] {
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(header::AUTHORIZATION, bearer(&key.secret))
                .body(Body::empty())
                .unwrap();
            let status = app.send(request).await.status;
            let expected =
                if path.starts_with("/api/") { StatusCode::NOT_FOUND } else { StatusCode::SEE_OTHER };
            assert_eq!(status, expected, "{} key of A on {method} {path}", key.key.kind);
        }
        let response = if method == Method::GET {
            app.browse(&mut a_browser, &path).await
        } else {
            // A valid token for A's session, in the form and in the header the JSON API reads:
            // only the workspace can refuse it.
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(header::COOKIE, a_browser.cookie_header())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("x-csrf-token", a_csrf.as_str())
                .body(Body::from(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([("name", "x"), ("kind", "master"), ("csrf", a_csrf.as_str())])
                        .finish(),
                ))
                .unwrap();
            app.send(request).await
        };
        assert_eq!(response.status, StatusCode::NOT_FOUND, "session of A on {method} {path}");
    }

    for (method, path) in keen_routes(&b_id) {
        for key in [&a.master, &a.write, &a.read] {
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(header::AUTHORIZATION, key.secret.clone())
                .body(Body::from("{\"purchases\": [{\"x\": 1}]}"))
                .unwrap();
            let response = app.send(request).await;
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{} key of A on {method} {path}",
                key.key.kind
            );
            assert_eq!(response.json()["error_code"], "ResourceNotFoundError");
        }
    }
    assert!(app.switchboard.event_collections(&b_access).await.unwrap().is_empty(), "A wrote nothing into B");
    let b_saved = app.switchboard.saved_queries(&b_access).await.unwrap();
    assert_eq!(b_saved, [b_weekly], "A changed none of B's saved queries");
    assert_eq!(app.switchboard.pipeline(&b_access, &b_pipeline_id).await.unwrap(), b_pipeline);
    assert_eq!(app.switchboard.crm_box(&b_access, &b_box.id.to_string()).await.unwrap(), b_box);
    let b_pipelines = app.switchboard.pipelines(&b_access, None, None).await.unwrap().items;
    assert_eq!(b_pipelines, [b_pipeline], "A changed none of B's pipelines and boxes");
    assert_eq!(app.switchboard.contact(&b_access, &b_contact_id).await.unwrap(), b_contact);
    assert_eq!(app.switchboard.organization(&b_access, &b_organization_id).await.unwrap(), b_organization);
    let b_links = app.switchboard.contact_links(&b_access, &b_contact_id).await.unwrap();
    assert_eq!(b_links.len(), 1, "A changed none of B's contacts, organizations and links");
    let b_contacts = app.switchboard.contacts(&b_access, sb_core::ListFilter::default()).await.unwrap().items;
    assert_eq!(b_contacts, [b_contact]);
    assert_eq!(app.switchboard.task(&b_access, &b_task.id.to_string()).await.unwrap(), b_task);
    let b_comments = app.switchboard.box_comments(&b_access, &b_box.id.to_string()).await.unwrap();
    assert_eq!(b_comments, [b_comment]);
    let b_thread_now = app.switchboard.thread(&b_access, &b_message.thread.to_string()).await.unwrap();
    assert_eq!(b_thread_now, b_thread, "A changed none of B's threads and their boxes");
    assert_eq!(app.switchboard.webhooks(&b_access).await.unwrap(), [b_webhook], "nor B's webhooks");
    let b_schedule = app.switchboard.checkin_settings(&b_access).await.unwrap();
    assert_eq!(b_schedule.version, 1, "nor B's check-in schedule");

    let cross = format!("/w/{}/settings/keys/{}/revoke", a.workspace.id, b.master.key.id);
    let response = app.post_form(&mut a_browser, &cross, &[("csrf", &a_csrf)], &[]).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "A cannot revoke B's key through A's page");

    let b_api = format!("/api/v1/workspaces/{b_id}");
    for key in [&b.master, &b.write, &b.read] {
        assert_eq!(
            app.get(&b_api, Some(&bearer(&key.secret))).await.status,
            StatusCode::OK,
            "B's keys still work"
        );
    }
    let page = app.browse(&mut b_browser, &format!("/w/{b_id}/settings")).await;
    assert_eq!(page.body.matches("status-active").count(), 3);
    assert!(!page.body.contains("\"x\""));

    for malformed in ["nope", "0123", &"f".repeat(24)] {
        let response =
            app.get(&format!("/api/v1/workspaces/{malformed}"), Some(&bearer(&a.master.secret))).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{malformed}");
        assert_eq!(response.json()["error_code"], "not_found");
        let page = app.browse(&mut a_browser, &format!("/w/{malformed}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{malformed}");
    }
}

async fn a_deleted_workspace_takes_its_keys_and_pages(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (b, mut b_browser) = app.other_workspace("Globex", "gina@globex.com").await;
    let b_id = b.workspace.id.to_string();
    let access = app.switchboard.operator_access(b.workspace.id).await.unwrap();
    app.switchboard.delete_workspace(&access).await.unwrap();
    let api = format!("/api/v1/workspaces/{b_id}");
    assert_eq!(app.get(&api, Some(&bearer(&b.master.secret))).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.browse(&mut b_browser, &format!("/w/{b_id}")).await.status, StatusCode::NOT_FOUND);
    let home = app.browse(&mut b_browser, "/").await;
    assert!(home.body.contains("No workspace yet"), "{}", home.body);
}
