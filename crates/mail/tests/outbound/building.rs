//! `OutgoingMail::to_bytes` parsed back by this crate's own parser (and mail-parser for the
//! headers `InboundMail` does not keep): every header, both bodies, non-ASCII text.

use mail_parser::MessageParser;
use sb_mail::{InboundMail, ListUnsubscribe, MailError, Mailbox, OutgoingMail, parse};

/// A check-in prompt as the sender will build it.
pub fn checkin() -> OutgoingMail {
    OutgoingMail {
        message_id: "checkin.t1.u1.2026-11-20@switchboard.test".into(),
        from: Mailbox {
            name: Some("Switchboard Check-ins".into()),
            address: "checkins@switchboard.test".into(),
        },
        to: Mailbox { name: Some("Ana Souza".into()), address: "ana@acme.test".into() },
        reply_to: Some(Mailbox { name: None, address: "checkin+tok123@in.switchboard.test".into() }),
        subject: "What did you get done today?".into(),
        date_unix: 1_795_000_000,
        text: "Reply to this email with what you got done.\n\n- one line per done\n\nThanks!\n".into(),
        html: Some(
            "<p>Reply to this email with what you got done.</p>\n<ul><li>one line per done</li></ul>\n"
                .into(),
        ),
        in_reply_to: None,
        list_unsubscribe: Some(ListUnsubscribe {
            https: "https://switchboard.test/u/Zm9vYmFy.c2lnbmF0dXJl".into(),
            mailto: Some("mailto:unsubscribe+Zm9vYmFy@switchboard.test".into()),
        }),
        auto_submitted: true,
    }
}

/// Checks the bytes' shape (CRLF only, no line over 998, ASCII headers) and parses them.
pub fn parse_back(bytes: &[u8]) -> InboundMail {
    for (at, pair) in bytes.windows(2).enumerate() {
        if pair[1] == b'\n' {
            assert_eq!(pair[0], b'\r', "bare LF at byte {}", at + 1);
        }
    }
    for line in bytes.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "a line of {} bytes", line.len());
    }
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a blank line after the headers");
    assert!(bytes[..end].is_ascii(), "headers are ASCII (RFC 2047 for the rest)");
    parse(bytes).expect("the built message parses")
}

