//! The outbound half of sb-mail against real parsers and a real SMTP server: messages built
//! by `OutgoingMail` parsed back by `sb_mail::parse`, DKIM signatures checked by a verifier
//! written from RFC 6376 (and by dkimpy when installed), and mail sent through `Relay` to
//! aiosmtpd. Run with `cargo test -p sb-mail --test outbound`.

mod outbound {
    mod building;
    mod relay;
    mod signing;
    mod verify;
}
