//! `switchboard import` and `export` on both backends: a dry run writes nothing, a broken file
//! is refused whole, and an import killed with SIGKILL part way is resumed with `--resume`
//! from the row it reached, ending with every row imported exactly once.

use std::io::Read;
use std::process::Stdio;

use sb_test_support::{TestBackend, backend_tests};

use crate::support::{command, run, run_json};

backend_tests!(an_import_killed_part_way_resumes_and_imports_every_row_once);

const ROWS: usize = 3_000;

fn exported(backend: &TestBackend, workspace: &str) -> Vec<serde_json::Value> {
    let output = run(backend, &["export", "contacts", "--workspace", workspace, "--format", "json"], "");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap().as_array().unwrap().clone()
}

async fn an_import_killed_part_way_resumes_and_imports_every_row_once(backend: &TestBackend) {
    let created = run_json(backend, &["workspace", "create", "Acme", "--json"]);
    let workspace = created["id"].as_str().unwrap().to_owned();
    let file = backend.data_dir().join("people.csv");
    let mut csv = String::from("Full name,E-mail,Tier\n");
    for n in 0..ROWS {
        csv.push_str(&format!("\"Person {n}, Jr\",person{n}@example.com,{}\n", n % 3));
    }
    std::fs::write(&file, &csv).unwrap();
    let path = file.to_str().unwrap();
    let import = |extra: &[&str]| {
        let mut args =
            vec!["import", "contacts", path, "--workspace", workspace.as_str(), "--map", "Tier=custom.tier"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    let dry =
        run_json(backend, &import(&["--dry-run", "--json"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((dry["state"].as_str(), dry["created"].as_u64()), (Some("dry_run"), Some(ROWS as u64)));
    assert!(exported(backend, &workspace).is_empty(), "a dry run writes nothing");

    let broken = backend.data_dir().join("broken.csv");
    std::fs::write(&broken, "Full name,E-mail\nAna,ana@acme.com\n\"Bo,bo@beta.io\nCy,cy@x.org\n").unwrap();
    let refused =
        run(backend, &["import", "contacts", broken.to_str().unwrap(), "--workspace", &workspace], "");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 3") && stderr.contains("nothing was imported"), "{stderr}");
    assert!(exported(backend, &workspace).is_empty(), "a refused file writes nothing");

    // Kill the import once its progress bar has passed a few hundred rows.
    let mut child =
        command(backend).args(import(&[])).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buffer = [0_u8; 256];
    loop {
        let read = stderr.read(&mut buffer).unwrap();
        assert!(read > 0, "the import ended before it could be killed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
        let done = seen
            .rsplit('%')
            .next()
            .and_then(|t| t.trim().split('/').next())
            .and_then(|n| n.parse::<usize>().ok());
        if done.is_some_and(|n| n >= 500) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let part = exported(backend, &workspace).len();
    assert!((500..ROWS).contains(&part), "killed part way: {part} rows in");

    // The killed run saved its progress moments ago: resuming waits until it counts as gone.
    let resume = import(&["--resume", "--json"]);
    let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
    let mut tries = 0;
    let resumed = loop {
        let output = run(backend, &resume, "");
        if output.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap();
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("still running"), "{stderr}");
        tries += 1;
        assert!(tries < 30, "the killed run never counted as stopped");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(resumed["state"], "done");
    let from = resumed["resumed_from"].as_u64().unwrap() as usize;
    assert!(from >= 500 && from <= part, "resumed from row {from}, {part} were in");
    assert_eq!(resumed["rows_done"].as_u64(), Some(ROWS as u64));
    let contacts = exported(backend, &workspace);
    assert_eq!(contacts.len(), ROWS, "every row once");
    let mut emails: Vec<&str> = contacts.iter().map(|c| c["emails"][0].as_str().unwrap()).collect();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), ROWS);
    let sample = contacts.iter().find(|c| c["emails"][0] == "person7@example.com").unwrap();
    assert_eq!(
        (sample["name"].as_str(), sample["custom"]["tier"].as_str()),
        (Some("Person 7, Jr"), Some("1"))
    );

    let again = run(backend, &["import", "contacts", path, "--workspace", &workspace, "--resume"], "");
    assert!(!again.status.success(), "a finished import is not resumed");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no unfinished import"));
    let rerun = run_json(backend, &import(&["--json"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((rerun["created"].as_u64(), rerun["unchanged"].as_u64()), (Some(0), Some(ROWS as u64)));
}
