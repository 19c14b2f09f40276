//! The CRM (Streak's model): pipelines of boxes moving through ordered stages, with typed
//! custom fields, the contacts and organizations they deal with, and the email threads filed
//! on them. This module owns the domain types, the checks every value passes before it is
//! stored, keyset cursors, and the outbox and audit entries; the submodules hold the services
//! (`context.rs` the queries across the graph). Reads need `Permission::Read`, changes
//! `Permission::Write`.

mod boxes;
mod comments;
mod contacts;
mod context;
mod export;
mod import;
mod organizations;
mod pipelines;
mod references;
mod tasks;
mod threads;

use std::collections::HashSet;

use sb_store::NewOutboxEntry;
use sb_types::{
    BoxId, ContactId, FieldId, FieldType, OrganizationId, PipelineId, StageId, Timestamp, UserId,
};
use serde_json::{Map, Value, json};

use crate::{Access, CoreError};

pub use boxes::{BoxDraft, BoxFilter, BoxLinkKind, BoxPatch, StageMove};
pub use comments::Comment;
pub use contacts::{Contact, ContactDraft, ContactPatch, ListFilter};
pub use context::{AuditEntry, TimelineEntry, TimelineEvent};
pub use export::ExportFormat;
pub use import::{IMPORT_ROWS_MAX, ImportKind, ImportReport, ImportRequest, RowError};
pub use organizations::{Organization, OrganizationDraft, OrganizationPatch};
pub use pipelines::{FieldDraft, PipelineDraft, PipelinePatch, StageDraft};
pub use tasks::{Task, TaskDraft, TaskPatch};
pub use threads::{Message, MessageDraft, Participant, Thread, ThreadLink};

/// Longest name of a pipeline, stage, field, dropdown option or box, in characters.
pub const NAME_MAX: usize = 200;
/// Longest pipeline description or box notes, in characters.
pub const NOTES_MAX: usize = 20_000;
/// Most stages a pipeline may have.
pub const STAGES_MAX: usize = 50;
/// Most fields a pipeline may have.
pub const FIELDS_MAX: usize = 100;
/// Most options a dropdown field, or tags a tags value, may have.
pub const OPTIONS_MAX: usize = 100;
/// Longest text field value, in characters.
pub const TEXT_VALUE_MAX: usize = 10_000;
/// Most assignees a box may have.
pub const ASSIGNEES_MAX: usize = 20;
/// Most items a page of a list holds (and the default when no `limit` is given: 50).
pub const PAGE_MAX: i64 = 200;
const PAGE_DEFAULT: i64 = 50;
/// The colour of a stage created without one.
pub const DEFAULT_STAGE_COLOR: &str = "#9e9e9e";

/// A stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: StageId,
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

/// A custom field of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub id: FieldId,
    pub name: String,
    pub field_type: FieldType,
    /// A dropdown's choices; empty for other types.
    pub options: Vec<String>,
}

/// A pipeline with its stages in board order and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub id: PipelineId,
    pub name: String,
    pub description: String,
    pub stages: Vec<Stage>,
    pub fields: Vec<Field>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Pipeline {
    fn stage(&self, id: StageId) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

/// A box: one deal, hire or ticket moving through a pipeline (`Box` is Rust's).
#[derive(Debug, Clone, PartialEq)]
pub struct CrmBox {
    pub id: BoxId,
    pub pipeline: PipelineId,
    pub stage: StageId,
    pub name: String,
    pub notes: String,
    /// Field id -> value, each valid for its field.
    pub fields: Map<String, Value>,
    pub assignees: Vec<UserId>,
    pub followers: Vec<UserId>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One page of a list, and the cursor of the next page if there may be one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::Invalid(message.into())
}

/// A trimmed name of 1 to `NAME_MAX` characters without control characters.
fn name(what: &str, text: &str) -> Result<String, CoreError> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(invalid(format!("{what} must not be empty")));
    }
    if chars > NAME_MAX {
        return Err(invalid(format!("{what} is {chars} characters long; the limit is {NAME_MAX}")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(format!("{what} must not contain control characters")));
    }
    Ok(trimmed.to_owned())
}

