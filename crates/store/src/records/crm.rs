//! The CRM's records: pipelines (with their stages and fields) and boxes, their stage history,
//! contacts and organizations with their links, tasks, comments, email threads, the context
//! queries over them, and the outbox and audit rows every change writes in its own
//! transaction. Values arrive checked by `sb-core`; the schema still refuses a box in a stage
//! of another pipeline.

mod boxes;
mod comments;
mod contacts;
mod context;
mod imports;
mod pipelines;
mod tasks;
mod threads;

use sb_types::{FieldId, FieldType, StageId, Timestamp};
use sqlx::Any;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;

use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, parsed};

pub use boxes::{BoxCursor, BoxLink, BoxLinks, BoxQuery, BoxRecord, BoxSort, FILTER_VALUE_MAX, StageChange};
pub use comments::CommentRecord;
pub use contacts::{ContactLink, ContactRecord, ListQuery, ListSort, OrganizationRecord};
pub use context::{BoxReason, TimelineEntry, TimelineKind};
pub use imports::ImportRecord;
pub(crate) use pipelines::PipelineParts;
pub use pipelines::{PipelineRecord, StageRecord};
pub use tasks::TaskRecord;
pub use threads::{Filed, MessageRecord, ParticipantRecord, ThreadCursor, ThreadLinkRecord, ThreadRecord};

/// A custom field of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRecord {
    pub id: FieldId,
    pub name: String,
    pub field_type: FieldType,
    /// A JSON array of strings: a dropdown's choices, empty for other types.
    pub options: String,
}

/// A change to announce to the outbox's consumers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxEntry {
    /// What kind of object changed: "pipeline", "box".
    pub object_kind: &'static str,
    pub object_id: String,
    /// What happened, e.g. `BOX_CHANGE_STAGE`.
    pub event: &'static str,
    /// The object after the change (before it, for a delete), as a JSON object.
    pub payload: String,
    /// Who made the change, for the audit trail.
    pub actor: String,
    /// What changed, for the audit trail: a JSON object, each changed property ->
    /// `{"from", "to"}`.
    pub changes: String,
}

/// A row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The id of the outbox row written with it: increases in commit order.
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub object_kind: String,
    pub object_id: String,
    pub event: String,
    /// A JSON object, each changed property -> `{"from", "to"}`.
    pub changes: String,
}

/// A stored outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Increases in commit order.
    pub id: i64,
    pub object_kind: String,
    pub object_id: String,
    pub event: String,
    pub payload: String,
    pub created_at: Timestamp,
}

/// Writes `entries` to the outbox and to the audit trail inside `tx`. Call it last before
/// committing: the sequence row stays locked until the commit, which orders the ids of
/// concurrent writers. Each entry takes its id from the sequence in the same statement that
/// stores it (PostgreSQL); on SQLite all the entries go to the connection in one call.
pub(crate) async fn write_outbox(
    tx: &mut WriteTransaction,
    entries: &[NewOutboxEntry],
    now: Timestamp,
) -> Result<(), StoreError> {
    const NEXT_ID: &str = "UPDATE outbox_sequence SET last = last + 1";
    // The `n`th entry's two inserts, each to be completed with the source of `last` (the id),
    // with its values at `$7n+1` to `$7n+7` (see `bind_entry`).
    let inserts = |n: usize| {
        let [kind, object, event, payload, at, actor, changes] =
            std::array::from_fn(|i| format!("${}", n * 7 + i + 1));
        (
            format!(
                "INSERT INTO outbox (id, object_kind, object_id, event, payload, created_at)
                 SELECT last, {kind}, {object}, {event}, {payload}, {at}"
            ),
            format!(
                "INSERT INTO audit_log (id, at, actor, object_kind, object_id, event, changes)
                 SELECT last, {at}, {actor}, {kind}, {object}, {event}, {changes}"
            ),
        )
    };
    let now = now.to_string();
    if tx.is_sqlite() {
        if entries.is_empty() {
            return Ok(());
        }
        let sql: String = (0..entries.len())
            .map(|n| {
                let (outbox, audit) = inserts(n);
                format!("{NEXT_ID}; {outbox} FROM outbox_sequence; {audit} FROM outbox_sequence;")
            })
            .collect();
        let mut statement = sqlx::query(&sql);
        for entry in entries {
            statement = bind_entry(statement, entry, &now);
        }
        statement.execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
        return Ok(());
    }
    let (outbox, audit) = inserts(0);
    let sql = format!("WITH s AS ({NEXT_ID} RETURNING last), o AS ({outbox} FROM s) {audit} FROM s");
    for entry in entries {
        bind_entry(sqlx::query(&sql), entry, &now).execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

/// Binds an outbox entry's seven values, in the order `write_outbox`'s inserts number them.
fn bind_entry<'q>(
    statement: Query<'q, Any, AnyArguments<'q>>,
    entry: &'q NewOutboxEntry,
    now: &'q str,
) -> Query<'q, Any, AnyArguments<'q>> {
    statement
        .bind(entry.object_kind)
        .bind(&entry.object_id)
        .bind(entry.event)
        .bind(&entry.payload)
        .bind(now)
        .bind(&entry.actor)
        .bind(&entry.changes)
}

/// Makes `tx` the only thread writer until it ends: on SQLite it already is, every write
/// transaction being part of the group that holds the database's write lock
/// (`BEGIN IMMEDIATE`); on PostgreSQL by locking the row of `crm_thread_lock` that only
/// thread writers take (other writers are not held up, and take the outbox sequence last as
/// usual). What `tx` reads next, other thread writers' commits included, stays true until it
/// commits.
pub(crate) async fn lock_thread_writers(tx: &mut WriteTransaction) -> Result<(), StoreError> {
    if tx.is_sqlite() {
        return Ok(());
    }
    sqlx::query("UPDATE crm_thread_lock SET taken = taken WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(())
}

pub(super) fn outbox_from_row(row: &AnyRow) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        id: col(row, 0)?,
        object_kind: col(row, 1)?,
        object_id: col(row, 2)?,
        event: col(row, 3)?,
        payload: col(row, 4)?,
        created_at: parsed(row, 5, "outbox.created_at", Timestamp::parse)?,
    })
}

