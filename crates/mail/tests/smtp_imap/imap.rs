//! The IMAP poller against a real Dovecot: a bounded first import, incremental fetches by
//! UID, a renumbered mailbox, refused logins and missing mailboxes, TLS failures, and IDLE
//! waking up when a message arrives by LMTP.

use std::time::{Duration, Instant};

use sb_mail::{ImapConfig, ImapCursor, ImapError, fetch_new, wait_for_mail};
use sb_test_support::dovecot::Dovecot;
use sb_types::ErrorKind;

fn config(dovecot: &Dovecot) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port: dovecot.imap_port(),
        tls: false,
        username: Dovecot::USER.into(),
        password: Dovecot::PASSWORD.into(),
        mailbox: "INBOX".into(),
        first_import_limit: 3,
    }
}

fn message(n: u32) -> Vec<u8> {
    format!("From: ana@acme.example\r\nTo: alice@example.test\r\nSubject: message {n}\r\nMessage-ID: <m{n}@acme.example>\r\n\r\nbody {n}\r\n.\r\n")
        .into_bytes()
}

fn subjects(mails: &[sb_mail::FetchedMail]) -> Vec<u32> {
    mails
        .iter()
        .map(|mail| {
            let text = String::from_utf8_lossy(&mail.raw);
            let at = text.find("Subject: message ").expect("subject") + "Subject: message ".len();
            text[at..].split_whitespace().next().expect("number").parse().expect("number")
        })
        .collect()
}

#[tokio::test]
async fn first_import_is_bounded_then_fetches_are_incremental_by_uid() {
    let Some(dovecot) = Dovecot::start() else { return };
    let config = config(&dovecot);
    for n in 1..=5 {
        dovecot.append(&message(n)).await;
    }
    let (mails, cursor) = fetch_new(&config, None).await.expect("first fetch");
    assert_eq!(subjects(&mails), [3, 4, 5], "only the newest first_import_limit");
    assert!(mails.windows(2).all(|pair| pair[0].uid < pair[1].uid));
    assert_eq!(cursor.last_uid, mails[2].uid);
    assert_eq!(mails[0].raw, message(3), "the raw message, byte for byte");

    for n in 6..=7 {
        dovecot.append(&message(n)).await;
    }
    let (mails, next) = fetch_new(&config, Some(cursor)).await.expect("second fetch");
    assert_eq!(subjects(&mails), [6, 7]);
    assert_eq!(next.uid_validity, cursor.uid_validity);

    let (mails, same) = fetch_new(&config, Some(next)).await.expect("third fetch");
    assert!(mails.is_empty());
    assert_eq!(same, next);

    // A cursor from before the server renumbered the mailbox is not trusted.
    let renumbered = ImapCursor { uid_validity: cursor.uid_validity.wrapping_add(1), last_uid: 1_000 };
    let (mails, restarted) =
        fetch_new(&config, Some(renumbered)).await.expect("fetch after a uidvalidity change");
    assert_eq!(subjects(&mails), [5, 6, 7], "a new UIDVALIDITY restarts with a bounded import");
    assert_eq!(restarted, next);
}

#[tokio::test]
async fn wrong_passwords_missing_mailboxes_and_tls_mismatches_are_clear_errors() {
    let Some(dovecot) = Dovecot::start() else { return };
    let mut wrong = config(&dovecot);
    wrong.password = "not-the-password".into();
    let error = fetch_new(&wrong, None).await.expect_err("refused");
    assert!(matches!(error, ImapError::Login(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Unauthenticated);
    assert!(error.to_string().starts_with("the imap server refused the login"), "{error}");

    let mut missing = config(&dovecot);
    missing.mailbox = "Nowhere".into();
    let error = fetch_new(&missing, None).await.expect_err("no such mailbox");
    assert!(matches!(error, ImapError::Mailbox(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::NotFound);

    // TLS against the plain-text port: the handshake fails, and says so.
    let mut tls = config(&dovecot);
    tls.tls = true;
    let error = fetch_new(&tls, None).await.expect_err("not a TLS port");
    assert!(matches!(error, ImapError::Tls(_)), "{error:?}");

    let mut closed = config(&dovecot);
    closed.port = sb_test_support::dovecot::free_port();
    let error = fetch_new(&closed, None).await.expect_err("nothing listens");
    assert!(matches!(error, ImapError::Connect(_)), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn idle_wakes_up_when_a_message_arrives_by_lmtp() {
    let Some(dovecot) = Dovecot::start() else { return };
    let config = config(&dovecot);
    let (mails, cursor) = fetch_new(&config, None).await.expect("empty mailbox");
    assert!(mails.is_empty());

    let started = Instant::now();
    assert!(!wait_for_mail(&config, Some(cursor), Duration::from_millis(500)).await.expect("wait"));
    assert!(started.elapsed() >= Duration::from_millis(500), "no mail: waits the whole timeout");

    let waiting = {
        let config = config.clone();
        tokio::spawn(async move { wait_for_mail(&config, Some(cursor), Duration::from_secs(60)).await })
    };
    // Give the poller time to be idling before the message arrives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let delivered = Instant::now();
    dovecot.deliver(&message(1)).await;
    let woken = tokio::time::timeout(Duration::from_secs(20), waiting).await.expect("woken before 20 s");
    assert!(woken.expect("task").expect("wait"), "woken by the new message");
    assert!(delivered.elapsed() < Duration::from_secs(10));

    let (mails, after) = fetch_new(&config, Some(cursor)).await.expect("fetch the delivered message");
    assert_eq!(subjects(&mails), [1]);
    // A message already there when the wait starts answers at once.
    assert!(wait_for_mail(&config, Some(cursor), Duration::from_secs(60)).await.expect("wait"));
    assert!(!wait_for_mail(&config, Some(after), Duration::from_millis(200)).await.expect("wait"));
}
