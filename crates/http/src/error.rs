//! The one mapping from error kinds to HTTP statuses, and the JSON error body
//! `{"error_code": "...", "message": "..."}`. Internal details never reach the client: they
//! are logged, and the client gets a generic message.

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sb_core::CoreError;
use sb_types::ErrorKind;

/// The HTTP status for a kind.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `error_code` for a kind.
pub fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "invalid_request",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Internal => "internal_error",
    }
}

/// The message a client may see for `error`.
pub(crate) fn public_message(error: &CoreError) -> String {
    match error.kind() {
        ErrorKind::Internal => {
            tracing::error!(%error, "internal error");
            "internal error; the server log has the details".into()
        }
        ErrorKind::Unavailable => {
            tracing::warn!(%error, "storage unavailable");
            "storage is unavailable; nothing was changed, try again".into()
        }
        _ => error.to_string(),
    }
}

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into() }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        ApiError { kind: error.kind(), message: public_message(&error) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({
            "error_code": error_code(self.kind),
            "message": self.message,
        }));
        let mut response = (status(self.kind), body).into_response();
        if self.kind == ErrorKind::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Unknown routes: JSON under `/api/`, a page elsewhere.
pub(crate) async fn not_found(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    uri: Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(ErrorKind::NotFound, "no such route").into_response()
    } else {
        state.pages.error(StatusCode::NOT_FOUND, "Page not found", "There is nothing at this address.")
    }
}
