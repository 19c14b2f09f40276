//! `GET /api/v1/openapi.json`: the native API as an OpenAPI 3.1 document, built from the
//! code. Request and response bodies are the wire types' JSON Schemas, derived from the same
//! structs the handlers read and write (`schemars`); the operations below name those types.
//! A test checks that every route the API modules register is here and nothing else.

use std::sync::OnceLock;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema, json_schema};
use serde_json::{Map, Value, json};

use crate::AppState;

mod checkins;
mod operations;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| build().to_string());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Who {
    /// Any key of the workspace, or any member.
    Read,
    /// A write or master key, or an owner, admin or member.
    Write,
    /// The master key, or an owner or admin.
    Admin,
}

/// What an operation takes as its body.
enum Body {
    None,
    Json(Schema),
    Csv,
    /// Any JSON object (Keen query parameters, saved query definitions).
    Object,
}

/// The document under construction.
struct Doc {
    generator: SchemaGenerator,
    paths: Map<String, Value>,
}

/// Describes a path parameter by its name.
fn path_parameter(name: &str) -> Value {
    let about = match name {
        "id" => "The workspace id.",
        "box" => "A box id.",
        "target" => "The id of what the box is linked to.",
        "analysis" => "A Keen analysis: count, count_unique, sum, average, …, funnel, multi_analysis.",
        "name" => "A saved query's name.",
        "kind" => "contacts, organizations or boxes.",
        "user" => "A member's user id.",
        "entry" => "A check-in entry's id.",
        "mail" => "An outgoing message's id.",
        "address" => "An email address.",
        other => return json!({"name": other, "in": "path", "required": true, "schema": {"type": "string"}}),
    };
    json!({"name": name, "in": "path", "required": true, "description": about, "schema": {"type": "string"}})
}

impl Doc {
    fn schema<T: JsonSchema>(&mut self) -> Schema {
        self.generator.subschema_for::<T>()
    }

    /// The query parameters the struct `T` reads.
    fn query<T: JsonSchema>(&mut self) -> Vec<Value> {
        let schema = self.generator.root_schema_for::<T>();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(Value::Object(properties)) = schema.get("properties") else { return Vec::new() };
        properties
            .iter()
            .map(|(name, property)| {
                json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": property})
            })
            .collect()
    }

    /// Adds the operation `method` on `path`, listed under `tag` with `summary`.
    fn op(
        &mut self,
        (method, path): (&str, &str),
        (tag, summary): (&str, &str),
        who: Who,
        query: Vec<Value>,
        body: Body,
        ok: (u16, Option<Schema>),
    ) {
        let mut parameters: Vec<Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(path_parameter)
            .collect();
        parameters.extend(query);
        let (status, schema) = ok;
        let success = match (status, schema) {
            (204, _) | (_, None) => json!({"description": "Done; no body."}),
            (_, Some(schema)) => {
                json!({"description": "Success.", "content": {"application/json": {"schema": schema}}})
            }
        };
        let who_text = match who {
            Who::Read => "Any key of the workspace, or any member.",
            Who::Write => "A write or master key, or an owner, admin or member (not a viewer).",
            Who::Admin => "The master key, or an owner or admin.",
        };
        let mut operation = json!({
            "tags": [tag],
            "summary": summary,
            "description": who_text,
            "operationId": format!("{method}{}", path.replace("/api/v1/workspaces/{id}", "").replace(['/', '{', '}'], "_")),
            "parameters": parameters,
            "responses": {
                status.to_string(): success,
                "default": {"description": "An error.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        let body = match body {
            Body::None => None,
            Body::Json(schema) => {
                Some(json!({"required": true, "content": {"application/json": {"schema": schema}}}))
            }
            Body::Csv => {
                Some(json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}}))
            }
            Body::Object => Some(
                json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}),
            ),
        };
        if let Some(body) = body {
            operation["requestBody"] = body;
        }
        let entry = self.paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = operation;
    }
}

/// A JSON object with one property, `key`, holding a list of `item`.
fn list_of(key: &str, item: Schema) -> Schema {
    json_schema!({"type": "object", "required": [key], "properties": {key: {"type": "array", "items": item}}})
}

/// The document.
fn build() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let mut d = Doc { generator: settings.into_generator(), paths: Map::new() };
    operations::describe(&mut d);
    checkins::describe(&mut d);

    let mut schemas = d.generator.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error_code", "message"], "properties": {
            "error_code": {"type": "string", "description": "invalid_request, unauthenticated, forbidden, not_found, conflict, rate_limited, unavailable or internal_error."},
            "message": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The native JSON API of a Switchboard server. Send a workspace key as `Authorization: Bearer KEY`, or use a signed-in session's cookie with the `X-CSRF-Token` header on changes. Changes to versioned objects carry the `version` they read; a stale one is answered 409.",
        },
        "security": [{"key": []}, {"session": []}],
        "paths": d.paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "key": {"type": "http", "scheme": "bearer", "description": "A workspace's master, write or read key."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sb_session", "description": "A signed-in member's session; changes also need the X-CSRF-Token header."},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method and `/api/v1` path the API modules hand to the router, read from their
    /// source.
    fn registered() -> Vec<(String, String)> {
        let mut found = Vec::new();
        for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api")).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            for (n, _) in text.match_indices(".route(") {
                let rest = &text[n..];
                let path = rest.split('"').nth(1).unwrap().to_owned();
                if path == "/api/v1/openapi.json" || !path.starts_with("/api/v1/") {
                    continue;
                }
                let call = &rest[..rest.find(")\n").unwrap_or(rest.len())];
                for method in ["get", "post", "put", "patch", "delete"] {
                    let chained = format!(".{method}(");
                    let first = format!("{method}(");
                    if call.contains(&chained)
                        || call.split(',').nth(1).is_some_and(|h| h.trim().starts_with(&first))
                    {
                        found.push((method.to_owned(), path.clone()));
                    }
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn the_document_names_every_route_and_only_those() {
        let doc = build();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
            .collect();
        documented.sort();
        assert_eq!(documented, registered());
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let name = reference.split('"').next().unwrap();
            let name = name.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{name}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{name} is referred to but not defined"
            );
        }
        assert_eq!(doc["components"]["schemas"]["Box"]["properties"]["version"]["type"], "integer");
    }
}
