//! Pipelines with their ordered stages and fields: created, read, listed by name with keyset
//! pagination, updated under optimistic concurrency (the version) and deleted when empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sb_types::{FieldId, FieldType, PipelineId, StageId, Timestamp};
use sqlx::any::AnyRow;

use super::{FieldRecord, NewOutboxEntry, in_use_as, placeholders, stage_id, write_outbox};
use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, parsed};

/// A stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRecord {
    pub id: StageId,
    pub name: String,
    /// A CSS colour, `#rrggbb`.
    pub color: String,
}

/// A pipeline, its stages in board order and its fields in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRecord {
    pub id: PipelineId,
    pub name: String,
    pub description: String,
    pub stages: Vec<StageRecord>,
    pub fields: Vec<FieldRecord>,
    /// 1 when created, one more on every change.
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(super) const COLUMNS: &str = "id, name, description, version, created_by, created_at, updated_at";

/// Most pipelines whose stages and fields a database handle keeps; past it, the cache starts
/// over.
const PARTS_KEPT: usize = 1_000;

/// The stages and fields of the pipelines read so far, by pipeline and version. They change
/// only together with the pipeline's version (in one transaction, whichever process writes),
/// so a pipeline read at a version seen before needs no more queries. Shared by the clones of
/// a database handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct PipelineParts {
    kept: Arc<Mutex<KeptParts>>,
}

/// Each pipeline's version, stages and fields.
type KeptParts = HashMap<PipelineId, (i64, Vec<StageRecord>, Vec<FieldRecord>)>;

impl PipelineParts {
    fn lock(&self) -> MutexGuard<'_, KeptParts> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills in `pipeline`'s stages and fields if they are kept for its version.
    fn fill(&self, pipeline: &mut PipelineRecord) -> bool {
        match self.lock().get(&pipeline.id) {
            Some((version, stages, fields)) if *version == pipeline.version => {
                pipeline.stages.clone_from(stages);
                pipeline.fields.clone_from(fields);
                true
            }
            _ => false,
        }
    }

    /// Keeps `pipeline`'s stages and fields, read at its version.
    fn keep(&self, pipeline: &PipelineRecord) {
        let mut kept = self.lock();
        if kept.len() >= PARTS_KEPT {
            kept.clear();
        }
        kept.insert(pipeline.id, (pipeline.version, pipeline.stages.clone(), pipeline.fields.clone()));
    }
}

/// The pipeline (without its stages and fields) in the `COLUMNS` of `row` from the `first`.
pub(super) fn from_row(row: &AnyRow, first: usize) -> Result<PipelineRecord, StoreError> {
    Ok(PipelineRecord {
        id: parsed(row, first, "crm_pipelines.id", PipelineId::parse)?,
        name: col(row, first + 1)?,
        description: col(row, first + 2)?,
        stages: Vec::new(),
        fields: Vec::new(),
        version: col(row, first + 3)?,
        created_by: col(row, first + 4)?,
        created_at: parsed(row, first + 5, "crm_pipelines.created_at", Timestamp::parse)?,
        updated_at: parsed(row, first + 6, "crm_pipelines.updated_at", Timestamp::parse)?,
    })
}

