//! Mail arriving over HTTP, and one-click unsubscribe:
//!
//! - `POST /inbound/sendgrid` (Inbound Parse, raw or parsed mode; HTTP Basic credentials from
//!   the webhook URL, and SendGrid's ECDSA signature when the post is signed and a public key
//!   is configured),
//!   `POST /inbound/mailgun` (a route's `forward()`, MIME or parsed; HMAC signature, five-minute
//!   window, each token once), `POST /inbound/postmark` (JSON; Basic credentials).
//! - `POST /inbound/sendgrid/events` (the signed Event Webhook: bounces and complaints feed the
//!   suppression list).
//! - `GET|POST /mail/unsubscribe/{token}`: a confirmation page, and RFC 8058 one-click.
//!
//! An endpoint whose provider is not configured answers 404. Each message ends in the same
//! path as SMTP and IMAP mail (`Switchboard::receive_mail`); the answer says what became of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{Receipt, ReceivedVia};
use sb_mail::providers::{self, InboundDelivery, ProviderError};
use sb_types::ErrorKind;
use serde_json::json;

use crate::{ApiError, AppState};

/// Largest webhook body: a 25 MB attachment grows by a third in base64.
pub const INBOUND_BODY_BYTES: usize = 40 * 1024 * 1024;
/// Mailgun tokens are remembered this long, twice its five-minute window.
const TOKEN_MEMORY_SECONDS: i64 = 600;

/// The credentials each provider's endpoint checks; a provider without them is off.
#[derive(Debug, Clone, Default)]
pub struct InboundAuth {
    pub mailgun_signing_key: Option<String>,
    /// `(user, password)` of the Inbound Parse URL.
    pub sendgrid_basic: Option<(String, String)>,
    /// Base64 DER public key of SendGrid's signed webhooks.
    pub sendgrid_public_key: Option<String>,
    pub postmark_basic: Option<(String, String)>,
}

/// Mailgun tokens seen within the window.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenTokens(Arc<Mutex<HashMap<String, i64>>>);

impl SeenTokens {
    /// True the first time `token` is offered.
    fn first(&self, token: &str, now: i64) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, at| now - *at < TOKEN_MEMORY_SECONDS);
        seen.insert(token.to_owned(), now).is_none()
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbound/sendgrid", post(sendgrid))
        .route("/inbound/sendgrid/events", post(sendgrid_events))
        .route("/inbound/mailgun", post(mailgun))
        .route("/inbound/postmark", post(postmark))
        .route("/mail/unsubscribe/{token}", axum::routing::get(unsubscribe_page).post(unsubscribe))
}

fn refused(error: &ProviderError) -> ApiError {
    ApiError::new(error.kind(), error.to_string())
}

fn off(provider: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("{provider} inbound mail is not configured on this server"))
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Hands a delivery to the one inbound path and says what became of it; `rejected` is the
/// status a refusal gets (Mailgun stops retrying on 406, Postmark on 403, SendGrid on any 2xx).
async fn take(
    state: &AppState,
    delivery: InboundDelivery,
    via: ReceivedVia,
    rejected: StatusCode,
) -> Result<Response, ApiError> {
    let receipt = state
        .switchboard
        .receive_mail(delivery.raw, via, delivery.envelope_from, delivery.envelope_to)
        .await?;
    let (status, body) = match &receipt {
        Receipt::Entries { inbound, entries } => (
            StatusCode::OK,
            json!({"outcome": receipt.outcome(), "inbound": inbound.to_string(), "entries": entries}),
        ),
        Receipt::Flagged { inbound, reason } => (
            StatusCode::OK,
            json!({"outcome": receipt.outcome(), "inbound": inbound.to_string(), "reason": reason}),
        ),
        Receipt::Duplicate { inbound } => {
            (StatusCode::OK, json!({"outcome": receipt.outcome(), "inbound": inbound.to_string()}))
        }
        Receipt::Rejected { reason } => (rejected, json!({"outcome": receipt.outcome(), "reason": reason})),
    };
    Ok((status, Json(body)).into_response())
}

