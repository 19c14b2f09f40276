//! Fuzz target: a Mailgun route post made of fuzzed fields, urlencoded or multipart, signed
//! with a valid signature so the payload parser behind the check is reached; a delivered
//! message goes on through the MIME parser and the trimmer.

#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const KEY: &str = "fuzz-signing-key";
const NOW: i64 = 1_794_949_200;
const BOUNDARY: &str = "fuzzBoundary";

fuzz_target!(|input: (bool, Vec<(String, Vec<u8>)>)| {
    let (multipart, mut fields) = input;
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).expect("any key length");
    mac.update(format!("{NOW}token").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    for (name, value) in [("timestamp", NOW.to_string()), ("token", "token".into()), ("signature", signature)]
    {
        fields.push((name.into(), value.into_bytes()));
    }
    let (body, content_type) = if multipart {
        (multipart_body(&fields), format!("multipart/form-data; boundary={BOUNDARY}"))
    } else {
        (urlencoded_body(&fields), "application/x-www-form-urlencoded".into())
    };
    if let Ok(inbound) = sb_mail::providers::mailgun_inbound(&body, &content_type, KEY, NOW, 1 << 20)
        && let Ok(mail) = sb_mail::parse(&inbound.delivery.raw)
    {
        sb_mail::reply_text(&mail);
    }
});

fn multipart_body(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        let filename = if name.starts_with("attachment-") { "; filename=\"f.bin\"" } else { "" };
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn urlencoded_body(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let encode = |bytes: &[u8]| bytes.iter().map(|b| format!("%{b:02X}")).collect::<String>();
    let pairs: Vec<String> =
        fields.iter().map(|(name, value)| format!("{}={}", encode(name.as_bytes()), encode(value))).collect();
    pairs.join("&").into_bytes()
}
