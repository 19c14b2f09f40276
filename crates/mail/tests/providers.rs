//! Inbound webhook payloads of every provider and mode, from the fixtures in
//! `tests/providers/`, end in `sb_mail::parse` with the right addresses, subject, bodies
//! (non-UTF-8 charsets decoded) and attachments; malformed payloads give the right error.

use std::path::Path;

use hmac::{Hmac, Mac};
use sb_mail::providers::{
    InboundDelivery, ProviderError, mailgun_inbound, postmark_inbound, sendgrid_inbound,
};
use sb_mail::{InboundMail, parse};
use sha2::Sha256;

const LIMIT: usize = 30 << 20;
const SENDGRID_CT: &str = "multipart/form-data; boundary=xYzZY";
const MAILGUN_CT: &str = "multipart/form-data; boundary=----------------------------a1b2c3d4e5f6";
const URLENCODED: &str = "application/x-www-form-urlencoded";
const MAILGUN_KEY: &str = "key-7f3c1e0b9a2d4c6e8f0a1b2c3d4e5f60";
const MAILGUN_MIME_TS: i64 = 1_794_949_200;
const MAILGUN_PARSED_TS: i64 = 1_794_952_800;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/providers").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsed(delivery: &InboundDelivery) -> InboundMail {
    let mail = parse(&delivery.raw).expect("the delivered message parses");
    assert!(mail.flaws.is_empty(), "flaws: {:?}", mail.flaws);
    mail
}

/// The text with CRLF line ends (as mail-parser leaves them) made `\n`.
fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

fn from(mail: &InboundMail) -> (String, String) {
    let from = mail.from.clone().expect("a From mailbox");
    (from.name.unwrap_or_default(), from.address.unwrap_or_default())
}

fn attachments(mail: &InboundMail) -> Vec<(String, String, usize)> {
    mail.attachments
        .iter()
        .map(|a| (a.filename.clone().unwrap_or_default(), a.content_type.clone(), a.size))
        .collect()
}

/// The PDF and PNG the fixtures attach, by size.
const PDF_SIZE: usize = 77;
const PNG_SIZE: usize = 70;

#[test]
fn sendgrid_raw_mode_hands_on_the_message_and_the_envelope() {
    let delivery = sendgrid_inbound(&fixture("sendgrid_raw.form"), SENDGRID_CT, LIMIT).unwrap();
    assert_eq!(delivery.envelope_to, ["checkins+t8jk2@in.acme-team.com"]);
    assert_eq!(delivery.envelope_from.as_deref(), Some("andre@lefevre.fr"));
    assert_eq!(delivery.provider_id, None);
    assert!(delivery.raw.starts_with(b"Received: from mail-ot1-f54"));
    assert!(delivery.raw.ends_with(b"--00000000000054f2a605e1c3--\r\n"));
    let mail = parsed(&delivery);
    assert_eq!(from(&mail), ("André Lefèvre".into(), "andre@lefevre.fr".into()));
    assert_eq!(mail.subject.as_deref(), Some("Re: Qu'avez-vous fait aujourd'hui ?"));
    assert_eq!(mail.message_id.as_deref(), Some("CAF7k2x9Q@mail.lefevre.fr"));
    assert!(
        lf(&mail.text).starts_with("- Terminé la revue du contrat\n- Préparé la démo\n"),
        "{}",
        mail.text
    );
    assert_eq!(attachments(&mail), [("contrat.pdf".into(), "application/pdf".into(), PDF_SIZE)]);
    assert_eq!(sb_mail::reply_text(&mail).text, "- Terminé la revue du contrat\n- Préparé la démo");
}

