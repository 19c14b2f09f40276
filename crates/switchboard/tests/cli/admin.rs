//! The admin commands, run beside a live server on the same data folder, on both backends.

use sb_test_support::{TestBackend, backend_tests};

use crate::support::{Server, bearer, login, run, run_json};

backend_tests!(
    workspace_commands_take_effect_in_the_running_server,
    key_commands_take_effect_at_the_running_servers_next_request,
    user_commands_create_logins_and_reset_passwords,
    bad_arguments_get_clear_errors_and_change_nothing,
);

fn api(server: &Server, id: &str, key: &str) -> u16 {
    server.request("GET", &format!("/api/v1/workspaces/{id}"), &[("Authorization", &bearer(key))], "").status
}

async fn workspace_commands_take_effect_in_the_running_server(backend: &TestBackend) {
    let server = Server::start(backend);
    let created = run_json(backend, &["workspace", "create", "Acme", "--json"]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Acme");
    for kind in ["master_key", "write_key", "read_key"] {
        let key = created[kind].as_str().unwrap();
        assert_eq!(key.len(), 64, "{kind}");
        assert_eq!(api(&server, &id, key), 200, "{kind} works in the running server");
    }
    let list = run_json(backend, &["workspace", "list", "--json"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["My workspace", "Acme"]);

    let refused = run(backend, &["workspace", "delete", &id], "");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(api(&server, &id, created["read_key"].as_str().unwrap()), 200, "nothing deleted");

    let deleted = run_json(backend, &["workspace", "delete", &id, "--yes", "--json"]);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(api(&server, &id, created["master_key"].as_str().unwrap()), 401);
    assert!(!backend.data_dir().join("workspaces").join(&id).exists());
    assert!(server.terminate().success());
}

async fn key_commands_take_effect_at_the_running_servers_next_request(backend: &TestBackend) {
    let server = Server::start(backend);
    let created = run_json(backend, &["workspace", "create", "Acme", "--json"]);
    let id = created["id"].as_str().unwrap();

    let key = run_json(
        backend,
        &["key", "create", "--workspace", id, "--kind", "read", "--name", "dashboards", "--json"],
    );
    let secret = key["key"].as_str().unwrap();
    assert_eq!((key["kind"].as_str(), key["name"].as_str()), (Some("read"), Some("dashboards")));
    assert_eq!(api(&server, id, secret), 200, "a new key works at once");

    let revoked =
        run_json(backend, &["key", "revoke", "--workspace", id, key["id"].as_str().unwrap(), "--json"]);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(api(&server, id, secret), 401, "refused at the next request, though just used");

    let list = run_json(backend, &["key", "list", "--workspace", id, "--json"]);
    let keys = list.as_array().unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k.get("key").is_none()), "secrets are never listed");
    assert_eq!(keys.iter().filter(|k| k["revoked_at"].is_string()).count(), 1);
    let listing = String::from_utf8(run(backend, &["key", "list", "--workspace", id], "").stdout).unwrap();
    assert!(!listing.contains(secret) && listing.contains("dashboards"));
    assert!(server.terminate().success());
}

async fn user_commands_create_logins_and_reset_passwords(backend: &TestBackend) {
    let server = Server::start(backend);
    let workspace = run_json(backend, &["workspace", "create", "Acme", "--json"]);
    let id = workspace["id"].as_str().unwrap();
    let mut child_args = vec!["user", "create", "ana@acme.com", "--name", "Ana Souza", "--password-stdin"];
    child_args.extend(["--workspace", id, "--role", "admin", "--json"]);
    let output = run(backend, &child_args, "correct horse battery\n");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let user: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((user["email"].as_str(), user["role"].as_str()), (Some("ana@acme.com"), Some("admin")));
    assert!(user.get("password").is_none(), "a password from stdin is not echoed");

    let session = login(&server, "ana@acme.com", "correct horse battery");
    assert_eq!(session.status, 303);
    let cookie = session.cookie("sb_session").unwrap();
    let page = server.request("GET", &format!("/w/{id}/settings"), &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ana Souza") && page.body.contains("Create key"), "an admin manages keys");

    let reset = run_json(backend, &["user", "set-password", "ana@acme.com", "--json"]);
    let generated = reset["password"].as_str().unwrap().to_owned();
    let page = server.request("GET", &format!("/w/{id}/settings"), &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 303, "a password change ends existing sessions");
    assert_eq!(login(&server, "ana@acme.com", "correct horse battery").status, 401);
    assert_eq!(login(&server, "ana@acme.com", &generated).status, 303);

    let users = run_json(backend, &["user", "list", "--json"]);
    let emails: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ana@acme.com", "owner@localhost"]);
    assert!(server.terminate().success());
}

async fn bad_arguments_get_clear_errors_and_change_nothing(backend: &TestBackend) {
    let acme = run_json(backend, &["workspace", "create", "Acme", "--json"]);
    let unknown = "0123456789abcdef01234567";
    let long_name = "n".repeat(101);
    let cases: &[(&[&str], &str, &str)] = &[
        (&["workspace", "create", "acme"], "", "a workspace with this name already exists"),
        (&["workspace", "create", &long_name], "", "the limit is 100"),
        (&["workspace", "create", "   "], "", "must not be empty"),
        (&["workspace", "delete", unknown, "--yes"], "", "workspace not found"),
        (&["workspace", "delete", "nope", "--yes"], "", "workspace id must be 24 hexadecimal characters"),
        (&["key", "create", "--workspace", unknown, "--kind", "read"], "", "workspace not found"),
        (&["user", "create", "not-an-email", "--password-stdin"], "long enough\n", "not an email address"),
        (&["user", "create", "bo@acme.com", "--password-stdin"], "short\n", "at least 8 characters"),
        (&["user", "set-password", "nobody@acme.com", "--password-stdin"], "long enough\n", "user not found"),
        (&["workspace", "list", "--database-url", "mysql://root@localhost/sb"], "", "invalid --database-url"),
    ];
    for (args, stdin, message) in cases {
        let output = run(backend, args, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(message), "{args:?}: expected {message:?} in {stderr}");
    }
    let created = run(
        backend,
        &["key", "create", "--workspace", acme["id"].as_str().unwrap(), "--kind", "superuser"],
        "",
    );
    assert!(String::from_utf8_lossy(&created.stderr).contains("unknown key kind \"superuser\""));

    let list = run_json(backend, &["workspace", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "only the first Acme exists");
    let users = run_json(backend, &["user", "list", "--json"]);
    assert!(users.as_array().unwrap().is_empty(), "no user was created");
}
