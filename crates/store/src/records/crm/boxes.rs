//! Boxes: created, read, listed with filters (stage, assignee, updated since) and keyset
//! pagination by last update or by name, updated under optimistic concurrency, deleted; their
//! stage history is written in the same transaction as the move. Boxes are linked to contacts
//! and organizations, and listed by them.

use sb_types::{BoxId, ContactId, OrganizationId, PipelineId, StageId, Timestamp, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::pipelines::stale;
use super::{NewOutboxEntry, in_use_as, require_row, stage_id, write_outbox};
use crate::{StoreError, WorkspaceDb, col, decode, parsed, parsed_opt};

/// A box of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxRecord {
    pub id: BoxId,
    pub pipeline: PipelineId,
    pub stage: StageId,
    pub name: String,
    pub notes: String,
    /// A JSON object: field id -> value.
    pub fields: String,
    pub assignees: Vec<UserId>,
    /// 1 when created, one more on every change.
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A box entering a stage: `from` is `None` for the stage it was created in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageChange {
    pub from: Option<StageId>,
    pub to: StageId,
    pub changed_by: String,
    pub changed_at: Timestamp,
}

/// The order of a box list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxSort {
    /// Most recently updated first, then by id descending.
    Updated,
    /// By name, then by id.
    Name,
}

/// Where a page of boxes starts: after the box `id` whose sort key (its `updated_at` text or
/// its name) is `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxCursor {
    pub key: String,
    pub id: BoxId,
}

/// Which boxes of a pipeline to list, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxQuery {
    pub pipeline: PipelineId,
    pub stage: Option<StageId>,
    pub assignee: Option<UserId>,
    /// Only boxes updated at or after this instant.
    pub updated_since: Option<Timestamp>,
    pub sort: BoxSort,
    pub after: Option<BoxCursor>,
    pub limit: i64,
}

pub(super) const COLUMNS: &str =
    "id, pipeline_id, stage_id, name, notes, fields, assignees, version, created_by, created_at, updated_at";

