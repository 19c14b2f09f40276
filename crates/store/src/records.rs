//! A workspace's records database: the source of truth for everything the workspace owns
//! except raw events (saved queries, the CRM and its outbox, check-ins, mail in and out). It
//! records its own workspace id, checked on every open.

mod checkins;
mod crm;
mod inbound;
mod mail;
mod saved_queries;
mod webhooks;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sb_types::{Timestamp, WorkspaceId};
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{StoreError, migrate};

pub use checkins::{CheckinMemberRecord, CheckinSettingsRecord, EntryCommentRecord, EntryQuery, EntryRecord};
pub use crm::{
    AuditRecord, BoxCursor, BoxLink, BoxLinks, BoxQuery, BoxReason, BoxRecord, BoxSort, CommentRecord,
    ContactLink, ContactRecord, FILTER_VALUE_MAX, FieldRecord, Filed, ImportRecord, ListQuery, ListSort,
    MessageRecord, NewOutboxEntry, OrganizationRecord, OutboxRecord, ParticipantRecord, PipelineRecord,
    StageChange, StageRecord, TaskRecord, ThreadCursor, ThreadLinkRecord, ThreadRecord, TimelineEntry,
    TimelineKind,
};
pub use inbound::{InboundRecord, InboundStored};
pub use mail::{
    MailAttemptRecord, MailOutcome, MailPromotion, MailRecord, MailState, NewMail, SuppressionRecord,
};
pub use saved_queries::{NewSavedQuery, SavedQueryRecord};
pub use webhooks::{DeliveryOutcome, DeliveryRecord, DeliveryState, WebhookRecord};

/// An open workspace records database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkspaceDb {
    workspace: WorkspaceId,
    pool: AnyPool,
    /// SQLite admits one writer at a time, and a writer that finds the database locked sleeps
    /// and retries (up to 100 ms a try) while holding one of the pool's few connections. On
    /// SQLite this server's writers therefore queue here for their turn, in order, before they
    /// take a connection; another process still waits through the busy timeout. PostgreSQL
    /// orders its writers itself: `None`.
    write_turn: Option<Arc<Mutex<()>>>,
}

/// A write transaction on a workspace database, holding the database's write turn (SQLite)
/// until it commits or is dropped. Statements run on it as on the connection (`&mut *tx`).
pub(crate) struct WriteTransaction {
    transaction: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.transaction.rollback().await
    }
}

impl Deref for WriteTransaction {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.transaction
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.transaction
    }
}

impl WorkspaceDb {
    fn new(workspace: WorkspaceId, pool: AnyPool) -> WorkspaceDb {
        let sqlite = pool.connect_options().database_url.scheme() == "sqlite";
        WorkspaceDb { workspace, pool, write_turn: sqlite.then(Arc::default) }
    }

    /// Begins a write transaction, on SQLite once this server's earlier writers are done.
    pub(crate) async fn begin(&self) -> Result<WriteTransaction, StoreError> {
        let turn = match &self.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let transaction = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        Ok(WriteTransaction { transaction, _turn: turn })
    }

    /// Migrates a new, empty database and stamps it with its workspace.
    pub(crate) async fn initialise(
        workspace: WorkspaceId,
        pool: AnyPool,
        created_at: Timestamp,
    ) -> Result<WorkspaceDb, StoreError> {
        migrate::run(&pool, migrate::WORKSPACE).await?;
        sqlx::query("INSERT INTO workspace_meta (workspace_id, created_at) VALUES ($1, $2)")
            .bind(workspace.to_string())
            .bind(created_at.to_string())
            .execute(&pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(WorkspaceDb::new(workspace, pool))
    }

    /// Brings an existing database to the current schema and checks whose it is.
    pub(crate) async fn open(workspace: WorkspaceId, pool: AnyPool) -> Result<WorkspaceDb, StoreError> {
        migrate::run(&pool, migrate::WORKSPACE).await?;
        let owner: Option<String> = sqlx::query_scalar("SELECT workspace_id FROM workspace_meta")
            .fetch_optional(&pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        if owner.as_deref() != Some(workspace.to_string().as_str()) {
            pool.close().await;
            return Err(StoreError::Corrupt(format!(
                "records database of workspace {workspace} belongs to {}",
                owner.as_deref().unwrap_or("no workspace")
            )));
        }
        let db = WorkspaceDb::new(workspace, pool);
        db.backfill_box_values().await?;
        Ok(db)
    }

    /// The workspace this database belongs to, as stamped inside it.
    pub async fn stamped_workspace(&self) -> Result<WorkspaceId, StoreError> {
        let id: String = sqlx::query_scalar("SELECT workspace_id FROM workspace_meta")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        crate::decode("workspace_meta.workspace_id", WorkspaceId::parse(&id))
    }

    /// The workspace this handle was opened for.
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
