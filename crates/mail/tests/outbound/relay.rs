//! `Relay` against real servers: aiosmtpd (`sb_test_support::smtp_sink`) accepting,
//! deferring and rejecting; a closed port; a server that never answers; TLS spoken to a
//! plain-text server. Tests skip, with a printed reason, when aiosmtpd is not installed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sb_mail::{Relay, RelayConfig, RelayFailure, RelaySecurity, Throttle};
use sb_test_support::smtp_sink::SmtpSink;

use super::building::{checkin, parse_back};
use super::signing::{public_key, signer};
use super::verify::verify;

const BOUNCES: &str = "bounce+tok123@switchboard.test";

fn config(port: u16) -> RelayConfig {
    let mut config: RelayConfig = format!("smtp://127.0.0.1:{port}?timeout=10").parse().expect("relay url");
    config.helo_name = Some("sender.switchboard.test".into());
    config
}

fn relay(port: u16) -> Relay {
    Relay::new(&config(port)).expect("relay")
}

async fn send_to(relay: &Relay, recipient: &str) -> Result<sb_mail::RelayReply, RelayFailure> {
    let bytes = checkin().to_bytes(None).expect("builds");
    relay.send(BOUNCES, &[recipient.to_owned()], &bytes).await
}

#[tokio::test]
async fn a_signed_message_arrives_byte_for_byte() {
    let Some(sink) = SmtpSink::start() else { return };
    let mail = sb_mail::OutgoingMail {
        // Lines starting with a dot exercise SMTP dot-stuffing on the way.
        text: ".starts with a dot\n..and two\n.\nOlá, 今日は\n".into(),
        ..checkin()
    };
    let bytes = mail.to_bytes(Some(&signer())).expect("builds");
    let reply =
        relay(sink.port()).send(BOUNCES, &["ana@acme.test".to_owned()], &bytes).await.expect("accepted");
    assert_eq!(reply.code, 250);
    assert!(reply.text.starts_with("2.0.0 Ok: queued as SINK"), "{}", reply.text);

    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.mail_from, BOUNCES);
    assert_eq!(delivery.rcpt_to, ["ana@acme.test"]);
    let differs = delivery.data.iter().zip(&bytes).position(|(a, b)| a != b);
    assert!(
        delivery.data == bytes,
        "the stored message ({} bytes) differs from the one sent ({} bytes) from byte {differs:?}:\n{}",
        delivery.data.len(),
        bytes.len(),
        String::from_utf8_lossy(&delivery.data[differs.unwrap_or(0).saturating_sub(40)..])
            .replace('\r', "\\r")
    );
    let parsed = parse_back(&delivery.data);
    assert_eq!(parsed.message_id.as_deref(), Some(mail.message_id.as_str()));
    assert_eq!(parsed.text.replace("\r\n", "\n"), mail.text);
    verify(&delivery.data, &public_key()).expect("the signature survives the trip");
}

#[tokio::test]
async fn one_relay_sends_many_in_parallel_through_its_pool() {
    let Some(sink) = SmtpSink::start() else { return };
    let relay = relay(sink.port());
    let throttle = Throttle::new(0, 3);
    let mut tasks = Vec::new();
    for n in 0..24 {
        let (relay, throttle) = (relay.clone(), throttle.clone());
        tasks.push(tokio::spawn(async move {
            let mail = sb_mail::OutgoingMail {
                message_id: format!("checkin.{n}@switchboard.test"),
                to: sb_mail::Mailbox { name: None, address: format!("member{n}@team{}.test", n % 4) },
                ..checkin()
            };
            let _permit = throttle.acquire(&format!("team{}.test", n % 4)).await;
            let bytes = mail.to_bytes(None).expect("builds");
            relay.send(BOUNCES, std::slice::from_ref(&mail.to.address), &bytes).await.expect("accepted").code
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), 250);
    }
    let ids: BTreeSet<String> =
        sink.messages().iter().map(|m| parse_back(m).message_id.expect("message id")).collect();
    let expected: BTreeSet<String> = (0..24).map(|n| format!("checkin.{n}@switchboard.test")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn replies_map_to_transient_or_permanent() {
    let Some(sink) = SmtpSink::start() else { return };
    let relay = relay(sink.port());
    let check = |failure: RelayFailure, permanent: bool, code: u16, enhanced: &str| {
        assert_eq!(failure.permanent, permanent, "{failure}");
        assert_eq!(failure.code, Some(code), "{failure}");
        assert_eq!(failure.enhanced.as_deref(), Some(enhanced), "{failure}");
        assert!(failure.text.starts_with(enhanced), "the server's text: {failure}");
    };
    check(send_to(&relay, "defer@acme.test").await.expect_err("451"), false, 451, "4.3.0");
    check(send_to(&relay, "reject@acme.test").await.expect_err("550"), true, 550, "5.1.1");
    check(send_to(&relay, "datadefer@acme.test").await.expect_err("451"), false, 451, "4.3.2");
    check(send_to(&relay, "datareject@acme.test").await.expect_err("554"), true, 554, "5.6.0");
    assert!(sink.messages().is_empty(), "refused mail is not stored");
    // The pooled connection is still good for the next message after refusals.
    assert_eq!(send_to(&relay, "ana@acme.test").await.expect("accepted").code, 250);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let failure = send_to(&relay(port), "ana@acme.test").await.expect_err("nothing listens");
    assert!(!failure.permanent, "{failure}");
    assert_eq!((failure.code, failure.enhanced.as_deref()), (None, None));
    assert!(!failure.text.is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    // The kernel accepts the connection into the backlog; nobody ever reads or writes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let mut config = config(port);
    config.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let failure = send_to(&Relay::new(&config).expect("relay"), "ana@acme.test").await.expect_err("silence");
    assert!(!failure.permanent, "{failure}");
    assert_eq!(failure.code, None);
    assert!(started.elapsed() < Duration::from_secs(8), "the timeout applied: {:?}", started.elapsed());
    drop(listener);
}

#[tokio::test]
async fn tls_failures_are_transient() {
    let Some(sink) = SmtpSink::start() else { return };
    for security in [RelaySecurity::Tls, RelaySecurity::StartTls] {
        let config = RelayConfig { security, host: "127.0.0.1".into(), ..config(sink.port()) };
        let failure =
            send_to(&Relay::new(&config).expect("relay"), "ana@acme.test").await.expect_err("no tls");
        assert!(!failure.permanent, "{security:?}: {failure}");
        assert_eq!(failure.code, None, "{security:?}: {failure}");
    }
    assert!(sink.messages().is_empty(), "nothing went out in plain text");
}

#[tokio::test]
async fn an_unusable_envelope_is_permanent_and_never_sent() {
    let Some(sink) = SmtpSink::start() else { return };
    let relay = relay(sink.port());
    let bytes = checkin().to_bytes(None).expect("builds");
    for (from, to) in
        [(BOUNCES, vec!["not an address".to_owned()]), ("bad@", vec!["ana@acme.test".to_owned()])]
    {
        let failure = relay.send(from, &to, &bytes).await.expect_err("bad envelope");
        assert!(failure.permanent && failure.code.is_none(), "{failure}");
    }
    let failure = relay.send(BOUNCES, &[], &bytes).await.expect_err("no recipient");
    assert!(failure.permanent, "{failure}");
    // The null sender is how bounces are sent.
    assert_eq!(relay.send("", &["ana@acme.test".to_owned()], &bytes).await.expect("accepted").code, 250);
    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].mail_from, "");
}
