//! Property tests of the provider payload parsers: random bytes and mutated fixtures never
//! panic any of them, whatever they return is a message `parse` and `reply_text` survive, and
//! what a rebuilt message carries comes back out of the parser unchanged.

use std::path::Path;

use proptest::prelude::*;
use sb_mail::providers::{
    check_basic_auth, mailgun_inbound, postmark_inbound, sendgrid_events, sendgrid_inbound,
    verify_sendgrid_signature,
};

const LIMIT: usize = 1 << 20;
const CONTENT_TYPES: [&str; 5] = [
    "multipart/form-data; boundary=xYzZY",
    "multipart/form-data; boundary=----------------------------a1b2c3d4e5f6",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "application/json",
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/providers").join(name)).unwrap()
}

/// Every parser on one body, under every content type; a delivered message goes on through
/// the MIME parser and the trimmer.
fn exercise(body: &[u8]) {
    for content_type in CONTENT_TYPES {
        if let Ok(delivery) = sendgrid_inbound(body, content_type, LIMIT) {
            survive(&delivery.raw);
        }
        if let Ok(inbound) = mailgun_inbound(body, content_type, "key", 1_794_949_200, LIMIT) {
            survive(&inbound.delivery.raw);
        }
    }
    if let Ok(delivery) = postmark_inbound(body, LIMIT) {
        survive(&delivery.raw);
    }
    let _ = sendgrid_events(body, LIMIT);
    let text = String::from_utf8_lossy(body);
    let _ = verify_sendgrid_signature(&text, &text, &text, body);
    let _ = check_basic_auth(Some(&text), "user", "password");
}

fn survive(raw: &[u8]) {
    if let Ok(mail) = sb_mail::parse(raw) {
        sb_mail::reply_text(&mail);
    }
}

/// One edit of a fixture: overwrite, insert or delete a run of bytes, or cut it short.
fn mutated(fixture: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = fixture.len();
    (0..len, prop::collection::vec(any::<u8>(), 0..16), 0..4u8).prop_map(move |(at, bytes, how)| {
        let mut body = fixture.clone();
        match how {
            0 => {
                for (i, b) in bytes.iter().enumerate() {
                    if let Some(slot) = body.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            1 => {
                body.splice(at..at, bytes);
            }
            2 => {
                body.drain(at..(at + bytes.len()).min(len));
            }
            _ => body.truncate(at),
        }
        body
    })
}

fn any_fixture() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        mutated(fixture("sendgrid_raw.form")),
        mutated(fixture("sendgrid_parsed.form")),
        mutated(fixture("mailgun_mime.urlencoded")),
        mutated(fixture("mailgun_parsed.form")),
        mutated(fixture("postmark_raw.json")),
        mutated(fixture("postmark_parsed.json")),
        mutated(fixture("sendgrid_events.json")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&body);
    }

    #[test]
    fn mutated_fixtures_never_panic(body in any_fixture()) {
        exercise(&body);
    }

    /// Multipart bodies with random field names, file names and values around the real
    /// delimiter, so the form parser sees structure rather than noise.
    #[test]
    fn random_multipart_never_panics(
        parts in prop::collection::vec(("[ -~]{0,12}", prop::option::of("[^\"\r\n]{0,12}"), any::<Vec<u8>>()), 0..6),
        closed in any::<bool>(),
    ) {
        let mut body = Vec::new();
        for (name, filename, value) in &parts {
            body.extend_from_slice(format!("--xYzZY\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
            if let Some(filename) = filename {
                body.extend_from_slice(format!("; filename=\"{filename}\"\r\nContent-Type: image/png").as_bytes());
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        if closed {
            body.extend_from_slice(b"--xYzZY--\r\n");
        }
        exercise(&body);
    }

    /// What a rebuilt message carries is what the parser reads back.
    #[test]
    fn rebuilt_postmark_messages_read_back(
        subject in "[a-zA-Z0-9àéüñ€😀,.!?-][a-zA-Z0-9 àéüñ€😀,.!?-]{0,38}[a-zA-Z0-9àéüñ€😀,.!?-]",
        name in "[a-zA-Zà-ÿ ,.\"\\\\]{0,20}",
        text in "[^\r]{0,200}",
        file in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let payload = serde_json::json!({
            "FromFull": {"Email": "ana@acme.com", "Name": name},
            "OriginalRecipient": "in@acme.com",
            "Subject": subject,
            "TextBody": text,
            "Attachments": [{"Name": "f.bin", "Content": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &file), "ContentType": "application/octet-stream"}],
        });
        let delivery = postmark_inbound(payload.to_string().as_bytes(), LIMIT).unwrap();
        let mail = sb_mail::parse(&delivery.raw).unwrap();
        prop_assert_eq!(mail.subject.as_deref(), Some(subject.as_str()));
        prop_assert_eq!(&mail.text, &text);
        let from = mail.from.clone().unwrap();
        prop_assert_eq!(from.address.as_deref(), Some("ana@acme.com"));
        prop_assert_eq!(from.name.unwrap_or_default(), name.trim());
        prop_assert_eq!(mail.attachments.len(), 1);
        prop_assert_eq!(mail.attachments[0].size, file.len());
    }
}