/// `NotFound(noun)` unless `table` has the row `id` (read inside `tx`). Call it after the
/// transaction's first write: on SQLite, a transaction that reads first may be refused the
/// write lock later (`SQLITE_BUSY`) instead of waiting for it.
pub(crate) async fn require_row(
    tx: &mut WriteTransaction,
    table: &str,
    id: &str,
    noun: &'static str,
) -> Result<(), StoreError> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
    let found: i64 =
        sqlx::query_scalar(&sql).bind(id).fetch_one(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    if found == 0 { Err(StoreError::NotFound(noun)) } else { Ok(()) }
}

impl WorkspaceDb {
    /// Deletes the row `id` of `table` (its dependent rows cascade) and writes `outbox`, in one
    /// transaction. `NotFound(noun)` if there is no such row.
    pub(crate) async fn delete_row(
        &self,
        table: &str,
        noun: &'static str,
        id: &str,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("DELETE FROM {table} WHERE id = $1");
        let deleted = sqlx::query(&sql).bind(id).execute(&mut *tx).await.map_err(StoreError::from_sqlx)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(noun));
        }
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }
}

/// Rows per `INSERT` statement of `insert_rows`: well under either backend's limit on bound
/// values.
const ROWS_PER_INSERT: usize = 200;

/// A value for `insert_rows` to bind.
pub(crate) enum Cell {
    Text(String),
    Integer(i64),
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(number: i64) -> Cell {
        Cell::Integer(number)
    }
}

/// Inserts `rows`, each a value per column of `columns`, into `table` inside `tx`: one
/// statement for up to `ROWS_PER_INSERT` rows.
pub(crate) async fn insert_rows<const N: usize>(
    tx: &mut WriteTransaction,
    table: &str,
    columns: [&str; N],
    rows: &[[Cell; N]],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let tuples: Vec<String> =
            (0..chunk.len()).map(|row| format!("({})", placeholders(row * N + 1, N))).collect();
        let sql = format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), tuples.join(", "));
        let mut statement = sqlx::query(&sql);
        for cell in chunk.iter().flatten() {
            statement = match cell {
                Cell::Text(text) => statement.bind(text),
                Cell::Integer(number) => statement.bind(*number),
            };
        }
        statement.execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

/// `columns` (a list like `"id, name"`), each prefixed with the table alias `alias`.
pub(crate) fn prefixed(columns: &str, alias: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// `$first, $first+1, …` for `count` values, for `IN (…)` lists.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// A foreign key refused the write because the row it refers to does not exist:
/// `NotFound(noun)`.
pub(crate) fn missing_as(noun: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(e) if e.is_foreign_key_violation() => StoreError::NotFound(noun),
        _ => StoreError::from_sqlx(error),
    }
}

/// A foreign key refused the write: a row still refers to what was to be deleted or changed.
pub(crate) fn in_use_as(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |error| match &error {
        sqlx::Error::Database(e) if e.is_foreign_key_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::from_sqlx(error),
    }
}

impl WorkspaceDb {
    /// Outbox rows with an id above `after`, oldest first, at most `limit`.
    pub async fn outbox_after(&self, after: i64, limit: i64) -> Result<Vec<OutboxRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, object_kind, object_id, event, payload, created_at FROM outbox
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(outbox_from_row).collect()
    }

    /// Audit rows with an id below `before` (all if `None`), newest first, of the object
    /// `object` only if given, at most `limit`.
    pub async fn audit(
        &self,
        object: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT id, at, actor, object_kind, object_id, event, changes FROM audit_log
             WHERE id < $1 {} ORDER BY id DESC LIMIT $2",
            if object.is_some() { "AND object_id = $3" } else { "" }
        );
        let mut statement = sqlx::query(&sql).bind(before.unwrap_or(i64::MAX)).bind(limit);
        if let Some(object) = object {
            statement = statement.bind(object.to_owned());
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(AuditRecord {
                    id: col(row, 0)?,
                    at: parsed(row, 1, "audit_log.at", Timestamp::parse)?,
                    actor: col(row, 2)?,
                    object_kind: col(row, 3)?,
                    object_id: col(row, 4)?,
                    event: col(row, 5)?,
                    changes: col(row, 6)?,
                })
            })
            .collect()
    }
}

/// Parses a stage id column.
pub(crate) fn stage_id(row: &AnyRow, index: usize, name: &str) -> Result<StageId, StoreError> {
    parsed(row, index, name, StageId::parse)
}
