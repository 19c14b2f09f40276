//! The storage conformance suite: every test runs on SQLite and on PostgreSQL
//! (when `SWITCHBOARD_TEST_POSTGRES` is set) through the same repository API.

#[path = "conformance/contacts.rs"]
mod contacts;
#[path = "conformance/crm.rs"]
mod crm;
#[path = "conformance/threads.rs"]
mod threads;

use sb_store::{NewApiKey, NewSavedQuery, NewUser, Store, StoreError};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{ErrorKind, KeyKind, QueryName, Role, Timestamp, WorkspaceId, WorkspaceName};

async fn open(backend: &TestBackend) -> Store {
    Store::open(backend.data_dir(), backend.database()).await.expect("store opens")
}

fn name(text: &str) -> WorkspaceName {
    WorkspaceName::parse(text).unwrap()
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: sb_types::Email::parse(email).unwrap(),
        name: "Ana".into(),
        password_hash: Some("$hash".into()),
    }
}

fn new_key(workspace: WorkspaceId, hash: &str) -> NewApiKey {
    NewApiKey {
        workspace,
        kind: KeyKind::Write,
        name: "app".into(),
        secret_hash: hash.into(),
        prefix: "ABCD1234".into(),
        sealed_secret: None,
        created_by: "cli".into(),
    }
}

backend_tests! {
    users_are_unique_by_email,
    workspaces_are_created_listed_and_deleted,
    duplicate_workspace_names_conflict_and_change_nothing,
    keys_are_found_by_hash_until_revoked,
    keys_changed_by_another_process_take_effect_at_the_next_lookup,
    keys_of_one_workspace_are_invisible_to_another,
    sessions_expire_and_end,
    reopening_keeps_everything_and_migrates_once,
    password_change_ends_sessions,
    saved_queries_are_created_replaced_renamed_and_deleted,
    saved_queries_belong_to_one_workspace,
}

async fn users_are_unique_by_email(backend: &TestBackend) {
    let store = open(backend).await;
    assert!(store.has_no_users().await.unwrap());
    let ana = store.create_user(new_user("ana@acme.com")).await.unwrap();
    let again = store.create_user(new_user("ANA@acme.com")).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict);
    assert_eq!(again.to_string(), "a user with this email already exists");
    let found = store.user_by_email(&ana.email).await.unwrap().unwrap();
    assert_eq!(found, ana);
    assert_eq!(store.list_users().await.unwrap(), vec![ana]);
    assert!(!store.has_no_users().await.unwrap());
}

