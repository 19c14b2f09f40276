//! A real MTA delivers to the listener: Postfix takes a message on its SMTP port and relays
//! it (its `relayhost`) to our listener, which must speak well enough for Postfix to hand it
//! over and mark it sent.

use std::time::Duration;

use sb_test_support::dovecot::free_port;
use sb_test_support::postfix::Postfix;

use crate::client::{Client, data_section};
use crate::listener;

#[tokio::test]
async fn postfix_relays_a_message_to_the_listener() {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = socket.local_addr().expect("address").port();
    // No LMTP server is needed: nothing here is addressed to Postfix's LMTP domain.
    let Some(postfix) = Postfix::start(port, free_port()) else { return };
    let server = listener::start_on(socket, listener::config()).await;

    let postfix_addr = ([127, 0, 0, 1], postfix.smtp_port()).into();
    let mut client = Client::connect(postfix_addr).await;
    client.envelope("ana@acme.example", "checkins+token@switchboard.test").await;
    client.expect("DATA", "354").await;
    let message = b"From: ana@acme.example\r\nTo: checkins+token@switchboard.test\r\nSubject: through postfix\r\nMessage-ID: <postfix-1@acme.example>\r\n\r\nShipped it.\r\n.dot line\r\n";
    client.send(&data_section(message)).await;
    let queued = client.reply().await;
    assert!(queued.starts_with("250"), "postfix refused the message: {queued}\n{}", postfix.log());
    client.expect("QUIT", "221").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.sink.mails().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "postfix did not deliver to the listener:\n{}",
            postfix.log()
        );
        postfix.flush();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mails = server.sink.mails();
    let mail = &mails[0];
    assert_eq!(mail.envelope_from.as_deref(), Some("ana@acme.example"));
    assert_eq!(mail.envelope_to, ["checkins+token@switchboard.test"]);
    let raw = String::from_utf8_lossy(&mail.raw);
    assert!(raw.starts_with("Received: from mta.example.test (127.0.0.1)"), "{raw}");
    assert!(raw.contains("by mta.example.test (Postfix)"), "postfix's own trace line: {raw}");
    assert!(
        raw.contains("Subject: through postfix\r\n") && raw.ends_with("\r\nShipped it.\r\n.dot line\r\n"),
        "{raw}"
    );
    // Postfix logs the hand-off as sent once our 250 arrived.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !postfix.log().contains("status=sent") {
        assert!(tokio::time::Instant::now() < deadline, "no status=sent in:\n{}", postfix.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
