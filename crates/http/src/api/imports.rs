//! CSV import and export in the native API, for keys and sessions (with `X-CSRF-Token`):
//!
//! - `POST /api/v1/workspaces/{id}/imports?kind=contacts|organizations|boxes` with the CSV file
//!   as the body (up to 256 MiB; the route is outside the request timeout), and `pipeline` (boxes), `map` (`Heading=attribute;…`),
//!   `dry_run`, `resume`: the report. 200 when done or for a dry run; 400 when rows have errors
//!   (nothing was written; the first errors are listed); 409 when the run stopped part way
//!   (run the same file again with `resume=true`).
//! - `GET …/imports`: the latest runs, newest first.
//! - `GET …/exports/{kind}?format=csv|json&pipeline=`: every record, as a file.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sb_core::{ExportFormat, ImportKind, ImportRequest, Permission};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pipelines::query;
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

/// The largest body an import takes.
const IMPORT_BODY_MAX: usize = 256 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/workspaces/{id}/imports",
            post(import).get(list).layer(DefaultBodyLimit::max(IMPORT_BODY_MAX)),
        )
        .route("/api/v1/workspaces/{id}/exports/{kind}", get(export))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ImportQuery")]
pub(super) struct ImportIn {
    kind: String,
    pipeline: Option<String>,
    map: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    resume: bool,
    source: Option<String>,
}

/// `Heading=attribute;Heading=attribute` as pairs.
fn mapping(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    text.split(';')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((heading, attribute)) => Ok((heading.trim().to_owned(), attribute.trim().to_owned())),
            None => Err(ApiError::new(
                sb_types::ErrorKind::Invalid,
                format!("map entry {pair:?} is not Heading=attribute"),
            )),
        })
        .collect()
}

async fn import(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<ImportIn>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    // Who may import is known before the body is read: nobody else makes the server hold a
    // file.
    access.require(Permission::Write)?;
    let p = query(params)?;
    let body = axum::body::to_bytes(body, IMPORT_BODY_MAX).await.map_err(|_| {
        ApiError::new(
            sb_types::ErrorKind::Invalid,
            format!("the file could not be read whole: it must be at most {IMPORT_BODY_MAX} bytes"),
        )
    })?;
    let request = ImportRequest {
        kind: ImportKind::parse(&p.kind)?,
        pipeline: p.pipeline,
        source: p.source.unwrap_or_else(|| "upload".into()),
        csv: body.to_vec(),
        mapping: mapping(p.map.as_deref().unwrap_or_default())?,
        dry_run: p.dry_run,
        resume: p.resume,
    };
    let report = state.switchboard.import_csv(&access, request, &mut |_, _| {}).await?;
    let mut body = report.to_json();
    let status = match report.state {
        "refused" => {
            body["error_code"] = json!("invalid_request");
            body["message"] = json!(format!(
                "{} rows have errors; nothing was imported (the first are listed)",
                report.error_count
            ));
            StatusCode::BAD_REQUEST
        }
        "stopped" => {
            body["error_code"] = json!("conflict");
            StatusCode::CONFLICT
        }
        _ => StatusCode::OK,
    };
    Ok((status, Json(body)).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let runs = state.switchboard.imports(&access).await?;
    let runs: Vec<Value> = runs
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id, "kind": r.kind, "pipeline": r.target, "source": r.source, "state": r.state,
                "total_rows": r.total_rows, "rows_done": r.rows_done, "created": r.created,
                "updated": r.updated, "unchanged": r.unchanged, "message": r.message,
                "started_by": r.started_by, "started_at": r.started_at.to_string(),
                "updated_at": r.updated_at.to_string(),
            })
        })
        .collect();
    Ok(Json(json!({ "imports": runs })).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExportQuery")]
pub(super) struct ExportIn {
    format: Option<String>,
    pipeline: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, kind)): Path<(String, String)>,
    params: Result<Query<ExportIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    let kind = ImportKind::parse(&kind)?;
    let format = ExportFormat::parse(p.format.as_deref().unwrap_or("csv"))?;
    let text = state.switchboard.export(&access, kind, p.pipeline.as_deref(), format).await?;
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Json => ("application/json", "json"),
    };
    let disposition = format!("attachment; filename=\"{}.{extension}\"", kind.as_str());
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], text)
        .into_response())
}
