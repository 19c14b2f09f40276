//! SendGrid's Event Webhook: a JSON array of delivery events (delivered, deferred, bounce,
//! dropped, spam report, unsubscribe, …) read into [`DeliveryEvent`]s for the outbox and the
//! suppression list. Check the post with [`super::verify_sendgrid_signature`] first.

use serde_json::{Map, Value};

use super::{ProviderError, check_size};

/// What happened to one outgoing message, as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEventKind {
    /// The receiving server accepted the message.
    Delivered,
    /// A temporary failure; the provider keeps trying.
    Deferred,
    /// The receiving server refused the message. `permanent` is true when the address itself
    /// failed (a 5.x.x status); a `blocked` bounce (the sending IP or the content was refused)
    /// and a 4.x.x status are not reasons to stop writing to the address.
    Bounce { permanent: bool },
    /// The provider did not send the message (a suppressed or invalid address).
    Dropped,
    /// The recipient marked the message as spam.
    SpamReport,
    /// The recipient unsubscribed from everything sent through the account.
    Unsubscribe,
    /// Any other event (`processed`, `open`, `click`, group unsubscribes …), by its name.
    Other(String),
}

/// One event of the Event Webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// The recipient, trimmed and lower-cased.
    pub email: String,
    pub kind: DeliveryEventKind,
    /// When it happened, Unix seconds.
    pub timestamp: i64,
    /// `sg_event_id`: unique per event, so a repeated post is recognised.
    pub event_id: Option<String>,
    /// `smtp-id`: the Message-ID of the outgoing message, without angle brackets.
    pub message_id: Option<String>,
    /// The receiving server's text (`reason` of bounces and drops, `response` of deliveries
    /// and deferrals); empty when there is none.
    pub reason: String,
    /// The enhanced status code (`5.1.1`), when given.
    pub status: Option<String>,
}

/// Reads an Event Webhook post of at most `limit` bytes. Every element must be an object
/// with `email`, `event` and a numeric `timestamp`; otherwise the whole post is refused, so
/// SendGrid retries it rather than events going missing.
pub fn sendgrid_events(body: &[u8], limit: usize) -> Result<Vec<DeliveryEvent>, ProviderError> {
    check_size(body, limit)?;
    let Ok(Value::Array(events)) = serde_json::from_slice::<Value>(body) else {
        return Err(ProviderError::MalformedJson);
    };
    events
        .iter()
        .map(|event| event.as_object().ok_or(ProviderError::MalformedJson).and_then(read_event))
        .collect()
}

fn read_event(event: &Map<String, Value>) -> Result<DeliveryEvent, ProviderError> {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let email = text("email").ok_or(ProviderError::MissingField("email"))?.to_lowercase();
    let name = text("event").ok_or(ProviderError::MissingField("event"))?;
    let timestamp = match event.get("timestamp") {
        None => return Err(ProviderError::MissingField("timestamp")),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|t| t.is_finite() && t.abs() < 1e15).map(|t| t as i64))
            .ok_or(ProviderError::MalformedField("timestamp"))?,
    };
    let status = text("status").map(String::from);
    let kind = match name {
        "delivered" => DeliveryEventKind::Delivered,
        "deferred" => DeliveryEventKind::Deferred,
        "bounce" => {
            let blocked = text("type").is_some_and(|t| t.eq_ignore_ascii_case("blocked"));
            let temporary_status = status.as_deref().is_some_and(|s| s.starts_with('4'));
            DeliveryEventKind::Bounce { permanent: !blocked && !temporary_status }
        }
        "dropped" => DeliveryEventKind::Dropped,
        "spamreport" => DeliveryEventKind::SpamReport,
        "unsubscribe" => DeliveryEventKind::Unsubscribe,
        other => DeliveryEventKind::Other(other.to_string()),
    };
    let message_id = text("smtp-id")
        .map(|id| id.trim_start_matches('<').trim_end_matches('>').trim().to_string())
        .filter(|id| !id.is_empty());
    Ok(DeliveryEvent {
        email,
        kind,
        timestamp,
        event_id: text("sg_event_id").map(String::from),
        message_id,
        reason: text("reason").or_else(|| text("response")).unwrap_or_default().to_string(),
        status,
    })
}
