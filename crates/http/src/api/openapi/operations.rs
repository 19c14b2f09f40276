//! The operations of the native API, each with the wire types it reads and writes: the table
//! `openapi.rs` turns into the document's paths. A route added to an API module belongs here
//! too (the test in `openapi.rs` says when one is missing).

use schemars::json_schema;

use super::{Body, Doc, Who, list_of};
use crate::api::{boxes, comments, contacts, imports, pipelines, tasks, threads, webhooks, workspaces};

/// Adds every operation to `d`.
pub(super) fn describe(d: &mut Doc) {
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
}
