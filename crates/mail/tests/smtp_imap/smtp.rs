//! The listener's protocol, driven byte by byte: delivery, pipelining, refusals, limits,
//! dot-stuffing, bare LF, timeouts and hang-ups.

use std::time::Duration;

use sb_mail::SinkError;

use crate::client::{Client, data_section};
use crate::listener::{self, DOMAIN};

const MESSAGE: &[u8] = b"From: Ana <ana@acme.example>\r\nTo: checkins@switchboard.test\r\nSubject: done today\r\n\r\nShipped the importer.\r\n";

#[tokio::test]
async fn ehlo_advertises_the_extensions_and_a_message_is_delivered_with_its_envelope() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    let ehlo = client.command("EHLO client.test").await;
    for extension in ["SIZE 41943040", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "SMTPUTF8"] {
        assert!(ehlo.lines().any(|line| line[4..] == *extension), "{extension} missing from {ehlo}");
    }
    client.expect("MAIL FROM:<ana@acme.example> BODY=8BITMIME", "250 2.1.0").await;
    client.expect("RCPT TO:<checkins@Switchboard.TEST>", "250 2.1.5").await;
    client.expect("RCPT TO:<postmaster>", "250 2.1.5").await;
    client.expect("DATA", "354").await;
    client.send(&data_section(MESSAGE)).await;
    assert!(client.reply().await.starts_with("250 2.0.0"));
    client.expect("QUIT", "221").await;

    let sink = server.stop().await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.envelope_from.as_deref(), Some("ana@acme.example"));
    assert_eq!(mail.envelope_to, ["checkins@switchboard.test", "postmaster"]);
    assert!(
        mail.raw
            .starts_with(b"Received: from client.test (127.0.0.1)\r\n\tby mx.switchboard.test with ESMTP; ")
    );
    assert!(mail.raw.ends_with(MESSAGE), "the message is stored byte for byte after our Received line");
    assert!(mail.peer.ip().is_loopback());
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client
        .send(b"EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<a@switchboard.test>\r\nRCPT TO:<b@elsewhere.test>\r\nRCPT TO:<c@switchboard.test>\r\nDATA\r\n")
        .await;
    let replies = [
        client.reply().await,
        client.reply().await,
        client.reply().await,
        client.reply().await,
        client.reply().await,
        client.reply().await,
    ];
    let codes: Vec<&str> =
        replies.iter().map(|reply| &reply[reply.rfind('\n').map_or(0, |at| at + 1)..][..9]).collect();
    assert_eq!(codes, ["250 SMTPU", "250 2.1.0", "250 2.1.5", "550 5.7.1", "250 2.1.5", "354 end d"]);
    let mut rest = data_section(MESSAGE);
    rest.extend_from_slice(b"RSET\r\nNOOP\r\nQUIT\r\n");
    client.send(&rest).await;
    for expected in ["250 2.0.0 message accepted", "250 2.0.0 reset", "250 2.0.0 ok", "221 2.0.0"] {
        let reply = client.reply().await;
        assert!(reply.starts_with(expected), "{reply} instead of {expected}");
    }
    let sink = server.stop().await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].envelope_from, None, "the null sender is kept as None");
    assert_eq!(mails[0].envelope_to, ["a@switchboard.test", "c@switchboard.test"]);
}

#[tokio::test]
async fn relaying_and_unknown_recipients_are_refused_and_commands_out_of_order_get_503() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client.expect("MAIL FROM:<ana@acme.example>", "503 5.5.1").await;
    client.expect("HELO client.test", "250 mx.switchboard.test").await;
    client.expect("RCPT TO:<a@switchboard.test>", "503 5.5.1").await;
    client.expect("DATA", "503 5.5.1").await;
    client.expect("MAIL FROM:<ana@acme.example>", "250").await;
    client.expect("MAIL FROM:<ana@acme.example>", "503 5.5.1 nested").await;
    client.expect("RCPT TO:<someone@gmail.example>", "550 5.7.1 relaying denied").await;
    client.expect("RCPT TO:<a@sub.switchboard.test>", "550 5.7.1").await;
    client.expect("RCPT TO:<nobody@switchboard.test>", "550 5.1.1").await;
    client.expect("DATA", "503 5.5.1 no valid recipients").await;
    client.expect("RCPT TO:<a@switchboard.test> NOTIFY=NEVER", "555 5.5.4").await;
    client.expect("RCPT TO:a@switchboard.test", "501 5.5.4").await;
    client.expect("VRFY ana", "252").await;
    client.expect("STARTTLS", "502 5.5.1").await;
    client.expect("FROB", "500 5.5.1").await;
    client.expect("NOOP", "250").await;
    // The tenth refused command is answered, then the client is let go.
    client.expect(&format!("NOOP {}", "x".repeat(3000)), "500 5.5.2 line too long").await;
    assert!(client.reply().await.starts_with("421 4.7.0 too many errors"));
    assert_eq!(client.reply().await, "", "closed after too many errors");
    assert!(server.stop().await.mails().is_empty());
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_the_session_goes_on() {
    let mut config = listener::config();
    config.max_message_bytes = 10_000;
    let server = listener::start(config).await;
    let mut client = Client::connect(server.addr).await;
    client.expect("EHLO client.test", "250").await;
    client.expect("MAIL FROM:<ana@acme.example> SIZE=10001", "552 5.3.4").await;
    client.expect("MAIL FROM:<ana@acme.example> SIZE=9000", "250").await;
    client.expect(&format!("RCPT TO:<a@{DOMAIN}>"), "250").await;
    client.expect("DATA", "354").await;
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() <= 10_000 {
        big.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    // One line far longer than the limit too: it is read through, not stored.
    big.extend_from_slice(&[b'y'; 50_000]);
    big.extend_from_slice(b"\r\n.last line\r\n");
    client.send(&data_section(&big)).await;
    assert!(client.reply().await.starts_with("552 5.3.4"));
    // The transaction is over but the connection is in step: a small message goes through.
    client.expect("NOOP", "250").await;
    client.expect("MAIL FROM:<ana@acme.example>", "250").await;
    client.expect(&format!("RCPT TO:<a@{DOMAIN}>"), "250").await;
    client.expect("DATA", "354").await;
    client.send(&data_section(MESSAGE)).await;
    assert!(client.reply().await.starts_with("250 2.0.0"));
    let mails = server.stop().await.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].raw.ends_with(MESSAGE));
}

