//! Box services: create, read, list (filtered by stage, assignee and last update, sorted by
//! last update or name, in keyset pages), update under the box's version (a stage change is
//! recorded in the stage history) and delete; link boxes to contacts and organizations, and
//! list a contact's or an organization's boxes. Every change writes its outbox rows with it.

use sb_store::{BoxCursor, BoxLink, BoxLinks, BoxQuery, BoxRecord, BoxSort, StageChange, StoreError};
use sb_types::{BoxId, PipelineId, StageId, Timestamp, UserId};
use serde_json::{Map, Value, json};

use super::pipelines::stale;
use super::{
    Change, CrmBox, Page, Pipeline, box_payload, check_value, current_values, decode_cursor, encode_cursor,
    field_of, id_in_path, invalid, name, notes, outbox_entry, page_limit, stage_of,
};
use crate::{Access, CoreError, Permission, Switchboard};

/// A new box; without a `stage` it starts in the pipeline's first stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoxDraft {
    pub name: String,
    pub notes: String,
    pub stage: Option<String>,
    /// Field id -> value.
    pub fields: Map<String, Value>,
    /// User ids of members of the workspace.
    pub assignees: Vec<String>,
    /// User ids of members of the workspace.
    pub followers: Vec<String>,
}

/// A change to a box at `version`; `None` leaves a part as it is. `fields` is merged into the
/// box's values (a `null` value clears that field); `assignees` replaces the list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoxPatch {
    pub version: i64,
    pub name: Option<String>,
    pub notes: Option<String>,
    pub stage: Option<String>,
    pub fields: Option<Map<String, Value>>,
    pub assignees: Option<Vec<String>>,
    pub followers: Option<Vec<String>>,
}

/// How to list a pipeline's boxes, as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoxFilter {
    pub stage: Option<String>,
    pub assignee: Option<String>,
    /// A field id and a value: only boxes whose value of that field is it (a number or a
    /// checkbox written as JSON, `42` or `true`; for tags, one of the tags).
    pub field: Option<(String, String)>,
    /// RFC 3339: only boxes updated at or after it.
    pub updated_since: Option<String>,
    /// "updated" (most recent first, the default) or "name".
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// What a box can be linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxLinkKind {
    Contact,
    Organization,
    /// Another box: the link shows on both.
    Box,
}

/// A box entering a stage; `from` is `None` for the stage it was created in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove {
    pub from: Option<StageId>,
    pub to: StageId,
    pub changed_by: String,
    pub changed_at: Timestamp,
}

