//! `switchboard serve`: first start, serving, restart, graceful shutdown.

use std::process::Command;

use sb_test_support::{BackendKind, TestBackend};

use crate::support::{BIN, Server, bearer};

#[tokio::test]
async fn first_start_prints_how_to_log_in_once_and_sigterm_stops_cleanly() {
    let backend = TestBackend::new(BackendKind::Sqlite).await.unwrap();
    let server = Server::start(&backend);
    assert!(server.banner.contains("First start"), "{}", server.banner);
    let email = server.banner_value("Email:").expect("email printed");
    let password = server.banner_value("Password:").expect("password printed");
    let workspace = server.banner_value("Workspace:").expect("workspace printed");
    let id = workspace.rsplit('(').next().unwrap().trim_end_matches(')').to_owned();
    let master = server.banner_value("Master key:").expect("master key printed");
    assert_eq!(email, "owner@localhost");
    assert_eq!(master.len(), 64);
    assert!(server.banner.contains(&format!("Log in at:   http://{}/login", server.address)));

    for (label, folder) in [("control database", "control.db"), ("secret", "secret.key")] {
        assert!(backend.data_dir().join(folder).is_file(), "{label} created");
    }
    assert!(backend.data_dir().join("workspaces").join(&id).join("records.db").is_file());

    assert_eq!(server.request("GET", "/healthz", &[], "").status, 200);
    let login = server.request("GET", "/login", &[], "");
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Log in"));
    let api = server.request(
        "GET",
        &format!("/api/v1/workspaces/{id}"),
        &[("Authorization", &bearer(&master))],
        "",
    );
    assert_eq!(api.status, 200, "{}", api.body);
    let logged_in = crate::support::login(&server, &email, &password);
    assert_eq!(logged_in.status, 303, "the printed password logs in");

    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean exit, got {status:?}");

    let again = Server::start(&backend);
    assert!(!again.banner.contains("First start"), "credentials are printed once");
    let api =
        again.request("GET", &format!("/api/v1/workspaces/{id}"), &[("Authorization", &bearer(&master))], "");
    assert_eq!(api.status, 200, "the data survived the restart");
    assert!(again.terminate().success());
}

#[tokio::test]
async fn defaults_come_from_the_environment_and_a_busy_port_is_a_clear_error() {
    let backend = TestBackend::new(BackendKind::Sqlite).await.unwrap();
    let mut command = Command::new(BIN);
    command.env("SWITCHBOARD_DATA_DIR", backend.data_dir()).env("SWITCHBOARD_LOG", "warn");
    let server = Server::start_with(command);
    assert!(backend.data_dir().join("control.db").is_file(), "SWITCHBOARD_DATA_DIR was used");

    let busy = Command::new(BIN)
        .env("SWITCHBOARD_DATA_DIR", backend.data_dir())
        .env("SWITCHBOARD_LISTEN", server.address.to_string())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!busy.status.success());
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(stderr.contains(&format!("cannot listen on {}", server.address)), "{stderr}");
    assert!(server.terminate().success());
}
