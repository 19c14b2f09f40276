//! The only crate that knows SQL: the control database (users, workspaces, memberships, API
//! keys, login sessions) and one records database per workspace, on SQLite or PostgreSQL.
//!
//! Both backends go through sqlx's `Any` driver with portable SQL (`$1` placeholders, TEXT and
//! BIGINT columns), so there is one repository API and one conformance suite
//! (`tests/conformance.rs`) instantiated per backend.

mod backend;
mod control;
mod migrate;
mod records;

use std::path::Path;

pub use backend::Backend;
pub use control::imap::ImapCursorRecord;
pub use control::keys::{ApiKeyRecord, NewApiKey};
pub use control::sessions::SessionRecord;
pub use control::users::{NewUser, User};
pub use control::workspaces::{Member, Workspace};
pub use records::{
    AuditRecord, BoxCursor, BoxLink, BoxLinks, BoxQuery, BoxReason, BoxRecord, BoxSort, CheckinMemberRecord,
    CheckinSettingsRecord, CommentRecord, ContactLink, ContactRecord, DeliveryOutcome, DeliveryRecord,
    DeliveryState, EntryCommentRecord, EntryQuery, EntryRecord, FILTER_VALUE_MAX, FieldRecord, Filed,
    ImportRecord, InboundRecord, InboundStored, ListQuery, ListSort, MailAttemptRecord, MailOutcome,
    MailPromotion, MailRecord, MailState, MessageRecord, NewMail, NewOutboxEntry, NewSavedQuery,
    OrganizationRecord, OutboxRecord, ParticipantRecord, PipelineRecord, SavedQueryRecord, StageChange,
    StageRecord, SuppressionRecord, TaskRecord, ThreadCursor, ThreadLinkRecord, ThreadRecord, TimelineEntry,
    TimelineKind, WebhookRecord, WorkspaceDb,
};
pub use sb_config::Database;
use sb_types::{ErrorKind, Timestamp};

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the text names what was duplicated.
    #[error("{0}")]
    Conflict(String),
    /// The row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database could not be reached or refused the operation.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} failed: {message}")]
    Migration { version: i64, message: String },
    /// The database holds something this version cannot read.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The kind callers branch on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Unavailable(_) => ErrorKind::Unavailable,
            StoreError::Migration { .. } | StoreError::Corrupt(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(error.to_string())
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Turns a unique-constraint failure into `Conflict(what)`, anything else as usual.
pub(crate) fn conflict_as(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |error| {
        if is_unique_violation(&error) {
            StoreError::Conflict(what.to_owned())
        } else {
            StoreError::from_sqlx(error)
        }
    }
}

/// Parses a stored value with a `parse` constructor, reporting failure as corruption.
pub(crate) fn decode<T, E: std::fmt::Display>(column: &str, parsed: Result<T, E>) -> Result<T, StoreError> {
    parsed.map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Column `index` of `row`.
pub(crate) fn col<'r, T>(row: &'r sqlx::any::AnyRow, index: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    sqlx::Row::try_get(row, index).map_err(StoreError::from_sqlx)
}

/// Column `index` of `row`, parsed with `parse`; `name` says which column in errors.
pub(crate) fn parsed<T, E: std::fmt::Display>(
    row: &sqlx::any::AnyRow,
    index: usize,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    decode(name, parse(&col::<String>(row, index)?))
}

/// Nullable column `index` of `row`, parsed with `parse`.
pub(crate) fn parsed_opt<T, E: std::fmt::Display>(
    row: &sqlx::any::AnyRow,
    index: usize,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    col::<Option<String>>(row, index)?.map(|text| decode(name, parse(&text))).transpose()
}

/// The handle on all databases: the control database, and workspace databases opened on use.
pub struct Store {
    backend: Backend,
    control: sqlx::AnyPool,
    workspaces: std::sync::Mutex<std::collections::HashMap<sb_types::WorkspaceId, WorkspaceDb>>,
    /// Held while a workspace database is opened, so that requests arriving together open it
    /// once (each open migrates it and, on SQLite, starts its own write turn).
    opening: tokio::sync::Mutex<()>,
    /// On SQLite, the active keys remembered while the control database is unchanged.
    #[cfg(target_os = "linux")]
    keys: Option<control::key_cache::KeyCache>,
}

impl Store {
    /// Opens (creating if needed) the data folder layout and the control database, and
    /// brings it to the current schema.
    pub async fn open(data_dir: &Path, database: &Database) -> Result<Store, StoreError> {
        let backend = Backend::prepare(data_dir, database)?;
        let control = backend.open_control().await?;
        migrate::run(&control, migrate::CONTROL).await?;
        #[cfg(target_os = "linux")]
        let keys = match &backend {
            Backend::Sqlite { data_dir } => control::key_cache::KeyCache::watching(data_dir),
            Backend::Postgres { .. } => None,
        };
        Ok(Store {
            backend,
            control,
            workspaces: Default::default(),
            opening: Default::default(),
            #[cfg(target_os = "linux")]
            keys,
        })
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Closes every pool; pending writes have already committed.
    pub async fn close(&self) {
        let pools: Vec<WorkspaceDb> = self.lock_workspaces().drain().map(|(_, db)| db).collect();
        for db in pools {
            db.close().await;
        }
        self.control.close().await;
    }

    fn lock_workspaces(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<sb_types::WorkspaceId, WorkspaceDb>> {
        self.workspaces.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
