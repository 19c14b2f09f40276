//! Webhook authentication and SendGrid's Event Webhook: the ECDSA signature with keys made
//! here, Mailgun's HMAC and timestamp window on the captured-style fixtures, Postmark's Basic
//! credentials, and the events fixture read into delivery events.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use sb_mail::providers::{
    DeliveryEvent, DeliveryEventKind, ProviderError, check_basic_auth, mailgun_inbound, sendgrid_events,
    verify_sendgrid_signature,
};
use sb_types::ErrorKind;

const LIMIT: usize = 30 << 20;
const MAILGUN_KEY: &str = "key-7f3c1e0b9a2d4c6e8f0a1b2c3d4e5f60";
const MAILGUN_TS: i64 = 1_794_949_200;
const URLENCODED: &str = "application/x-www-form-urlencoded";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/providers").join(name)).unwrap()
}

/// A fresh key pair: the public key as SendGrid's settings show it, and the signing key.
fn key_pair() -> (String, SigningKey) {
    let signing = SigningKey::random(&mut rand::rngs::OsRng);
    let public = signing.verifying_key().to_public_key_der().unwrap();
    (STANDARD.encode(public.as_bytes()), signing)
}

fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let signature: Signature = key.sign(&[timestamp.as_bytes(), body].concat());
    STANDARD.encode(signature.to_der().as_bytes())
}

#[test]
fn sendgrid_signature_accepts_the_signed_post_and_nothing_else() {
    let (public, signing) = key_pair();
    let body = fixture("sendgrid_events.json");
    let timestamp = "1794949401";
    let signature = sign(&signing, timestamp, &body);
    assert_eq!(verify_sendgrid_signature(&public, &signature, timestamp, &body), Ok(()));

    let mut tampered_body = body.clone();
    tampered_body[body.len() / 2] ^= 1;
    let check = |public: &str, signature: &str, timestamp: &str, body: &[u8], expected: ProviderError| {
        assert_eq!(verify_sendgrid_signature(public, signature, timestamp, body), Err(expected));
    };
    check(&public, &signature, timestamp, &tampered_body, ProviderError::BadSignature);
    check(&public, &signature, "1794949402", &body, ProviderError::BadSignature);
    let mut signature_bytes = STANDARD.decode(&signature).unwrap();
    let last = signature_bytes.len() - 1;
    signature_bytes[last] ^= 1;
    check(&public, &STANDARD.encode(&signature_bytes), timestamp, &body, ProviderError::BadSignature);
    check(&public, "not base64!", timestamp, &body, ProviderError::BadSignature);
    check(&public, &STANDARD.encode(b"not DER"), timestamp, &body, ProviderError::BadSignature);
    let (other_public, _) = key_pair();
    check(&other_public, &signature, timestamp, &body, ProviderError::BadSignature);
    check(&public, "", timestamp, &body, ProviderError::MissingSignature);
    check(&public, &signature, " ", &body, ProviderError::MissingSignature);
    check("", &signature, timestamp, &body, ProviderError::BadKey);
    check(&STANDARD.encode(b"\x30\x03\x02\x01\x01"), &signature, timestamp, &body, ProviderError::BadKey);
    assert_eq!(ProviderError::BadSignature.kind(), ErrorKind::Unauthenticated);
    assert_eq!(ProviderError::BadKey.kind(), ErrorKind::Internal);
}

#[test]
fn sendgrid_signature_accepts_high_s_signatures() {
    // Signers other than RustCrypto's (SendGrid's among them) do not normalise S to the low
    // half; both forms are valid ECDSA signatures.
    let (public, signing) = key_pair();
    let body = b"[]";
    let signature: Signature = signing.sign(b"1794949401[]");
    let s: p256::Scalar = *signature.s();
    let high = Signature::from_scalars(signature.r().to_bytes(), (-s).to_bytes()).unwrap();
    assert_ne!(high, signature);
    let high_b64 = STANDARD.encode(high.to_der().as_bytes());
    assert_eq!(verify_sendgrid_signature(&public, &high_b64, "1794949401", body), Ok(()));
}

