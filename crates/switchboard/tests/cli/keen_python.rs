//! The official Keen Python client (`pip install keen`) against a live server. Skipped, with
//! the reason printed, where the package is not installed; `.ci/run` installs it.

use std::io::Write;
use std::process::{Command, Stdio};

use sb_test_support::{BackendKind, TestBackend};

use crate::support::Server;

/// Embedded, and fed to `python3 -` on standard input: test binaries in a shared target folder
/// may outlive the checkout they were built from.
const SCRIPT: &str = include_str!("../keen_python/check_keen_client.py");

#[tokio::test]
async fn the_official_python_client_records_and_counts() {
    let installed =
        Command::new("python3").args(["-c", "import keen"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("skipped: the Keen Python client is not installed (pip install keen==0.7.0)");
        return;
    }
    let backend = TestBackend::new(BackendKind::Sqlite).await.unwrap();
    let server = Server::start(&backend);
    let workspace = server.banner_value("Workspace:").unwrap();
    let project = workspace.rsplit('(').next().unwrap().trim_end_matches(')');
    let mut python = Command::new("python3")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("SWITCHBOARD_URL", format!("http://{}", server.address))
        .env("PROJECT_ID", project)
        .env("WRITE_KEY", server.banner_value("Write key:").unwrap())
        .env("READ_KEY", server.banner_value("Read key:").unwrap())
        .env("MASTER_KEY", server.banner_value("Master key:").unwrap())
        .spawn()
        .expect("python3 runs");
    python.stdin.take().unwrap().write_all(SCRIPT.as_bytes()).unwrap();
    let output = python.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Keen client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("keen client: ok"));
}
