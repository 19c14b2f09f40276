//! Outgoing webhooks in the native API, for owners and admins (the master key):
//!
//! - `GET|POST /api/v1/workspaces/{id}/webhooks`: the subscriptions; subscribe
//!   (`{"url", "events": [event names] or ["*"]}`): 201 with the `secret` deliveries are
//!   signed with, shown this once.
//! - `DELETE …/webhooks/{webhook}`: unsubscribe.
//! - `GET …/webhooks/{webhook}/deliveries`: the latest 100 deliveries, newest first, with their
//!   state, attempts and last answer.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{Delivery, Webhook};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pipelines::json_body;
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/webhooks", get(list).post(create))
        .route("/api/v1/workspaces/{id}/webhooks/{webhook}", delete(remove))
        .route("/api/v1/workspaces/{id}/webhooks/{webhook}/deliveries", get(deliveries))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookCreate")]
pub(super) struct WebhookIn {
    url: String,
    events: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Webhook")]
pub(super) struct WebhookOut {
    id: String,
    url: String,
    events: Vec<String>,
    created_by: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<Webhook> for WebhookOut {
    fn from(w: Webhook) -> Self {
        WebhookOut {
            id: w.id.to_string(),
            url: w.url,
            events: w.events,
            created_by: w.created_by,
            created_at: w.created_at.to_string(),
            secret: None,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Delivery")]
pub(super) struct DeliveryOut {
    outbox_id: i64,
    object_id: String,
    event: String,
    state: &'static str,
    attempts: i64,
    next_attempt_at: String,
    last_status: Option<i64>,
    last_error: String,
    created_at: String,
    updated_at: String,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        DeliveryOut {
            outbox_id: d.outbox_id,
            object_id: d.object_id,
            event: d.event,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.to_string(),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at.to_string(),
            updated_at: d.updated_at.to_string(),
        }
    }
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let webhooks: Vec<WebhookOut> =
        state.switchboard.webhooks(&access).await?.into_iter().map(WebhookOut::from).collect();
    Ok(Json(json!({ "webhooks": webhooks })).into_response())
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: WebhookIn = json_body(raw)?;
    let (webhook, secret) = state.switchboard.create_webhook(&access, &body.url, &body.events).await?;
    let out = WebhookOut { secret: Some(secret), ..WebhookOut::from(webhook) };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_webhook(&access, &webhook).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn deliveries(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, webhook)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found: Vec<DeliveryOut> = state
        .switchboard
        .webhook_deliveries(&access, &webhook)
        .await?
        .into_iter()
        .map(DeliveryOut::from)
        .collect();
    Ok(Json(json!({ "deliveries": found })).into_response())
}