#[test]
fn mailgun_signature_and_timestamp_window() {
    let body = fixture("mailgun_mime.urlencoded");
    let at = |now: i64, key: &str| mailgun_inbound(&body, URLENCODED, key, now, LIMIT).map(|m| m.timestamp);
    assert_eq!(at(MAILGUN_TS, MAILGUN_KEY), Ok(MAILGUN_TS));
    assert_eq!(at(MAILGUN_TS + 300, MAILGUN_KEY), Ok(MAILGUN_TS));
    assert_eq!(at(MAILGUN_TS - 300, MAILGUN_KEY), Ok(MAILGUN_TS));
    assert_eq!(at(MAILGUN_TS + 301, MAILGUN_KEY), Err(ProviderError::StaleTimestamp));
    assert_eq!(at(MAILGUN_TS - 301, MAILGUN_KEY), Err(ProviderError::StaleTimestamp));
    assert_eq!(at(i64::MIN, MAILGUN_KEY), Err(ProviderError::StaleTimestamp));
    assert_eq!(at(MAILGUN_TS, "key-another"), Err(ProviderError::BadSignature));
    assert_eq!(at(MAILGUN_TS, ""), Err(ProviderError::BadKey));

    let text = String::from_utf8(body.clone()).unwrap();
    let check = |edited: String, expected: ProviderError| {
        let result = mailgun_inbound(edited.as_bytes(), URLENCODED, MAILGUN_KEY, MAILGUN_TS, LIMIT);
        assert_eq!(result.map(|m| m.token), Err(expected));
    };
    check(text.replace("token=8c0f", "token=9c0f"), ProviderError::BadSignature);
    check(text.replace("timestamp=1794949200", "timestamp=1794949201"), ProviderError::BadSignature);
    check(text.replace("&signature=2", "&signature=3"), ProviderError::BadSignature);
    check(text.replace("&signature=2", "&signature=z"), ProviderError::BadSignature);
    check(text.replace("&signature=", "&signatures="), ProviderError::MissingSignature);
    check(text.replace("&token=", "&tokens="), ProviderError::MissingSignature);
    assert_eq!(ProviderError::StaleTimestamp.kind(), ErrorKind::Unauthenticated);
}

#[test]
fn postmark_basic_auth() {
    let header = format!("Basic {}", STANDARD.encode("postmark:s3cret:with:colons"));
    assert_eq!(check_basic_auth(Some(&header), "postmark", "s3cret:with:colons"), Ok(()));
    assert_eq!(
        check_basic_auth(Some(&header.replace("Basic", "basic")), "postmark", "s3cret:with:colons"),
        Ok(())
    );
    let check = |value: Option<&str>, expected: ProviderError| {
        assert_eq!(check_basic_auth(value, "postmark", "s3cret:with:colons"), Err(expected));
    };
    check(None, ProviderError::MissingCredentials);
    check(Some("  "), ProviderError::MissingCredentials);
    check(Some(&format!("Basic {}", STANDARD.encode("postmark:s3cret"))), ProviderError::BadCredentials);
    check(
        Some(&format!("Basic {}", STANDARD.encode("Postmark:s3cret:with:colons"))),
        ProviderError::BadCredentials,
    );
    check(Some(&header.replace("Basic", "Bearer")), ProviderError::BadCredentials);
    check(Some("Basic ***"), ProviderError::BadCredentials);
    check(Some("Basic"), ProviderError::BadCredentials);
    assert_eq!(ProviderError::BadCredentials.kind(), ErrorKind::Unauthenticated);
}

fn event(email: &str, kind: DeliveryEventKind, timestamp: i64, id: &str) -> DeliveryEvent {
    DeliveryEvent {
        email: email.into(),
        kind,
        timestamp,
        event_id: Some(id.into()),
        message_id: None,
        reason: String::new(),
        status: None,
    }
}

