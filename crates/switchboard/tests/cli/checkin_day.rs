//! A full check-in day against real mail servers: the server sends its prompts through Postfix
//! (relaying to aiosmtpd, the members' "mailboxes"); replies come back through every inbound
//! path — the SMTP listener (Python's smtplib), Postfix delivering into Dovecot read by the
//! IMAP poller, and the Postmark, Mailgun and SendGrid webhooks; entries appear on the
//! prompted day; the digest goes out through Postfix. A second test sends straight to
//! aiosmtpd answering 451 and 550 and reads the outbox's deferred and failed states.
//!
//! Time: prompts are read in UTC−10 and the digest reader lives in UTC+14, so the reader's
//! "today" is always the day after the prompted day and the digest of the replies is due at
//! once, whatever the hour the test runs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use sb_core::{CheckinMemberPatch, CheckinSettingsPatch, Switchboard};
use sb_test_support::dovecot::Dovecot;
use sb_test_support::postfix::Postfix;
use sb_test_support::smtp_sink::{SinkDelivery, SmtpSink};
use sb_test_support::{BackendKind, TestBackend};
use sb_types::Role;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{Server, command};

const DOMAIN: &str = "in.day.test";
const PEOPLE: &str = "day.test";
const MAILGUN_KEY: &str = "day-mailgun-key";

