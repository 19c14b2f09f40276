//! Keen's error answer: `{"message": …, "error_code": …}` with Keen's error names.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sb_core::CoreError;
use sb_types::ErrorKind;

/// An error answered in Keen's shape.
#[derive(Debug)]
pub(crate) struct KeenError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl KeenError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> KeenError {
        KeenError { status, code, message: message.into() }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> KeenError {
        KeenError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found() -> KeenError {
        KeenError::new(StatusCode::NOT_FOUND, "ResourceNotFoundError", "project not found")
    }
}

impl From<CoreError> for KeenError {
    fn from(error: CoreError) -> Self {
        let message = crate::error::public_message(&error);
        match error {
            CoreError::Query { code, .. } => KeenError::bad_request(code, message),
            _ => {
                let (status, code) = match error.kind() {
                    ErrorKind::Unauthenticated | ErrorKind::Forbidden => {
                        (StatusCode::UNAUTHORIZED, "InvalidApiKeyError")
                    }
                    ErrorKind::NotFound => (StatusCode::NOT_FOUND, "ResourceNotFoundError"),
                    ErrorKind::Invalid | ErrorKind::Conflict => (StatusCode::BAD_REQUEST, "BadRequestError"),
                    ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsError"),
                    ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError"),
                    ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
                };
                KeenError::new(status, code, message)
            }
        }
    }
}

/// A body that could not be read: too large (413) or cut off.
impl From<axum::extract::rejection::BytesRejection> for KeenError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        let status = rejection.status();
        let code =
            if status == StatusCode::PAYLOAD_TOO_LARGE { "RequestTooLargeError" } else { "BadRequestError" };
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the request body is larger than {} bytes", super::MAX_KEEN_BODY_BYTES)
        } else {
            rejection.body_text()
        };
        KeenError::new(status, code, message)
    }
}

impl IntoResponse for KeenError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message, "error_code": self.code });
        (self.status, Json(body)).into_response()
    }
}
