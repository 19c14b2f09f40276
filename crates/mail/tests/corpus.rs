//! Runs every fixture of `tests/corpus/`: `NNN-name.eml` is parsed and trimmed, and the
//! reply must equal `NNN-name.txt`; a `NNN-name.auto` marker says the message is an
//! auto-reply. Prints the exact-match rate and the misses, and fails below the floor, so a
//! regression of the trimmer fails the build. Every fixture must at least parse.

use std::fs;
use std::path::{Path, PathBuf};

/// The lowest acceptable exact-match rate, in percent, set from the measured rate.
const FLOOR_PERCENT: f64 = 100.0;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut emls: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("corpus folder exists")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    emls.sort();
    emls
}

#[test]
fn corpus_exact_match_rate() {
    let emls = fixtures();
    assert!(emls.len() >= 150, "the corpus holds at least 150 messages, found {}", emls.len());
    let mut misses = Vec::new();
    for eml in &emls {
        let name = eml.file_stem().and_then(|s| s.to_str()).expect("fixture name").to_string();
        let raw = fs::read(eml).expect("fixture readable");
        let mail = sb_mail::parse(&raw).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let reply = sb_mail::reply_text(&mail);
        let expected = fs::read_to_string(eml.with_extension("txt")).expect("expected reply beside fixture");
        let expected = expected.trim_end();
        let auto_expected = eml.with_extension("auto").exists();
        if reply.text != expected || reply.auto_reply != auto_expected {
            if std::env::var_os("SB_MAIL_CORPUS_DIFF").is_some() {
                eprintln!(
                    "--- {name} (auto {} expected {auto_expected})\n{}\n+++ expected\n{expected}\n",
                    reply.auto_reply, reply.text
                );
            }
            misses.push(name);
        }
    }
    let total = emls.len();
    let matched = total - misses.len();
    let percent = matched as f64 * 100.0 / total as f64;
    println!("reply trimming exact-match rate: {matched}/{total} ({percent:.1}%)");
    for miss in &misses {
        println!("miss: {miss}");
    }
    assert!(percent >= FLOOR_PERCENT, "exact-match rate {percent:.1}% fell below the floor {FLOOR_PERCENT}%");
}