#[test]
fn sendgrid_events_read_kinds_ids_and_reasons() {
    let events = sendgrid_events(&fixture("sendgrid_events.json"), LIMIT).unwrap();
    let prompt = |n: u32| Some(format!("prompt-2026-11-17-{n}@acme-team.com"));
    let expected = vec![
        DeliveryEvent {
            message_id: prompt(1),
            ..event(
                "ana@acme-team.com",
                DeliveryEventKind::Other("processed".into()),
                1_794_949_300,
                "cHJvY2Vzc2VkLTEyMzQ1Ng",
            )
        },
        DeliveryEvent {
            message_id: prompt(1),
            reason: "250 2.0.0 OK 1794949302 d2si1234567qkb.12 - gsmtp".into(),
            ..event(
                "ana@acme-team.com",
                DeliveryEventKind::Delivered,
                1_794_949_302,
                "ZGVsaXZlcmVkLTEyMzQ1Ng",
            )
        },
        DeliveryEvent {
            message_id: prompt(2),
            reason: "400 try again later".into(),
            ..event("bruno@slowmail.example", DeliveryEventKind::Deferred, 1_794_949_310, "ZGVmZXJyZWQtMTIz")
        },
        DeliveryEvent {
            message_id: prompt(3),
            reason: "550 5.1.1 The email account that you tried to reach does not exist.".into(),
            status: Some("5.1.1".into()),
            ..event(
                "gone@acme-team.com",
                DeliveryEventKind::Bounce { permanent: true },
                1_794_949_320,
                "Ym91bmNlLTEy",
            )
        },
        DeliveryEvent {
            message_id: prompt(4),
            reason:
                "554 5.7.1 Service unavailable; Client host [168.1.1.1] blocked using zen.spamhaus.example"
                    .into(),
            status: Some("5.7.1".into()),
            ..event(
                "carla@strictcorp.example",
                DeliveryEventKind::Bounce { permanent: false },
                1_794_949_330,
                "YmxvY2tlZC0xMg",
            )
        },
        DeliveryEvent {
            message_id: prompt(5),
            reason: "452 4.2.2 Mailbox full".into(),
            status: Some("4.2.2".into()),
            ..event(
                "full@mailbox.example",
                DeliveryEventKind::Bounce { permanent: false },
                1_794_949_335,
                "Ym91bmNlLTQ1",
            )
        },
        DeliveryEvent {
            message_id: prompt(6),
            reason: "Bounced Address".into(),
            status: Some("5.0.0".into()),
            ..event("old@acme-team.com", DeliveryEventKind::Dropped, 1_794_949_340, "ZHJvcHBlZC0x")
        },
        event("dario@acme-team.com", DeliveryEventKind::SpamReport, 1_794_949_350, "c3BhbS0x"),
        event("eva@acme-team.com", DeliveryEventKind::Unsubscribe, 1_794_949_360, "dW5zdWItMQ"),
        event(
            "eva@acme-team.com",
            DeliveryEventKind::Other("group_unsubscribe".into()),
            1_794_949_361,
            "Z3JvdXAtMQ",
        ),
        event("ana@acme-team.com", DeliveryEventKind::Other("open".into()), 1_794_949_400, "b3Blbi0x"),
    ];
    assert_eq!(events, expected);
}

#[test]
fn sendgrid_events_refuse_malformed_posts() {
    let check = |body: &str, expected: ProviderError| {
        assert_eq!(sendgrid_events(body.as_bytes(), LIMIT), Err(expected));
    };
    check("[{\"email\": \"a@b.c\", \"event\": \"delivered\"", ProviderError::MalformedJson);
    check("{\"email\": \"a@b.c\", \"event\": \"delivered\", \"timestamp\": 1}", ProviderError::MalformedJson);
    check("[3]", ProviderError::MalformedJson);
    check("[{\"event\": \"delivered\", \"timestamp\": 1}]", ProviderError::MissingField("email"));
    check("[{\"email\": \"a@b.c\", \"timestamp\": 1}]", ProviderError::MissingField("event"));
    check("[{\"email\": \"a@b.c\", \"event\": \"bounce\"}]", ProviderError::MissingField("timestamp"));
    check(
        "[{\"email\": \"a@b.c\", \"event\": \"bounce\", \"timestamp\": \"1\"}]",
        ProviderError::MalformedField("timestamp"),
    );
    check(
        "[{\"email\": \"a@b.c\", \"event\": \"bounce\", \"timestamp\": 1e300}]",
        ProviderError::MalformedField("timestamp"),
    );
    assert_eq!(sendgrid_events(b"[]", LIMIT), Ok(Vec::new()));
    assert_eq!(sendgrid_events(b"[]", 1), Err(ProviderError::TooLarge));
    let fractional =
        sendgrid_events(b"[{\"email\":\"a@b.c\",\"event\":\"bounce\",\"timestamp\":17.9}]", LIMIT).unwrap();
    assert_eq!(
        (fractional[0].timestamp, &fractional[0].kind),
        (17, &DeliveryEventKind::Bounce { permanent: true })
    );
}
