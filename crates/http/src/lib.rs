//! HTTP for Switchboard: the JSON API under `/api/v1`, the web pages, the embedded assets,
//! and the one mapping from error kinds to HTTP statuses.
//!
//! `router(state)` builds everything; handlers parse, call one `sb-core` service, and convert
//! the answer; `serve` runs it on a listener. Tests drive the router with
//! `tower::ServiceExt::oneshot`.

mod api;
mod assets;
mod auth;
mod cookies;
mod error;
mod inbound;
mod keen;
mod pages;
mod serve;
mod ui;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use sb_core::Switchboard;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, error_code};
pub use inbound::InboundAuth;
pub use keen::MAX_KEEN_BODY_BYTES;
pub use serve::serve;

/// Largest request body accepted, in bytes, outside `/3.0` (see `keen::MAX_KEEN_BODY_BYTES`).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub switchboard: Switchboard,
    pages: pages::Pages,
    cookie_secure: bool,
    keen_rate: keen::RateLimiter,
    inbound: InboundAuth,
    mailgun_tokens: inbound::SeenTokens,
}

impl AppState {
    /// `cookie_secure` marks the session and CSRF cookies `Secure`. `/3.0` requests are not
    /// rate-bounded until `with_keen_rate_limit`.
    pub fn new(switchboard: Switchboard, cookie_secure: bool) -> AppState {
        let keen_rate = keen::RateLimiter::new(0);
        AppState {
            switchboard,
            pages: pages::Pages::new(),
            cookie_secure,
            keen_rate,
            inbound: InboundAuth::default(),
            mailgun_tokens: inbound::SeenTokens::default(),
        }
    }

    /// Turns on the mail providers' inbound endpoints that `auth` has credentials for.
    pub fn with_inbound_auth(mut self, auth: InboundAuth) -> AppState {
        self.inbound = auth;
        self
    }

    /// Bounds `/3.0` requests to `per_second` per project (0: no bound).
    pub fn with_keen_rate_limit(mut self, per_second: u32) -> AppState {
        self.keen_rate = keen::RateLimiter::new(per_second);
        self
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let security = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    ];
    let mut router = Router::new()
        .merge(api::routes())
        .merge(keen::routes())
        .merge(ui::routes())
        .merge(assets::routes())
        .route("/healthz", axum::routing::get(healthz))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .merge(api::long_routes())
        .merge(
            inbound::routes().layer(axum::extract::DefaultBodyLimit::max(inbound::INBOUND_BODY_BYTES)).layer(
                TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT),
            ),
        )
        .fallback(error::not_found)
        .with_state(state);
    for (name, value) in security {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router.layer(axum::middleware::from_fn(keen::cors)).layer(TraceLayer::new_for_http())
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
