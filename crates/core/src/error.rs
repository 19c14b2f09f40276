//! `CoreError`: what a domain service reports, with the kind the HTTP layer maps to a status.

use sb_store::StoreError;
use sb_types::{ErrorKind, InvalidValue};

/// A failed domain operation. Messages are for the person at the other end; they never hold
/// secrets, SQL or file paths of the server.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("too many failed attempts; try again in {retry_after_seconds} seconds")]
    RateLimited { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("server secret: {0}")]
    Secret(String),
    /// A query that cannot be answered as asked; `code` is the Keen error name.
    #[error("{message}")]
    Query { code: &'static str, message: String },
    #[error(transparent)]
    Events(#[from] sb_events::EventStoreError),
    /// Something the server needs is missing (an HTTP client for webhooks).
    #[error("{0}")]
    Unavailable(String),
}

impl CoreError {
    /// The kind callers branch on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Invalid(_) => ErrorKind::Invalid,
            CoreError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            CoreError::Forbidden(_) => ErrorKind::Forbidden,
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::Conflict(_) => ErrorKind::Conflict,
            CoreError::RateLimited { .. } => ErrorKind::RateLimited,
            CoreError::Store(e) => e.kind(),
            CoreError::Secret(_) => ErrorKind::Internal,
            CoreError::Query { .. } => ErrorKind::Invalid,
            CoreError::Events(_) | CoreError::Unavailable(_) => ErrorKind::Unavailable,
        }
    }
}

impl From<InvalidValue> for CoreError {
    fn from(value: InvalidValue) -> Self {
        CoreError::Invalid(value.0)
    }
}