fn assignees_text(assignees: &[UserId]) -> String {
    assignees.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

pub(super) fn from_row(row: &AnyRow) -> Result<BoxRecord, StoreError> {
    let assignees: String = col(row, 6)?;
    Ok(BoxRecord {
        id: parsed(row, 0, "crm_boxes.id", BoxId::parse)?,
        pipeline: parsed(row, 1, "crm_boxes.pipeline_id", PipelineId::parse)?,
        stage: stage_id(row, 2, "crm_boxes.stage_id")?,
        name: col(row, 3)?,
        notes: col(row, 4)?,
        fields: col(row, 5)?,
        assignees: assignees
            .split_whitespace()
            .map(|id| decode("crm_boxes.assignees", UserId::parse(id)))
            .collect::<Result<_, _>>()?,
        version: col(row, 7)?,
        created_by: col(row, 8)?,
        created_at: parsed(row, 9, "crm_boxes.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 10, "crm_boxes.updated_at", Timestamp::parse)?,
    })
}

async fn put_assignees(tx: &mut Transaction<'static, Any>, crm_box: &BoxRecord) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM crm_box_assignees WHERE box_id = $1")
        .bind(crm_box.id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    for user in &crm_box.assignees {
        sqlx::query("INSERT INTO crm_box_assignees (box_id, user_id) VALUES ($1, $2)")
            .bind(crm_box.id.to_string())
            .bind(user.to_string())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

async fn record_stage_change(
    tx: &mut Transaction<'static, Any>,
    crm_box: &BoxRecord,
    change: &StageChange,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO crm_stage_history (box_id, box_version, from_stage, to_stage, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crm_box.id.to_string())
    .bind(crm_box.version)
    .bind(change.from.map(|s| s.to_string()))
    .bind(change.to.to_string())
    .bind(&change.changed_by)
    .bind(change.changed_at.to_string())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

const NOT_A_STAGE: &str = "the stage is not a stage of the box's pipeline";

impl WorkspaceDb {
    /// Stores a new box, its first stage history entry and `outbox` in one transaction.
    pub async fn insert_box(
        &self,
        crm_box: &BoxRecord,
        created_in: &StageChange,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_boxes (id, pipeline_id, stage_id, name, notes, fields, assignees, version,
                 created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(crm_box.id.to_string())
        .bind(crm_box.pipeline.to_string())
        .bind(crm_box.stage.to_string())
        .bind(&crm_box.name)
        .bind(&crm_box.notes)
        .bind(&crm_box.fields)
        .bind(assignees_text(&crm_box.assignees))
        .bind(crm_box.version)
        .bind(&crm_box.created_by)
        .bind(crm_box.created_at.to_string())
        .bind(crm_box.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(in_use_as(NOT_A_STAGE))?;
        put_assignees(&mut tx, crm_box).await?;
        record_stage_change(&mut tx, crm_box, created_in).await?;
        write_outbox(&mut tx, outbox, crm_box.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The box `id`, if it exists.
    pub async fn crm_box(&self, id: BoxId) -> Result<Option<BoxRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM crm_boxes WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(from_row).transpose()
    }

    /// One page of the boxes `query` asks for.
    pub async fn boxes(&self, query: &BoxQuery) -> Result<Vec<BoxRecord>, StoreError> {
        let mut binds = vec![query.pipeline.to_string()];
        let mut sql = format!("SELECT {COLUMNS} FROM crm_boxes WHERE pipeline_id = $1");
        let mut bind = |sql: &mut String, condition: &str, value: String| {
            binds.push(value);
            sql.push_str(&condition.replace('?', &format!("${}", binds.len())));
        };
        if let Some(stage) = query.stage {
            bind(&mut sql, " AND stage_id = ?", stage.to_string());
        }
        if let Some(user) = query.assignee {
            bind(
                &mut sql,
                " AND id IN (SELECT box_id FROM crm_box_assignees WHERE user_id = ?)",
                user.to_string(),
            );
        }
        if let Some(since) = query.updated_since {
            bind(&mut sql, " AND updated_at >= ?", since.to_string());
        }
        let (column, order, past) = match query.sort {
            BoxSort::Updated => ("updated_at", "updated_at DESC, id DESC", "<"),
            BoxSort::Name => ("name", "name, id", ">"),
        };
        if let Some(after) = &query.after {
            bind(&mut sql, &format!(" AND ({column}, id) {past} (?, "), after.key.clone());
            bind(&mut sql, "?)", after.id.to_string());
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {}", query.limit.max(0)));
        let mut statement = sqlx::query(&sql);
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces the box `crm_box.id`, if it is still at `expected_version` and in the pipeline
    /// `crm_box.pipeline`, with `crm_box`; records `moved` in its stage history and writes
    /// `outbox`. `NotFound` if it does not exist, `Conflict` if it is at another version;
    /// either way nothing changes.
    pub async fn update_box(
        &self,
        crm_box: &BoxRecord,
        expected_version: i64,
        moved: Option<&StageChange>,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_boxes SET stage_id = $1, name = $2, notes = $3, fields = $4, assignees = $5,
                 version = $6, updated_at = $7
             WHERE id = $8 AND pipeline_id = $9 AND version = $10",
        )
        .bind(crm_box.stage.to_string())
        .bind(&crm_box.name)
        .bind(&crm_box.notes)
        .bind(&crm_box.fields)
        .bind(assignees_text(&crm_box.assignees))
        .bind(crm_box.version)
        .bind(crm_box.updated_at.to_string())
        .bind(crm_box.id.to_string())
        .bind(crm_box.pipeline.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(in_use_as(NOT_A_STAGE))?;
        if updated.rows_affected() == 0 {
            return Err(stale(&mut tx, "crm_boxes", "box", &crm_box.id.to_string(), expected_version).await);
        }
        put_assignees(&mut tx, crm_box).await?;
        if let Some(change) = moved {
            record_stage_change(&mut tx, crm_box, change).await?;
        }
        write_outbox(&mut tx, outbox, crm_box.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the box `id` with its assignees and stage history, and writes `outbox`.
    /// `NotFound` if it does not exist.
    pub async fn delete_box(
        &self,
        id: BoxId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.delete_row("crm_boxes", "box", &id.to_string(), outbox, now).await
    }

    /// The stages the box `id` has been in, oldest first.
    pub async fn stage_history(&self, id: BoxId) -> Result<Vec<StageChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT from_stage, to_stage, changed_by, changed_at FROM crm_stage_history
             WHERE box_id = $1 ORDER BY box_version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(StageChange {
                    from: parsed_opt(row, 0, "crm_stage_history.from_stage", StageId::parse)?,
                    to: stage_id(row, 1, "crm_stage_history.to_stage")?,
                    changed_by: col(row, 2)?,
                    changed_at: parsed(row, 3, "crm_stage_history.changed_at", Timestamp::parse)?,
                })
            })
            .collect()
    }
}

/// What a box is linked to besides its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxLink {
    Contact(ContactId),
    Organization(OrganizationId),
}

impl BoxLink {
    /// (link table, its column, the linked table, its noun, the linked id).
    fn parts(self) -> (&'static str, &'static str, &'static str, &'static str, String) {
        match self {
            BoxLink::Contact(id) => {
                ("crm_box_contacts", "contact_id", "crm_contacts", "contact", id.to_string())
            }
            BoxLink::Organization(id) => (
                "crm_box_organizations",
                "organization_id",
                "crm_organizations",
                "organization",
                id.to_string(),
            ),
        }
    }
}

/// Most boxes a contact's or an organization's list returns, most recently updated first.
const LINKED_BOXES_MAX: i64 = 500;

impl WorkspaceDb {
    /// Links the box `id` to `link` (linking twice changes nothing), or (`linked` false) removes
    /// that link, and writes `outbox`. `NotFound` if the box or what it links to does not exist,
    /// or, to remove, if there is no such link.
    pub async fn link_box(
        &self,
        id: BoxId,
        link: BoxLink,
        linked: bool,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (table, column, target_table, noun, target) = link.parts();
        let mut tx = self.begin().await?;
        let delete = format!("DELETE FROM {table} WHERE box_id = $1 AND {column} = $2");
        let removed = sqlx::query(&delete)
            .bind(id.to_string())
            .bind(&target)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?
            .rows_affected();
        require_row(&mut tx, "crm_boxes", &id.to_string(), "box").await?;
        require_row(&mut tx, target_table, &target, noun).await?;
        if linked {
            let insert = format!("INSERT INTO {table} (box_id, {column}) VALUES ($1, $2)");
            sqlx::query(&insert)
                .bind(id.to_string())
                .bind(&target)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
        } else if removed == 0 {
            return Err(StoreError::NotFound("link"));
        }
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The contacts and the organizations the box `id` is linked to, by id.
    pub async fn box_links(&self, id: BoxId) -> Result<(Vec<ContactId>, Vec<OrganizationId>), StoreError> {
        let contacts: Vec<String> = sqlx::query_scalar(
            "SELECT contact_id FROM crm_box_contacts WHERE box_id = $1 ORDER BY contact_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        let organizations: Vec<String> = sqlx::query_scalar(
            "SELECT organization_id FROM crm_box_organizations WHERE box_id = $1 ORDER BY organization_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok((
            contacts
                .iter()
                .map(|c| decode("crm_box_contacts.contact_id", ContactId::parse(c)))
                .collect::<Result<_, _>>()?,
            organizations
                .iter()
                .map(|o| decode("crm_box_organizations.organization_id", OrganizationId::parse(o)))
                .collect::<Result<_, _>>()?,
        ))
    }

    /// The boxes linked to the contact `id`, most recently updated first, at most
    /// `LINKED_BOXES_MAX`.
    pub async fn contact_boxes(&self, id: ContactId) -> Result<Vec<BoxRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM crm_boxes
             WHERE id IN (SELECT box_id FROM crm_box_contacts WHERE contact_id = $1)
             ORDER BY updated_at DESC, id DESC LIMIT {LINKED_BOXES_MAX}"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// The boxes linked to the organization `id` or to one of its contacts, most recently
    /// updated first, at most `LINKED_BOXES_MAX`: one statement.
    pub async fn organization_boxes(&self, id: OrganizationId) -> Result<Vec<BoxRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM crm_boxes
             WHERE id IN (
                 SELECT box_id FROM crm_box_organizations WHERE organization_id = $1
                 UNION
                 SELECT bc.box_id FROM crm_box_contacts bc
                 JOIN crm_contact_organizations co ON co.contact_id = bc.contact_id
                 WHERE co.organization_id = $1)
             ORDER BY updated_at DESC, id DESC LIMIT {LINKED_BOXES_MAX}"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }
}