pub(super) fn from_record(record: BoxRecord, pipeline: &Pipeline) -> Result<CrmBox, CoreError> {
    let values = match serde_json::from_str(&record.fields) {
        Ok(Value::Object(map)) => map,
        _ => return Err(StoreError::Corrupt("crm_boxes.fields is not a JSON object".into()).into()),
    };
    Ok(CrmBox {
        id: record.id,
        pipeline: record.pipeline,
        stage: record.stage,
        name: record.name,
        notes: record.notes,
        fields: current_values(&pipeline.fields, values),
        assignees: record.assignees,
        followers: record.followers,
        version: record.version,
        created_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

fn record(crm_box: &CrmBox) -> BoxRecord {
    BoxRecord {
        id: crm_box.id,
        pipeline: crm_box.pipeline,
        stage: crm_box.stage,
        name: crm_box.name.clone(),
        notes: crm_box.notes.clone(),
        fields: Value::Object(crm_box.fields.clone()).to_string(),
        assignees: crm_box.assignees.clone(),
        followers: crm_box.followers.clone(),
        version: crm_box.version,
        created_by: crm_box.created_by.clone(),
        created_at: crm_box.created_at,
        updated_at: crm_box.updated_at,
    }
}

/// Merges `changes` into `values`, checking each against `pipeline`'s fields.
fn merge_values(
    pipeline: &Pipeline,
    values: &mut Map<String, Value>,
    changes: &Map<String, Value>,
) -> Result<(), CoreError> {
    for (key, value) in changes {
        let field = field_of(pipeline, key)?;
        if value.is_null() {
            values.remove(&field.id.to_string());
        } else {
            check_value(field, value)?;
            values.insert(field.id.to_string(), value.clone());
        }
    }
    Ok(())
}

const SORTS: [(&str, BoxSort); 2] = [("updated", BoxSort::Updated), ("name", BoxSort::Name)];

fn cursor_list(sort: BoxSort) -> &'static str {
    match sort {
        BoxSort::Updated => "boxes:updated",
        BoxSort::Name => "boxes:name",
    }
}

impl Switchboard {
    /// Creates a box in the pipeline `pipeline` (as it appears in a URL).
    pub async fn create_box(
        &self,
        access: &Access,
        pipeline: &str,
        draft: BoxDraft,
    ) -> Result<CrmBox, CoreError> {
        access.require(Permission::Write)?;
        let pipeline = self.find_pipeline(access, id_in_path(pipeline, "pipeline")?).await?;
        let crm_box = self.new_box(access, &pipeline, draft).await?;
        let created_in = StageChange {
            from: None,
            to: crm_box.stage,
            changed_by: access.actor_label(),
            changed_at: crm_box.created_at,
        };
        let outbox = [outbox_entry(
            access,
            "box",
            crm_box.id.to_string(),
            "BOX_CREATE",
            Change::Made(box_payload(&crm_box)),
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_box(&record(&crm_box), &created_in, &outbox).await?;
        Ok(crm_box)
    }

    /// The box `draft` describes in `pipeline`, checked, as `access`'s actor would create it
    /// now.
    pub(super) async fn new_box(
        &self,
        access: &Access,
        pipeline: &Pipeline,
        draft: BoxDraft,
    ) -> Result<CrmBox, CoreError> {
        let stage = match &draft.stage {
            Some(stage) => stage_of(pipeline, stage)?,
            None => pipeline.stages.first().map(|s| s.id).ok_or(CoreError::NotFound("stage"))?,
        };
        let mut fields = Map::new();
        merge_values(pipeline, &mut fields, &draft.fields)?;
        self.check_references(access, pipeline, &draft.fields).await?;
        let now = Timestamp::now();
        Ok(CrmBox {
            id: BoxId::generate(),
            pipeline: pipeline.id,
            stage,
            name: name("box name", &draft.name)?,
            notes: notes("notes", &draft.notes)?,
            fields,
            assignees: self.assignees(access, &draft.assignees).await?,
            followers: self.members_among(access, "follower", &draft.followers).await?,
            version: 1,
            created_by: access.actor_label(),
            created_at: now,
            updated_at: now,
        })
    }

    /// `current` (a box of `pipeline`) with `patch` applied and checked (its version and time
    /// unchanged).
    pub(super) async fn patched_box(
        &self,
        access: &Access,
        pipeline: &Pipeline,
        current: &CrmBox,
        patch: &BoxPatch,
    ) -> Result<CrmBox, CoreError> {
        let mut crm_box = current.clone();
        if let Some(text) = &patch.name {
            crm_box.name = name("box name", text)?;
        }
        if let Some(text) = &patch.notes {
            crm_box.notes = notes("notes", text)?;
        }
        if let Some(stage) = &patch.stage {
            crm_box.stage = stage_of(pipeline, stage)?;
        }
        if let Some(changes) = &patch.fields {
            merge_values(pipeline, &mut crm_box.fields, changes)?;
            self.check_references(access, pipeline, changes).await?;
        }
        if let Some(ids) = &patch.assignees {
            crm_box.assignees = self.assignees(access, ids).await?;
        }
        if let Some(ids) = &patch.followers {
            crm_box.followers = self.members_among(access, "follower", ids).await?;
        }
        Ok(crm_box)
    }

    /// The box `id` and its pipeline.
    pub(super) async fn find_box(&self, access: &Access, id: &str) -> Result<(CrmBox, Pipeline), CoreError> {
        let (record, pipeline) = self.stored_box(access, id).await?;
        Ok((from_record(record, &pipeline)?, pipeline))
    }

    /// The box `id` (as it appears in a URL) as stored, and its pipeline.
    async fn stored_box(&self, access: &Access, id: &str) -> Result<(BoxRecord, Pipeline), CoreError> {
        let db = self.store().workspace_db(access.workspace()).await?;
        let found = db.crm_box_with_pipeline(id_in_path(id, "box")?).await?;
        let (record, pipeline) = found.ok_or(CoreError::NotFound("box"))?;
        Ok((record, pipeline.try_into()?))
    }

    /// The box `id` (as it appears in a URL).
    pub async fn crm_box(&self, access: &Access, id: &str) -> Result<CrmBox, CoreError> {
        access.require(Permission::Read)?;
        Ok(self.find_box(access, id).await?.0)
    }

    /// The stages the box `id` has been in, oldest first.
    pub async fn box_stage_history(&self, access: &Access, id: &str) -> Result<Vec<StageMove>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let history = db.stage_history(id_in_path(id, "box")?).await?;
        Ok(history
            .into_iter()
            .map(|c| StageMove { from: c.from, to: c.to, changed_by: c.changed_by, changed_at: c.changed_at })
            .collect())
    }

    /// A page of the boxes of pipeline `pipeline` that `filter` asks for.
    pub async fn boxes(
        &self,
        access: &Access,
        pipeline: &str,
        filter: BoxFilter,
    ) -> Result<Page<CrmBox>, CoreError> {
        access.require(Permission::Read)?;
        let pipeline = self.find_pipeline(access, id_in_path(pipeline, "pipeline")?).await?;
        let sort = match filter.sort.as_deref() {
            None => BoxSort::Updated,
            Some(text) => SORTS
                .iter()
                .find(|(word, _)| *word == text)
                .map(|(_, sort)| *sort)
                .ok_or_else(|| invalid(format!("unknown sort {text:?}; expected updated or name")))?,
        };
        let after = match &filter.cursor {
            None => None,
            Some(cursor) => {
                let (key, id) = decode_cursor(cursor_list(sort), cursor)?;
                let id = BoxId::parse(&id).map_err(|_| invalid("cursor is not one this list gave out"))?;
                Some(BoxCursor { key, id })
            }
        };
        let assignee = filter
            .assignee
            .as_deref()
            .map(|text| {
                UserId::parse(text).map_err(|_| invalid(format!("assignee {text:?} is not a user id")))
            })
            .transpose()?;
        let field_value = match &filter.field {
            Some((_, value)) if value.chars().count() > sb_store::FILTER_VALUE_MAX => {
                return Err(invalid(format!(
                    "boxes can be filtered on values of at most {} characters",
                    sb_store::FILTER_VALUE_MAX
                )));
            }
            Some((key, value)) => Some((field_of(&pipeline, key)?.id, value.clone())),
            None => None,
        };
        let query = BoxQuery {
            pipeline: pipeline.id,
            stage: filter.stage.as_deref().map(|s| stage_of(&pipeline, s)).transpose()?,
            assignee,
            field_value,
            updated_since: filter.updated_since.as_deref().map(Timestamp::parse).transpose()?,
            sort,
            after,
            limit: page_limit(filter.limit)?,
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        let records = db.boxes(&query).await?;
        let full = records.len() == usize::try_from(query.limit).unwrap_or(usize::MAX);
        let items: Vec<CrmBox> =
            records.into_iter().map(|r| from_record(r, &pipeline)).collect::<Result<_, _>>()?;
        let next_cursor = items.last().filter(|_| full).map(|last| {
            let key = match sort {
                BoxSort::Updated => last.updated_at.to_string(),
                BoxSort::Name => last.name.clone(),
            };
            encode_cursor(cursor_list(sort), &key, &last.id.to_string())
        });
        Ok(Page { items, next_cursor })
    }

    /// Applies `patch` to the box `id` if it is still at `patch.version`. A new stage must be
    /// one of the box's pipeline; the move is recorded in the stage history. Nothing changes
    /// on any error, and a patch that changes nothing writes nothing.
    pub async fn update_box(&self, access: &Access, id: &str, patch: BoxPatch) -> Result<CrmBox, CoreError> {
        access.require(Permission::Write)?;
        let (stored, pipeline) = self.stored_box(access, id).await?;
        let current = from_record(stored.clone(), &pipeline)?;
        if patch.version != current.version {
            return Err(stale("box", patch.version, current.version));
        }
        let mut crm_box = self.patched_box(access, &pipeline, &current, &patch).await?;
        if crm_box == current {
            return Ok(current);
        }
        let now = Timestamp::now();
        crm_box.version = current.version + 1;
        crm_box.updated_at = now;
        let moved = (crm_box.stage != current.stage).then(|| StageChange {
            from: Some(current.stage),
            to: crm_box.stage,
            changed_by: access.actor_label(),
            changed_at: now,
        });
        let edited = (&crm_box.name, &crm_box.notes, &crm_box.fields, &crm_box.assignees, &crm_box.followers)
            != (&current.name, &current.notes, &current.fields, &current.assignees, &current.followers);
        let mut outbox = Vec::new();
        if moved.is_some() {
            // Each entry's changes are its own part of the edit: here the stage only.
            let unmoved = CrmBox { stage: current.stage, ..crm_box.clone() };
            outbox.push(outbox_entry(
                access,
                "box",
                crm_box.id.to_string(),
                "BOX_CHANGE_STAGE",
                Change::Edited(box_payload(&unmoved), box_payload(&crm_box)),
            ));
        }
        if edited {
            let moved_only = CrmBox { stage: crm_box.stage, ..current.clone() };
            outbox.push(outbox_entry(
                access,
                "box",
                crm_box.id.to_string(),
                "BOX_EDIT",
                Change::Edited(box_payload(&moved_only), box_payload(&crm_box)),
            ));
        }
        let db = self.store().workspace_db(access.workspace()).await?;
        db.update_box(&stored, &record(&crm_box), moved.as_ref(), &outbox).await?;
        Ok(crm_box)
    }

    /// Links the box `id` to the contact or organization `target` (again: no change), or
    /// (`linked` false) removes that link.
    pub async fn link_box(
        &self,
        access: &Access,
        id: &str,
        kind: BoxLinkKind,
        target: &str,
        linked: bool,
    ) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let crm_box: BoxId = id_in_path(id, "box")?;
        let (link, noun) = match kind {
            BoxLinkKind::Contact => (BoxLink::Contact(id_in_path(target, "contact")?), "contact"),
            BoxLinkKind::Organization => {
                (BoxLink::Organization(id_in_path(target, "organization")?), "organization")
            }
            BoxLinkKind::Box => {
                let other: BoxId = id_in_path(target, "box")?;
                if other == crm_box {
                    return Err(invalid("a box cannot be linked to itself"));
                }
                (BoxLink::Box(other), "linked_box")
            }
        };
        let event = if linked { "BOX_LINK" } else { "BOX_UNLINK" };
        let payload = json!({"box": crm_box.to_string(), noun: target});
        let outbox =
            [outbox_entry(access, "box", crm_box.to_string(), event, Change::Made(payload.to_string()))];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.link_box(crm_box, link, linked, &outbox, Timestamp::now()).await?)
    }

    /// The contacts, organizations and boxes the box `id` is linked to.
    pub async fn box_links(&self, access: &Access, id: &str) -> Result<BoxLinks, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.box_links(id_in_path(id, "box")?).await?)
    }

    /// The boxes linked to the contact `id`, most recently updated first (at most 500).
    pub async fn contact_boxes(&self, access: &Access, id: &str) -> Result<Vec<CrmBox>, CoreError> {
        let contact = self.contact(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        self.with_pipelines(access, db.contact_boxes(contact.id).await?).await
    }

    /// The boxes linked to the organization `id` or to one of its contacts, most recently
    /// updated first (at most 500).
    pub async fn organization_boxes(&self, access: &Access, id: &str) -> Result<Vec<CrmBox>, CoreError> {
        let organization = self.organization(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        self.with_pipelines(access, db.organization_boxes(organization.id).await?).await
    }

    /// `records` as boxes, each read against its pipeline's fields.
    pub(super) async fn with_pipelines(
        &self,
        access: &Access,
        records: Vec<BoxRecord>,
    ) -> Result<Vec<CrmBox>, CoreError> {
        let mut pipelines: Vec<Pipeline> = Vec::new();
        let mut boxes = Vec::with_capacity(records.len());
        for record in records {
            let id: PipelineId = record.pipeline;
            if !pipelines.iter().any(|p| p.id == id) {
                pipelines.push(self.find_pipeline(access, id).await?);
            }
            let pipeline = pipelines.iter().find(|p| p.id == id).ok_or(CoreError::NotFound("pipeline"))?;
            boxes.push(from_record(record, pipeline)?);
        }
        Ok(boxes)
    }

    /// Deletes the box `id`.
    pub async fn delete_box(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let (crm_box, _) = self.find_box(access, id).await?;
        let outbox = [outbox_entry(
            access,
            "box",
            crm_box.id.to_string(),
            "BOX_DELETE",
            Change::Removed(box_payload(&crm_box)),
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_box(crm_box.id, &outbox, Timestamp::now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PipelineDraft, ServerSecret, StageDraft};

    #[tokio::test]
    async fn every_change_writes_its_outbox_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = sb_store::Store::open(dir.path(), &sb_config::Database::Sqlite).await.unwrap();
        let secret = ServerSecret::load_or_create(&dir.path().join("secret.key")).unwrap();
        let switchboard = Switchboard::from_parts(store, secret);
        let workspace = switchboard.create_workspace("Acme", None).await.unwrap().workspace.id;
        let access = switchboard.operator_access(workspace).await.unwrap();
        let stage = |name: &str| StageDraft { id: None, name: name.into(), color: None };
        let draft = PipelineDraft {
            name: "Sales".into(),
            description: String::new(),
            stages: vec![stage("Lead"), stage("Won")],
            fields: Vec::new(),
        };
        let pipeline = switchboard.create_pipeline(&access, draft).await.unwrap();
        let draft = BoxDraft { name: "Deal".into(), ..BoxDraft::default() };
        let created = switchboard.create_box(&access, &pipeline.id.to_string(), draft).await.unwrap();
        let id = created.id.to_string();
        let won = pipeline.stages[1].id.to_string();
        let move_only = BoxPatch { version: 1, stage: Some(won.clone()), ..BoxPatch::default() };
        switchboard.update_box(&access, &id, move_only).await.unwrap();
        let rename = BoxPatch { version: 2, name: Some("Big deal".into()), ..BoxPatch::default() };
        switchboard.update_box(&access, &id, rename).await.unwrap();
        let both = BoxPatch {
            version: 3,
            name: Some("Lost deal".into()),
            stage: Some(pipeline.stages[0].id.to_string()),
            ..BoxPatch::default()
        };
        switchboard.update_box(&access, &id, both).await.unwrap();
        let unchanged = BoxPatch { version: 4, name: Some("Lost deal".into()), ..BoxPatch::default() };
        switchboard.update_box(&access, &id, unchanged).await.unwrap();
        switchboard.delete_box(&access, &id).await.unwrap();

        let db = switchboard.store().workspace_db(workspace).await.unwrap();
        let rows = db.outbox_after(0, 100).await.unwrap();
        let events: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.object_kind.as_str(), r.event.as_str())).collect();
        assert_eq!(
            events,
            [
                ("pipeline", "PIPELINE_CREATE"),
                ("box", "BOX_CREATE"),
                ("box", "BOX_CHANGE_STAGE"),
                ("box", "BOX_EDIT"),
                ("box", "BOX_CHANGE_STAGE"),
                ("box", "BOX_EDIT"),
                ("box", "BOX_DELETE"),
            ],
            "one row per kind of change; a patch that changes nothing writes none"
        );
        assert!(rows[1..].iter().all(|r| r.object_id == id));
        let moved: Value = serde_json::from_str(&rows[2].payload).unwrap();
        assert_eq!((moved["stage"].as_str(), moved["version"].as_i64()), (Some(won.as_str()), Some(2)));
        let audit = db.audit(Some(&id), None, 100).await.unwrap();
        let changes: Vec<(&str, Value)> = audit
            .iter()
            .rev()
            .map(|a| (a.event.as_str(), serde_json::from_str::<Value>(&a.changes).unwrap()))
            .collect();
        let lead = pipeline.stages[0].id.to_string();
        assert_eq!(changes[3], ("BOX_CHANGE_STAGE", json!({"stage": {"from": won, "to": lead}})));
        assert_eq!(changes[4], ("BOX_EDIT", json!({"name": {"from": "Big deal", "to": "Lost deal"}})));
        assert!(audit.iter().all(|a| a.actor == "cli"), "the operator made every change");
        let history = db.stage_history(created.id).await;
        assert!(history.unwrap().is_empty(), "the history goes with the box");
    }
}
