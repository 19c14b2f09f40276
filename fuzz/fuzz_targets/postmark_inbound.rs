//! Fuzz target: a Postmark inbound post (JSON) through to the MIME parser and the trimmer,
//! and the Basic credentials check with the input as header value.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(delivery) = sb_mail::providers::postmark_inbound(data, 1 << 20)
        && let Ok(mail) = sb_mail::parse(&delivery.raw)
    {
        sb_mail::reply_text(&mail);
    }
    let _ = sb_mail::providers::check_basic_auth(Some(&String::from_utf8_lossy(data)), "user", "password");
});
