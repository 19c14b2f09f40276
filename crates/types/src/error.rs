//! The error kinds shared by all crates; `sb-http` maps each to one HTTP status.

/// What went wrong, as far as a caller needs to know to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was malformed or out of bounds.
    Invalid,
    /// No credentials, or credentials that do not identify anyone.
    Unauthenticated,
    /// Credentials are valid but do not allow this operation.
    Forbidden,
    /// The thing does not exist, or the caller may not know that it exists.
    NotFound,
    /// The write conflicts with what is stored (a duplicate name, a stale version).
    Conflict,
    /// Too many attempts; try again later.
    RateLimited,
    /// A dependency (disk, database) is unavailable; nothing was changed.
    Unavailable,
    /// A bug or an unexpected state.
    Internal,
}
