//! The CRM pages: each renders for a member with the ids and write access its script needs,
//! renders read-only for a viewer, and is a 404 page for an unknown or malformed pipeline,
//! box, contact or organization. The import and export page offers imports to members only
//! and its export links to everyone.

use axum::http::{Method, StatusCode};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::json;

use crate::crm::{created, sales};
use crate::support::TestApp;

backend_tests!(
    crm_pages_render_for_members_and_read_only_for_viewers,
    unknown_crm_objects_are_404_pages,
    the_import_page_imports_for_members_and_exports_for_everyone
);

/// Ids of a pipeline, a box, a contact and an organization created in the first workspace.
struct Seeded {
    pipeline: String,
    crm_box: String,
    contact: String,
    organization: String,
}

async fn seed(app: &TestApp) -> Seeded {
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let id = |v: serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let pipeline =
        id(created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await));
    let boxes = format!("{ws}/pipelines/{pipeline}/boxes");
    let crm_box =
        id(created(app.key_json(&key, Method::POST, &boxes, Some(json!({"name": "Acme renewal"}))).await));
    let contact = json!({"name": "Ana Lima", "emails": ["ana@acme.com"]});
    let contact =
        id(created(app.key_json(&key, Method::POST, &format!("{ws}/contacts"), Some(contact)).await));
    let organization = json!({"name": "Acme", "domains": ["acme.com"]});
    let organization = id(created(
        app.key_json(&key, Method::POST, &format!("{ws}/organizations"), Some(organization)).await,
    ));
    Seeded { pipeline, crm_box, contact, organization }
}

/// Each page's path and the text its title starts with.
fn pages(w: &str, s: &Seeded) -> Vec<(String, &'static str)> {
    vec![
        (format!("/w/{w}/pipelines"), "<title>Pipelines · "),
        (format!("/w/{w}/pipelines/{}", s.pipeline), "<title>Sales · Board · "),
        (format!("/w/{w}/pipelines/{}/table", s.pipeline), "<title>Sales · Table · "),
        (format!("/w/{w}/boxes/{}", s.crm_box), "<title>Acme renewal · Sales · "),
        (format!("/w/{w}/contacts"), "<title>Contacts · "),
        (format!("/w/{w}/contacts/{}", s.contact), "<title>Ana Lima · Contact · "),
        (format!("/w/{w}/organizations/{}", s.organization), "<title>Acme · Organization · "),
        (format!("/w/{w}/tasks"), "<title>Tasks · "),
        (format!("/w/{w}/contacts/import"), "<title>Import and export · "),
    ]
}

async fn crm_pages_render_for_members_and_read_only_for_viewers(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let seeded = seed(&app).await;
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.create_user("vic@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "vic@acme.com", sb_types::Role::Viewer).await.unwrap();
    let mut owner = app.login_owner().await;
    let mut viewer = app.login("vic@acme.com", "correct horse").await;

    for (path, title) in pages(&w, &seeded) {
        let page = app.browse(&mut owner, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(title), "{path} has the title {title}");
        assert!(page.body.contains("data-can-write=\"true\""), "{path} lets the owner write");
        assert!(
            page.body.contains("data-members=\"[{&quot;id&quot;:"),
            "{path} carries the members for its script"
        );
        assert!(!page.csrf().is_empty(), "{path} carries the CSRF token for its script");

        let page = app.browse(&mut viewer, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path} for a viewer");
        assert!(page.body.contains("data-can-write=\"false\""), "{path} is read-only for a viewer");
        assert!(!page.body.contains(">Save changes<"), "no save button for a viewer on {path}");
        for form in [
            "create-pipeline",
            "add-box",
            "add-comment",
            "add-task",
            "create-contact",
            "create-organization",
            "import-form",
        ] {
            assert!(!page.body.contains(&format!("id=\"{form}\"")), "no {form} form for a viewer on {path}");
        }
    }

    let list = app.browse(&mut owner, &format!("/w/{w}/pipelines")).await;
    assert!(list.body.contains(&format!("href=\"/w/{w}/pipelines/{}\"", seeded.pipeline)), "{}", list.body);
    assert!(list.body.contains("Deals we are working") && list.body.contains("data-color=\"#3366cc\""));
    assert!(list.body.contains("id=\"create-pipeline\""), "members get the create form");
    let board = app.browse(&mut owner, &format!("/w/{w}/pipelines/{}", seeded.pipeline)).await;
    assert!(board.body.contains(&format!("data-pipeline=\"{}\"", seeded.pipeline)));
    assert!(board.body.contains("id=\"add-box\""));
    let nav = app.browse(&mut owner, &format!("/w/{w}/tasks")).await;
    assert!(
        nav.body.contains(&format!("href=\"/w/{w}/pipelines\" aria-current=\"page\"")),
        "tasks sit under Pipelines"
    );

    let signed_out = app.get(&format!("/w/{w}/boxes/{}", seeded.crm_box), None).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER, "pages need a session");
}

