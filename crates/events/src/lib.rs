//! The event store: Keen-compatible event validation, a durable write-ahead log with group
//! commit, an in-memory tail compacted in the background into Parquet parts, and queries over
//! parts and tail. Knows nothing about HTTP. See docs/ARCHITECTURE.md, "Events".

mod collection;
mod compaction;
mod event;
mod manifest;
mod part;
pub mod query;
mod schema;
mod sql;
mod store;
mod threads;
pub mod timestamp;
mod wal;

pub use collection::{CollectionName, MAX_COLLECTION_NAME};
pub use event::{
    EventContext, MAX_DEPTH, MAX_EVENT_BYTES, MAX_PROPERTIES, MAX_PROPERTY_NAME, MAX_STRING_VALUE,
    PreparedEvent, Rejection, prepare,
};
pub use query::engine::{AnalyzeError, Reach};
pub use sql::{MAX_SQL_ROWS, SqlAnswer, SqlError, run_sql};
pub use store::{EventStore, EventStoreOptions, MAX_REQUEST_BYTES, StoredEvent, UNIQUENESS_WINDOW_MS};

/// The event store could not do its job; nothing was changed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EventStoreError {
    /// The disk or the folder is unavailable (full, read-only, gone).
    #[error("{0}")]
    Unavailable(String),
}
