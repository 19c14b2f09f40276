//! Fuzz target: raw bytes as an inbound message, through `sb_mail::parse` and the reply
//! trimmer, the path every inbound message takes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mail) = sb_mail::parse(data) {
        let reply = sb_mail::reply_text(&mail);
        assert!(!reply.text.ends_with(char::is_whitespace));
    }
});
