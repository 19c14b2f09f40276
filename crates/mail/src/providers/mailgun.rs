//! Mailgun route posts: the HMAC signature over timestamp and token, MIME mode (`body-mime`)
//! and parsed mode (`body-plain`, `body-html`, `message-headers`, `attachment-1…N`).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::form::Form;
use super::rebuild::{Draft, DraftAttachment};
use super::{InboundDelivery, ProviderError, check_size, envelope_address};

/// How far a signed timestamp may be from the caller's clock, either way, in seconds.
const MAX_SKEW_SECONDS: u64 = 5 * 60;

/// A verified Mailgun post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailgunInbound {
    pub delivery: InboundDelivery,
    /// The post's one-time token. A signature proves the post came from Mailgun, not that it
    /// is the first time it arrives: within the five minutes a timestamp is accepted, the same
    /// post can be replayed. The caller remembers the tokens it has seen (for at least ten
    /// minutes, the width of the window) and refuses a token it has seen before.
    pub token: String,
    /// The signed timestamp, Unix seconds; how long the token must be remembered follows
    /// from it.
    pub timestamp: i64,
}

/// Reads a route post (urlencoded or `multipart/form-data`; `content_type` is the request's
/// header value) of at most `limit` bytes, after checking its signature: hex HMAC-SHA256 of
/// `timestamp` followed by `token`, keyed with the webhook `signing_key`, compared in constant
/// time, with the timestamp within five minutes of `now_unix`.
pub fn mailgun_inbound(
    body: &[u8],
    content_type: &str,
    signing_key: &str,
    now_unix: i64,
    limit: usize,
) -> Result<MailgunInbound, ProviderError> {
    check_size(body, limit)?;
    if signing_key.is_empty() {
        return Err(ProviderError::BadKey);
    }
    let mut form = Form::parse(body, content_type)?;
    let signed = ["timestamp", "token", "signature"].map(|name| form.non_empty(name));
    let [Some(timestamp_text), Some(token), Some(signature)] = signed else {
        return Err(ProviderError::MissingSignature);
    };
    let signature = hex::decode(&signature).map_err(|_| ProviderError::BadSignature)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_key.as_bytes()).map_err(|_| ProviderError::BadKey)?;
    mac.update(timestamp_text.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&signature).map_err(|_| ProviderError::BadSignature)?;
    let timestamp: i64 = timestamp_text.parse().map_err(|_| ProviderError::MalformedField("timestamp"))?;
    if timestamp.abs_diff(now_unix) > MAX_SKEW_SECONDS {
        return Err(ProviderError::StaleTimestamp);
    }

    let recipient = form.non_empty("recipient").ok_or(ProviderError::MissingField("recipient"))?;
    let envelope_to: Vec<String> = recipient.split(',').filter_map(envelope_address).collect();
    if envelope_to.is_empty() {
        return Err(ProviderError::MissingField("recipient"));
    }
    let envelope_from = form.non_empty("sender").as_deref().and_then(envelope_address);
    let raw = match form.take("body-mime").filter(|f| !f.value.is_empty()) {
        Some(mime) => mime.value,
        None => rebuild(form)?,
    };
    let delivery = InboundDelivery { raw, envelope_to, envelope_from, provider_id: None };
    Ok(MailgunInbound { delivery, token, timestamp })
}

/// Parsed mode: the headers from `message-headers` (`[[name, value], …]` in the original
/// order), `from` and `subject` when those lack them, the bodies and the attachments, with
/// inline images named through `content-id-map` (`{"<cid>": "attachment-1"}`).
fn rebuild(mut form: Form) -> Result<Vec<u8>, ProviderError> {
    let mut draft = Draft::default();
    if let Some(text) = form.non_empty("message-headers") {
        let Ok(Value::Array(pairs)) = serde_json::from_str::<Value>(&text) else {
            return Err(ProviderError::MalformedField("message-headers"));
        };
        for pair in &pairs {
            if let Some([Value::String(name), Value::String(value)]) = pair.as_array().map(Vec::as_slice) {
                draft.header(name, value);
            }
        }
    }
    for (field, header) in [("from", "From"), ("subject", "Subject")] {
        if let Some(value) = form.non_empty(field) {
            draft.header_if_absent(header, &value);
        }
    }
    let content_ids: Vec<(String, String)> = match form.non_empty("content-id-map") {
        None => Vec::new(),
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => {
                map.into_iter().filter_map(|(cid, name)| Some((name.as_str()?.to_string(), cid))).collect()
            }
            _ => return Err(ProviderError::MalformedField("content-id-map")),
        },
    };
    draft.text = form.text("body-plain");
    draft.html = form.text("body-html");
    for (name, file) in form.take_numbered("attachment-") {
        draft.attachments.push(DraftAttachment {
            filename: file.filename,
            content_type: file.content_type,
            content_id: content_ids.iter().find(|(n, _)| *n == name).map(|(_, cid)| cid.clone()),
            bytes: file.value,
        });
    }
    Ok(draft.into_mime())
}
