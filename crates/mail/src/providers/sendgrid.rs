//! SendGrid: Inbound Parse posts, raw mode (field `email`) and parsed mode (fields `headers`,
//! `text`, `html`, `charsets`, `attachment1…N`), and the ECDSA signature SendGrid puts on its
//! signed webhooks.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde_json::{Map, Value};

use super::form::Form;
use super::rebuild::{Draft, DraftAttachment, decode_charset};
use super::{InboundDelivery, ProviderError, check_size, envelope_address};

/// Reads an Inbound Parse post (`multipart/form-data`, `content_type` is the request's header
/// value) of at most `limit` bytes. Raw mode hands on SendGrid's copy of the message; parsed
/// mode rebuilds one from the fields, with text, HTML and garbled headers decoded from the
/// charsets SendGrid names in `charsets`. Recipients and sender come from the `envelope` JSON.
///
/// Inbound Parse is unsigned unless the account signs it: when a public key is configured,
/// call [`verify_sendgrid_signature`] on the same body first.
pub fn sendgrid_inbound(
    body: &[u8],
    content_type: &str,
    limit: usize,
) -> Result<InboundDelivery, ProviderError> {
    check_size(body, limit)?;
    let mut form = Form::parse(body, content_type)?;
    let (envelope_to, envelope_from) = envelope(&form)?;
    let raw = match form.take("email").filter(|f| !f.value.is_empty()) {
        Some(email) => email.value,
        None => rebuild(form)?,
    };
    Ok(InboundDelivery { raw, envelope_to, envelope_from, provider_id: None })
}

/// Checks SendGrid's signature: ECDSA P-256 with SHA-256 over the
/// `X-Twilio-Email-Event-Webhook-Timestamp` value followed by the raw body. `signature_b64` is
/// the `X-Twilio-Email-Event-Webhook-Signature` value (base64 DER), `public_key_b64` the key
/// from the account's settings (base64 DER SubjectPublicKeyInfo). Empty header values mean the
/// request was not signed.
///
/// The timestamp is covered by the signature but its age is not checked here: SendGrid retries
/// a failed post for hours with the same signature, and duplicates are caught by the events'
/// `sg_event_id` instead.
pub fn verify_sendgrid_signature(
    public_key_b64: &str,
    signature_b64: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<(), ProviderError> {
    let key_der = STANDARD.decode(public_key_b64.trim()).map_err(|_| ProviderError::BadKey)?;
    let key = VerifyingKey::from_public_key_der(&key_der).map_err(|_| ProviderError::BadKey)?;
    let (signature_b64, timestamp) = (signature_b64.trim(), timestamp.trim());
    if signature_b64.is_empty() || timestamp.is_empty() {
        return Err(ProviderError::MissingSignature);
    }
    let signature_der = STANDARD.decode(signature_b64).map_err(|_| ProviderError::BadSignature)?;
    let signature = Signature::from_der(&signature_der).map_err(|_| ProviderError::BadSignature)?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &signature).map_err(|_| ProviderError::BadSignature)
}

/// `envelope`: `{"to": ["rcpt@host"], "from": "return-path@host"}`.
fn envelope(form: &Form) -> Result<(Vec<String>, Option<String>), ProviderError> {
    let text = form.non_empty("envelope").ok_or(ProviderError::MissingField("envelope"))?;
    let Ok(Value::Object(envelope)) = serde_json::from_str::<Value>(&text) else {
        return Err(ProviderError::MalformedField("envelope"));
    };
    let to: Vec<String> = match envelope.get("to") {
        Some(Value::Array(list)) => {
            list.iter().filter_map(Value::as_str).filter_map(envelope_address).collect()
        }
        Some(Value::String(one)) => one.split(',').filter_map(envelope_address).collect(),
        _ => Vec::new(),
    };
    if to.is_empty() {
        return Err(ProviderError::MissingField("envelope.to"));
    }
    let from = envelope.get("from").and_then(Value::as_str).and_then(envelope_address);
    Ok((to, from))
}

/// Parsed mode: a message rebuilt from `headers`, `text`, `html` and the attachments.
fn rebuild(mut form: Form) -> Result<Vec<u8>, ProviderError> {
    let charsets = json_object(&form, "charsets")?;
    let charset = |field: &str| charsets.get(field).and_then(Value::as_str).map(str::to_string);
    let info = json_object(&form, "attachment-info")?;

    let mut draft = Draft::default();
    let headers = form.field("headers").ok_or(ProviderError::MissingField("headers"))?;
    draft.header_block(&decode_charset(&headers.value, charset("headers").as_deref()));
    // Header lines whose bytes were not UTF-8 (an unencoded Latin-1 subject) are taken from
    // the single fields SendGrid decoded for us, read in the charset it names for each.
    for name in ["subject", "from", "to", "cc"] {
        if let Some(field) = form.field(name) {
            draft.repair_header(name, &decode_charset(&field.value, charset(name).as_deref()));
        }
    }
    draft.text = form.take("text").map(|f| decode_charset(&f.value, charset("text").as_deref()));
    draft.html = form.take("html").map(|f| decode_charset(&f.value, charset("html").as_deref()));
    for (name, file) in form.take_numbered("attachment") {
        let described = info.get(&name).and_then(Value::as_object);
        let described =
            |key: &str| described.and_then(|d| d.get(key)).and_then(Value::as_str).map(String::from);
        draft.attachments.push(DraftAttachment {
            filename: described("filename").or(file.filename),
            content_type: described("type").or(file.content_type),
            content_id: described("content-id"),
            bytes: file.value,
        });
    }
    Ok(draft.into_mime())
}

/// An optional field holding a JSON object; absent or blank is an empty object.
fn json_object(form: &Form, name: &'static str) -> Result<Map<String, Value>, ProviderError> {
    match form.non_empty(name) {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ProviderError::MalformedField(name)),
        },
    }
}