#[test]
fn sendgrid_parsed_mode_is_rebuilt_with_its_charsets_decoded() {
    let delivery = sendgrid_inbound(&fixture("sendgrid_parsed.form"), SENDGRID_CT, LIMIT).unwrap();
    assert_eq!(delivery.envelope_to, ["checkins+qw3rt@in.acme-team.com"]);
    assert_eq!(delivery.envelope_from.as_deref(), Some("bounces+joao=lojadojoao.com.br@lojadojoao.com.br"));
    let mail = parsed(&delivery);
    assert_eq!(from(&mail), ("João Pereira".into(), "joao@lojadojoao.com.br".into()));
    // The header block carried the subject as raw cp850 bytes; the `subject` field, read as
    // cp850, repairs it.
    assert_eq!(mail.subject.as_deref(), Some("Re: Relatório diário - ok"));
    assert_eq!(mail.to.len(), 1);
    assert_eq!(mail.cc[0].name.as_deref(), Some("Souza, Ana"));
    assert_eq!(mail.message_id.as_deref(), Some("20261117210305.GA4411@lojadojoao.com.br"));
    assert_eq!(mail.in_reply_to, ["prompt-2026-11-17-7@acme-team.com"]);
    assert_eq!(mail.date.as_ref().map(|d| d.unix), Some(1_794_949_385));
    // windows-1252 curly quotes and ç; iso-8859-1 HTML.
    assert_eq!(
        mail.text,
        "Fechei o pedido da \u{201c}Padaria Estrela\u{201d}.\n[x] Enviar orçamento\n!Aguardando o jurídico\n\n-- \nJoão\n"
    );
    assert!(mail.html.as_deref().unwrap().contains("<p>[x] Enviar orçamento</p>"));
    assert_eq!(
        attachments(&mail),
        [
            ("orçamento 2026.pdf".into(), "application/pdf".into(), PDF_SIZE),
            ("logo.png".into(), "image/png".into(), PNG_SIZE),
        ]
    );
    let raw = String::from_utf8(delivery.raw).expect("a rebuilt message is UTF-8");
    assert!(raw.contains("\r\nContent-ID: <logo@loja>\r\n"));
    assert!(raw.contains("\r\nDKIM-Signature: v=1; a=rsa-sha256;"));
    assert_eq!(raw.matches("MIME-Version:").count(), 1);
    assert_eq!(
        sb_mail::reply_text(&mail).text,
        "Fechei o pedido da \u{201c}Padaria Estrela\u{201d}.\n[x] Enviar orçamento\n!Aguardando o jurídico"
    );
}

#[test]
fn mailgun_mime_mode_keeps_8bit_bytes_through_urlencoding() {
    let body = fixture("mailgun_mime.urlencoded");
    let inbound = mailgun_inbound(&body, URLENCODED, MAILGUN_KEY, MAILGUN_MIME_TS + 20, LIMIT).unwrap();
    assert_eq!(inbound.token, "8c0fa4b7d2e1f9a3c5b6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1");
    assert_eq!(inbound.timestamp, MAILGUN_MIME_TS);
    let delivery = &inbound.delivery;
    assert_eq!(delivery.envelope_to, ["checkins+zx9yw@in.acme-team.com"]);
    assert_eq!(delivery.envelope_from.as_deref(), Some("kenji@watanabe.jp"));
    let mail = parsed(delivery);
    assert_eq!(from(&mail), ("Kenji Watanabe".into(), "kenji@watanabe.jp".into()));
    assert_eq!(mail.subject.as_deref(), Some("今日のご報告"));
    assert_eq!(lf(&mail.text), "Préparé la démo pour Zürich\n");
}

#[test]
fn mailgun_parsed_mode_is_rebuilt_from_message_headers() {
    let body = fixture("mailgun_parsed.form");
    let inbound = mailgun_inbound(&body, MAILGUN_CT, MAILGUN_KEY, MAILGUN_PARSED_TS - 200, LIMIT).unwrap();
    assert_eq!(inbound.delivery.envelope_to, ["checkins+pq4rs@in.acme-team.com"]);
    let mail = parsed(&inbound.delivery);
    assert_eq!(from(&mail), ("Maria Kowalska".into(), "maria@kowalska.pl".into()));
    assert_eq!(mail.subject.as_deref(), Some("Re: Co dziś zrobiłeś?"));
    assert_eq!(mail.message_id.as_deref(), Some("CAMk0walska77@mail.kowalska.pl"));
    assert_eq!(mail.in_reply_to, ["prompt-2026-11-17-9@acme-team.com"]);
    assert!(mail.text.starts_with("Skończyłam raport kwartalny.\r\n\r\nwt., 17 lis 2026"), "{:?}", mail.text);
    assert!(mail.html.as_deref().unwrap().contains("<img src=\"cid:ii_wykres\">"));
    assert_eq!(
        attachments(&mail),
        [
            ("raport Q4.pdf".into(), "application/pdf".into(), PDF_SIZE),
            ("wykres.png".into(), "image/png".into(), PNG_SIZE),
        ]
    );
    let raw = String::from_utf8(inbound.delivery.raw.clone()).unwrap();
    assert!(raw.contains("\r\nContent-ID: <ii_wykres>\r\n"));
    assert!(raw.contains("\r\nX-Mailgun-Spf: Pass\r\n"));
    assert_eq!(raw.matches("\r\nFrom:").count() + usize::from(raw.starts_with("From:")), 1);
    assert_eq!(sb_mail::reply_text(&mail).text, "Skończyłam raport kwartalny.");
}

