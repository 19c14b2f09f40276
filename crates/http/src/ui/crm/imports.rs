//! The import and export page: a CSV file of contacts, organizations or a pipeline's boxes
//! checked (dry run) and imported with its progress, and every list exported as CSV or JSON.
//! The page's script reads the file's headings in the browser and sends the file to the JSON
//! API; viewers get the exports only.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::CrmPage;
use crate::AppState;
use crate::auth::SignedIn;

/// `?pipeline=`: the pipeline a box import starts with (the board and table link with it).
#[derive(Deserialize)]
pub(crate) struct ImportPageQuery {
    pipeline: Option<String>,
}

/// `/w/{id}/contacts/import`: the import form (members) and the export links (everyone).
pub(crate) async fn import_export(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ImportPageQuery>,
) -> Response {
    let page = match CrmPage::open(&state, &session, &id, "contacts").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let pipelines = match page.pipelines(&state).await {
        Ok(pipelines) => pipelines,
        Err(response) => return response,
    };
    // For the script: each pipeline's field names, which a box import's columns may fill.
    let fields: Vec<serde_json::Value> = pipelines
        .iter()
        .map(|p| {
            let names: Vec<&str> = p.fields.iter().map(|f| f.name.as_str()).collect();
            json!({"id": p.id.to_string(), "name": p.name, "fields": names})
        })
        .collect();
    let chosen = query.pipeline.filter(|wanted| pipelines.iter().any(|p| p.id.to_string() == *wanted));
    let pipelines: Vec<_> =
        pipelines.iter().map(|p| context! { id => p.id.to_string(), name => &p.name }).collect();
    let ctx = context! {
        pipelines,
        pipeline_fields => serde_json::Value::Array(fields).to_string(),
        chosen,
    };
    page.render(&state, "crm_import.html", ctx)
}
