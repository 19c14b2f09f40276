//! Why a provider's webhook request was refused.

use sb_types::ErrorKind;

/// A refused webhook request. Malformed payloads are [`ErrorKind::Invalid`]; failed
/// authentication is [`ErrorKind::Unauthenticated`]; a configured key that cannot be read is
/// the operator's mistake, [`ErrorKind::Internal`], so the provider retries once it is fixed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The body is larger than the limit the caller set.
    #[error("the payload is too large")]
    TooLarge,
    /// The Content-Type is neither a form nor what this provider sends.
    #[error("unsupported content type")]
    UnsupportedContentType,
    /// The form body could not be read: no boundary, no parts, or cut short.
    #[error("malformed form body")]
    MalformedForm,
    /// The JSON body could not be read, or has the wrong shape.
    #[error("malformed json body")]
    MalformedJson,
    /// A field every payload of this kind carries is absent or empty.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field is present but cannot be read (bad JSON, not a number, bad base64).
    #[error("malformed field {0}")]
    MalformedField(&'static str),
    /// No signature or no timestamp came with a request that must be signed.
    #[error("missing signature")]
    MissingSignature,
    /// The signature does not match the payload and the key.
    #[error("bad signature")]
    BadSignature,
    /// The signed timestamp is too far from the current time: a replay or a wrong clock.
    #[error("stale timestamp")]
    StaleTimestamp,
    /// No credentials came with a request that must carry them.
    #[error("missing credentials")]
    MissingCredentials,
    /// The credentials do not match the configured ones.
    #[error("bad credentials")]
    BadCredentials,
    /// The configured verification key is not a base64 DER P-256 public key.
    #[error("the configured public key is malformed")]
    BadKey,
}

impl ProviderError {
    /// What the caller should do: refuse the input, ask for credentials, or fix the config.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::TooLarge
            | Self::UnsupportedContentType
            | Self::MalformedForm
            | Self::MalformedJson
            | Self::MissingField(_)
            | Self::MalformedField(_) => ErrorKind::Invalid,
            Self::MissingSignature
            | Self::BadSignature
            | Self::StaleTimestamp
            | Self::MissingCredentials
            | Self::BadCredentials => ErrorKind::Unauthenticated,
            Self::BadKey => ErrorKind::Internal,
        }
    }
}
