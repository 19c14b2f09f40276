//! The Keen IO v3 adapter under `/3.0`: event writes (single, batch, GET beacon), inspection,
//! queries and saved queries, with Keen's key placement, error shape and CORS. Keen's wire quirks stay in
//! this module.

mod auth;
mod error;
mod inspect;
mod query;
mod rate;
mod saved;
mod write;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub(crate) use rate::RateLimiter;
pub(crate) use saved::{definition as saved_query_definition, draft as saved_query_draft};

/// Largest `/3.0` request body: a batch of a few thousand events.
pub const MAX_KEEN_BODY_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/3.0/projects", get(inspect::projects))
        .route("/3.0/projects/{project}", get(inspect::project))
        .route("/3.0/projects/{project}/events", get(inspect::collections).post(write::batch))
        .route("/3.0/projects/{project}/events/{collection}/properties/{property}", get(inspect::property))
        .route(
            "/3.0/projects/{project}/events/{collection}",
            get(write::beacon_or_schema).post(write::single),
        )
        .route(
            "/3.0/projects/{project}/queries/{analysis}",
            get(query::analysis_get).post(query::analysis_post),
        )
        .route("/3.0/projects/{project}/queries/saved", get(saved::list))
        .route(
            "/3.0/projects/{project}/queries/saved/{name}",
            get(saved::show).put(saved::put).delete(saved::delete),
        )
        .route("/3.0/projects/{project}/queries/saved/{name}/result", get(saved::result))
        .layer(DefaultBodyLimit::max(MAX_KEEN_BODY_BYTES))
}

/// Browsers call the Keen API from any origin with keys in headers: answer preflights and
/// mark every `/3.0` answer readable cross-origin, errors and timeouts included (applied
/// outside every other layer). No cookies are involved, so `*` is safe.
pub(crate) async fn cors(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/3.0/") && request.uri().path() != "/3.0" {
        return next.run(request).await;
    }
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, Keen-Sdk, X-Requested-With"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}