/// Free text of at most `NOTES_MAX` characters.
fn notes(what: &str, text: &str) -> Result<String, CoreError> {
    let chars = text.chars().count();
    if chars > NOTES_MAX {
        return Err(invalid(format!("{what} is {chars} characters long; the limit is {NOTES_MAX}")));
    }
    Ok(text.to_owned())
}

/// `#rrggbb`, lower-cased.
fn color(text: &str) -> Result<String, CoreError> {
    let hex = text.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    match hex {
        Some(hex) => Ok(format!("#{}", hex.to_ascii_lowercase())),
        None => Err(invalid(format!("stage color {text:?} must be of the form #rrggbb"))),
    }
}

/// Whether `text` is a calendar date `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let shape = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shape && Timestamp::parse(&format!("{text}T00:00:00Z")).is_ok()
}

/// Checks `value` for `field`; the message names the field.
fn check_value(field: &Field, value: &Value) -> Result<(), CoreError> {
    let wrong = |expected: &str| {
        invalid(format!("field {:?} ({}) takes {expected}", field.name, field.field_type.as_str()))
    };
    match (field.field_type, value) {
        (FieldType::Text, Value::String(text)) if text.chars().count() <= TEXT_VALUE_MAX => Ok(()),
        (FieldType::Text, _) => Err(wrong(&format!("a string of at most {TEXT_VALUE_MAX} characters"))),
        (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        (FieldType::Number, _) => Err(wrong("a number")),
        (FieldType::Date, Value::String(text)) if is_date(text) => Ok(()),
        (FieldType::Date, _) => Err(wrong("a date as \"YYYY-MM-DD\"")),
        (FieldType::Checkbox, Value::Bool(_)) => Ok(()),
        (FieldType::Checkbox, _) => Err(wrong("true or false")),
        (FieldType::Dropdown, Value::String(choice)) if field.options.contains(choice) => Ok(()),
        (FieldType::Dropdown, _) => Err(wrong(&format!("one of its options: {}", field.options.join(", ")))),
        (FieldType::Tags, Value::Array(tags)) => {
            let mut seen = HashSet::new();
            let ok = tags.len() <= OPTIONS_MAX
                && tags.iter().all(|t| {
                    t.as_str().is_some_and(|t| name("a tag", t).is_ok_and(|n| n == t) && seen.insert(t))
                });
            if ok {
                Ok(())
            } else {
                Err(wrong(&format!("a list of at most {OPTIONS_MAX} distinct, trimmed tags")))
            }
        }
        (FieldType::Tags, _) => Err(wrong("a list of tags")),
        (FieldType::Person, Value::String(id)) if UserId::parse(id).is_ok() => Ok(()),
        (FieldType::Person, _) => Err(wrong("a member's user id")),
        (FieldType::Contact, Value::String(id)) if ContactId::parse(id).is_ok() => Ok(()),
        (FieldType::Contact, _) => Err(wrong("a contact id")),
        (FieldType::Organization, Value::String(id)) if OrganizationId::parse(id).is_ok() => Ok(()),
        (FieldType::Organization, _) => Err(wrong("an organization id")),
    }
}

/// The values of `values` that are still valid for `fields` (a field removed from the pipeline,
/// or a dropdown option removed from a field, no longer shows on its boxes).
fn current_values(fields: &[Field], values: Map<String, Value>) -> Map<String, Value> {
    values
        .into_iter()
        .filter(|(key, value)| {
            fields.iter().any(|f| f.id.to_string() == *key && check_value(f, value).is_ok())
        })
        .collect()
}

/// The field keyed `key` in `pipeline`, or a clear error.
fn field_of<'p>(pipeline: &'p Pipeline, key: &str) -> Result<&'p Field, CoreError> {
    let id = FieldId::parse(key).ok();
    pipeline
        .fields
        .iter()
        .find(|f| Some(f.id) == id)
        .ok_or_else(|| invalid(format!("unknown field {key:?}: not a field of pipeline {:?}", pipeline.name)))
}

