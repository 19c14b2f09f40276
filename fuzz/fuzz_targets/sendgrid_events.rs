//! Fuzz target: a SendGrid Event Webhook post, and its signature check with the input as
//! key, signature and timestamp.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sb_mail::providers::sendgrid_events(data, 1 << 20);
    let text = String::from_utf8_lossy(data);
    let (key, rest) = text.split_at(text.find('\n').unwrap_or(text.len()));
    let _ = sb_mail::providers::verify_sendgrid_signature(key, rest, rest, data);
});