async fn sendgrid(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let auth = state.inbound.clone();
    let (user, password) = auth.sendgrid_basic.as_ref().ok_or_else(|| off("SendGrid"))?;
    providers::check_basic_auth(
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
        user,
        password,
    )
    .map_err(|e| refused(&e))?;
    // Basic credentials always; SendGrid's signature too when the account signs its posts (a
    // signature header is present) and its key is configured.
    let signed = !header_text(&headers, "x-twilio-email-event-webhook-signature").is_empty();
    if let Some(key) = auth.sendgrid_public_key.as_ref().filter(|_| signed) {
        providers::verify_sendgrid_signature(
            key,
            header_text(&headers, "x-twilio-email-event-webhook-signature"),
            header_text(&headers, "x-twilio-email-event-webhook-timestamp"),
            &body,
        )
        .map_err(|e| refused(&e))?;
    }
    let content_type = header_text(&headers, "content-type").to_owned();
    let delivery = tokio::task::spawn_blocking(move || {
        providers::sendgrid_inbound(&body, &content_type, INBOUND_BODY_BYTES)
    })
    .await
    .map_err(|e| ApiError::new(ErrorKind::Unavailable, format!("inbound parser stopped: {e}")))?
    .map_err(|e| refused(&e))?;
    take(&state, delivery, ReceivedVia::Sendgrid, StatusCode::OK).await
}

async fn sendgrid_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = state.inbound.sendgrid_public_key.clone().ok_or_else(|| off("SendGrid event"))?;
    providers::verify_sendgrid_signature(
        &key,
        header_text(&headers, "x-twilio-email-event-webhook-signature"),
        header_text(&headers, "x-twilio-email-event-webhook-timestamp"),
        &body,
    )
    .map_err(|e| refused(&e))?;
    let events = providers::sendgrid_events(&body, INBOUND_BODY_BYTES).map_err(|e| refused(&e))?;
    let applied = state.switchboard.apply_delivery_events(&events).await?;
    Ok(Json(json!({"received": events.len(), "applied": applied})).into_response())
}

async fn mailgun(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = state.inbound.mailgun_signing_key.clone().ok_or_else(|| off("Mailgun"))?;
    let content_type = header_text(&headers, "content-type").to_owned();
    let now = sb_types::Timestamp::now().millis() / 1000;
    let post = tokio::task::spawn_blocking(move || {
        providers::mailgun_inbound(&body, &content_type, &key, now, INBOUND_BODY_BYTES)
    })
    .await
    .map_err(|e| ApiError::new(ErrorKind::Unavailable, format!("inbound parser stopped: {e}")))?
    .map_err(|e| refused(&e))?;
    if !state.mailgun_tokens.first(&post.token, now) {
        return Err(ApiError::new(
            ErrorKind::Unauthenticated,
            "this signed post was already received (replayed token)",
        ));
    }
    take(&state, post.delivery, ReceivedVia::Mailgun, StatusCode::NOT_ACCEPTABLE).await
}

async fn postmark(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, password) = state.inbound.postmark_basic.clone().ok_or_else(|| off("Postmark"))?;
    providers::check_basic_auth(
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
        &user,
        &password,
    )
    .map_err(|e| refused(&e))?;
    let delivery =
        tokio::task::spawn_blocking(move || providers::postmark_inbound(&body, INBOUND_BODY_BYTES))
            .await
            .map_err(|e| ApiError::new(ErrorKind::Unavailable, format!("inbound parser stopped: {e}")))?
            .map_err(|e| refused(&e))?;
    take(&state, delivery, ReceivedVia::Postmark, StatusCode::FORBIDDEN).await
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The confirmation page: link scanners fetch header URLs, so a GET changes nothing.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let address = state.switchboard.unsubscribe_address(&token).await?;
    Ok(Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>\
         <h1>Stop check-in mail to {0}?</h1><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" \
         value=\"One-Click\"><button type=\"submit\">Unsubscribe {0}</button></form></body></html>",
        escape(&address)
    ))
    .into_response())
}

/// RFC 8058 one-click: the token alone says who; no cookie, no login, no redirect.
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let address = state.switchboard.unsubscribe(&token).await?;
    Ok(Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head><body>\
         <h1>{} will get no more check-in mail.</h1></body></html>",
        escape(&address)
    ))
    .into_response())
}
