//! `switchboard mail parse` on two corpus fixtures: a Gmail reply in JSON and an Outlook
//! out-of-office notice as text.

use std::path::PathBuf;
use std::process::Command;

use crate::support::BIN;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mail/tests/corpus").join(name)
}

fn mail_parse(args: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["mail", "parse"])
        .args(args)
        .env_remove("SWITCHBOARD_CONFIG")
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn mail_parse_prints_the_trimmed_reply_as_json() {
    let path = fixture("001-en-gmail.eml");
    let out = mail_parse(&[path.to_str().unwrap(), "--json"]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["from"]["address"], "mark.reilly@acme.example");
    assert_eq!(value["from"]["name"], "Mark Reilly");
    assert_eq!(value["to"][0]["address"], "reply+w1.mark.reilly@switchboard.example");
    assert_eq!(value["subject"], "Re: What did you get done today?");
    assert_eq!(value["date"], "2026-03-03T18:42:10-03:00");
    assert!(value["message_id"].as_str().unwrap().ends_with("@acme.example"));
    assert_eq!(value["auto_reply"], false);
    assert_eq!(value["trimmed"], serde_json::json!(["quoted"]));
    let expected = std::fs::read_to_string(fixture("001-en-gmail.txt")).unwrap();
    assert_eq!(value["reply_text"], expected.trim_end());
}

#[test]
fn mail_parse_shows_an_auto_reply_as_text() {
    let names: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-oof-outlook-en.eml"))
        .collect();
    let path = fixture(&names[0]);
    let out = mail_parse(&[path.to_str().unwrap()]);
    assert!(out.contains("auto_reply: true (auto-submitted)"), "{out}");
    assert!(out.contains("subject:    Automatic reply: What did you get done today?"), "{out}");
    assert!(out.contains("from:       Mark Reilly <mark.reilly@acme.example>"), "{out}");
    assert!(out.contains("  I am out of the office until Monday 9 March"), "{out}");
    assert!(!out.contains("Head of Operations"), "{out}");
}
