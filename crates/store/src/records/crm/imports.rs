//! CSV import runs: started, advanced row by row, finished or stopped, and found again by the
//! file they read so that a stopped run can be resumed. Also the lookups an import dedupes by:
//! an organization by domain, a contact or an organization by exact name, a box by name in
//! its pipeline.

use sb_types::{Domain, PipelineId, Timestamp};
use sqlx::any::AnyRow;

use super::boxes::{self, BoxRecord};
use super::contacts::{
    CONTACT_COLUMNS, ContactRecord, ORGANIZATION_COLUMNS, OrganizationRecord, contact_from_row,
    organization_from_row,
};
use crate::{StoreError, WorkspaceDb, col, parsed};

/// One import run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub id: String,
    /// contacts, organizations or boxes.
    pub kind: String,
    /// The pipeline of a box import; empty otherwise.
    pub target: String,
    /// The file's name, as given.
    pub source: String,
    /// SHA-256 of the file, hex.
    pub content_hash: String,
    pub total_rows: i64,
    /// Rows handled so far, from the top.
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// running, done or stopped.
    pub state: String,
    /// Why it stopped, empty otherwise.
    pub message: String,
    pub started_by: String,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, kind, target, source, content_hash, total_rows, rows_done, created, updated, \
     unchanged, state, message, started_by, started_at, updated_at";

fn from_row(row: &AnyRow) -> Result<ImportRecord, StoreError> {
    Ok(ImportRecord {
        id: col(row, 0)?,
        kind: col(row, 1)?,
        target: col(row, 2)?,
        source: col(row, 3)?,
        content_hash: col(row, 4)?,
        total_rows: col(row, 5)?,
        rows_done: col(row, 6)?,
        created: col(row, 7)?,
        updated: col(row, 8)?,
        unchanged: col(row, 9)?,
        state: col(row, 10)?,
        message: col(row, 11)?,
        started_by: col(row, 12)?,
        started_at: parsed(row, 13, "crm_imports.started_at", Timestamp::parse)?,
        updated_at: parsed(row, 14, "crm_imports.updated_at", Timestamp::parse)?,
    })
}

impl WorkspaceDb {
    /// Stores a new import run.
    pub async fn insert_import(&self, run: &ImportRecord) -> Result<(), StoreError> {
        self.write_one(sqlx::query(&format!(
            "INSERT INTO crm_imports ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&run.id)
        .bind(&run.kind)
        .bind(&run.target)
        .bind(&run.source)
        .bind(&run.content_hash)
        .bind(run.total_rows)
        .bind(run.rows_done)
        .bind(run.created)
        .bind(run.updated)
        .bind(run.unchanged)
        .bind(&run.state)
        .bind(&run.message)
        .bind(&run.started_by)
        .bind(run.started_at.to_string())
        .bind(run.updated_at.to_string())
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Records how far the run `run.id` got and where it stands.
    pub async fn update_import(&self, run: &ImportRecord) -> Result<(), StoreError> {
        self.write_one(sqlx::query(
            "UPDATE crm_imports SET rows_done = $1, created = $2, updated = $3, unchanged = $4, state = $5,
                 message = $6, updated_at = $7
             WHERE id = $8",
        )
        .bind(run.rows_done)
        .bind(run.created)
        .bind(run.updated)
        .bind(run.unchanged)
        .bind(&run.state)
        .bind(&run.message)
        .bind(run.updated_at.to_string())
        .bind(&run.id)
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Takes the run `id` over to resume it: true if it had stopped, or has saved no progress
    /// since `stale_before` (its process is gone), false if it is still running.
    pub async fn claim_import(
        &self,
        id: &str,
        stale_before: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let claimed = self
            .write_one(
                sqlx::query(
                    "UPDATE crm_imports SET state = 'running', message = '', updated_at = $1
             WHERE id = $2 AND (state = 'stopped' OR (state = 'running' AND updated_at < $3))",
                )
                .bind(now.to_string())
                .bind(id.to_owned())
                .bind(stale_before.to_string()),
            )
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(claimed.rows_affected() == 1)
    }

    /// The latest run of this kind into `target` that read the file `content_hash` and did not
    /// finish, if any.
    pub async fn unfinished_import(
        &self,
        kind: &str,
        target: &str,
        content_hash: &str,
    ) -> Result<Option<ImportRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM crm_imports
             WHERE content_hash = $1 AND kind = $2 AND target = $3 AND state <> 'done'
             ORDER BY started_at DESC, id DESC LIMIT 1"
        ))
        .bind(content_hash.to_owned())
        .bind(kind.to_owned())
        .bind(target.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(from_row).transpose()
    }

    /// The latest import runs, newest first, at most `limit`.
    pub async fn imports(&self, limit: i64) -> Result<Vec<ImportRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM crm_imports ORDER BY started_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// The organization with the domain `domain`, if any.
    pub async fn organization_by_domain(
        &self,
        domain: &Domain,
    ) -> Result<Option<OrganizationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM crm_organizations
             WHERE id = (SELECT organization_id FROM crm_organization_domains WHERE domain = $1)"
        ))
        .bind(domain.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// The first contact (by id) named exactly `name`, if any.
    pub async fn contact_by_name(&self, name: &str) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM crm_contacts WHERE name = $1 ORDER BY id LIMIT 1"
        ))
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// The first organization (by id) named exactly `name`, if any.
    pub async fn organization_by_name(&self, name: &str) -> Result<Option<OrganizationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM crm_organizations WHERE name = $1 ORDER BY id LIMIT 1"
        ))
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// The first box (by id) of `pipeline` named exactly `name`, if any.
    pub async fn box_by_name(
        &self,
        pipeline: PipelineId,
        name: &str,
    ) -> Result<Option<BoxRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM crm_boxes WHERE pipeline_id = $1 AND name = $2 ORDER BY id LIMIT 1",
            boxes::COLUMNS
        ))
        .bind(pipeline.to_string())
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(boxes::from_row).transpose()
    }
}
