//! Fuzz target: a SendGrid Inbound Parse post. The input's first line is the Content-Type
//! header value (so the fuzzer finds boundaries itself), the rest the body; a delivered
//! message goes on through the MIME parser and the trimmer.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (String::from_utf8_lossy(&data[..at]).into_owned(), &data[at + 1..]),
        None => ("multipart/form-data; boundary=xYzZY".to_string(), data),
    };
    if let Ok(delivery) = sb_mail::providers::sendgrid_inbound(body, content_type.trim_end(), 1 << 20)
        && let Ok(mail) = sb_mail::parse(&delivery.raw)
    {
        sb_mail::reply_text(&mail);
    }
});