#[tokio::test]
async fn dot_stuffed_lines_come_back_as_sent() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client.envelope("ana@acme.example", "a@switchboard.test").await;
    let message: &[u8] = b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...three\r\n. space\r\nend.\r\n.\r\n";
    client.expect("DATA", "354").await;
    client.send(&data_section(message)).await;
    assert!(client.reply().await.starts_with("250"));
    let mails = server.stop().await.mails();
    assert!(mails[0].raw.ends_with(message), "{}", String::from_utf8_lossy(&mails[0].raw));
}

#[tokio::test]
async fn a_25_megabyte_message_is_received_whole() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client.envelope("ana@acme.example", "a@switchboard.test").await;
    let mut message = b"Subject: attachment\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while message.len() < 25_000_000 {
        message.extend_from_slice(line);
    }
    client.expect("DATA", "354").await;
    client.send(&data_section(&message)).await;
    let reply = tokio::time::timeout(Duration::from_secs(60), client.reply()).await.expect("answered");
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let mails = server.stop().await.mails();
    assert!(mails[0].raw.len() > 25_000_000);
    assert!(mails[0].raw.ends_with(&message));
}

#[tokio::test]
async fn bare_line_feeds_in_a_message_are_refused_and_the_connection_closed() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    // Commands may end in a bare LF: only message text is where smuggling hides.
    client
        .send(b"EHLO client.test\nMAIL FROM:<ana@acme.example>\nRCPT TO:<a@switchboard.test>\nDATA\n")
        .await;
    for expected in ["250", "250", "250", "354"] {
        let reply = client.reply().await;
        assert!(reply.starts_with(expected), "{reply}");
    }
    client.send(b"Subject: bare\n\nline one\n.\nMAIL FROM:<smuggled@acme.example>\r\n").await;
    assert!(client.reply().await.starts_with("554 5.5.2"));
    assert_eq!(client.reply().await, "", "closed after the refusal; the smuggled command is never read");
    assert!(server.stop().await.mails().is_empty());
}

#[tokio::test]
async fn a_connection_dropped_mid_message_delivers_nothing() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client.envelope("ana@acme.example", "a@switchboard.test").await;
    client.expect("DATA", "354").await;
    client.send(b"Subject: cut\r\n\r\nhalf a mess").await;
    drop(client);
    // Stopping waits for every session to end, so the dropped one has been handled.
    assert!(server.stop().await.mails().is_empty());
}

#[tokio::test]
async fn the_sink_decides_between_451_and_554_and_only_its_ok_earns_250() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    for (failure, expected) in [
        (SinkError::Transient("storage unavailable".into()), "451 4.3.0 storage unavailable"),
        (SinkError::Permanent("no such\r\ncheck-in".into()), "554 5.6.0 no such  check-in"),
    ] {
        *server.sink.failure.lock().expect("lock") = Some(failure);
        client.expect("RSET", "250").await;
        client.envelope("ana@acme.example", "a@switchboard.test").await;
        client.expect("DATA", "354").await;
        client.send(&data_section(MESSAGE)).await;
        assert_eq!(client.reply().await, expected);
    }
    assert!(server.stop().await.mails().is_empty());
}

#[tokio::test]
async fn idle_clients_are_timed_out_with_421() {
    let mut config = listener::config();
    config.idle_timeout = Duration::from_millis(300);
    let server = listener::start(config).await;
    let mut client = Client::connect(server.addr).await;
    let reply =
        tokio::time::timeout(Duration::from_secs(5), client.reply()).await.expect("timed out by the server");
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert_eq!(client.reply().await, "");
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_told_to_come_back() {
    let mut config = listener::config();
    config.max_connections = 1;
    let server = listener::start(config).await;
    let mut first = Client::connect(server.addr).await;
    let mut second = Client::connect_raw(server.addr).await;
    assert!(second.reply().await.starts_with("421 4.7.0"));
    first.expect("NOOP", "250").await;
    first.expect("QUIT", "221").await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_tells_idle_clients_421_and_waits_for_them() {
    let server = listener::start(listener::config()).await;
    let mut client = Client::connect(server.addr).await;
    client.expect("EHLO client.test", "250").await;
    let stopping = tokio::spawn(server.stop());
    assert!(client.reply().await.starts_with("421 4.3.2"));
    stopping.await.expect("stopped");
}
