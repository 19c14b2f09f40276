//! The settings page: members for all, key management for admins only.

use axum::http::StatusCode;
use sb_test_support::{TestBackend, backend_tests};
use sb_types::Role;

use crate::support::{TestApp, bearer};

backend_tests!(
    an_admin_creates_a_key_that_works_and_revokes_it,
    bad_key_forms_change_nothing,
    viewers_and_members_cannot_manage_keys,
    the_workspace_switcher_lists_only_my_workspaces,
);

async fn an_admin_creates_a_key_that_works_and_revokes_it(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = app.login_owner().await;
    let settings = format!("/w/{}/settings", app.first.workspace.id);
    let page = app.browse(&mut browser, &settings).await;
    assert!(page.body.contains("owner@acme.com"), "members are listed");
    assert_eq!(page.body.matches("data-key-id=").count(), 3, "the three first keys");

    let form = [("name", "CI reader"), ("kind", "read"), ("csrf", &page.csrf())];
    let created = app.post_form(&mut browser, &format!("{settings}/keys"), &form, &[]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let marker = "id=\"new-key-secret\">";
    let start = created.body.find(marker).expect("secret shown") + marker.len();
    let secret = created.body[start..start + 64].to_owned();
    assert_eq!(created.headers["cache-control"], "no-store");

    let api = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    assert_eq!(app.get(&api, Some(&bearer(&secret))).await.status, StatusCode::OK);

    let page = app.browse(&mut browser, &settings).await;
    assert!(!page.body.contains(&secret), "the secret is shown once");
    let keys = app
        .switchboard
        .list_keys(&app.switchboard.operator_access(app.first.workspace.id).await.unwrap())
        .await
        .unwrap();
    let key = keys.iter().find(|k| k.name == "CI reader").expect("stored");
    assert_eq!(key.kind, sb_types::KeyKind::Read);

    let revoke = format!("{settings}/keys/{}/revoke", key.id);
    let row =
        app.post_form(&mut browser, &revoke, &[("csrf", &page.csrf())], &[("hx-request", "true")]).await;
    assert_eq!(row.status, StatusCode::OK);
    assert!(row.body.trim_start().starts_with("<tr") && row.body.contains("Revoked"), "{}", row.body);
    assert_eq!(app.get(&api, Some(&bearer(&secret))).await.status, StatusCode::UNAUTHORIZED);

    let plain = app
        .post_form(
            &mut browser,
            &format!("{settings}/keys/{}/revoke", app.first.write.key.id),
            &[("csrf", &page.csrf())],
            &[],
        )
        .await;
    assert_eq!((plain.status, plain.location()), (StatusCode::SEE_OTHER, settings.as_str()));
}

async fn bad_key_forms_change_nothing(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let mut browser = app.login_owner().await;
    let settings = format!("/w/{}/settings", app.first.workspace.id);
    let csrf = app.browse(&mut browser, &settings).await.csrf();
    let long = "k".repeat(101);
    let cases = [
        (
            vec![("name", "x"), ("kind", "superuser"), ("csrf", csrf.as_str())],
            StatusCode::BAD_REQUEST,
            "unknown key kind",
        ),
        (
            vec![("name", long.as_str()), ("kind", "read"), ("csrf", csrf.as_str())],
            StatusCode::BAD_REQUEST,
            "at most 100",
        ),
        (vec![("name", "x"), ("kind", "read")], StatusCode::FORBIDDEN, "Form expired"),
        (vec![("name", "x"), ("kind", "read"), ("csrf", "abc")], StatusCode::FORBIDDEN, "Form expired"),
    ];
    for (form, status, message) in cases {
        let response = app.post_form(&mut browser, &format!("{settings}/keys"), &form, &[]).await;
        assert_eq!(response.status, status, "{form:?}");
        assert!(response.body.contains(message), "{message} not in {}", response.body);
    }
    let revoke = format!("{settings}/keys/{}/revoke", app.first.read.key.id);
    let response = app.post_form(&mut browser, &revoke, &[], &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let keys = app.switchboard.list_keys(&access).await.unwrap();
    assert_eq!(keys.len(), 3, "nothing was created");
    assert!(keys.iter().all(|k| k.revoked_at.is_none()), "nothing was revoked");
}

async fn viewers_and_members_cannot_manage_keys(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    for (email, role) in [("vera@acme.com", Role::Viewer), ("mo@acme.com", Role::Member)] {
        app.switchboard.create_user(email, None, Some("correct horse".into())).await.unwrap();
        app.switchboard.add_member(&access, email, role).await.unwrap();
        let mut browser = app.login(email, "correct horse").await;
        let settings = format!("/w/{}/settings", app.first.workspace.id);
        let page = app.browse(&mut browser, &settings).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Only owners and admins"));
        assert!(!page.body.contains("data-key-id"), "{role}: no keys listed");
        let form = [("name", "sneaky"), ("kind", "master"), ("csrf", &page.csrf())];
        let response = app.post_form(&mut browser, &format!("{settings}/keys"), &form, &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{role}");
        let revoke = format!("{settings}/keys/{}/revoke", app.first.master.key.id);
        let response = app.post_form(&mut browser, &revoke, &[("csrf", &page.csrf())], &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(app.switchboard.list_keys(&access).await.unwrap().len(), 3);
}

async fn the_workspace_switcher_lists_only_my_workspaces(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let (other, _) = app.other_workspace("Globex", "gina@globex.com").await;
    let third = app.switchboard.create_workspace("Initech", None).await.unwrap();
    let access = app.switchboard.operator_access(third.workspace.id).await.unwrap();
    app.switchboard.add_member(&access, &app.owner_email, Role::Viewer).await.unwrap();
    let mut browser = app.login_owner().await;
    let page = app.browse(&mut browser, &format!("/w/{}", app.first.workspace.id)).await;
    assert!(page.body.contains(&format!("href=\"/w/{}\"", third.workspace.id)));
    assert!(page.body.contains("Initech"));
    assert!(!page.body.contains("Globex") && !page.body.contains(&other.workspace.id.to_string()));
}
