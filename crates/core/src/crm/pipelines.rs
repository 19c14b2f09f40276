//! Pipeline services: create, read, list by name, update (stages and fields replaced as whole
//! lists, under the pipeline's version) and delete when empty.

use std::collections::HashSet;

use sb_store::{FieldRecord, PipelineRecord, StageRecord, StoreError};
use sb_types::{FieldId, FieldType, PipelineId, StageId, Timestamp};

use super::{
    Change, DEFAULT_STAGE_COLOR, FIELDS_MAX, Field, OPTIONS_MAX, Page, Pipeline, STAGES_MAX, Stage, color,
    decode_cursor, encode_cursor, id_in_path, invalid, name, notes, outbox_entry, page_limit,
    pipeline_payload,
};
use crate::{Access, CoreError, Permission, Switchboard};

/// A stage as a caller describes it: `id` names an existing stage to keep, none adds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDraft {
    pub id: Option<String>,
    pub name: String,
    pub color: Option<String>,
}

/// A field as a caller describes it: `id` names an existing field to keep (its type cannot
/// change), none adds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDraft {
    pub id: Option<String>,
    pub name: String,
    pub field_type: String,
    pub options: Vec<String>,
}

/// A new pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineDraft {
    pub name: String,
    pub description: String,
    pub stages: Vec<StageDraft>,
    pub fields: Vec<FieldDraft>,
}

/// A change to a pipeline at `version`; `None` leaves a part as it is, and `stages` and
/// `fields` replace the whole list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinePatch {
    pub version: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub stages: Option<Vec<StageDraft>>,
    pub fields: Option<Vec<FieldDraft>>,
}

fn field_from_record(record: FieldRecord) -> Result<Field, CoreError> {
    let options = serde_json::from_str(&record.options)
        .map_err(|_| StoreError::Corrupt("crm_fields.options is not a list of strings".into()))?;
    Ok(Field { id: record.id, name: record.name, field_type: record.field_type, options })
}

impl TryFrom<PipelineRecord> for Pipeline {
    type Error = CoreError;

