//! DKIM: signatures made by `OutgoingMail::to_bytes` checked by the independent verifier in
//! `verify.rs` and by dkimpy, tampering detected, and bad keys refused.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sb_mail::{Dkim, ListUnsubscribe, MailError, Mailbox, OutgoingMail};

use super::building::{checkin, parse_back};
use super::verify::{verify, verify_with_dkimpy};

pub const PKCS1: &str = include_str!("keys/rsa2048-pkcs1.pem");
const PKCS8: &str = include_str!("keys/rsa2048-pkcs8.pem");
const SMALL: &str = include_str!("keys/rsa768-pkcs1.pem");

pub fn public_key() -> RsaPublicKey {
    RsaPrivateKey::from_pkcs1_pem(PKCS1).expect("test key").to_public_key()
}

pub fn signer() -> Dkim {
    Dkim::from_pem(PKCS1, "switchboard.test", "sb2026").expect("valid key")
}

/// A message that stresses folding: non-ASCII subject and names, a long unsubscribe URL.
fn demanding() -> OutgoingMail {
    OutgoingMail {
        subject: "Relatório diário — 今日は何を終えましたか？ a long subject that must fold over lines"
            .into(),
        to: Mailbox { name: Some("Ana Lúcia Gonçalves de Souza".into()), address: "ana@acme.test".into() },
        list_unsubscribe: Some(ListUnsubscribe {
            https: format!("https://switchboard.test/u/{}", "a1B2c3".repeat(30)),
            mailto: Some("mailto:unsubscribe+a1B2c3@switchboard.test".into()),
        }),
        in_reply_to: Some("prompt.2026-11-19@switchboard.test".into()),
        text: format!("Olá Ana,\n\n{}\n   spaced   out   line   \n\n\n", "palavra ".repeat(200)),
        ..checkin()
    }
}

#[test]
fn the_signature_verifies_and_covers_the_required_headers() {
    for mail in [checkin(), demanding()] {
        let bytes = mail.to_bytes(Some(&signer())).expect("builds");
        parse_back(&bytes);
        let verified =
            verify(&bytes, &public_key()).unwrap_or_else(|error| panic!("{error}\n{}", show(&bytes)));
        assert_eq!((verified.domain.as_str(), verified.selector.as_str()), ("switchboard.test", "sb2026"));
        for required in
            ["from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"]
        {
            assert!(verified.signed_headers.iter().any(|h| h == required), "h= lacks {required}");
        }
        if let Some(result) = verify_with_dkimpy(&bytes, &public_key()) {
            result.unwrap_or_else(|error| panic!("{error}\n{}", show(&bytes)));
        }
    }
}

#[test]
fn a_pkcs8_key_signs_like_its_pkcs1_twin() {
    let dkim = Dkim::from_pem(PKCS8, "Switchboard.TEST.", "sb2026").expect("valid key");
    assert_eq!(dkim.domain(), "switchboard.test");
    let bytes = checkin().to_bytes(Some(&dkim)).expect("builds");
    verify(&bytes, &public_key()).expect("verifies with the same public key");
}

#[test]
fn tampering_breaks_the_signature() {
    let bytes = demanding().to_bytes(Some(&signer())).expect("builds");
    let text = String::from_utf8(bytes).expect("ascii");
    type Edit = fn(&str) -> String;
    let edits: [(&str, Edit); 5] = [
        ("subject", |m| m.replacen("Subject: ", "Subject: Re: ", 1)),
        ("recipient", |m| m.replacen("ana@acme.test", "eve@acme.test", 1)),
        ("unsubscribe url", |m| m.replacen("https://switchboard.test/u/", "https://evil.test/u/", 1)),
        ("one-click", |m| m.replacen("List-Unsubscribe=One-Click", "List-Unsubscribe=Two-Clicks", 1)),
        ("body", |m| m.replacen("Ol=C3=A1", "Oi", 1).replacen("T2zD", "T2zE", 1)),
    ];
    for (what, edit) in edits {
        let changed = edit(&text);
        assert_ne!(changed, text, "the {what} edit changed nothing");
        assert!(verify(changed.as_bytes(), &public_key()).is_err(), "a changed {what} still verified");
        if let Some(result) = verify_with_dkimpy(changed.as_bytes(), &public_key()) {
            assert!(result.is_err(), "dkimpy accepted a changed {what}");
        }
    }
    // A header the signature lists but the message lacks is signed as absent: adding it
    // later breaks the signature.
    let plain =
        OutgoingMail { list_unsubscribe: None, ..checkin() }.to_bytes(Some(&signer())).expect("builds");
    let plain = String::from_utf8(plain).expect("ascii");
    let added = plain.replacen("\r\nSubject:", "\r\nList-Unsubscribe: <https://evil.test/u>\r\nSubject:", 1);
    assert_ne!(added, plain);
    verify(plain.as_bytes(), &public_key()).expect("the original verifies");
    assert!(verify(added.as_bytes(), &public_key()).is_err(), "an added List-Unsubscribe still verified");
    // Refolding and whitespace changes in transit are what relaxed canonicalisation allows.
    let refolded = text.replacen("Subject: ", "Subject:   \r\n\t", 1);
    verify(refolded.as_bytes(), &public_key()).expect("relaxed canonicalisation allows refolding");
}

#[test]
fn unusable_keys_and_names_are_refused() {
    let check = |pem: &str, domain: &str, selector: &str, expected: &str| {
        let error = Dkim::from_pem(pem, domain, selector).expect_err(expected);
        assert_eq!(error, MailError::Dkim(expected.into()));
        assert!(error.to_string().starts_with("dkim: "));
    };
    check(SMALL, "switchboard.test", "s1", "the key has 768 bits; at least 1024 are needed");
    check("not a key", "switchboard.test", "s1", "the key is not a PEM RSA private key (PKCS#1 or PKCS#8)");
    check(PKCS1, "bad domain.test", "s1", "the domain \"bad domain.test\" is not a DNS name");
    check(PKCS1, "switchboard.test", "a;b", "the selector \"a;b\" is not a DNS name");
    check(PKCS1, "", "s1", "the domain \"\" is not a DNS name");
}

/// The message for a failure report, with CR shown.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\r', "\\r")
}