#[test]
fn a_check_in_day_through_postfix_dovecot_and_every_inbound_path() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let backend = runtime.block_on(TestBackend::new(BackendKind::Sqlite)).expect("sqlite");
    let Some(sink) = SmtpSink::start() else { return };
    let Some(dovecot) = Dovecot::start() else { return };
    let Some(postfix) = Postfix::start(sink.port(), dovecot.lmtp_port()) else { return };
    let (workspace, master) = runtime.block_on(seed(&backend));
    let smtp_port = sb_test_support::dovecot::free_port();
    let mut server = command(&backend);
    server.args([
        "--smtp-relay",
        &format!("smtp://127.0.0.1:{}", postfix.smtp_port()),
        "--smtp-listen",
        &format!("127.0.0.1:{smtp_port}"),
        "--mail-domain",
        DOMAIN,
        "--public-url",
        "https://sb.day.test",
        "--imap-url",
        &format!("imap://{}:{}@127.0.0.1:{}/INBOX", Dovecot::USER, Dovecot::PASSWORD, dovecot.imap_port()),
        "--postmark-inbound-auth",
        "mark:mark-pass",
        "--sendgrid-inbound-auth",
        "grid:grid-pass",
        "--mailgun-signing-key",
        MAILGUN_KEY,
    ]);
    let server = Server::start_with(server);
    let api = |method: &str, path: &str, body: &str| {
        let response = server.request(
            method,
            &format!("/api/v1/workspaces/{workspace}{path}"),
            &[("Authorization", &format!("Bearer {master}")), ("Content-Type", "application/json")],
            body,
        );
        assert!(response.status < 300, "{method} {path}: {} {}", response.status, response.body);
        serde_json::from_str::<Value>(&response.body).unwrap_or(Value::Null)
    };

    // Prompts go out through Postfix to the members' mailboxes at the sink.
    let members = ["ana", "bea", "cai", "eve", "owner"];
    let prompts = wait_for(&sink, "five prompts", |d| {
        let prompts: Vec<&SinkDelivery> = d.iter().filter(|m| text(m).contains("Reply-To:")).collect();
        (prompts.len() >= members.len()).then(|| prompts.into_iter().cloned().collect::<Vec<_>>())
    });
    let mut prompted: Vec<String> = prompts.iter().map(|p| p.rcpt_to[0].clone()).collect();
    prompted.sort();
    assert_eq!(prompted, members.map(|m| format!("{m}@{PEOPLE}")), "one prompt each; the viewer reads only");
    let log = postfix.log();
    assert!(log.contains("status=sent"), "Postfix relayed them: {log}");
    let prompt_of = |who: &str| prompts.iter().find(|p| p.rcpt_to[0].starts_with(who)).map(text).unwrap();
    for who in members {
        let prompt = prompt_of(who);
        for header in [
            "Auto-Submitted: auto-generated",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Message-ID: <",
        ] {
            assert!(prompt.contains(header), "{who}'s prompt lacks {header}: {prompt}");
        }
    }
    let reply_to = |who: &str| {
        let prompt = prompt_of(who);
        let line = prompt.lines().find(|l| l.starts_with("Reply-To:")).unwrap().to_owned();
        line.split('<')
            .nth(1)
            .and_then(|r| r.split('>').next())
            .unwrap_or(line.trim_start_matches("Reply-To:").trim())
            .to_owned()
    };
    let message_id = |who: &str| {
        let prompt = prompt_of(who);
        prompt.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap().trim().to_owned()
    };
    let reply = |who: &str, body: &str| {
        format!(
            "From: {who} <{who}@{PEOPLE}>\r\nTo: {}\r\nSubject: Re: check-in\r\nMessage-ID: <reply-{who}@{PEOPLE}>\r\n\
             In-Reply-To: {}\r\nDate: Sat, 05 Dec 2026 21:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {body}\r\n\r\nOn Sat, Dec 5, 2026 at 5:00 PM Switchboard <checkins@{DOMAIN}> wrote:\r\n> What did you get done today?\r\n",
            reply_to(who),
            message_id(who)
        )
    };

    // Ana answers by SMTP to the listener (the reply domain's MX), and to the prompt's From
    // rather than its Reply-To: the prompt her reply names in In-Reply-To says whose it is.
    let from_address = format!("checkins@{DOMAIN}");
    let to_from = reply("ana", "Shipped the export #billing\r\n! waiting on legal")
        .replace(&reply_to("ana"), &from_address);
    smtplib(smtp_port, &format!("ana@{PEOPLE}"), &from_address, &to_from);
    // Bea's reply reaches the team mailbox through Postfix and Dovecot; the poller reads it.
    smtplib(
        postfix.smtp_port(),
        &format!("bea@{PEOPLE}"),
        &format!("{}@{}", Dovecot::USER, Postfix::LMTP_DOMAIN),
        &reply("bea", "[x] closed the quarter"),
    );
    // Cai's comes through Postmark, Eve's through Mailgun, the owner's through SendGrid.
    let postmark =
        json!({"RawEmail": reply("cai", "Interviewed two candidates"), "OriginalRecipient": reply_to("cai")});
    let basic = |pair: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
    let answer = server.request(
        "POST",
        "/inbound/postmark",
        &[("Authorization", &basic("mark:mark-pass")), ("Content-Type", "application/json")],
        &postmark.to_string(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = server.request(
        "POST",
        "/inbound/mailgun",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &mailgun_form(&reply("eve", "[] plan the offsite"), &reply_to("eve")),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (content_type, body) =
        sendgrid_form(&reply("owner", "Reviewed the roadmap @ana"), &reply_to("owner"));
    let answer = server.request(
        "POST",
        "/inbound/sendgrid",
        &[("Authorization", &basic("grid:grid-pass")), ("Content-Type", &content_type)],
        &body,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Every reply became entries on the prompted day (UTC−10's date when the prompts went out).
    let deadline = Instant::now() + Duration::from_secs(90);
    let entries = loop {
        let listed = api("GET", "/checkins/entries?limit=100", "");
        let entries = listed["entries"].as_array().unwrap().clone();
        if entries.len() >= 6 {
            break entries;
        }
        assert!(
            Instant::now() < deadline,
            "only {} entries after 90 s: {listed}\n{}",
            entries.len(),
            dovecot.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let dates: std::collections::HashSet<&str> =
        entries.iter().map(|e| e["date"].as_str().unwrap()).collect();
    assert_eq!(dates.len(), 1, "one day: {dates:?}");
    let inbound = api("GET", "/mail/inbound", "");
    let mut via: Vec<&str> =
        inbound["inbound"].as_array().unwrap().iter().map(|m| m["received_via"].as_str().unwrap()).collect();
    via.sort_unstable();
    assert_eq!(via, ["imap", "mailgun", "postmark", "sendgrid", "smtp"]);

    // The reader turns the digest on: it goes out through Postfix, blockers first.
    let dee = api("GET", "/checkins/members", "")["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == format!("dee@{PEOPLE}"))
        .unwrap()["user"]
        .as_str()
        .unwrap()
        .to_owned();
    api("PATCH", &format!("/checkins/members/{dee}"), r#"{"digest": true}"#);
    let digest = wait_for(&sink, "the digest", |d| {
        d.iter().find(|m| m.rcpt_to[0] == format!("dee@{PEOPLE}")).cloned()
    });
    let digest = text(&digest);
    let blockers = digest.find("waiting on legal").expect("the blocker is in the digest");
    let done = digest.find("Interviewed two candidates").expect("Cai's entry is in the digest");
    assert!(blockers < done, "blockers come first: {digest}");
    for line in
        ["Shipped the export #billing", "closed the quarter", "plan the offsite", "Reviewed the roadmap @ana"]
    {
        assert!(digest.contains(line), "{line} is missing from the digest: {digest}");
    }
    let outbox = api("GET", "/mail/outbox", "");
    assert_eq!(outbox["counts"]["sent"].as_i64(), Some(6), "five prompts and a digest: {outbox}");
    drop(server);
}

#[test]
fn relay_refusals_are_deferred_or_failed_and_every_attempt_is_kept_and_the_silent_are_reminded() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let backend = runtime.block_on(TestBackend::new(BackendKind::Sqlite)).expect("sqlite");
    let Some(sink) = SmtpSink::start() else { return };
    let (workspace, master) = runtime.block_on(async {
        let switchboard = Switchboard::open(&backend.config()).await.unwrap();
        let first = switchboard.first_start(&format!("owner@{PEOPLE}")).await.unwrap().unwrap();
        let created = first.workspace.unwrap();
        let access = switchboard.operator_access(created.workspace.id).await.unwrap();
        for who in ["defer-kim", "reject-lou"] {
            switchboard.create_user(&format!("{who}@{PEOPLE}"), Some(who), None).await.unwrap();
            switchboard.add_member(&access, &format!("{who}@{PEOPLE}"), Role::Member).await.unwrap();
        }
        // A zone where it is about noon, so that "three minutes ago" and "a minute ago" are
        // both today: the prompt is due, and so is the reminder to whoever has not answered.
        let offset = 12 - i64::from(chrono::Timelike::hour(&chrono::Utc::now()));
        let zone = match offset {
            0 => "UTC".to_owned(),
            n if n > 0 => format!("Etc/GMT-{n}"),
            n => format!("Etc/GMT+{}", -n),
        };
        let now = chrono::Utc::now().with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap()).time();
        let ago = |minutes| (now - chrono::Duration::minutes(minutes)).format("%H:%M").to_string();
        let settings = CheckinSettingsPatch {
            prompt_time: Some(ago(3)),
            reminder_time: Some(Some(ago(1))),
            ..due_settings(&zone)
        };
        switchboard.update_checkin_settings(&access, settings).await.unwrap();
        switchboard.close().await;
        (created.workspace.id, created.master.secret)
    });
    let mut server = command(&backend);
    server.args(["--smtp-relay", &format!("smtp://127.0.0.1:{}", sink.port()), "--mail-domain", DOMAIN]);
    let server = Server::start_with(server);
    let auth = format!("Bearer {master}");
    let outbox = |state: &str| {
        let response = server.request(
            "GET",
            &format!("/api/v1/workspaces/{workspace}/mail/outbox?state={state}"),
            &[("Authorization", &auth)],
            "",
        );
        serde_json::from_str::<Value>(&response.body).unwrap()["mail"].as_array().unwrap().clone()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox("deferred").is_empty() || outbox("failed").is_empty() || outbox("sent").is_empty() {
        assert!(
            Instant::now() < deadline,
            "states: sent {:?} deferred {:?} failed {:?}",
            outbox("sent"),
            outbox("deferred"),
            outbox("failed")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let deferred = &outbox("deferred")[0];
    assert_eq!(
        (deferred["recipient"].as_str(), deferred["last_code"].as_i64()),
        (Some("defer-kim@day.test"), Some(451))
    );
    assert!(
        deferred["next_attempt_at"].as_str().unwrap() > deferred["updated_at"].as_str().unwrap(),
        "retried later"
    );
    let failed = &outbox("failed")[0];
    assert_eq!(
        (failed["recipient"].as_str(), failed["last_code"].as_i64()),
        (Some("reject-lou@day.test"), Some(550))
    );
    let detail = server.request(
        "GET",
        &format!("/api/v1/workspaces/{workspace}/mail/outbox/{}", failed["id"].as_str().unwrap()),
        &[("Authorization", &auth)],
        "",
    );
    let detail: Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(detail["attempts"][0]["enhanced"], "5.1.1", "{detail}");
    let suppressions = server.request(
        "GET",
        &format!("/api/v1/workspaces/{workspace}/mail/suppressions"),
        &[("Authorization", &auth)],
        "",
    );
    assert!(
        suppressions.body.contains("reject-lou@day.test"),
        "a 5.1.1 refusal suppresses the address: {}",
        suppressions.body
    );
    // The owner, prompted and silent, is reminded; Kim (prompt deferred) and Lou (failed) are not.
    let reminded = wait_for(&sink, "the owner's reminder", |d| (d.len() >= 2).then(|| d.to_vec()));
    let to: Vec<&str> = reminded.iter().map(|m| m.rcpt_to[0].as_str()).collect();
    assert_eq!(
        to,
        [format!("owner@{PEOPLE}"), format!("owner@{PEOPLE}")],
        "the prompt and its reminder only"
    );
    assert!(text(&reminded[1]).contains("Anything done today?"), "{}", text(&reminded[1]));
    std::thread::sleep(Duration::from_secs(16));
    assert_eq!(sink.deliveries().len(), 2, "one reminder, once, and none to those not prompted");
}

fn due_settings(zone: &str) -> CheckinSettingsPatch {
    let now = chrono::Utc::now().with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap()).time();
    let due = now.overflowing_sub_signed(chrono::Duration::minutes(2)).0.min(now).format("%H:%M").to_string();
    CheckinSettingsPatch {
        enabled: Some(true),
        timezone: Some(zone.into()),
        prompt_time: Some(due.clone()),
        digest_time: Some(due),
        workdays: Some("1234567".into()),
        ..CheckinSettingsPatch::default()
    }
}

/// The members, prompts due now in UTC−10, and the reader in UTC+14 with the digest off.
async fn seed(backend: &TestBackend) -> (sb_types::WorkspaceId, String) {
    let switchboard = Switchboard::open(&backend.config()).await.unwrap();
    let first = switchboard.first_start(&format!("owner@{PEOPLE}")).await.unwrap().unwrap();
    let created = first.workspace.unwrap();
    let access = switchboard.operator_access(created.workspace.id).await.unwrap();
    for (who, role) in [
        ("ana", Role::Member),
        ("bea", Role::Member),
        ("cai", Role::Member),
        ("eve", Role::Member),
        ("dee", Role::Viewer),
    ] {
        switchboard.create_user(&format!("{who}@{PEOPLE}"), Some(who), None).await.unwrap();
        switchboard.add_member(&access, &format!("{who}@{PEOPLE}"), role).await.unwrap();
    }
    switchboard.update_checkin_settings(&access, due_settings("Etc/GMT+10")).await.unwrap();
    let dee = switchboard
        .members(&access)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user.email.as_str() == format!("dee@{PEOPLE}"))
        .unwrap();
    let reader = CheckinMemberPatch {
        timezone: Some(Some("Etc/GMT-14".into())),
        digest: Some(false),
        ..CheckinMemberPatch::default()
    };
    switchboard.update_checkin_member(&access, &dee.user.id.to_string(), reader).await.unwrap();
    switchboard.close().await;
    (created.workspace.id, created.master.secret)
}

fn text(delivery: &SinkDelivery) -> String {
    String::from_utf8_lossy(&delivery.data).into_owned()
}

/// Polls the sink until `found` finds what it waits for (at most 90 s).
fn wait_for<T>(sink: &SmtpSink, what: &str, found: impl Fn(&[SinkDelivery]) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = found(&sink.deliveries()) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not arrive; the sink has {} messages",
            sink.deliveries().len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Sends `raw` over SMTP with Python's smtplib, a client that is not ours.
fn smtplib(port: u16, from: &str, to: &str, raw: &str) {
    let script = format!(
        "import smtplib, sys\ns = smtplib.SMTP('127.0.0.1', {port})\ns.sendmail({from:?}, [{to:?}], sys.stdin.buffer.read())\ns.quit()\n"
    );
    let mut child =
        Command::new("python3").args(["-c", &script]).stdin(Stdio::piped()).spawn().expect("python3 runs");
    child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "smtplib could not send to port {port}");
}

fn mailgun_form(raw: &str, to: &str) -> String {
    let timestamp = (chrono::Utc::now().timestamp()).to_string();
    let token = "d".repeat(50);
    let mut mac = Hmac::<Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("recipient", to),
            ("sender", "eve@day.test"),
            ("timestamp", &timestamp),
            ("token", &token),
            ("signature", &signature),
            ("body-mime", raw),
        ])
        .finish()
}

fn sendgrid_form(raw: &str, to: &str) -> (String, String) {
    let boundary = "dayBoundary";
    let envelope = json!({"to": [to], "from": "owner@day.test"}).to_string();
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{envelope}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{raw}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}
