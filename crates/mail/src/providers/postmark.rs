//! Postmark inbound: the JSON post (`RawEmail` when the server includes it, otherwise the
//! parsed fields) and the HTTP Basic credentials that are Postmark's only authentication.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::rebuild::{Draft, DraftAttachment, mailbox};
use super::{InboundDelivery, ProviderError, check_size, envelope_address};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Payload {
    from: Option<String>,
    from_full: Option<Person>,
    to_full: Option<Vec<Person>>,
    cc_full: Option<Vec<Person>>,
    bcc_full: Option<Vec<Person>>,
    original_recipient: Option<String>,
    subject: Option<String>,
    date: Option<String>,
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    raw_email: Option<String>,
    text_body: Option<String>,
    html_body: Option<String>,
    headers: Option<Vec<PayloadHeader>>,
    attachments: Option<Vec<PayloadAttachment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Person {
    email: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PayloadHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PayloadAttachment {
    name: Option<String>,
    /// The dashboard's test post sends `Data` where real posts send `Content`.
    #[serde(alias = "Data")]
    content: Option<String>,
    content_type: Option<String>,
    #[serde(rename = "ContentID")]
    content_id: Option<String>,
}

/// Reads an inbound post (JSON) of at most `limit` bytes. `RawEmail` is handed on with its
/// `\n` line ends made CRLF; without it a message is rebuilt from `FromFull`, `ToFull`,
/// `CcFull`, `Subject`, `Date`, `Headers`, the bodies and the base64 `Attachments`. The
/// envelope recipient is `OriginalRecipient` (else every To, Cc and Bcc address); the envelope
/// sender is the `Return-Path` header when present; `MessageID` is Postmark's id.
///
/// Postmark does not sign its posts: protect the endpoint with [`check_basic_auth`].
pub fn postmark_inbound(body: &[u8], limit: usize) -> Result<InboundDelivery, ProviderError> {
    check_size(body, limit)?;
    let payload: Payload = serde_json::from_slice(body).map_err(|_| ProviderError::MalformedJson)?;
    let headers = payload.headers.unwrap_or_default();
    let people = |list: &Option<Vec<Person>>| -> Vec<String> {
        list.iter().flatten().filter_map(|p| p.email.as_deref().and_then(envelope_address)).collect()
    };
    let envelope_to = match payload.original_recipient.as_deref().and_then(envelope_address) {
        Some(recipient) => vec![recipient],
        None => {
            [&payload.to_full, &payload.cc_full, &payload.bcc_full].into_iter().flat_map(people).collect()
        }
    };
    if envelope_to.is_empty() {
        return Err(ProviderError::MissingField("OriginalRecipient"));
    }
    let envelope_from = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("return-path"))
        .and_then(|h| envelope_address(&h.value));
    let provider_id =
        payload.message_id.as_deref().map(str::trim).filter(|id| !id.is_empty()).map(String::from);

    if let Some(raw) = payload.raw_email.as_deref().filter(|r| !r.trim().is_empty()) {
        return Ok(InboundDelivery { raw: crlf(raw), envelope_to, envelope_from, provider_id });
    }
    let mut draft = Draft::default();
    let from = match (&payload.from_full, &payload.from) {
        (Some(Person { email: Some(email), name }), _) if !email.trim().is_empty() => {
            mailbox(name.as_deref(), email)
        }
        (_, Some(from)) if !from.trim().is_empty() => from.clone(),
        _ => return Err(ProviderError::MissingField("FromFull")),
    };
    draft.header("From", &from);
    for (name, list) in [("To", &payload.to_full), ("Cc", &payload.cc_full)] {
        let mailboxes: Vec<String> = list
            .iter()
            .flatten()
            .filter_map(|p| {
                p.email.as_deref().filter(|e| !e.trim().is_empty()).map(|e| mailbox(p.name.as_deref(), e))
            })
            .collect();
        if !mailboxes.is_empty() {
            draft.header(name, &mailboxes.join(", "));
        }
    }
    for (name, value) in [("Subject", &payload.subject), ("Date", &payload.date)] {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            draft.header(name, value);
        }
    }
    // The top-level fields above are the decoded truth; `Headers` adds the rest (Message-ID,
    // In-Reply-To, References, the spam verdicts) without repeating them.
    for header in &headers {
        if !["from", "to", "cc", "subject", "date"].iter().any(|n| header.name.trim().eq_ignore_ascii_case(n))
        {
            draft.header(&header.name, &header.value);
        }
    }
    draft.text = payload.text_body;
    draft.html = payload.html_body.filter(|h| !h.is_empty());
    for attachment in payload.attachments.unwrap_or_default() {
        let content = attachment.content.unwrap_or_default();
        let bytes = STANDARD
            .decode(content.split_ascii_whitespace().collect::<String>())
            .map_err(|_| ProviderError::MalformedField("Attachments"))?;
        draft.attachments.push(DraftAttachment {
            filename: attachment.name,
            content_type: attachment.content_type,
            content_id: attachment.content_id,
            bytes,
        });
    }
    Ok(InboundDelivery { raw: draft.into_mime(), envelope_to, envelope_from, provider_id })
}

/// Checks an `Authorization: Basic …` header value against the credentials configured in the
/// webhook URL. The comparison is of SHA-256 digests in constant time, so neither the
/// credentials' content nor their length shows in the time taken.
pub fn check_basic_auth(header_value: Option<&str>, user: &str, password: &str) -> Result<(), ProviderError> {
    let header_value = header_value.map(str::trim).filter(|v| !v.is_empty());
    let Some(header_value) = header_value else { return Err(ProviderError::MissingCredentials) };
    let (scheme, encoded) = header_value.split_once(' ').ok_or(ProviderError::BadCredentials)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ProviderError::BadCredentials);
    }
    let given = STANDARD.decode(encoded.trim()).map_err(|_| ProviderError::BadCredentials)?;
    let expected = format!("{user}:{password}");
    let matches = Sha256::digest(&given).ct_eq(&Sha256::digest(expected.as_bytes()));
    if bool::from(matches) { Ok(()) } else { Err(ProviderError::BadCredentials) }
}

/// `\n` line ends made CRLF; line ends that already are CRLF are left alone.
fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    let mut previous = 0u8;
    for &byte in text.as_bytes() {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}