async fn unknown_crm_objects_are_404_pages(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let seeded = seed(&app).await;
    let mut owner = app.login_owner().await;
    // A well-formed id of nothing: the box's id names no pipeline, contact or organization.
    let unknown = &seeded.crm_box;
    let cases = [
        (format!("/w/{w}/pipelines/{unknown}"), "Pipeline not found"),
        (format!("/w/{w}/pipelines/{unknown}/table"), "Pipeline not found"),
        (format!("/w/{w}/boxes/{}", seeded.pipeline), "Box not found"),
        (format!("/w/{w}/contacts/{unknown}"), "Contact not found"),
        (format!("/w/{w}/organizations/{unknown}"), "Organization not found"),
        (format!("/w/{w}/pipelines/nope"), "Pipeline not found"),
        (format!("/w/{w}/boxes/nope"), "Box not found"),
        (format!("/w/{w}/contacts/{}", "f".repeat(24)), "Contact not found"),
        (format!("/w/{w}/organizations/0123"), "Organization not found"),
    ];
    for (path, title) in cases {
        let page = app.browse(&mut owner, &path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains(title), "{path} says {title}: {}", page.body);
    }
    let deleted = app
        .key_json(
            &app.first.master.secret,
            Method::DELETE,
            &format!("/api/v1/workspaces/{w}/boxes/{}", seeded.crm_box),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let page = app.browse(&mut owner, &format!("/w/{w}/boxes/{}", seeded.crm_box)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "a deleted box's page is gone");
}

async fn the_import_page_imports_for_members_and_exports_for_everyone(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let seeded = seed(&app).await;
    let p = &seeded.pipeline;
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.create_user("vic@acme.com", None, Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, "vic@acme.com", sb_types::Role::Viewer).await.unwrap();
    let mut owner = app.login_owner().await;
    let mut viewer = app.login("vic@acme.com", "correct horse").await;
    let import = format!("/w/{w}/contacts/import");
    let exports = [
        format!("href=\"/api/v1/workspaces/{w}/exports/contacts?format=csv\""),
        format!("href=\"/api/v1/workspaces/{w}/exports/organizations?format=json\""),
        format!("href=\"/api/v1/workspaces/{w}/exports/boxes?format=csv&amp;pipeline={p}\""),
        format!("href=\"/api/v1/workspaces/{w}/exports/boxes?format=json&amp;pipeline={p}\""),
    ];

    // The board, the table and the contacts page link to it; the board and table with their pipeline.
    for path in [format!("/w/{w}/pipelines/{p}"), format!("/w/{w}/pipelines/{p}/table")] {
        let page = app.browse(&mut owner, &path).await;
        assert!(page.body.contains(&format!("href=\"{import}?pipeline={p}\">Import / export<")), "{path}");
    }
    let contacts = app.browse(&mut owner, &format!("/w/{w}/contacts")).await;
    assert!(contacts.body.contains(&format!("href=\"{import}\">Import / export<")));

    let page = app.browse(&mut owner, &format!("{import}?pipeline={p}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"import-form\"") && page.body.contains("type=\"file\""));
    assert!(page.body.contains(&format!("<option value=\"{p}\" selected>Sales</option>")), "{}", page.body);
    assert!(page.body.contains("&quot;fields&quot;:[&quot;Amount&quot;,"), "the script gets the field names");
    for link in &exports {
        assert!(page.body.contains(link.as_str()), "{link}");
    }
    let unknown = app.browse(&mut owner, &format!("{import}?pipeline=nope")).await;
    assert_eq!(unknown.status, StatusCode::OK, "an unknown pipeline only chooses none");
    assert!(!unknown.body.contains(" selected>"), "nothing is chosen for an unknown pipeline");

    let page = app.browse(&mut viewer, &import).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"import-form\"") && !page.body.contains("type=\"file\""));
    assert!(page.body.contains("you can export the lists but not import files"));
    for link in &exports {
        assert!(page.body.contains(link.as_str()), "a viewer gets {link}");
    }
    let contacts = app.browse(&mut viewer, &format!("/w/{w}/contacts")).await;
    assert!(contacts.body.contains(&format!("href=\"{import}\">Export<")));
    // The links are plain GETs that the session cookie is enough for.
    let csv = app.browse(&mut viewer, &format!("/api/v1/workspaces/{w}/exports/contacts?format=csv")).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.body.contains("ana@acme.com"), "{}", csv.body);

    let (_, mut stranger) = app.other_workspace("Globex", "gina@globex.com").await;
    let page = app.browse(&mut stranger, &import).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Workspace not found"));
}