/// The stage `id` (text from a request) of `pipeline`, or a clear error.
fn stage_of(pipeline: &Pipeline, id: &str) -> Result<StageId, CoreError> {
    StageId::parse(id)
        .ok()
        .and_then(|id| pipeline.stage(id))
        .map(|s| s.id)
        .ok_or_else(|| invalid(format!("unknown stage {id:?}: not a stage of pipeline {:?}", pipeline.name)))
}

/// An id from a URL: one that cannot be valid cannot exist either.
fn id_in_path<K: sb_types::IdKind>(text: &str, noun: &'static str) -> Result<sb_types::Id<K>, CoreError> {
    sb_types::Id::parse(text).map_err(|_| CoreError::NotFound(noun))
}

/// A page size from a request: `PAGE_DEFAULT` when absent.
fn page_limit(limit: Option<i64>) -> Result<i64, CoreError> {
    match limit {
        None => Ok(PAGE_DEFAULT),
        Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
        Some(_) => Err(invalid(format!("limit must be 1 to {PAGE_MAX}"))),
    }
}

/// An opaque cursor: the list it belongs to, the last item's sort key and its id, hex-encoded.
fn encode_cursor(list: &str, key: &str, id: &str) -> String {
    hex::encode(format!("{list}\n{id}\n{key}"))
}

/// The sort key and id in `cursor`, if it is one of `list`'s.
fn decode_cursor(list: &str, cursor: &str) -> Result<(String, String), CoreError> {
    let bad = || invalid("cursor is not one this list gave out; start again without it");
    let text = hex::decode(cursor).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(bad)?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(id), Some(key)) if l == list => Ok((key.to_owned(), id.to_owned())),
        _ => Err(bad()),
    }
}

fn stage_json(stage: &Stage) -> Value {
    json!({"id": stage.id.to_string(), "name": stage.name, "color": stage.color})
}

/// The outbox payload of a pipeline.
fn pipeline_payload(pipeline: &Pipeline) -> String {
    let fields: Vec<Value> = pipeline
        .fields
        .iter()
        .map(|f| {
            json!({"id": f.id.to_string(), "name": f.name, "type": f.field_type.as_str(), "options": f.options})
        })
        .collect();
    json!({
        "id": pipeline.id.to_string(),
        "name": pipeline.name,
        "description": pipeline.description,
        "stages": pipeline.stages.iter().map(stage_json).collect::<Vec<_>>(),
        "fields": fields,
        "version": pipeline.version,
        "updated_at": pipeline.updated_at.to_string(),
    })
    .to_string()
}

/// The outbox payload of a box.
fn box_payload(crm_box: &CrmBox) -> String {
    json!({
        "id": crm_box.id.to_string(),
        "pipeline": crm_box.pipeline.to_string(),
        "stage": crm_box.stage.to_string(),
        "name": crm_box.name,
        "notes": crm_box.notes,
        "fields": crm_box.fields,
        "assignees": crm_box.assignees.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "followers": crm_box.followers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "version": crm_box.version,
        "updated_at": crm_box.updated_at.to_string(),
    })
    .to_string()
}

/// What a change did to an object, with the object's outbox payloads (JSON objects).
enum Change {
    /// Created it, or a link from it: the object after.
    Made(String),
    /// Edited it: the object before and after.
    Edited(String, String),
    /// Deleted it: the object before.
    Removed(String),
}

/// The outbox and audit entry of a change made by `access`'s actor.
fn outbox_entry(
    access: &Access,
    kind: &'static str,
    id: String,
    event: &'static str,
    change: Change,
) -> NewOutboxEntry {
    let (before, after) = match &change {
        Change::Made(after) => (None, Some(after.as_str())),
        Change::Edited(before, after) => (Some(before.as_str()), Some(after.as_str())),
        Change::Removed(before) => (Some(before.as_str()), None),
    };
    let object = |payload: Option<&str>| {
        payload.and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok()).unwrap_or_default()
    };
    let mut changes = Map::new();
    diff("", &object(before), &object(after), &mut changes);
    let payload = match change {
        Change::Made(payload) | Change::Edited(_, payload) | Change::Removed(payload) => payload,
    };
    NewOutboxEntry {
        object_kind: kind,
        object_id: id,
        event,
        payload,
        actor: access.actor_label(),
        changes: Value::Object(changes).to_string(),
    }
}

