//! A workspace's records database: the source of truth for everything the workspace owns
//! except raw events (saved queries, the CRM and its outbox, check-ins, mail in and out). It
//! records its own workspace id, checked on every open.

mod checkins;
mod crm;
mod inbound;
mod mail;
mod saved_queries;
mod webhooks;
mod write_turn;

use sb_types::{Timestamp, WorkspaceId};
use sqlx::any::{AnyArguments, AnyQueryResult};
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

use crate::{StoreError, migrate};

use crm::PipelineParts;
use write_turn::Turn;
pub(crate) use write_turn::WriteTransaction;

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
    /// SQLite's write turn, shared by this server's writers (group commit); `None` on
    /// PostgreSQL.
    write_turn: Option<Turn>,
    /// The stages and fields of the pipelines read, by version.
    pipeline_parts: PipelineParts,
}

impl WorkspaceDb {
    fn new(workspace: WorkspaceId, pool: AnyPool) -> WorkspaceDb {
        let sqlite = pool.connect_options().database_url.scheme() == "sqlite";
        WorkspaceDb {
            workspace,
            write_turn: sqlite.then(|| Turn::new(pool.clone())),
            pool,
            pipeline_parts: PipelineParts::default(),
        }
    }

    /// Begins a write transaction; on SQLite, a turn in the open group of writers.
    pub(crate) async fn begin(&self) -> Result<WriteTransaction, StoreError> {
        write_turn::begin(&self.pool, self.write_turn.as_ref()).await.map_err(StoreError::from_sqlx)
    }

    /// Runs one writing statement as a write transaction of its own (on SQLite, in turn with
    /// the other writers rather than against them).
    pub(crate) async fn write_one<'q>(
        &self,
        statement: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<AnyQueryResult, sqlx::Error> {
        let mut tx = write_turn::begin(&self.pool, self.write_turn.as_ref()).await?;
        let done = statement.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done)
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
        // The open group of writers, if any, holds a connection the pool would wait for.
        if let Some(turn) = &self.write_turn {
            write_turn::flush(turn.clone()).await;
        }
        self.pool.close().await;
    }
}