#[test]
fn postmark_raw_email_gets_crlf_line_ends() {
    let delivery = postmark_inbound(&fixture("postmark_raw.json"), LIMIT).unwrap();
    assert_eq!(delivery.provider_id.as_deref(), Some("73e6d360-66eb-11e1-8e72-a8904824019b"));
    assert_eq!(delivery.envelope_to, ["checkins+mn5op@in.acme-team.com"]);
    assert_eq!(delivery.envelope_from.as_deref(), Some("liam@oconnor.ie"));
    let bare_lf = delivery.raw.windows(2).filter(|w| w[1] == b'\n' && w[0] != b'\r').count();
    assert_eq!((bare_lf, delivery.raw.first()), (0, Some(&b'R')));
    assert!(delivery.raw.windows(2).filter(|w| w == b"\r\n").count() > 20);
    let mail = parsed(&delivery);
    assert_eq!(from(&mail), ("Liam O\u{2019}Connor".into(), "liam@oconnor.ie".into()));
    assert_eq!(mail.message_id.as_deref(), Some("B7F2.1799@oconnor.ie"));
    assert!(lf(&mail.text).starts_with("Shipped the invoice export \u{2014} finally.\n"));
    assert_eq!(sb_mail::reply_text(&mail).text, "Shipped the invoice export \u{2014} finally.");
}

#[test]
fn postmark_parsed_fields_are_rebuilt() {
    let delivery = postmark_inbound(&fixture("postmark_parsed.json"), LIMIT).unwrap();
    assert_eq!(delivery.provider_id.as_deref(), Some("73e6d360-66eb-11e1-8e72-a8904824019b"));
    assert_eq!(delivery.envelope_to, ["checkins+mn5op@in.acme-team.com"]);
    let mail = parsed(&delivery);
    assert_eq!(from(&mail), ("Liam O\u{2019}Connor".into(), "liam@oconnor.ie".into()));
    assert_eq!(mail.to[0].address.as_deref(), Some("checkins+Mn5Op@in.acme-team.com"));
    assert_eq!(mail.cc[0].name.as_deref(), Some("Souza, Ana"));
    assert_eq!(mail.subject.as_deref(), Some("Re: What did you get done today?"));
    assert_eq!(mail.message_id.as_deref(), Some("B7F2.1799@oconnor.ie"));
    assert_eq!(mail.date.as_ref().map(|d| d.unix), Some(1_794_960_591));
    assert_eq!(
        mail.html.as_deref(),
        Some("<html><body><div>Shipped the invoice export.</div></body></html>")
    );
    assert_eq!(
        attachments(&mail),
        [
            ("timesheet.pdf".into(), "application/pdf".into(), PDF_SIZE),
            ("chart.png".into(), "image/png".into(), PNG_SIZE),
        ]
    );
    let raw = String::from_utf8(delivery.raw).unwrap();
    assert_eq!(raw.matches("Subject:").count(), 1);
    assert!(raw.contains("\r\nX-Spam-Score: -0.1\r\n"));
    assert_eq!(sb_mail::reply_text(&mail).text, "Shipped the invoice export \u{2014} finally.");
}

/// Replaces the first occurrence of `from` in `body`.
fn edit(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = body.windows(from.len()).position(|w| w == from.as_bytes()).expect("text to edit is there");
    [&body[..at], to.as_bytes(), &body[at + from.len()..]].concat()
}

#[test]
fn sendgrid_malformed_payloads_give_the_right_error() {
    let raw = fixture("sendgrid_raw.form");
    let parsed = fixture("sendgrid_parsed.form");
    let check = |body: &[u8], expected: ProviderError| {
        assert_eq!(sendgrid_inbound(body, SENDGRID_CT, LIMIT).unwrap_err(), expected);
    };
    check(&raw[..raw.len() / 2], ProviderError::MalformedForm);
    check(&raw[..raw.len() - 4], ProviderError::MalformedForm);
    check(&edit(&raw, "name=\"envelope\"", "name=\"envelopes\""), ProviderError::MissingField("envelope"));
    check(&edit(&raw, "{\"to\":[", "{\"to\":"), ProviderError::MalformedField("envelope"));
    check(
        &edit(&raw, "\"to\":[\"Checkins", "\"cc\":[\"Checkins"),
        ProviderError::MissingField("envelope.to"),
    );
    check(&edit(&parsed, "name=\"headers\"", "name=\"header\""), ProviderError::MissingField("headers"));
    check(&edit(&parsed, "{\"to\":\"UTF-8\"", "{\"to\":UTF-8"), ProviderError::MalformedField("charsets"));
    check(
        &edit(&parsed, "{\"attachment1\"", "[\"attachment1\""),
        ProviderError::MalformedField("attachment-info"),
    );
    check(b"", ProviderError::MalformedForm);
    assert_eq!(sendgrid_inbound(&raw, SENDGRID_CT, raw.len() - 1).unwrap_err(), ProviderError::TooLarge);
    assert!(sendgrid_inbound(&raw, SENDGRID_CT, raw.len()).is_ok());
    let wrong_type = sendgrid_inbound(&raw, "application/json", LIMIT).unwrap_err();
    assert_eq!(wrong_type, ProviderError::UnsupportedContentType);
    assert_eq!(wrong_type.kind(), sb_types::ErrorKind::Invalid);
    let other_boundary = sendgrid_inbound(&raw, "multipart/form-data; boundary=other", LIMIT);
    assert_eq!(other_boundary.unwrap_err(), ProviderError::MalformedForm);
}