async fn workspaces_are_created_listed_and_deleted(backend: &TestBackend) {
    let store = open(backend).await;
    let ana = store.create_user(new_user("ana@acme.com")).await.unwrap();
    let acme = store.create_workspace(&name("Acme"), Some(ana.id)).await.unwrap();
    let globex = store.create_workspace(&name("Globex"), None).await.unwrap();
    assert_eq!(store.list_workspaces().await.unwrap(), vec![acme.clone(), globex.clone()]);
    assert_eq!(store.workspace(acme.id).await.unwrap(), Some(acme.clone()));
    assert_eq!(store.member_role(acme.id, ana.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(store.member_role(globex.id, ana.id).await.unwrap(), None);
    assert_eq!(store.member_count(acme.id).await.unwrap(), 1);
    assert_eq!(store.workspaces_of_user(ana.id).await.unwrap(), vec![(acme.clone(), Role::Owner)]);

    store.add_member(globex.id, ana.id, Role::Viewer).await.unwrap();
    let twice = store.add_member(globex.id, ana.id, Role::Admin).await.unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::Conflict);
    let members = store.members(globex.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].user.id, members[0].role), (ana.id, Role::Viewer));

    let db = store.workspace_db(acme.id).await.unwrap();
    assert_eq!(db.stamped_workspace().await.unwrap(), acme.id);
    assert!(store.backend().workspace_dir(acme.id).is_dir());

    store.delete_workspace(acme.id).await.unwrap();
    assert_eq!(store.workspace(acme.id).await.unwrap(), None);
    assert!(!store.backend().workspace_dir(acme.id).exists());
    assert!(matches!(store.workspace_db(acme.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.delete_workspace(acme.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.workspaces_of_user(ana.id).await.unwrap(), vec![(globex, Role::Viewer)]);
}

async fn duplicate_workspace_names_conflict_and_change_nothing(backend: &TestBackend) {
    let store = open(backend).await;
    store.create_workspace(&name("Acme"), None).await.unwrap();
    let err = store.create_workspace(&name("ACME"), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.to_string(), "a workspace with this name already exists");
    assert_eq!(store.list_workspaces().await.unwrap().len(), 1);
    let folders = std::fs::read_dir(backend.data_dir().join("workspaces")).unwrap().count();
    assert_eq!(folders, 1, "a refused workspace leaves no folder behind");
}

async fn keys_are_found_by_hash_until_revoked(backend: &TestBackend) {
    let store = open(backend).await;
    let acme = store.create_workspace(&name("Acme"), None).await.unwrap();
    let key = store.insert_api_key(new_key(acme.id, "h1")).await.unwrap();
    assert_eq!(store.active_api_key_by_hash("h1").await.unwrap(), Some(key.clone()));
    assert_eq!(store.active_api_key_by_hash("h2").await.unwrap(), None);
    assert_eq!(store.api_keys(acme.id).await.unwrap(), vec![key.clone()]);

    let revoked = store.revoke_api_key(acme.id, key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(store.active_api_key_by_hash("h1").await.unwrap(), None);
    let again = store.revoke_api_key(acme.id, key.id).await.unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at, "revoking twice keeps the first time");

    let missing = store.insert_api_key(new_key(WorkspaceId::generate(), "h3")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

/// The admin CLI opens the same data folder from another process while the server runs: a key
/// it revokes is refused at the server's next lookup, even one the server just found (and, on
/// SQLite, remembers), and listed as revoked; a key it creates is found at once.
async fn keys_changed_by_another_process_take_effect_at_the_next_lookup(backend: &TestBackend) {
    let (server, cli) = (open(backend).await, open(backend).await);
    let acme = cli.create_workspace(&name("Acme"), None).await.unwrap();
    let key = cli.insert_api_key(new_key(acme.id, "h1")).await.unwrap();
    for _ in 0..2 {
        assert_eq!(server.active_api_key_by_hash("h1").await.unwrap(), Some(key.clone()));
        assert_eq!(server.api_keys(acme.id).await.unwrap(), vec![key.clone()]);
    }
    cli.revoke_api_key(acme.id, key.id).await.unwrap();
    assert_eq!(server.active_api_key_by_hash("h1").await.unwrap(), None, "refused at the next lookup");
    let listed = server.api_keys(acme.id).await.unwrap();
    assert!(listed[0].revoked_at.is_some(), "listed as revoked at the next lookup");
    let other = cli.insert_api_key(new_key(acme.id, "h2")).await.unwrap();
    assert_eq!(server.active_api_key_by_hash("h2").await.unwrap(), Some(other.clone()));
    assert_eq!(server.active_api_key_by_hash("h2").await.unwrap(), Some(other));
    cli.delete_workspace(acme.id).await.unwrap();
    assert_eq!(server.active_api_key_by_hash("h2").await.unwrap(), None, "its workspace is gone");
}

async fn keys_of_one_workspace_are_invisible_to_another(backend: &TestBackend) {
    let store = open(backend).await;
    let acme = store.create_workspace(&name("Acme"), None).await.unwrap();
    let globex = store.create_workspace(&name("Globex"), None).await.unwrap();
    let key = store.insert_api_key(new_key(acme.id, "h1")).await.unwrap();
    let err = store.revoke_api_key(globex.id, key.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(store.api_keys(globex.id).await.unwrap().is_empty());
    let found = store.active_api_key_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(found.workspace, acme.id);

    store.delete_workspace(acme.id).await.unwrap();
    let gone = store.active_api_key_by_hash("h1").await.unwrap();
    assert_eq!(gone, None, "keys go with their workspace");
}

async fn sessions_expire_and_end(backend: &TestBackend) {
    let store = open(backend).await;
    let ana = store.create_user(new_user("ana@acme.com")).await.unwrap();
    let now = Timestamp::now();
    store.insert_session("live", ana.id, now.plus_seconds(3600)).await.unwrap();
    store.insert_session("old", ana.id, now.plus_seconds(-1)).await.unwrap();
    assert_eq!(store.live_session("live", now).await.unwrap().unwrap().user, ana);
    assert_eq!(store.live_session("old", now).await.unwrap(), None);
    assert_eq!(store.delete_expired_sessions(now).await.unwrap(), 1);
    store.delete_session("live").await.unwrap();
    assert_eq!(store.live_session("live", now).await.unwrap(), None);
}

async fn reopening_keeps_everything_and_migrates_once(backend: &TestBackend) {
    let store = open(backend).await;
    let acme = store.create_workspace(&name("Acme"), None).await.unwrap();
    store.insert_api_key(new_key(acme.id, "h1")).await.unwrap();
    store.close().await;

    let (first, second) = tokio::join!(open(backend), open(backend));
    assert_eq!(first.list_workspaces().await.unwrap(), vec![acme.clone()]);
    assert_eq!(second.api_keys(acme.id).await.unwrap().len(), 1);
    let db = second.workspace_db(acme.id).await.unwrap();
    assert_eq!(db.stamped_workspace().await.unwrap(), acme.id);
}

async fn password_change_ends_sessions(backend: &TestBackend) {
    let store = open(backend).await;
    let ana = store.create_user(new_user("ana@acme.com")).await.unwrap();
    let now = Timestamp::now();
    store.insert_session("s", ana.id, now.plus_seconds(3600)).await.unwrap();
    store.set_password_hash(ana.id, "$new").await.unwrap();
    assert_eq!(store.live_session("s", now).await.unwrap(), None);
    let user = store.user_by_email(&ana.email).await.unwrap().unwrap();
    assert_eq!(user.password_hash.as_deref(), Some("$new"));
    let missing = store.set_password_hash(sb_types::UserId::generate(), "$x").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

fn saved(name: &str, query: &str) -> NewSavedQuery {
    NewSavedQuery {
        name: QueryName::parse(name).unwrap(),
        refresh_rate: 0,
        query: query.into(),
        metadata: "{}".into(),
    }
}

async fn saved_queries_are_created_replaced_renamed_and_deleted(backend: &TestBackend) {
    let store = open(backend).await;
    let acme = store.create_workspace(&name("Acme"), None).await.unwrap();
    let db = store.workspace_db(acme.id).await.unwrap();
    let (weekly, daily) = (QueryName::parse("weekly").unwrap(), QueryName::parse("daily").unwrap());
    assert!(db.saved_queries().await.unwrap().is_empty());
    let t0 = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
    let t1 = Timestamp::parse("2024-01-02T00:00:00Z").unwrap();

    let created = db.put_saved_query(&weekly, saved("weekly", r#"{"a":1}"#), t0).await.unwrap();
    assert_eq!((created.created_at, created.updated_at, created.query.as_str()), (t0, t0, r#"{"a":1}"#));
    let mut replacement = saved("weekly", r#"{"a":2}"#);
    replacement.refresh_rate = 14_400;
    replacement.metadata = r#"{"display_name":"Weekly"}"#.into();
    let replaced = db.put_saved_query(&weekly, replacement, t1).await.unwrap();
    assert_eq!((replaced.created_at, replaced.updated_at), (t0, t1), "replacing keeps the creation time");
    assert_eq!((replaced.refresh_rate, replaced.query.as_str()), (14_400, r#"{"a":2}"#));
    assert_eq!(db.saved_query(&weekly).await.unwrap(), Some(replaced.clone()));

    db.put_saved_query(&daily, saved("daily", "{}"), t0).await.unwrap();
    let names = |list: Vec<sb_store::SavedQueryRecord>| {
        list.into_iter().map(|q| q.name.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(db.saved_queries().await.unwrap()), ["daily", "weekly"], "listed by name");

    let onto_taken = db.put_saved_query(&weekly, saved("daily", "{}"), t1).await.unwrap_err();
    assert_eq!(onto_taken.kind(), ErrorKind::Conflict);
    assert_eq!(db.saved_query(&weekly).await.unwrap(), Some(replaced), "a refused rename changes nothing");
    let missing = QueryName::parse("missing").unwrap();
    let from_missing = db.put_saved_query(&missing, saved("other", "{}"), t1).await.unwrap_err();
    assert_eq!(from_missing.kind(), ErrorKind::NotFound);

    let renamed = db.put_saved_query(&weekly, saved("monthly", r#"{"a":3}"#), t1).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.created_at), ("monthly", t0));
    assert_eq!(db.saved_query(&weekly).await.unwrap(), None);
    assert_eq!(names(db.saved_queries().await.unwrap()), ["daily", "monthly"]);

    db.delete_saved_query(&daily).await.unwrap();
    assert_eq!(db.delete_saved_query(&daily).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(names(db.saved_queries().await.unwrap()), ["monthly"]);
    store.close().await;
    let reopened = open(backend).await.workspace_db(acme.id).await.unwrap();
    assert_eq!(names(reopened.saved_queries().await.unwrap()), ["monthly"], "saved queries are durable");
}

async fn saved_queries_belong_to_one_workspace(backend: &TestBackend) {
    let store = open(backend).await;
    let acme =
        store.workspace_db(store.create_workspace(&name("Acme"), None).await.unwrap().id).await.unwrap();
    let globex =
        store.workspace_db(store.create_workspace(&name("Globex"), None).await.unwrap().id).await.unwrap();
    let weekly = QueryName::parse("weekly").unwrap();
    acme.put_saved_query(&weekly, saved("weekly", "{}"), Timestamp::now()).await.unwrap();
    assert!(globex.saved_queries().await.unwrap().is_empty());
    assert_eq!(globex.saved_query(&weekly).await.unwrap(), None);
    assert_eq!(globex.delete_saved_query(&weekly).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(acme.saved_queries().await.unwrap().len(), 1);
}