/// A header's value as mail-parser keeps it, unfolded and trimmed.
pub fn raw_header(bytes: &[u8], name: &str) -> Option<String> {
    let message = MessageParser::default().parse(bytes).expect("parses");
    message.header_raw(name).map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn crlf_to_lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

#[test]
fn every_header_and_both_bodies_parse_back() {
    let mail = checkin();
    let bytes = mail.to_bytes(None).expect("builds");
    let parsed = parse_back(&bytes);
    assert_eq!(parsed.message_id.as_deref(), Some("checkin.t1.u1.2026-11-20@switchboard.test"));
    let from = parsed.from.as_ref().expect("from");
    assert_eq!(from.address.as_deref(), Some("checkins@switchboard.test"));
    assert_eq!(from.name.as_deref(), Some("Switchboard Check-ins"));
    assert_eq!(parsed.to.len(), 1);
    assert_eq!(parsed.to[0].address.as_deref(), Some("ana@acme.test"));
    assert_eq!(parsed.to[0].name.as_deref(), Some("Ana Souza"));
    assert_eq!(parsed.reply_to.len(), 1);
    assert_eq!(parsed.reply_to[0].address.as_deref(), Some("checkin+tok123@in.switchboard.test"));
    assert_eq!(parsed.subject.as_deref(), Some("What did you get done today?"));
    assert_eq!(parsed.date.as_ref().map(|d| d.unix), Some(1_795_000_000));
    assert!(parsed.in_reply_to.is_empty() && parsed.references.is_empty());
    assert_eq!(crlf_to_lf(&parsed.text), mail.text);
    assert!(!parsed.text_from_html);
    assert_eq!(parsed.html.as_deref().map(crlf_to_lf), mail.html);
    assert!(parsed.flaws.is_empty(), "{:?}", parsed.flaws);
    // Our own auto-reply detection sees the Auto-Submitted header, as a receiver's would.
    assert!(parsed.is_auto_reply());

    let header = |name| raw_header(&bytes, name);
    assert_eq!(
        header("List-Unsubscribe").as_deref(),
        Some(
            "<https://switchboard.test/u/Zm9vYmFy.c2lnbmF0dXJl>, <mailto:unsubscribe+Zm9vYmFy@switchboard.test>"
        )
    );
    assert_eq!(header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert_eq!(header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert_eq!(header("X-Auto-Response-Suppress").as_deref(), Some("OOF, AutoReply"));
    assert_eq!(header("MIME-Version").as_deref(), Some("1.0"));
    let content_type = header("Content-Type").expect("content type");
    assert!(content_type.starts_with("multipart/alternative;"), "{content_type}");
}

#[test]
fn optional_headers_are_absent_when_not_asked_for() {
    let mail = OutgoingMail {
        reply_to: None,
        html: None,
        list_unsubscribe: None,
        auto_submitted: false,
        in_reply_to: Some("CAF=abc.123@mail.acme.test".into()),
        ..checkin()
    };
    let bytes = mail.to_bytes(None).expect("builds");
    let parsed = parse_back(&bytes);
    assert!(parsed.reply_to.is_empty());
    assert_eq!(parsed.html, None);
    assert_eq!(crlf_to_lf(&parsed.text), mail.text);
    assert!(!parsed.is_auto_reply());
    assert_eq!(parsed.in_reply_to, ["CAF=abc.123@mail.acme.test"]);
    assert_eq!(parsed.references, ["CAF=abc.123@mail.acme.test"]);
    for name in ["List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted", "X-Auto-Response-Suppress"] {
        assert_eq!(raw_header(&bytes, name), None, "{name}");
    }
    assert!(raw_header(&bytes, "Content-Type").expect("content type").starts_with("text/plain"));
}

#[test]
fn non_ascii_subjects_names_and_bodies_round_trip() {
    let long_line = "Concluí a revisão do contrato e enviei à equipe jurídica. ".repeat(40);
    let cases = [
        ("Relatório diário: o que você concluiu hoje?", "João Conceição", "Ana Lúcia Gonçalves"),
        ("今日は何を終えましたか？ 日報のお願い", "スイッチボード", "山田 太郎"),
        (
            "Mixed 日本語 and Português — “quotes”, commas; and (parens)",
            "Souza, Ana \"Aninha\"",
            "O'Brien (ops)",
        ),
        (
            "A subject that goes on for a long while so that it must be folded over several header \
             lines: ação, coração, informação, 進捗報告, 完了したタスク, and then some more plain words",
            "Team Switchboard",
            "Zoë Ærøskøbing",
        ),
    ];
    for (subject, from_name, to_name) in cases {
        let mail = OutgoingMail {
            subject: subject.into(),
            from: Mailbox { name: Some(from_name.into()), ..checkin().from },
            to: Mailbox { name: Some(to_name.into()), ..checkin().to },
            text: format!("Olá {to_name},\n{long_line}\n今日の作業を一行ずつ書いてください。\n"),
            html: Some(format!("<p>{long_line}</p><p>日本語のHTML</p>")),
            ..checkin()
        };
        let bytes = mail.to_bytes(None).expect("builds");
        let parsed = parse_back(&bytes);
        assert_eq!(parsed.subject.as_deref(), Some(subject));
        assert_eq!(parsed.from.as_ref().and_then(|f| f.name.as_deref()), Some(from_name));
        assert_eq!(parsed.to[0].name.as_deref(), Some(to_name));
        assert_eq!(parsed.to[0].address.as_deref(), Some("ana@acme.test"));
        assert_eq!(crlf_to_lf(&parsed.text), mail.text, "{subject}");
        assert_eq!(parsed.html.as_deref().map(crlf_to_lf), mail.html, "{subject}");
    }
}

#[test]
fn a_body_of_long_unbroken_lines_is_encoded_within_line_limits() {
    let mail = OutgoingMail {
        text: format!("{}\n.leading dot\n..two\n", "x".repeat(5000)),
        html: Some(format!("<p>{}</p>", "y".repeat(5000))),
        ..checkin()
    };
    let bytes = mail.to_bytes(None).expect("builds");
    let parsed = parse_back(&bytes);
    assert_eq!(crlf_to_lf(&parsed.text), mail.text);
    assert_eq!(parsed.html.as_deref().map(crlf_to_lf), mail.html);
}

#[test]
fn bad_values_are_refused_with_a_clear_error() {
    type Change = fn(&mut OutgoingMail);
    let cases: [(Change, MailError); 14] = [
        (|m| m.to.address = "ana@".into(), address("to", "ana@")),
        (|m| m.to.address = "ana souza@acme.test".into(), address("to", "ana souza@acme.test")),
        (|m| m.to.address = "anä@acme.test".into(), address("to", "anä@acme.test")),
        (|m| m.from.address = "checkins".into(), address("from", "checkins")),
        (
            |m| m.to.address = "ana@acme.test\r\nBcc: eve@evil.test".into(),
            address("to", "ana@acme.test\r\nBcc: eve@evil.test"),
        ),
        (
            |m| m.reply_to = Some(Mailbox { name: None, address: "@in.test".into() }),
            address("reply-to", "@in.test"),
        ),
        (
            |m| m.subject = "Hi\r\nBcc: eve@evil.test".into(),
            header("subject", "holds a line break or control character"),
        ),
        (
            |m| m.to.name = Some("Ana\nBcc: eve@evil.test".into()),
            header("to", "holds a line break or control character"),
        ),
        (|m| m.message_id = "<a@b>".into(), header("message-id", "is not an id of the form left@right")),
        (|m| m.message_id = "no-at-sign".into(), header("message-id", "is not an id of the form left@right")),
        (
            |m| m.in_reply_to = Some("a b@c".into()),
            header("in-reply-to", "is not an id of the form left@right"),
        ),
        (
            |m| m.list_unsubscribe = Some(ListUnsubscribe { https: "http://x.test/u".into(), mailto: None }),
            header("list-unsubscribe", "needs an https:// url"),
        ),
        (
            |m| {
                m.list_unsubscribe = Some(ListUnsubscribe {
                    https: "https://x.test/u".into(),
                    mailto: Some("https://x".into()),
                });
            },
            header("list-unsubscribe", "needs a mailto: address"),
        ),
        (|m| m.date_unix = -1, header("date", "is outside the years 1970 to 9999")),
    ];
    for (change, expected) in cases {
        let mut mail = checkin();
        change(&mut mail);
        let error = mail.to_bytes(None).expect_err(&format!("{expected}"));
        assert_eq!(error, expected);
        let message = error.to_string();
        assert!(message.starts_with(char::is_lowercase), "lowercase: {message}");
    }
}

fn address(field: &'static str, address: &str) -> MailError {
    MailError::InvalidAddress { field, address: address.into() }
}

fn header(header: &'static str, problem: &'static str) -> MailError {
    MailError::InvalidHeader { header, problem }
}
