//! Event writes: single (`POST …/events/{collection}`), batch (`POST …/events`) and the GET
//! beacon (`GET …/events/{collection}?data=<base64>`), whose bare form is the schema read.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use sb_core::{Access, EventContext, Rejection};
use serde_json::{Map, Value, json};

use super::auth::project_access;
use super::error::KeenError;
use super::inspect;
use crate::AppState;

/// A transparent 1×1 GIF: beacon clients count a zero-sized image as a failure.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

type Params = Query<HashMap<String, String>>;
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// The request facts events may draw on: the client address (the first `X-Forwarded-For`
/// entry when a proxy sets one) and the user agent.
fn context(headers: &HeaderMap, peer: &Peer) -> EventContext {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let ip = forwarded.or_else(|| peer.as_ref().map(|p| p.0.0.ip().to_string())).unwrap_or_default();
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    EventContext::new(ip, user_agent, sb_types::Timestamp::now().millis())
}

/// Bodies are JSON whatever the Content-Type says (the Beacon API sends `text/plain`).
/// Parsed off the async reactor: a batch body is megabytes.
async fn parse_body(body: Bytes, error: &'static str) -> Result<Value, KeenError> {
    let parsed =
        tokio::task::spawn_blocking(move || serde_json::from_slice::<Value>(&body)).await.map_err(|_| {
            KeenError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                "the request was interrupted",
            )
        })?;
    parsed.map_err(|e| KeenError::bad_request(error, format!("the body is not valid JSON: {e}")))
}

async fn record_one(
    state: &AppState,
    access: &Access,
    collection: String,
    event: Value,
    context: EventContext,
) -> Result<(), KeenError> {
    let outcome = state.switchboard.record_events(access, vec![(collection, vec![event])], context).await?;
    match outcome.into_iter().next().and_then(|(_, results)| results.into_iter().next()) {
        Some(Err(Rejection { name, description })) => Err(KeenError::bad_request(name, description)),
        _ => Ok(()),
    }
}

/// `POST /3.0/projects/{project}/events/{collection}`: 201 with exactly `{"created": true}`.
pub(crate) async fn single(
    State(state): State<AppState>,
    Path((project, collection)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeenError> {
    let access =
        project_access(&state, &project, &headers, params.get("api_key").map(String::as_str)).await?;
    let event = parse_body(body?, "InvalidEventError").await?;
    record_one(&state, &access, collection, event, context(&headers, &peer)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "created": true }))).into_response())
}

/// `POST /3.0/projects/{project}/events`: `{"collection": [event, …], …}`; 200 with one result
/// per event, in request order; a bad event fails alone.
pub(crate) async fn batch(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KeenError> {
    let access =
        project_access(&state, &project, &headers, params.get("api_key").map(String::as_str)).await?;
    let Value::Object(collections) = parse_body(body?, "InvalidBatchError").await? else {
        return Err(KeenError::bad_request(
            "InvalidBatchError",
            "a batch must be an object of collection names to event lists",
        ));
    };
    let mut batch = Vec::with_capacity(collections.len());
    for (name, events) in collections {
        let Value::Array(events) = events else {
            return Err(KeenError::bad_request(
                "InvalidBatchError",
                format!("the value of {name:?} must be a list of events"),
            ));
        };
        batch.push((name, events));
    }
    let outcome = state.switchboard.record_events(&access, batch, context(&headers, &peer)).await?;
    let mut answer = Map::new();
    for (name, results) in outcome {
        let results = results
            .into_iter()
            .map(|result| match result {
                Ok(()) => json!({ "success": true }),
                Err(Rejection { name, description }) => {
                    json!({ "success": false, "error": { "name": batch_error_name(name), "description": description } })
                }
            })
            .collect();
        answer.insert(name, Value::Array(results));
    }
    Ok(Json(Value::Object(answer)).into_response())
}

/// The error name a batch result carries. Keen's Java and iOS uploaders drop an event only
/// for `InvalidCollectionNameError`, `InvalidPropertyNameError` or `InvalidPropertyValueError`
/// and retry any other name forever, so every refusal of an event is reported as one of those.
fn batch_error_name(name: &'static str) -> &'static str {
    match name {
        "InvalidCollectionNameError" | "InvalidPropertyNameError" => name,
        "InvalidKeenNamespaceProperty" => "InvalidPropertyNameError",
        _ => "InvalidPropertyValueError",
    }
}

/// `GET /3.0/projects/{project}/events/{collection}`: with `data`, a beacon write answered with
/// a 1×1 GIF (or a redirect to `redirect`); without, the collection's schema.
pub(crate) async fn beacon_or_schema(
    State(state): State<AppState>,
    Path((project, collection)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Response, KeenError> {
    let access =
        project_access(&state, &project, &headers, params.get("api_key").map(String::as_str)).await?;
    let Some(data) = params.get("data") else {
        return inspect::collection_schema(&state, &access, &project, &collection).await;
    };
    let redirect = match params.get("redirect") {
        None => None,
        Some(target) => Some(
            url::Url::parse(target)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .and_then(|u| header::HeaderValue::from_str(u.as_str()).ok())
                .ok_or_else(|| {
                    KeenError::bad_request("InvalidRedirectError", "redirect must be an http or https URL")
                })?,
        ),
    };
    let bytes = decode_base64(data)
        .ok_or_else(|| KeenError::bad_request("InvalidEventError", "data is not base64-encoded JSON"))?;
    let event = parse_body(Bytes::from(bytes), "InvalidEventError").await?;
    record_one(&state, &access, collection, event, context(&headers, &peer)).await?;
    Ok(match redirect {
        Some(target) => (StatusCode::FOUND, [(header::LOCATION, target)]).into_response(),
        None => ([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL)
            .into_response(),
    })
}

/// Base64 in either alphabet, with or without padding. Spaces are `+` that a form decoder
/// unescaped (Python's client does not URL-escape the data).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '+',
            '_' => '/',
            other => other,
        })
        .filter(|c| *c != '=')
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_in_both_alphabets_with_or_without_padding() {
        let expected = br#"{"a":"~~~?"}"#.to_vec();
        for text in ["eyJhIjoifn5+PyJ9", "eyJhIjoifn5-PyJ9", "eyJhIjoifn5 PyJ9"] {
            assert_eq!(decode_base64(text).as_deref(), Some(expected.as_slice()), "{text}");
        }
        assert_eq!(decode_base64("eyJiIjoxfQ==").unwrap(), br#"{"b":1}"#);
        assert_eq!(decode_base64("eyJiIjoxfQ").unwrap(), br#"{"b":1}"#);
        assert!(decode_base64("not base64!").is_none());
    }
}