    fn try_from(r: PipelineRecord) -> Result<Self, CoreError> {
        Ok(Pipeline {
            id: r.id,
            name: r.name,
            description: r.description,
            stages: r.stages.into_iter().map(|s| Stage { id: s.id, name: s.name, color: s.color }).collect(),
            fields: r.fields.into_iter().map(field_from_record).collect::<Result<_, _>>()?,
            version: r.version,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn record(pipeline: &Pipeline) -> PipelineRecord {
    PipelineRecord {
        id: pipeline.id,
        name: pipeline.name.clone(),
        description: pipeline.description.clone(),
        stages: pipeline
            .stages
            .iter()
            .map(|s| StageRecord { id: s.id, name: s.name.clone(), color: s.color.clone() })
            .collect(),
        fields: pipeline
            .fields
            .iter()
            .map(|f| FieldRecord {
                id: f.id,
                name: f.name.clone(),
                field_type: f.field_type,
                options: serde_json::Value::from(f.options.clone()).to_string(),
            })
            .collect(),
        version: pipeline.version,
        created_by: pipeline.created_by.clone(),
        created_at: pipeline.created_at,
        updated_at: pipeline.updated_at,
    }
}

/// Refuses a second stage or field with the same name (ignoring case).
fn distinct_names<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> Result<(), CoreError> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n.to_lowercase()) {
            return Err(invalid(format!("two {what}s are named {n:?}")));
        }
    }
    Ok(())
}

/// Checks `drafts` against the stages the pipeline has now (`existing`).
fn stages(drafts: &[StageDraft], existing: &[Stage]) -> Result<Vec<Stage>, CoreError> {
    if drafts.is_empty() || drafts.len() > STAGES_MAX {
        return Err(invalid(format!("a pipeline has 1 to {STAGES_MAX} stages")));
    }
    let mut kept = HashSet::new();
    let stages = drafts
        .iter()
        .map(|draft| {
            let id = match &draft.id {
                None => StageId::generate(),
                Some(text) => StageId::parse(text)
                    .ok()
                    .filter(|id| existing.iter().any(|s| s.id == *id) && kept.insert(*id))
                    .ok_or_else(|| {
                        invalid(format!("unknown stage {text:?}: not a stage of this pipeline"))
                    })?,
            };
            let color = color(draft.color.as_deref().unwrap_or(DEFAULT_STAGE_COLOR))?;
            Ok(Stage { id, name: name("stage name", &draft.name)?, color })
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    distinct_names("stage", stages.iter().map(|s| &s.name))?;
    Ok(stages)
}

/// Checks `drafts` against the fields the pipeline has now (`existing`).
fn fields(drafts: &[FieldDraft], existing: &[Field]) -> Result<Vec<Field>, CoreError> {
    if drafts.len() > FIELDS_MAX {
        return Err(invalid(format!("a pipeline has at most {FIELDS_MAX} fields")));
    }
    let mut kept = HashSet::new();
    let fields = drafts
        .iter()
        .map(|draft| {
            let field_type = FieldType::parse(&draft.field_type)?;
            let id = match &draft.id {
                None => FieldId::generate(),
                Some(text) => {
                    let old = FieldId::parse(text)
                        .ok()
                        .and_then(|id| existing.iter().find(|f| f.id == id))
                        .filter(|f| kept.insert(f.id))
                        .ok_or_else(|| {
                            invalid(format!("unknown field {text:?}: not a field of this pipeline"))
                        })?;
                    if old.field_type != field_type {
                        return Err(invalid(format!(
                            "field {:?} is of type {}; a field's type cannot change",
                            old.name, old.field_type
                        )));
                    }
                    old.id
                }
            };
            let options = match field_type {
                FieldType::Dropdown => {
                    if draft.options.is_empty() || draft.options.len() > OPTIONS_MAX {
                        return Err(invalid(format!("a dropdown field has 1 to {OPTIONS_MAX} options")));
                    }
                    let options =
                        draft.options.iter().map(|o| name("option", o)).collect::<Result<Vec<_>, _>>()?;
                    distinct_names("option", options.iter())?;
                    options
                }
                _ if draft.options.is_empty() => Vec::new(),
                _ => {
                    return Err(invalid(format!(
                        "only dropdown fields have options, not {field_type} fields"
                    )));
                }
            };
            Ok(Field { id, name: name("field name", &draft.name)?, field_type, options })
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    distinct_names("field", fields.iter().map(|f| &f.name))?;
    Ok(fields)
}

/// A stale version, answered before anything else is checked.
pub(super) fn stale(noun: &str, expected: i64, current: i64) -> CoreError {
    CoreError::Conflict(format!(
        "this {noun} was changed since version {expected}; it is now at version {current}: \
         read it again and reapply the change"
    ))
}

impl Switchboard {
    /// Creates a pipeline.
    pub async fn create_pipeline(
        &self,
        access: &Access,
        draft: PipelineDraft,
    ) -> Result<Pipeline, CoreError> {
        access.require(Permission::Write)?;
        let now = Timestamp::now();
        let pipeline = Pipeline {
            id: PipelineId::generate(),
            name: name("pipeline name", &draft.name)?,
            description: notes("description", &draft.description)?,
            stages: stages(&draft.stages, &[])?,
            fields: fields(&draft.fields, &[])?,
            version: 1,
            created_by: access.actor_label(),
            created_at: now,
            updated_at: now,
        };
        let outbox = [outbox_entry(
            access,
            "pipeline",
            pipeline.id.to_string(),
            "PIPELINE_CREATE",
            Change::Made(pipeline_payload(&pipeline)),
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_pipeline(&record(&pipeline), &outbox).await?;
        Ok(pipeline)
    }

    /// The pipeline `id` (as it appears in a URL).
    pub async fn pipeline(&self, access: &Access, id: &str) -> Result<Pipeline, CoreError> {
        access.require(Permission::Read)?;
        self.find_pipeline(access, id_in_path(id, "pipeline")?).await
    }

    pub(super) async fn find_pipeline(&self, access: &Access, id: PipelineId) -> Result<Pipeline, CoreError> {
        let db = self.store().workspace_db(access.workspace()).await?;
        db.pipeline(id).await?.ok_or(CoreError::NotFound("pipeline"))?.try_into()
    }

    /// A page of the workspace's pipelines, by name.
    pub async fn pipelines(
        &self,
        access: &Access,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Pipeline>, CoreError> {
        access.require(Permission::Read)?;
        let limit = page_limit(limit)?;
        let after = match cursor {
            None => None,
            Some(cursor) => {
                let (key, id) = decode_cursor("pipelines", cursor)?;
                let id =
                    PipelineId::parse(&id).map_err(|_| invalid("cursor is not one this list gave out"))?;
                Some((key, id))
            }
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        let records = db.pipelines(after.as_ref().map(|(k, id)| (k.as_str(), *id)), limit).await?;
        let items: Vec<Pipeline> = records.into_iter().map(Pipeline::try_from).collect::<Result<_, _>>()?;
        let next_cursor = (items.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| items.last().map(|p| encode_cursor("pipelines", &p.name, &p.id.to_string())))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// Applies `patch` to the pipeline `id` if it is still at `patch.version`. Removing a
    /// stage that holds boxes is a `Conflict`; nothing changes on any error.
    pub async fn update_pipeline(
        &self,
        access: &Access,
        id: &str,
        patch: PipelinePatch,
    ) -> Result<Pipeline, CoreError> {
        access.require(Permission::Write)?;
        let current = self.find_pipeline(access, id_in_path(id, "pipeline")?).await?;
        if patch.version != current.version {
            return Err(stale("pipeline", patch.version, current.version));
        }
        let mut pipeline = current.clone();
        if let Some(text) = &patch.name {
            pipeline.name = name("pipeline name", text)?;
        }
        if let Some(text) = &patch.description {
            pipeline.description = notes("description", text)?;
        }
        if let Some(drafts) = &patch.stages {
            pipeline.stages = stages(drafts, &current.stages)?;
        }
        if let Some(drafts) = &patch.fields {
            pipeline.fields = fields(drafts, &current.fields)?;
        }
        let db = self.store().workspace_db(access.workspace()).await?;
        for (stage, count) in db.stage_box_counts(current.id).await? {
            if pipeline.stage(stage).is_none() {
                let name = current.stage(stage).map_or_else(String::new, |s| s.name.clone());
                return Err(CoreError::Conflict(format!(
                    "stage {name:?} still holds {count} boxes; move them to another stage before removing it"
                )));
            }
        }
        pipeline.version = current.version + 1;
        pipeline.updated_at = Timestamp::now();
        let outbox = [outbox_entry(
            access,
            "pipeline",
            pipeline.id.to_string(),
            "PIPELINE_UPDATE",
            Change::Edited(pipeline_payload(&current), pipeline_payload(&pipeline)),
        )];
        db.update_pipeline(&record(&pipeline), current.version, &outbox).await?;
        Ok(pipeline)
    }

    /// Deletes the pipeline `id`; a pipeline that still holds boxes is a `Conflict`.
    pub async fn delete_pipeline(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let pipeline = self.find_pipeline(access, id_in_path(id, "pipeline")?).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let boxes: i64 = db.stage_box_counts(pipeline.id).await?.iter().map(|(_, n)| n).sum();
        if boxes > 0 {
            return Err(CoreError::Conflict(format!(
                "pipeline {:?} still holds {boxes} boxes; delete them first",
                pipeline.name
            )));
        }
        let outbox = [outbox_entry(
            access,
            "pipeline",
            pipeline.id.to_string(),
            "PIPELINE_DELETE",
            Change::Removed(pipeline_payload(&pipeline)),
        )];
        Ok(db.delete_pipeline(pipeline.id, &outbox, Timestamp::now()).await?)
    }
}
