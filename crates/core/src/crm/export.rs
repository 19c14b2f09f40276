//! CSV and JSON export of contacts, organizations and a pipeline's boxes, every record, in
//! columns the import reads back (`name`, `emails`, `custom.<key>`, `field.<name>` for a box's
//! fields, …; list cells joined with `; `).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{CrmBox, FieldType, ImportKind, ListFilter, PAGE_MAX};
use crate::crm::BoxFilter;
use crate::{Access, CoreError, Permission, Switchboard};

/// The shape of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    /// A JSON array of objects.
    Json,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        match text {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            other => Err(CoreError::Invalid(format!("unknown format {other:?}; expected csv or json"))),
        }
    }
}

/// A cell's text: a string as it is, a list joined with `; `, anything else as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// `rows` (JSON objects) as CSV with `columns` in order.
fn to_csv(columns: &[String], rows: &[Map<String, Value>]) -> Result<String, CoreError> {
    let failed = |e: csv::Error| CoreError::Invalid(format!("cannot write CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(columns).map_err(failed)?;
    for row in rows {
        writer
            .write_record(columns.iter().map(|c| cell(row.get(c).unwrap_or(&Value::Null))))
            .map_err(failed)?;
    }
    let bytes = writer.into_inner().map_err(|e| CoreError::Invalid(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CoreError::Invalid(format!("cannot write CSV: {e}")))
}

/// Each row's `custom` object spread into `custom.<key>` columns, and the column list.
fn spread_custom(rows: &mut [Map<String, Value>], fixed: &[&str]) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for row in rows.iter_mut() {
        if let Some(Value::Object(custom)) = row.remove("custom") {
            for (key, value) in custom {
                keys.insert(key.clone());
                row.insert(format!("custom.{key}"), value);
            }
        }
    }
    let mut columns: Vec<String> = fixed.iter().map(|c| (*c).to_owned()).collect();
    columns.splice(columns.len() - 2..columns.len() - 2, keys.into_iter().map(|k| format!("custom.{k}")));
    columns
}

impl Switchboard {
    /// Every record of `kind` (a box export needs its `pipeline`) as CSV or JSON text.
    pub async fn export(
        &self,
        access: &Access,
        kind: ImportKind,
        pipeline: Option<&str>,
        format: ExportFormat,
    ) -> Result<String, CoreError> {
        access.require(Permission::Read)?;
        let (mut rows, columns) = match kind {
            ImportKind::Contacts => {
                let mut rows = Vec::new();
                let mut cursor = None;
                loop {
                    let filter =
                        ListFilter { limit: Some(PAGE_MAX), cursor: cursor.take(), ..ListFilter::default() };
                    let page = self.contacts(access, filter).await?;
                    rows.extend(page.items.into_iter().map(|c| {
                        json!({
                            "id": c.id.to_string(), "name": c.name,
                            "emails": c.emails.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            "phones": c.phones, "addresses": c.addresses, "title": c.title, "custom": c.custom,
                            "created_at": c.created_at.to_string(), "updated_at": c.updated_at.to_string(),
                        })
                    }));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                let fixed =
                    ["id", "name", "emails", "phones", "addresses", "title", "created_at", "updated_at"];
                (rows, fixed.to_vec())
            }
            ImportKind::Organizations => {
                let mut rows = Vec::new();
                let mut cursor = None;
                loop {
                    let filter =
                        ListFilter { limit: Some(PAGE_MAX), cursor: cursor.take(), ..ListFilter::default() };
                    let page = self.organizations(access, filter).await?;
                    rows.extend(page.items.into_iter().map(|o| {
                        json!({
                            "id": o.id.to_string(), "name": o.name,
                            "domains": o.domains.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            "custom": o.custom,
                            "created_at": o.created_at.to_string(), "updated_at": o.updated_at.to_string(),
                        })
                    }));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                (rows, ["id", "name", "domains", "created_at", "updated_at"].to_vec())
            }
            ImportKind::Boxes => {
                let id =
                    pipeline.ok_or_else(|| CoreError::Invalid("a box export needs its pipeline".into()))?;
                return self.export_boxes(access, id, format).await;
            }
        };
        let mut objects: Vec<Map<String, Value>> = rows
            .drain(..)
            .filter_map(|r| if let Value::Object(map) = r { Some(map) } else { None })
            .collect();
        match format {
            ExportFormat::Json => {
                Ok(Value::Array(objects.into_iter().map(Value::Object).collect()).to_string())
            }
            ExportFormat::Csv => {
                let columns = spread_custom(&mut objects, &columns);
                to_csv(&columns, &objects)
            }
        }
    }

    async fn export_boxes(
        &self,
        access: &Access,
        id: &str,
        format: ExportFormat,
    ) -> Result<String, CoreError> {
        let pipeline = self.pipeline(access, id).await?;
        let members = self.store().members(access.workspace()).await?;
        let email_of = |user: &sb_types::UserId| {
            members
                .iter()
                .find(|m| m.user.id == *user)
                .map_or_else(|| user.to_string(), |m| m.user.email.to_string())
        };
        let mut boxes: Vec<CrmBox> = Vec::new();
        let mut cursor = None;
        loop {
            let filter = BoxFilter {
                limit: Some(PAGE_MAX),
                cursor: cursor.take(),
                sort: Some("name".into()),
                ..BoxFilter::default()
            };
            let page = self.boxes(access, id, filter).await?;
            boxes.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let stage_name = |b: &CrmBox| pipeline.stage(b.stage).map_or_else(String::new, |s| s.name.clone());
        let mut columns: Vec<String> =
            ["id", "name", "stage", "notes", "assignees", "followers"].map(String::from).to_vec();
        columns.extend(pipeline.fields.iter().map(|f| format!("field.{}", f.name)));
        columns.extend(["created_at", "updated_at"].map(String::from));
        let rows: Vec<Map<String, Value>> = boxes
            .iter()
            .map(|b| {
                let mut row = Map::new();
                row.insert("id".into(), json!(b.id.to_string()));
                row.insert("name".into(), json!(b.name));
                row.insert("stage".into(), json!(stage_name(b)));
                row.insert("notes".into(), json!(b.notes));
                row.insert("assignees".into(), json!(b.assignees.iter().map(email_of).collect::<Vec<_>>()));
                row.insert("followers".into(), json!(b.followers.iter().map(email_of).collect::<Vec<_>>()));
                for field in &pipeline.fields {
                    let value = b.fields.get(&field.id.to_string()).cloned().unwrap_or(Value::Null);
                    let value = match (field.field_type, &value) {
                        (FieldType::Person, Value::String(user)) => {
                            sb_types::UserId::parse(user).map_or(value.clone(), |u| json!(email_of(&u)))
                        }
                        _ => value,
                    };
                    row.insert(format!("field.{}", field.name), value);
                }
                row.insert("created_at".into(), json!(b.created_at.to_string()));
                row.insert("updated_at".into(), json!(b.updated_at.to_string()));
                row
            })
            .collect();
        match format {
            ExportFormat::Json => Ok(Value::Array(rows.into_iter().map(Value::Object).collect()).to_string()),
            ExportFormat::Csv => to_csv(&columns, &rows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_custom_columns() {
        assert_eq!(cell(&json!(["a@x.org", "b@x.org"])), "a@x.org; b@x.org");
        assert_eq!(cell(&json!(3.5)), "3.5");
        assert_eq!(cell(&Value::Null), "");
        let mut rows = vec![
            json!({"id": "1", "custom": {"tier": "gold"}}).as_object().unwrap().clone(),
            json!({"id": "2", "custom": {"size": 10}}).as_object().unwrap().clone(),
        ];
        let columns = spread_custom(&mut rows, &["id", "name", "created_at", "updated_at"]);
        assert_eq!(columns, ["id", "name", "custom.size", "custom.tier", "created_at", "updated_at"]);
        let text = to_csv(&columns, &rows).unwrap();
        assert_eq!(text, "id,name,custom.size,custom.tier,created_at,updated_at\n1,,,gold,,\n2,,10,,,\n");
    }
}
