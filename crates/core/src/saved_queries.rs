//! Saved queries: named Keen queries kept in the workspace's records database, checked by the
//! same parser that runs ad-hoc queries before they are stored, and run on request.
//!
//! Keen's `refresh_rate` (a cached query's refresh period) is stored and echoed; results are
//! always computed when asked for, there is no background cache yet.

use sb_store::{NewSavedQuery, SavedQueryRecord, StoreError};
use sb_types::{QueryName, Timestamp};
use serde_json::{Map, Value};

use crate::queries::check_query;
use crate::{Access, CoreError, Permission, Switchboard};

/// Longest refresh period accepted, in seconds: a day, the most Keen allows a cached query.
pub const MAX_REFRESH_RATE: i64 = 86_400;

/// A saved query as the services hand it out.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedQuery {
    pub name: QueryName,
    /// Seconds between refreshes; 0 for a plain saved query.
    pub refresh_rate: i64,
    /// The query: `analysis_type` and the analysis's parameters.
    pub query: Map<String, Value>,
    /// Display hints (`display_name`, `visualization`, …), kept as given.
    pub metadata: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl SavedQuery {
    /// The query's `analysis_type`.
    pub fn analysis_type(&self) -> &str {
        self.query.get("analysis_type").and_then(Value::as_str).unwrap_or_default()
    }

    /// The query's parameters: everything but `analysis_type`.
    pub fn parameters(&self) -> Map<String, Value> {
        parameters(&self.query)
    }
}

/// What a caller asks to store.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedQueryDraft {
    pub name: QueryName,
    pub refresh_rate: i64,
    pub query: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

/// A stored query's parameters: everything but `analysis_type`.
fn parameters(query: &Map<String, Value>) -> Map<String, Value> {
    query.iter().filter(|(k, _)| *k != "analysis_type").map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn invalid(code: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Query { code, message: message.into() }
}

fn json_object(column: &str, text: &str) -> Result<Map<String, Value>, CoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt(format!("saved_queries.{column} is not a JSON object")).into()),
    }
}

impl TryFrom<SavedQueryRecord> for SavedQuery {
    type Error = CoreError;

    fn try_from(record: SavedQueryRecord) -> Result<Self, CoreError> {
        Ok(SavedQuery {
            query: json_object("query", &record.query)?,
            metadata: json_object("metadata", &record.metadata)?,
            name: record.name,
            refresh_rate: record.refresh_rate,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

/// A name from a URL: one that cannot be valid cannot exist either.
fn existing_name(name: &str) -> Result<QueryName, CoreError> {
    QueryName::parse(name).map_err(|_| CoreError::NotFound("saved query"))
}

/// Checks a draft: a refresh rate in range and a query that could run.
fn check_draft(draft: &SavedQueryDraft, now_ms: i64) -> Result<(), CoreError> {
    if !(0..=MAX_REFRESH_RATE).contains(&draft.refresh_rate) {
        return Err(invalid(
            "InvalidRefreshRateError",
            format!("refresh_rate must be 0 (a plain saved query) to {MAX_REFRESH_RATE} seconds"),
        ));
    }
    let analysis = match draft.query.get("analysis_type") {
        Some(Value::String(analysis)) => analysis.as_str(),
        _ => return Err(invalid("MissingRequiredPropertyError", "query.analysis_type is required")),
    };
    check_query(analysis, &parameters(&draft.query), now_ms)
}

impl Switchboard {
    /// Every saved query of the workspace, by name.
    pub async fn saved_queries(&self, access: &Access) -> Result<Vec<SavedQuery>, CoreError> {
        access.require(Permission::SeeSavedQueries)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.saved_queries().await?.into_iter().map(SavedQuery::try_from).collect()
    }

    /// The saved query named `name`; `NotFound` if there is none.
    pub async fn saved_query(&self, access: &Access, name: &str) -> Result<SavedQuery, CoreError> {
        access.require(Permission::SeeSavedQueries)?;
        self.find_saved_query(access, name).await
    }

    async fn find_saved_query(&self, access: &Access, name: &str) -> Result<SavedQuery, CoreError> {
        let name = existing_name(name)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.saved_query(&name).await?.ok_or(CoreError::NotFound("saved query"))?.try_into()
    }

    /// Stores `draft` in place of the saved query named `current` (creating it when the names
    /// match and it does not exist, renaming it when they differ). The query is checked first,
    /// so one that could never run is refused and nothing changes.
    pub async fn put_saved_query(
        &self,
        access: &Access,
        current: &str,
        draft: SavedQueryDraft,
    ) -> Result<SavedQuery, CoreError> {
        access.require(Permission::EditSavedQueries)?;
        let now = Timestamp::now();
        check_draft(&draft, now.millis())?;
        let current =
            if current == draft.name.as_str() { draft.name.clone() } else { existing_name(current)? };
        let text = |map: &Map<String, Value>| Value::Object(map.clone()).to_string();
        let new = NewSavedQuery {
            refresh_rate: draft.refresh_rate,
            query: text(&draft.query),
            metadata: text(&draft.metadata),
            name: draft.name,
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        db.put_saved_query(&current, new, now).await?.try_into()
    }

    /// Deletes the saved query named `name`; `NotFound` if there is none.
    pub async fn delete_saved_query(&self, access: &Access, name: &str) -> Result<(), CoreError> {
        access.require(Permission::EditSavedQueries)?;
        let name = existing_name(name)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_saved_query(&name).await?)
    }

    /// The saved query named `name` and the response of running it now (`{"result": …}`, with
    /// the caller's forced filters applied, as for any query it runs).
    pub async fn saved_query_result(
        &self,
        access: &Access,
        name: &str,
        now_ms: i64,
    ) -> Result<(SavedQuery, Map<String, Value>), CoreError> {
        access.require(Permission::Read)?;
        let saved = self.find_saved_query(access, name).await?;
        let response = self.run_analysis(access, saved.analysis_type(), saved.parameters(), now_ms).await?;
        Ok((saved, response.into_map()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(refresh_rate: i64, query: Value) -> SavedQueryDraft {
        SavedQueryDraft {
            name: QueryName::parse("q").unwrap(),
            refresh_rate,
            query: query.as_object().unwrap().clone(),
            metadata: Map::new(),
        }
    }

    #[test]
    fn drafts_are_checked_by_the_query_parser() {
        let count = serde_json::json!({"analysis_type": "count", "event_collection": "signups"});
        assert!(check_draft(&draft(0, count.clone()), 0).is_ok());
        assert!(check_draft(&draft(MAX_REFRESH_RATE, count.clone()), 0).is_ok());
        let code = |d: SavedQueryDraft| match check_draft(&d, 0) {
            Err(CoreError::Query { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(draft(-1, count.clone())), "InvalidRefreshRateError");
        assert_eq!(code(draft(MAX_REFRESH_RATE + 1, count)), "InvalidRefreshRateError");
        assert_eq!(
            code(draft(0, serde_json::json!({"event_collection": "x"}))),
            "MissingRequiredPropertyError"
        );
        assert_eq!(
            code(draft(0, serde_json::json!({"analysis_type": "telepathy", "event_collection": "x"}))),
            "InvalidAnalysisTypeError"
        );
        let no_target = serde_json::json!({"analysis_type": "sum", "event_collection": "x"});
        assert_eq!(code(draft(0, no_target)), "MissingRequiredPropertyError");
        let bad_timeframe =
            serde_json::json!({"analysis_type": "count", "event_collection": "x", "timeframe": "someday"});
        assert!(check_draft(&draft(0, bad_timeframe), 0).is_err());
    }
}
