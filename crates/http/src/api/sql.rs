//! SQL for analysts: `POST /api/v1/workspaces/{id}/sql` runs a read-only DataFusion SQL query
//! over the workspace's collections (one table per collection, one column per property path).
//! The body is the query as text, or `{"query": "…"}`. The answer is `{"columns": […],
//! "rows": [[…], …]}`, or CSV (a header line, then one line per row) when the request says
//! `Accept: text/csv` or `?format=csv`. A key (any kind that may read) or a session cookie with
//! `X-CSRF-Token`.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use sb_types::ErrorKind;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/workspaces/{id}/sql", post(run))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "SqlFormat")]
pub(super) struct Format {
    format: Option<String>,
}

async fn run(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(format): Query<Format>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let raw = raw.map_err(|rejection| ApiError::new(ErrorKind::Invalid, rejection.body_text()))?;
    let text =
        std::str::from_utf8(&raw).map_err(|_| ApiError::new(ErrorKind::Invalid, "the body must be UTF-8"))?;
    let query = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(body)) => match body.get("query") {
            Some(Value::String(query)) => query.clone(),
            _ => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    "the JSON body must be {\"query\": \"SELECT …\"}",
                ));
            }
        },
        _ => text.to_owned(),
    };
    let csv = match format.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!("unknown format {other:?}; use json or csv"),
            ));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    };
    let answer = state.switchboard.run_sql(&access, query).await?;
    if csv {
        let mut out = String::new();
        push_csv_line(&mut out, answer.columns.iter().map(|c| Value::String(c.clone())));
        for row in answer.rows {
            push_csv_line(&mut out, row.into_iter());
        }
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    Ok(Json(json!({"columns": answer.columns, "rows": answer.rows})).into_response())
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break are quoted; null is an
/// empty field.
fn push_csv_line(out: &mut String, fields: impl Iterator<Item = Value>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = match field {
            Value::Null => String::new(),
            Value::String(text) => text,
            other => other.to_string(),
        };
        if text.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push_str("\r\n");
}
