//! Boxes: created, read, listed with filters (stage, assignee, updated since) and keyset
//! pagination by last update or by name, updated under optimistic concurrency, deleted; their
//! stage history is written in the same transaction as the move. Boxes are linked to contacts
//! and organizations, and listed by them.

use sb_types::{BoxId, ContactId, FieldId, OrganizationId, PipelineId, StageId, Timestamp, UserId};
use sqlx::any::AnyRow;

use super::pipelines::{self, PipelineRecord, stale};
use super::{Cell, NewOutboxEntry, in_use_as, insert_rows, prefixed, require_row, stage_id, write_outbox};
use crate::records::WriteTransaction;
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
    /// Members who follow the box.
    pub followers: Vec<UserId>,
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
    /// Only boxes whose value of this field is this text (a string as it is, a number or a
    /// boolean as JSON); for a tags field, that have this tag.
    pub field_value: Option<(FieldId, String)>,
    /// Only boxes updated at or after this instant.
    pub updated_since: Option<Timestamp>,
    pub sort: BoxSort,
    pub after: Option<BoxCursor>,
    pub limit: i64,
}

pub(super) const COLUMNS: &str = "id, pipeline_id, stage_id, name, notes, fields, assignees, version, \
     created_by, created_at, updated_at, followers";

fn users_text(users: &[UserId]) -> String {
    users.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

fn users(text: &str, column: &str) -> Result<Vec<UserId>, StoreError> {
    text.split_whitespace().map(|id| decode(column, UserId::parse(id))).collect()
}

/// Longest value, in characters, that `crm_box_values` holds: a longer one (a long text value)
/// cannot be filtered on, and would not fit a PostgreSQL index row.
pub const FILTER_VALUE_MAX: usize = 200;

/// Each (field id, value as text) of a box's field values: a string as it is, a number or a
/// boolean as JSON, one row per item of a list; values longer than `FILTER_VALUE_MAX` are left
/// out.
fn value_rows(fields: &str) -> Vec<(String, String)> {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Ok(serde_json::Value::Object(values)) = serde_json::from_str(fields) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (field, value) in values {
        match value {
            serde_json::Value::Array(items) => {
                rows.extend(items.iter().map(|item| (field.clone(), text(item))));
            }
            scalar => rows.push((field, text(&scalar))),
        }
    }
    rows.retain(|(_, value)| value.chars().count() <= FILTER_VALUE_MAX);
    rows.sort();
    rows.dedup();
    rows
}

/// Replaces the box `id`'s rows in `crm_box_values` with those of `fields`.
async fn put_values(tx: &mut WriteTransaction, id: &str, fields: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM crm_box_values WHERE box_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    let rows: Vec<[Cell; 3]> = value_rows(fields)
        .into_iter()
        .map(|(field, value)| [id.into(), field.into(), value.into()])
        .collect();
    insert_rows(tx, "crm_box_values", ["box_id", "field_id", "value"], &rows).await
}

/// Replaces the box `id`'s rows in `table` (its assignees or its followers) with `users`.
async fn put_users(
    tx: &mut WriteTransaction,
    table: &str,
    id: &str,
    users: &[UserId],
) -> Result<(), StoreError> {
    sqlx::query(&format!("DELETE FROM {table} WHERE box_id = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    let rows: Vec<[Cell; 2]> = users.iter().map(|user| [id.into(), user.to_string().into()]).collect();
    insert_rows(tx, table, ["box_id", "user_id"], &rows).await
}

pub(super) fn from_row(row: &AnyRow) -> Result<BoxRecord, StoreError> {
    Ok(BoxRecord {
        id: parsed(row, 0, "crm_boxes.id", BoxId::parse)?,
        pipeline: parsed(row, 1, "crm_boxes.pipeline_id", PipelineId::parse)?,
        stage: stage_id(row, 2, "crm_boxes.stage_id")?,
        name: col(row, 3)?,
        notes: col(row, 4)?,
        fields: col(row, 5)?,
        assignees: users(&col::<String>(row, 6)?, "crm_boxes.assignees")?,
        followers: users(&col::<String>(row, 11)?, "crm_boxes.followers")?,
        version: col(row, 7)?,
        created_by: col(row, 8)?,
        created_at: parsed(row, 9, "crm_boxes.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 10, "crm_boxes.updated_at", Timestamp::parse)?,
    })
}

/// Writes the box's rows in its assignee, follower and field value tables where they differ
/// from those of `previous` (the same box as stored before this change), or all of them for a
/// new box (`None`).
async fn put_box_rows(
    tx: &mut WriteTransaction,
    previous: Option<&BoxRecord>,
    crm_box: &BoxRecord,
) -> Result<(), StoreError> {
    let id = crm_box.id.to_string();
    if previous.is_none_or(|p| p.assignees != crm_box.assignees) {
        put_users(tx, "crm_box_assignees", &id, &crm_box.assignees).await?;
    }
    if previous.is_none_or(|p| p.followers != crm_box.followers) {
        put_users(tx, "crm_box_followers", &id, &crm_box.followers).await?;
    }
    if previous.is_none_or(|p| p.fields != crm_box.fields) {
        put_values(tx, &id, &crm_box.fields).await?;
    }
    Ok(())
}

async fn record_stage_change(
    tx: &mut WriteTransaction,
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
    /// Fills `crm_box_values` from every box's field values, once per database (the boxes
    /// written before the table existed have no rows in it).
    pub(crate) async fn backfill_box_values(&self) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query("UPDATE crm_box_values_backfill SET done = 1 WHERE id = 1 AND done = 0")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        if claimed.rows_affected() == 0 {
            return tx.rollback().await.map_err(StoreError::from_sqlx);
        }
        let boxes: Vec<(String, String)> = sqlx::query_as("SELECT id, fields FROM crm_boxes")
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        for (id, fields) in &boxes {
            put_values(&mut tx, id, fields).await?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

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
                 created_by, created_at, updated_at, followers)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(crm_box.id.to_string())
        .bind(crm_box.pipeline.to_string())
        .bind(crm_box.stage.to_string())
        .bind(&crm_box.name)
        .bind(&crm_box.notes)
        .bind(&crm_box.fields)
        .bind(users_text(&crm_box.assignees))
        .bind(crm_box.version)
        .bind(&crm_box.created_by)
        .bind(crm_box.created_at.to_string())
        .bind(crm_box.updated_at.to_string())
        .bind(users_text(&crm_box.followers))
        .execute(&mut *tx)
        .await
        .map_err(in_use_as(NOT_A_STAGE))?;
        put_box_rows(&mut tx, None, crm_box).await?;
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

    /// The box `id` with its pipeline, stages and fields included, if it exists: one query,
    /// and no more for a pipeline read at its version before.
    pub async fn crm_box_with_pipeline(
        &self,
        id: BoxId,
    ) -> Result<Option<(BoxRecord, PipelineRecord)>, StoreError> {
        let sql = format!(
            "SELECT {}, {} FROM crm_boxes b JOIN crm_pipelines p ON p.id = b.pipeline_id WHERE b.id = $1",
            prefixed(COLUMNS, "b"),
            prefixed(pipelines::COLUMNS, "p"),
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        let pipeline = pipelines::from_row(&row, COLUMNS.split(", ").count())?;
        let pipeline =
            self.with_parts(vec![pipeline]).await?.pop().ok_or(StoreError::NotFound("pipeline"))?;
        Ok(Some((from_row(&row)?, pipeline)))
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
        if let Some((field, value)) = &query.field_value {
            bind(
                &mut sql,
                " AND id IN (SELECT box_id FROM crm_box_values WHERE field_id = ?",
                field.to_string(),
            );
            bind(&mut sql, " AND value = ?)", value.clone());
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

    /// Replaces the box `previous` (as read before this change), if it is still at
    /// `previous.version` and in the pipeline `crm_box.pipeline`, with `crm_box`; records
    /// `moved` in its stage history and writes `outbox`. `NotFound` if it does not exist,
    /// `Conflict` if it is at another version; either way nothing changes. Only the side rows
    /// (assignees, followers, field values) that differ from `previous` are rewritten.
    pub async fn update_box(
        &self,
        previous: &BoxRecord,
        crm_box: &BoxRecord,
        moved: Option<&StageChange>,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let expected_version = previous.version;
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_boxes SET stage_id = $1, name = $2, notes = $3, fields = $4, assignees = $5,
                 version = $6, updated_at = $7, followers = $11
             WHERE id = $8 AND pipeline_id = $9 AND version = $10",
        )
        .bind(crm_box.stage.to_string())
        .bind(&crm_box.name)
        .bind(&crm_box.notes)
        .bind(&crm_box.fields)
        .bind(users_text(&crm_box.assignees))
        .bind(crm_box.version)
        .bind(crm_box.updated_at.to_string())
        .bind(crm_box.id.to_string())
        .bind(crm_box.pipeline.to_string())
        .bind(expected_version)
        .bind(users_text(&crm_box.followers))
        .execute(&mut *tx)
        .await
        .map_err(in_use_as(NOT_A_STAGE))?;
        if updated.rows_affected() == 0 {
            return Err(stale(&mut tx, "crm_boxes", "box", &crm_box.id.to_string(), expected_version).await);
        }
        put_box_rows(&mut tx, Some(previous), crm_box).await?;
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
    /// Another box; the link shows on both.
    Box(BoxId),
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
            BoxLink::Box(id) => ("crm_linked_boxes", "linked_box_id", "crm_boxes", "box", id.to_string()),
        }
    }
}

/// What a box is linked to, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoxLinks {
    pub contacts: Vec<ContactId>,
    pub organizations: Vec<OrganizationId>,
    pub boxes: Vec<BoxId>,
}

/// Most boxes a contact's or an organization's list returns, most recently updated first.
const LINKED_BOXES_MAX: i64 = 500;

/// The ids `sql` selects for the box `id`, parsed with `parse`.
async fn linked_ids<T, E: std::fmt::Display>(
    db: &WorkspaceDb,
    sql: &str,
    id: BoxId,
    column: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(sql)
        .bind(id.to_string())
        .fetch_all(&db.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
    ids.iter().map(|text| decode(column, parse(text))).collect()
}

impl WorkspaceDb {
    /// Links the box `id` to `link` (linking twice changes nothing), or (`linked` false) removes
    /// that link, and writes `outbox`. `NotFound` if the box or what it links to does not exist,
    /// or, to remove, if there is no such link. A link between boxes is written both ways.
    pub async fn link_box(
        &self,
        id: BoxId,
        link: BoxLink,
        linked: bool,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (table, column, target_table, noun, target) = link.parts();
        let mut pairs = vec![(id.to_string(), target.clone())];
        if let BoxLink::Box(_) = link {
            pairs.push((target.clone(), id.to_string()));
        }
        let mut tx = self.begin().await?;
        let delete = format!("DELETE FROM {table} WHERE box_id = $1 AND {column} = $2");
        let mut removed = 0;
        for (from, to) in &pairs {
            removed += sqlx::query(&delete)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?
                .rows_affected();
        }
        require_row(&mut tx, "crm_boxes", &id.to_string(), "box").await?;
        require_row(&mut tx, target_table, &target, noun).await?;
        if linked {
            let insert = format!("INSERT INTO {table} (box_id, {column}) VALUES ($1, $2)");
            for (from, to) in &pairs {
                sqlx::query(&insert)
                    .bind(from)
                    .bind(to)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
            }
        } else if removed == 0 {
            return Err(StoreError::NotFound("link"));
        }
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The contacts, organizations and boxes the box `id` is linked to, by id.
    pub async fn box_links(&self, id: BoxId) -> Result<BoxLinks, StoreError> {
        Ok(BoxLinks {
            contacts: linked_ids(
                self,
                "SELECT contact_id FROM crm_box_contacts WHERE box_id = $1 ORDER BY contact_id",
                id,
                "crm_box_contacts.contact_id",
                ContactId::parse,
            )
            .await?,
            organizations: linked_ids(
                self,
                "SELECT organization_id FROM crm_box_organizations WHERE box_id = $1 ORDER BY organization_id",
                id,
                "crm_box_organizations.organization_id",
                OrganizationId::parse,
            )
            .await?,
            boxes: linked_ids(
                self,
                "SELECT linked_box_id FROM crm_linked_boxes WHERE box_id = $1 ORDER BY linked_box_id",
                id,
                "crm_linked_boxes.linked_box_id",
                BoxId::parse,
            )
            .await?,
        })
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