/// Adds to `changes` each property whose value differs between `before` and `after`, as
/// `{"from", "to"}` (null for absent), under its path from `prefix`; an object present on both
/// sides (a box's field values, custom data) is compared property by property. The version and
/// update time, which every change moves, are left out.
fn diff(
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    changes: &mut Map<String, Value>,
) {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        if prefix.is_empty() && matches!(key.as_str(), "version" | "updated_at") {
            continue;
        }
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (before.get(key), after.get(key)) {
            (Some(Value::Object(from)), Some(Value::Object(to))) => diff(&path, from, to, changes),
            (from, to) if from != to => {
                changes.insert(path, json!({"from": from, "to": to}));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(field_type: FieldType) -> Field {
        Field { id: FieldId::generate(), name: "f".into(), field_type, options: vec!["S".into(), "M".into()] }
    }

    #[test]
    fn values_are_checked_against_their_field_type() {
        let cases = [
            (FieldType::Text, json!("hello"), true),
            (FieldType::Text, json!("x".repeat(TEXT_VALUE_MAX + 1)), false),
            (FieldType::Text, json!(3), false),
            (FieldType::Number, json!(2.5), true),
            (FieldType::Number, json!("2.5"), false),
            (FieldType::Date, json!("2024-02-29"), true),
            (FieldType::Date, json!("2023-02-29"), false),
            (FieldType::Date, json!("2024-2-1"), false),
            (FieldType::Date, json!(1_700_000_000_000_i64), false),
            (FieldType::Checkbox, json!(true), true),
            (FieldType::Checkbox, json!("true"), false),
            (FieldType::Dropdown, json!("M"), true),
            (FieldType::Dropdown, json!("XL"), false),
            (FieldType::Tags, json!(["vip", "eu"]), true),
            (FieldType::Tags, json!(["vip", "vip"]), false),
            (FieldType::Tags, json!([" vip"]), false),
            (FieldType::Tags, json!("vip"), false),
            (FieldType::Person, json!(UserId::generate().to_string()), true),
            (FieldType::Person, json!("ana@acme.com"), false),
            (FieldType::Contact, json!(ContactId::generate().to_string()), true),
            (FieldType::Contact, json!(["x"]), false),
            (FieldType::Organization, json!(OrganizationId::generate().to_string()), true),
            (FieldType::Organization, json!(3), false),
        ];
        for (field_type, value, ok) in cases {
            assert_eq!(check_value(&field(field_type), &value).is_ok(), ok, "{field_type} {value}");
        }
    }

    #[test]
    fn changes_name_each_property_that_moved() {
        let before = json!({"name": "A", "fields": {"f1": 1, "f2": "x"}, "version": 1, "gone": true});
        let after = json!({"name": "B", "fields": {"f1": 1, "f2": "y", "f3": [1]}, "version": 2});
        let mut changes = Map::new();
        diff("", before.as_object().unwrap(), after.as_object().unwrap(), &mut changes);
        assert_eq!(
            Value::Object(changes),
            json!({
                "name": {"from": "A", "to": "B"},
                "fields.f2": {"from": "x", "to": "y"},
                "fields.f3": {"from": null, "to": [1]},
                "gone": {"from": true, "to": null},
            })
        );
    }

    #[test]
    fn names_colors_and_cursors() {
        assert_eq!(name("box name", "  Acme deal ").unwrap(), "Acme deal");
        assert!(name("box name", " ").is_err());
        assert!(
            name("box name", &"é".repeat(NAME_MAX + 1)).unwrap_err().to_string().contains("limit is 200")
        );
        assert_eq!(color("#A0b1C2").unwrap(), "#a0b1c2");
        assert!(color("red").is_err());
        let cursor = encode_cursor("boxes:name", "a\nb", "id1");
        assert_eq!(decode_cursor("boxes:name", &cursor).unwrap(), ("a\nb".to_owned(), "id1".to_owned()));
        assert!(decode_cursor("boxes:updated", &cursor).is_err());
        assert!(decode_cursor("boxes:name", "zz").is_err());
        assert_eq!(page_limit(None).unwrap(), PAGE_DEFAULT);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(PAGE_MAX + 1)).is_err());
    }
}
