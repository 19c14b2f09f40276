//! The check-in crash test: a workspace of 10,000 members is due its prompts; the server sends
//! them through a real SMTP server (Python's aiosmtpd, a sink outside the server's process)
//! and is killed with SIGKILL part way. After a restart every member has their prompt, and
//! every copy a member received is the same message (one Message-ID): a message the sink had
//! accepted when the kill came, but whose acceptance was not yet recorded, goes out again
//! under its fixed Message-ID, which mail clients show once. Those repeats are counted and
//! must stay within the messages in flight at the kill.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sb_core::{CheckinSettingsPatch, Switchboard};
use sb_test_support::smtp_sink::SmtpSink;
use sb_test_support::{BackendKind, TestBackend};
use sb_types::Role;

use crate::support::{Server, command};

const MEMBERS: usize = 10_000;
/// Messages the sender has in flight at once (`sb-core`'s mail sender), so the most that can
/// be accepted by the sink but not yet recorded when the process dies.
const IN_FLIGHT: usize = 16;

#[test]
fn prompts_are_neither_repeated_nor_skipped_after_a_kill_mid_send_sqlite() {
    crash_mid_send(BackendKind::Sqlite);
}

#[test]
fn prompts_are_neither_repeated_nor_skipped_after_a_kill_mid_send_postgres() {
    crash_mid_send(BackendKind::Postgres);
}

/// Seeds the members and turns check-ins on with today's prompt already due.
fn seed(backend: &TestBackend) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let switchboard = Switchboard::open(&backend.config()).await.unwrap();
        let first = switchboard.first_start("owner@crash.test").await.unwrap().unwrap();
        let access = switchboard.operator_access(first.workspace.unwrap().workspace.id).await.unwrap();
        for i in 0..MEMBERS - 1 {
            let email = format!("m{i:05}@crash.test");
            switchboard.create_user(&email, None, None).await.unwrap();
            switchboard.add_member(&access, &email, Role::Member).await.unwrap();
        }
        let now = chrono::Utc::now().time();
        let due = now.overflowing_sub_signed(chrono::Duration::minutes(2)).0.min(now);
        let patch = CheckinSettingsPatch {
            enabled: Some(true),
            timezone: Some("UTC".into()),
            prompt_time: Some(due.format("%H:%M").to_string()),
            digest_time: Some("23:59".into()),
            workdays: Some("1234567".into()),
            ..CheckinSettingsPatch::default()
        };
        switchboard.update_checkin_settings(&access, patch).await.unwrap();
        switchboard.close().await;
    });
}

fn start(backend: &TestBackend, sink: &SmtpSink) -> Server {
    let mut server = command(backend);
    server.args([
        "--smtp-relay",
        &format!("smtp://127.0.0.1:{}", sink.port()),
        "--mail-domain",
        "crash.test",
        "--mail-rate",
        "0",
        "--mail-domain-concurrency",
        "16",
    ]);
    Server::start_with(server)
}

/// Recipient → the Message-IDs of every copy the sink accepted.
fn received(sink: &SmtpSink) -> HashMap<String, Vec<String>> {
    let mut by_recipient: HashMap<String, Vec<String>> = HashMap::new();
    for delivery in sink.deliveries() {
        let text = String::from_utf8_lossy(&delivery.data);
        let message_id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID:").or_else(|| l.strip_prefix("Message-Id:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        for recipient in delivery.rcpt_to {
            by_recipient.entry(recipient.to_ascii_lowercase()).or_default().push(message_id.clone());
        }
    }
    by_recipient
}

fn crash_mid_send(kind: BackendKind) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some(backend) = runtime.block_on(TestBackend::new(kind)) else { return };
    let Some(sink) = SmtpSink::start() else { return };
    let seeding = Instant::now();
    seed(&backend);
    eprintln!("seeded {MEMBERS} members in {:.1} s", seeding.elapsed().as_secs_f64());

    let mut server = start(&backend, &sink);
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.deliveries().len() < MEMBERS / 4 {
        assert!(Instant::now() < deadline, "the prompts did not start going out");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let at_kill = sink.deliveries().len();
    eprintln!("killed with {at_kill} of {MEMBERS} prompts delivered");
    assert!(at_kill < MEMBERS, "the kill came after every prompt was sent: nothing was tested");

    let _restarted = start(&backend, &sink);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let by_recipient = received(&sink);
        if by_recipient.len() >= MEMBERS {
            break;
        }
        assert!(Instant::now() < deadline, "only {} of {MEMBERS} members got a prompt", by_recipient.len());
        std::thread::sleep(Duration::from_millis(250));
    }
    // Anything still to go out (a repeat of an unrecorded send) would come within the lease.
    std::thread::sleep(Duration::from_secs(2));
    let by_recipient = received(&sink);
    let expected: HashSet<String> = (0..MEMBERS - 1)
        .map(|i| format!("m{i:05}@crash.test"))
        .chain(["owner@crash.test".to_owned()])
        .collect();
    let got: HashSet<String> = by_recipient.keys().cloned().collect();
    assert_eq!(got, expected, "every member, and only members, got a prompt");
    let mut repeated = 0;
    for (recipient, ids) in &by_recipient {
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 1, "{recipient} got {} different prompts: {ids:?}", distinct.len());
        assert!(!ids[0].is_empty(), "{recipient}'s prompt has no Message-ID");
        repeated += ids.len() - 1;
    }
    eprintln!("{repeated} prompts were delivered twice (same Message-ID) after the kill");
    assert!(
        repeated <= IN_FLIGHT,
        "{repeated} repeats: more than the {IN_FLIGHT} messages in flight at the kill"
    );
}
