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

use super::{boxes, comments, contacts, imports, pipelines, tasks, threads, webhooks, workspaces};
use crate::AppState;

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
    let ws = "/api/v1/workspaces/{id}";
    let p = |rest: &str| format!("{ws}{rest}");
    use Who::{Admin, Read, Write};

    let schema = d.schema::<workspaces::WorkspaceDto>();
    d.op(("get", ws), ("Workspaces", "The workspace"), Read, vec![], Body::None, (200, Some(schema)));
    let any = Some(json_schema!({"type": "object"}));
    d.op(
        ("post", &p("/queries/{analysis}")),
        ("Analytics", "Run a Keen analysis with its parameters"),
        Read,
        vec![],
        Body::Object,
        (200, any.clone()),
    );
    d.op(
        ("get", &p("/saved_queries")),
        ("Analytics", "Saved queries (Keen shape)"),
        Admin,
        vec![],
        Body::None,
        (200, any.clone()),
    );
    d.op(
        ("get", &p("/saved_queries/{name}")),
        ("Analytics", "A saved query"),
        Admin,
        vec![],
        Body::None,
        (200, any.clone()),
    );
    d.op(
        ("put", &p("/saved_queries/{name}")),
        ("Analytics", "Create or replace a saved query"),
        Write,
        vec![],
        Body::Object,
        (200, any.clone()),
    );
    d.op(
        ("delete", &p("/saved_queries/{name}")),
        ("Analytics", "Delete a saved query"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    let query = d.query::<crate::api::sql::Format>();
    let rows = Some(
        json_schema!({"type": "object", "properties": {"columns": {"type": "array"}, "rows": {"type": "array"}}}),
    );
    d.op(
        ("post", &p("/sql")),
        ("Analytics", "Run a read-only SQL query (the body is the SQL text or {\"query\"})"),
        Read,
        query,
        Body::Object,
        (200, rows),
    );

    let (page, one, create, patch) = (
        d.schema::<pipelines::PipelineList>(),
        d.schema::<pipelines::PipelineOut>(),
        d.schema::<pipelines::CreateIn>(),
        d.schema::<pipelines::PatchIn>(),
    );
    let query = d.query::<pipelines::ListIn>();
    d.op(
        ("get", &p("/pipelines")),
        ("Pipelines", "A page of pipelines, by name"),
        Read,
        query,
        Body::None,
        (200, Some(page)),
    );
    d.op(
        ("post", &p("/pipelines")),
        ("Pipelines", "Create a pipeline with its stages and fields"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(one.clone())),
    );
    d.op(
        ("get", &p("/pipelines/{pipeline}")),
        ("Pipelines", "A pipeline"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/pipelines/{pipeline}")),
        ("Pipelines", "Change a pipeline at its version"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one)),
    );
    d.op(
        ("delete", &p("/pipelines/{pipeline}")),
        ("Pipelines", "Delete a pipeline that holds no boxes"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );

    let (page, one, create, patch) = (
        d.schema::<boxes::BoxList>(),
        d.schema::<boxes::BoxOut>(),
        d.schema::<boxes::CreateIn>(),
        d.schema::<boxes::PatchIn>(),
    );
    let query = d.query::<boxes::ListIn>();
    d.op(
        ("get", &p("/pipelines/{pipeline}/boxes")),
        ("Boxes", "A page of a pipeline's boxes, filtered and sorted"),
        Read,
        query,
        Body::None,
        (200, Some(page)),
    );
    d.op(
        ("post", &p("/pipelines/{pipeline}/boxes")),
        ("Boxes", "Create a box"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(one.clone())),
    );
    d.op(
        ("get", &p("/boxes/{box}")),
        ("Boxes", "A box with its stage history and links"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/boxes/{box}")),
        ("Boxes", "Change a box at its version (fields merge)"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one)),
    );
    d.op(("delete", &p("/boxes/{box}")), ("Boxes", "Delete a box"), Write, vec![], Body::None, (204, None));
    for (target, what) in
        [("contacts", "a contact"), ("organizations", "an organization"), ("boxes", "another box")]
    {
        let path = p(&format!("/boxes/{{box}}/{target}/{{target}}"));
        d.op(
            ("put", &path),
            ("Boxes", &format!("Link the box to {what}")),
            Write,
            vec![],
            Body::None,
            (204, None),
        );
        d.op(
            ("delete", &path),
            ("Boxes", &format!("Remove the box's link to {what}")),
            Write,
            vec![],
            Body::None,
            (204, None),
        );
    }

    let (page, one, create, patch) = (
        d.schema::<contacts::ContactList>(),
        d.schema::<contacts::ContactOut>(),
        d.schema::<contacts::ContactIn>(),
        d.schema::<contacts::ContactPatchIn>(),
    );
    let query = d.query::<contacts::ListIn>();
    d.op(
        ("get", &p("/contacts")),
        ("Contacts", "A page of contacts, or the one with ?email="),
        Read,
        query.clone(),
        Body::None,
        (200, Some(page)),
    );
    d.op(
        ("post", &p("/contacts")),
        ("Contacts", "Create a contact"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(one.clone())),
    );
    d.op(
        ("get", &p("/contacts/{contact}")),
        ("Contacts", "A contact with its organization links"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/contacts/{contact}")),
        ("Contacts", "Change a contact at its version"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one)),
    );
    d.op(
        ("delete", &p("/contacts/{contact}")),
        ("Contacts", "Delete a contact"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    let link = p("/contacts/{contact}/organizations/{organization}");
    d.op(
        ("put", &link),
        ("Contacts", "Link a contact to an organization by hand"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    d.op(("delete", &link), ("Contacts", "Remove a manual link"), Write, vec![], Body::None, (204, None));
    let (page, one, create, patch, linked) = (
        d.schema::<contacts::OrganizationList>(),
        d.schema::<contacts::OrganizationOut>(),
        d.schema::<contacts::OrganizationIn>(),
        d.schema::<contacts::OrganizationPatchIn>(),
        d.schema::<contacts::BoxList>(),
    );
    d.op(
        ("get", &p("/organizations")),
        ("Organizations", "A page of organizations"),
        Read,
        query,
        Body::None,
        (200, Some(page)),
    );
    d.op(
        ("post", &p("/organizations")),
        ("Organizations", "Create an organization"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(one.clone())),
    );
    d.op(
        ("get", &p("/organizations/{organization}")),
        ("Organizations", "An organization with its contact links"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/organizations/{organization}")),
        ("Organizations", "Change an organization at its version"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one)),
    );
    d.op(
        ("delete", &p("/organizations/{organization}")),
        ("Organizations", "Delete an organization"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    d.op(
        ("get", &p("/contacts/{contact}/boxes")),
        ("Contacts", "A contact's boxes"),
        Read,
        vec![],
        Body::None,
        (200, Some(linked.clone())),
    );
    d.op(
        ("get", &p("/organizations/{organization}/boxes")),
        ("Organizations", "An organization's boxes, its own and its contacts'"),
        Read,
        vec![],
        Body::None,
        (200, Some(linked)),
    );

    let (list, one, create, patch) = (
        d.schema::<tasks::TaskList>(),
        d.schema::<tasks::TaskOut>(),
        d.schema::<tasks::CreateIn>(),
        d.schema::<tasks::PatchIn>(),
    );
    let query = d.query::<tasks::DueIn>();
    d.op(
        ("get", &p("/boxes/{box}/tasks")),
        ("Tasks", "A box's tasks, oldest first"),
        Read,
        vec![],
        Body::None,
        (200, Some(list.clone())),
    );
    d.op(
        ("post", &p("/boxes/{box}/tasks")),
        ("Tasks", "Add a task to a box"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(one.clone())),
    );
    d.op(
        ("get", &p("/tasks")),
        ("Tasks", "Open tasks due by a day (overdue and due today)"),
        Read,
        query,
        Body::None,
        (200, Some(list.clone())),
    );
    d.op(
        ("get", &p("/tasks/{task}")),
        ("Tasks", "A task"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/tasks/{task}")),
        ("Tasks", "Change a task at its version"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one)),
    );
    d.op(("delete", &p("/tasks/{task}")), ("Tasks", "Delete a task"), Write, vec![], Body::None, (204, None));
    d.op(
        ("get", &p("/contacts/{contact}/tasks")),
        ("Contacts", "Tasks on a contact's boxes"),
        Read,
        vec![],
        Body::None,
        (200, Some(list.clone())),
    );
    d.op(
        ("get", &p("/organizations/{organization}/tasks")),
        ("Organizations", "Tasks on an organization's boxes"),
        Read,
        vec![],
        Body::None,
        (200, Some(list)),
    );

    let (list, one, input) = (
        d.schema::<comments::CommentList>(),
        d.schema::<comments::CommentOut>(),
        d.schema::<comments::CommentIn>(),
    );
    d.op(
        ("get", &p("/boxes/{box}/comments")),
        ("Comments", "A box's comments, oldest first"),
        Read,
        vec![],
        Body::None,
        (200, Some(list)),
    );
    d.op(
        ("post", &p("/boxes/{box}/comments")),
        ("Comments", "Comment on a box (@address mentions a member)"),
        Write,
        vec![],
        Body::Json(input.clone()),
        (201, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/comments/{comment}")),
        ("Comments", "Edit a comment at its version (author or admin)"),
        Write,
        vec![],
        Body::Json(input),
        (200, Some(one)),
    );
    d.op(
        ("delete", &p("/comments/{comment}")),
        ("Comments", "Delete a comment (author or admin)"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );

    let (message, input, thread, full, link, context, filed, filing) = (
        d.schema::<threads::MessageOut>(),
        d.schema::<threads::MessageIn>(),
        d.schema::<threads::ThreadList>(),
        d.schema::<threads::ThreadShow>(),
        d.schema::<threads::LinkOut>(),
        d.schema::<threads::ContextBoxOut>(),
        d.schema::<threads::BoxThreadOut>(),
        d.schema::<threads::FileIn>(),
    );
    let query = d.query::<threads::PageIn>();
    d.op(
        ("post", &p("/messages")),
        ("Threads", "Add an email (201 new; 200 when its Message-ID is known)"),
        Write,
        vec![],
        Body::Json(input),
        (201, Some(message.clone())),
    );
    d.op(
        ("get", &p("/messages/{message}")),
        ("Threads", "An email with its text"),
        Read,
        vec![],
        Body::None,
        (200, Some(message)),
    );
    d.op(
        ("get", &p("/threads")),
        ("Threads", "A page of threads, last written to first"),
        Read,
        query,
        Body::None,
        (200, Some(thread.clone())),
    );
    d.op(
        ("get", &p("/threads/{thread}")),
        ("Threads", "A thread with its messages and boxes"),
        Read,
        vec![],
        Body::None,
        (200, Some(full)),
    );
    d.op(
        ("get", &p("/threads/{thread}/boxes")),
        ("Threads", "The boxes a thread concerns, each with why"),
        Read,
        vec![],
        Body::None,
        (200, Some(list_of("boxes", context))),
    );
    d.op(
        ("get", &p("/boxes/{box}/threads")),
        ("Threads", "A box's filed and suggested threads"),
        Read,
        vec![],
        Body::None,
        (200, Some(list_of("threads", filed))),
    );
    let file = p("/boxes/{box}/threads/{thread}");
    d.op(
        ("put", &file),
        ("Threads", "File a thread on a box (manual, automatic or suggested)"),
        Write,
        vec![],
        Body::Json(filing),
        (200, Some(link)),
    );
    d.op(
        ("delete", &file),
        ("Threads", "Reject a thread from a box"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    let entry = json_schema!({"type": "object", "required": ["at", "actor", "kind"], "properties": {
        "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
        "kind": {"enum": ["stage", "email", "comment", "task", "edit"]}}});
    d.op(
        ("get", &p("/boxes/{box}/timeline")),
        ("Boxes", "A box's latest 500 events in time order"),
        Read,
        vec![],
        Body::None,
        (200, Some(list_of("timeline", entry))),
    );
    d.op(
        ("get", &p("/contacts/{contact}/threads")),
        ("Contacts", "The threads a contact takes part in"),
        Read,
        vec![],
        Body::None,
        (200, Some(thread.clone())),
    );
    d.op(
        ("get", &p("/organizations/{organization}/threads")),
        ("Organizations", "The threads of an organization's people"),
        Read,
        vec![],
        Body::None,
        (200, Some(thread)),
    );
    let (audit, query) = (d.schema::<threads::AuditOut>(), d.query::<threads::AuditIn>());
    d.op(
        ("get", &p("/audit")),
        ("Audit", "Who changed what, newest first"),
        Admin,
        query,
        Body::None,
        (200, Some(list_of("audit", audit))),
    );

    let (hook, create, delivery) = (
        d.schema::<webhooks::WebhookOut>(),
        d.schema::<webhooks::WebhookIn>(),
        d.schema::<webhooks::DeliveryOut>(),
    );
    d.op(
        ("get", &p("/webhooks")),
        ("Webhooks", "The webhook subscriptions"),
        Admin,
        vec![],
        Body::None,
        (200, Some(list_of("webhooks", hook.clone()))),
    );
    d.op(
        ("post", &p("/webhooks")),
        ("Webhooks", "Subscribe a URL to events (the secret is shown once)"),
        Admin,
        vec![],
        Body::Json(create),
        (201, Some(hook)),
    );
    d.op(
        ("delete", &p("/webhooks/{webhook}")),
        ("Webhooks", "Unsubscribe"),
        Admin,
        vec![],
        Body::None,
        (204, None),
    );
    d.op(
        ("get", &p("/webhooks/{webhook}/deliveries")),
        ("Webhooks", "The latest deliveries"),
        Admin,
        vec![],
        Body::None,
        (200, Some(list_of("deliveries", delivery))),
    );

    let report = Some(json_schema!({"type": "object", "properties": {
        "state": {"enum": ["dry_run", "refused", "done", "stopped"]}, "total_rows": {"type": "integer"},
        "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": "integer"}, "message": {"type": "string"}}}}}}));
    let query = d.query::<imports::ImportIn>();
    d.op(
        ("post", &p("/imports")),
        ("Import and export", "Import a CSV file (400 rows with errors, 409 stopped part way)"),
        Write,
        query,
        Body::Csv,
        (200, report),
    );
    d.op(
        ("get", &p("/imports")),
        ("Import and export", "The latest import runs"),
        Read,
        vec![],
        Body::None,
        (200, any),
    );
    let query = d.query::<imports::ExportIn>();
    d.op(
        ("get", &p("/exports/{kind}")),
        ("Import and export", "Every record as CSV (or JSON with format=json)"),
        Read,
        query,
        Body::None,
        (200, None),
    );

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
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
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