/// A Mailgun urlencoded post signed with the fixtures' key.
fn mailgun_post(fields: &[(&str, &str)], timestamp: i64, token: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let mut body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    body.push(format!("timestamp={timestamp}&token={token}&signature={signature}"));
    body.join("&").into_bytes()
}

#[test]
fn mailgun_malformed_payloads_give_the_right_error() {
    let now = 1_800_000_000;
    let check = |fields: &[(&str, &str)], expected: ProviderError| {
        let body = mailgun_post(fields, now, "tok");
        assert_eq!(mailgun_inbound(&body, URLENCODED, MAILGUN_KEY, now, LIMIT).unwrap_err(), expected);
    };
    let message = "From%3A+a%40b.c%0D%0A%0D%0Ahi";
    check(&[("body-mime", message)], ProviderError::MissingField("recipient"));
    check(&[("recipient", "+%2C+"), ("body-mime", message)], ProviderError::MissingField("recipient"));
    check(
        &[("recipient", "x%40y.z"), ("message-headers", "%5B%5Bx")],
        ProviderError::MalformedField("message-headers"),
    );
    check(
        &[("recipient", "x%40y.z"), ("content-id-map", "%5B%5D")],
        ProviderError::MalformedField("content-id-map"),
    );
    let good = mailgun_post(&[("recipient", "X%40Y.z"), ("body-mime", message)], now, "tok");
    let inbound = mailgun_inbound(&good, URLENCODED, MAILGUN_KEY, now, LIMIT).unwrap();
    assert_eq!(
        (inbound.delivery.envelope_to, inbound.delivery.raw),
        (vec!["x@y.z".to_string()], b"From: a@b.c\r\n\r\nhi".to_vec())
    );
    let bad_time = b"recipient=x%40y.z&timestamp=soon&token=t&signature=00".as_slice();
    let mut mac = Hmac::<Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
    mac.update(b"soont");
    let signed_bad_time =
        [&bad_time[..bad_time.len() - 2], hex::encode(mac.finalize().into_bytes()).as_bytes()].concat();
    let error = mailgun_inbound(&signed_bad_time, URLENCODED, MAILGUN_KEY, now, LIMIT).unwrap_err();
    assert_eq!(error, ProviderError::MalformedField("timestamp"));
    assert_eq!(
        mailgun_inbound(b"{}", "application/json", MAILGUN_KEY, now, LIMIT).unwrap_err(),
        ProviderError::UnsupportedContentType
    );
}

#[test]
fn postmark_malformed_payloads_give_the_right_error() {
    let parsed = fixture("postmark_parsed.json");
    let check = |body: &[u8], expected: ProviderError| {
        assert_eq!(postmark_inbound(body, LIMIT).unwrap_err(), expected);
    };
    check(&parsed[..parsed.len() - 3], ProviderError::MalformedJson);
    check(b"[]", ProviderError::MalformedJson);
    check(b"{\"ToFull\": 3}", ProviderError::MalformedJson);
    check(b"{}", ProviderError::MissingField("OriginalRecipient"));
    check(b"{\"OriginalRecipient\": \"a@b.c\"}", ProviderError::MissingField("FromFull"));
    let bad_attachment = edit(&parsed, "\"Content\": \"", "\"Content\": \"*");
    check(&bad_attachment, ProviderError::MalformedField("Attachments"));
    assert_eq!(postmark_inbound(&parsed, parsed.len() - 1).unwrap_err(), ProviderError::TooLarge);
    let fallback =
        br#"{"From": "a@b.c", "ToFull": [{"Email": "Team@X.io"}], "BccFull": [{"Email": "c@x.io"}],
        "Attachments": [{"Name": "n.txt", "Data": "aGk=", "ContentType": "text/plain"}]}"#;
    let delivery = postmark_inbound(fallback, LIMIT).unwrap();
    assert_eq!(delivery.envelope_to, ["team@x.io", "c@x.io"]);
    assert_eq!(delivery.provider_id, None);
    assert_eq!(parse(&delivery.raw).unwrap().attachments[0].size, 2);
}