async fn insert_parts(tx: &mut WriteTransaction, pipeline: &PipelineRecord) -> Result<(), StoreError> {
    for (position, field) in pipeline.fields.iter().enumerate() {
        sqlx::query(
            "INSERT INTO crm_fields (id, pipeline_id, position, name, field_type, options)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(field.id.to_string())
        .bind(pipeline.id.to_string())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&field.name)
        .bind(field.field_type.as_str())
        .bind(&field.options)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

async fn put_stages(tx: &mut WriteTransaction, pipeline: &PipelineRecord) -> Result<(), StoreError> {
    let pipeline_id = pipeline.id.to_string();
    let keep: Vec<String> = pipeline.stages.iter().map(|s| s.id.to_string()).collect();
    let sql = format!(
        "DELETE FROM crm_stages WHERE pipeline_id = $1 AND id NOT IN ({})",
        placeholders(2, keep.len())
    );
    let mut delete = sqlx::query(&sql).bind(&pipeline_id);
    for id in &keep {
        delete = delete.bind(id);
    }
    delete.execute(&mut **tx).await.map_err(in_use_as("a stage that still holds boxes cannot be removed"))?;
    for (position, stage) in pipeline.stages.iter().enumerate() {
        sqlx::query(
            "INSERT INTO crm_stages (id, pipeline_id, position, name, color) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET position = excluded.position, name = excluded.name,
                 color = excluded.color",
        )
        .bind(stage.id.to_string())
        .bind(&pipeline_id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&stage.name)
        .bind(&stage.color)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

impl WorkspaceDb {
    /// Stores a new pipeline with its stages and fields, and `outbox`, in one transaction.
    pub async fn insert_pipeline(
        &self,
        pipeline: &PipelineRecord,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_pipelines (id, name, description, version, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(pipeline.id.to_string())
        .bind(&pipeline.name)
        .bind(&pipeline.description)
        .bind(pipeline.version)
        .bind(&pipeline.created_by)
        .bind(pipeline.created_at.to_string())
        .bind(pipeline.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        put_stages(&mut tx, pipeline).await?;
        insert_parts(&mut tx, pipeline).await?;
        write_outbox(&mut tx, outbox, pipeline.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The pipeline `id` with its stages and fields, if it exists.
    pub async fn pipeline(&self, id: PipelineId) -> Result<Option<PipelineRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM crm_pipelines WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_parts(vec![from_row(&row, 0)?]).await?.pop())
    }

    /// Up to `limit` pipelines ordered by name then id, after `after` (a name and id).
    pub async fn pipelines(
        &self,
        after: Option<(&str, PipelineId)>,
        limit: i64,
    ) -> Result<Vec<PipelineRecord>, StoreError> {
        let rows = match after {
            None => {
                let sql = format!("SELECT {COLUMNS} FROM crm_pipelines ORDER BY name, id LIMIT $1");
                sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await
            }
            Some((name, id)) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM crm_pipelines WHERE (name, id) > ($1, $2) ORDER BY name, id LIMIT $3"
                );
                sqlx::query(&sql).bind(name).bind(id.to_string()).bind(limit).fetch_all(&self.pool).await
            }
        }
        .map_err(StoreError::from_sqlx)?;
        let pipelines = rows.iter().map(|row| from_row(row, 0)).collect::<Result<Vec<_>, _>>()?;
        self.with_parts(pipelines).await
    }

    /// Fills in the stages and fields of `pipelines`: from the cache for a pipeline whose
    /// version has been read before, otherwise with two queries for all the others.
    pub(super) async fn with_parts(
        &self,
        mut pipelines: Vec<PipelineRecord>,
    ) -> Result<Vec<PipelineRecord>, StoreError> {
        let missing: Vec<usize> =
            (0..pipelines.len()).filter(|&i| !self.pipeline_parts.fill(&mut pipelines[i])).collect();
        if missing.is_empty() {
            return Ok(pipelines);
        }
        let ids: Vec<String> = missing.iter().map(|&i| pipelines[i].id.to_string()).collect();
        let list = placeholders(1, ids.len());
        let index: HashMap<String, usize> =
            missing.iter().map(|&i| (pipelines[i].id.to_string(), i)).collect();

        let sql = format!(
            "SELECT pipeline_id, id, name, color FROM crm_stages WHERE pipeline_id IN ({list})
             ORDER BY pipeline_id, position"
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)? {
            let stage = StageRecord {
                id: stage_id(&row, 1, "crm_stages.id")?,
                name: col(&row, 2)?,
                color: col(&row, 3)?,
            };
            if let Some(&i) = index.get(&col::<String>(&row, 0)?) {
                pipelines[i].stages.push(stage);
            }
        }

        let sql = format!(
            "SELECT pipeline_id, id, name, field_type, options FROM crm_fields WHERE pipeline_id IN ({list})
             ORDER BY pipeline_id, position"
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)? {
            let field = FieldRecord {
                id: parsed(&row, 1, "crm_fields.id", FieldId::parse)?,
                name: col(&row, 2)?,
                field_type: parsed(&row, 3, "crm_fields.field_type", FieldType::parse)?,
                options: col(&row, 4)?,
            };
            if let Some(&i) = index.get(&col::<String>(&row, 0)?) {
                pipelines[i].fields.push(field);
            }
        }

        // The stages and fields change only with the version, in one transaction: a pipeline
        // still at the version read before them was not changed in between, so what was read
        // is that version's and may be kept.
        let sql = format!("SELECT id, version FROM crm_pipelines WHERE id IN ({list})");
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)? {
            if let Some(&i) = index.get(&col::<String>(&row, 0)?)
                && col::<i64>(&row, 1)? == pipelines[i].version
            {
                self.pipeline_parts.keep(&pipelines[i]);
            }
        }
        Ok(pipelines)
    }

    /// Replaces the pipeline `pipeline.id`, if it is still at `expected_version`, with
    /// `pipeline` (stages missing from it are removed; one that holds boxes makes it a
    /// `Conflict`), and writes `outbox`. `NotFound` if it does not exist, `Conflict` if it is
    /// at another version; either way nothing changes.
    pub async fn update_pipeline(
        &self,
        pipeline: &PipelineRecord,
        expected_version: i64,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        if pipeline.version <= expected_version {
            // The cache of stages and fields (`PipelineParts`) relies on every change having a
            // new version.
            return Err(StoreError::Conflict(format!(
                "a pipeline's new version ({}) must be above the one it replaces ({expected_version})",
                pipeline.version
            )));
        }
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_pipelines SET name = $1, description = $2, version = $3, updated_at = $4
             WHERE id = $5 AND version = $6",
        )
        .bind(&pipeline.name)
        .bind(&pipeline.description)
        .bind(pipeline.version)
        .bind(pipeline.updated_at.to_string())
        .bind(pipeline.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            return Err(stale(
                &mut tx,
                "crm_pipelines",
                "pipeline",
                &pipeline.id.to_string(),
                expected_version,
            )
            .await);
        }
        put_stages(&mut tx, pipeline).await?;
        sqlx::query("DELETE FROM crm_fields WHERE pipeline_id = $1")
            .bind(pipeline.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        insert_parts(&mut tx, pipeline).await?;
        write_outbox(&mut tx, outbox, pipeline.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the pipeline `id` with its stages and fields, and writes `outbox`. `NotFound`
    /// if it does not exist; `Conflict` if it still holds boxes.
    pub async fn delete_pipeline(
        &self,
        id: PipelineId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM crm_pipelines WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(in_use_as("a pipeline that still holds boxes cannot be deleted"))?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("pipeline"));
        }
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// How many boxes each stage of the pipeline `id` holds (stages without boxes are absent).
    pub async fn stage_box_counts(&self, id: PipelineId) -> Result<Vec<(StageId, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT stage_id, COUNT(*) FROM crm_boxes WHERE pipeline_id = $1 GROUP BY stage_id ORDER BY stage_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|row| Ok((stage_id(row, 0, "crm_boxes.stage_id")?, col(row, 1)?))).collect()
    }
}

/// Why an update by id and version touched no row: `NotFound`, or `Conflict` naming the
/// current version.
pub(crate) async fn stale(
    tx: &mut WriteTransaction,
    table: &str,
    noun: &'static str,
    id: &str,
    expected: i64,
) -> StoreError {
    let sql = format!("SELECT version FROM {table} WHERE id = $1");
    match sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_optional(&mut **tx).await {
        Ok(Some(current)) => StoreError::Conflict(format!(
            "this {noun} was changed since version {expected}; it is now at version {current}: \
             read it again and reapply the change"
        )),
        Ok(None) => StoreError::NotFound(noun),
        Err(e) => StoreError::from_sqlx(e),
    }
}
