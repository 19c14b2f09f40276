//! Context services: which boxes a thread concerns and why, a contact's and an organization's
//! threads and tasks, a box's timeline, and the audit trail of who changed what. Each is one
//! query in the store.

use sb_store::{AuditRecord, BoxReason, TimelineKind};
use sb_types::{Email, MessageId, StageId, Timestamp};
use serde_json::{Map, Value};

use super::tasks::{self, Task};
use super::threads::{Thread, thread_list};
use super::{CrmBox, id_in_path, page_limit};
use crate::{Access, CoreError, Permission, Switchboard};

/// One entry of a box's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// Who did it: an actor label, or the sender of an email.
    pub actor: String,
    pub event: TimelineEvent,
}

/// What happened on a box.
#[derive(Debug, Clone, PartialEq)]
pub enum TimelineEvent {
    /// Entered the stage `to` (from `from`; none when the box was created).
    Stage {
        from: Option<StageId>,
        to: StageId,
    },
    /// An email of a thread filed on the box.
    Email {
        message: MessageId,
        subject: String,
        snippet: String,
    },
    Comment {
        comment: String,
        body: String,
    },
    Task {
        task: String,
        text: String,
        done: bool,
    },
    /// The box's name, notes, fields or assignees changed: property -> `{"from", "to"}`.
    Edit {
        changes: Map<String, Value>,
    },
}

/// A row of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub object_kind: String,
    pub object_id: String,
    pub event: String,
    pub changes: Map<String, Value>,
}

fn changes(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn timeline_entry(entry: sb_store::TimelineEntry) -> Result<TimelineEntry, CoreError> {
    let corrupt = |what: &str| CoreError::Store(sb_store::StoreError::Corrupt(format!("timeline: {what}")));
    let event = match entry.kind {
        TimelineKind::Stage { from, to } => TimelineEvent::Stage {
            from: from.map(|f| StageId::parse(&f)).transpose().map_err(|_| corrupt("stage"))?,
            to: StageId::parse(&to).map_err(|_| corrupt("stage"))?,
        },
        TimelineKind::Email { message, subject, snippet } => TimelineEvent::Email {
            message: MessageId::parse(&message).map_err(|_| corrupt("message"))?,
            subject,
            snippet,
        },
        TimelineKind::Comment { comment, body } => TimelineEvent::Comment { comment, body },
        TimelineKind::Task { task, text, done } => TimelineEvent::Task { task, text, done },
        TimelineKind::Edit { changes: text } => TimelineEvent::Edit { changes: changes(&text) },
    };
    let at = Timestamp::parse(&entry.at).map_err(|_| corrupt("time"))?;
    Ok(TimelineEntry { at, actor: entry.actor, event })
}

fn audit_entry(record: AuditRecord) -> AuditEntry {
    AuditEntry {
        id: record.id,
        at: record.at,
        actor: record.actor,
        object_kind: record.object_kind,
        object_id: record.object_id,
        event: record.event,
        changes: changes(&record.changes),
    }
}

impl Switchboard {
    /// The boxes the thread `id` concerns, most recently updated first, each with why: filed
    /// or suggested there, or linked to a contact or an organization of a participant who is
    /// not a member of the workspace. Boxes the thread was rejected from are left out.
    pub async fn thread_boxes(
        &self,
        access: &Access,
        id: &str,
    ) -> Result<Vec<(CrmBox, Vec<BoxReason>)>, CoreError> {
        access.require(Permission::Read)?;
        let thread = id_in_path(id, "thread")?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.thread(thread).await?.ok_or(CoreError::NotFound("thread"))?;
        let team = self.team_addresses(access).await?;
        let found = db.thread_boxes(thread, &team).await?;
        let (records, reasons): (Vec<_>, Vec<_>) = found.into_iter().unzip();
        let boxes = self.with_pipelines(access, records).await?;
        Ok(boxes.into_iter().zip(reasons).collect())
    }

    /// The threads the contact `id` takes part in, last written to first (at most 500).
    pub async fn contact_threads(&self, access: &Access, id: &str) -> Result<Vec<Thread>, CoreError> {
        let contact = self.contact(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(thread_list(db.contact_threads(contact.id).await?))
    }

    /// The threads the organization `id`'s contacts or addresses at its domains take part in,
    /// last written to first (at most 500); members' addresses do not count.
    pub async fn organization_threads(&self, access: &Access, id: &str) -> Result<Vec<Thread>, CoreError> {
        let organization = self.organization(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let team = self.team_addresses(access).await?;
        Ok(thread_list(db.organization_threads(organization.id, &team).await?))
    }

    /// The addresses of the workspace's members.
    async fn team_addresses(&self, access: &Access) -> Result<Vec<Email>, CoreError> {
        Ok(self.store().members(access.workspace()).await?.into_iter().map(|m| m.user.email).collect())
    }

    /// The tasks on the contact `id`'s boxes: open first, then by due date (at most 500).
    pub async fn contact_tasks(&self, access: &Access, id: &str) -> Result<Vec<Task>, CoreError> {
        let contact = self.contact(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.contact_tasks(contact.id).await?.into_iter().map(tasks::from_record).collect())
    }

    /// The tasks on the organization `id`'s boxes and its contacts' boxes, ordered as
    /// `contact_tasks` (at most 500).
    pub async fn organization_tasks(&self, access: &Access, id: &str) -> Result<Vec<Task>, CoreError> {
        let organization = self.organization(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.organization_tasks(organization.id).await?.into_iter().map(tasks::from_record).collect())
    }

    /// The latest 500 events of the box `id` in time order: stage changes, emails of its
    /// threads, comments, tasks and edits.
    pub async fn box_timeline(&self, access: &Access, id: &str) -> Result<Vec<TimelineEntry>, CoreError> {
        access.require(Permission::Read)?;
        let (crm_box, _) = self.find_box(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.box_timeline(crm_box.id).await?.into_iter().map(timeline_entry).collect()
    }

    /// The audit trail, newest first: rows before `before` (an id), of the object `object` if
    /// given, at most `limit` (50 by default). Admins only.
    pub async fn audit(
        &self,
        access: &Access,
        object: Option<&str>,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        access.require(Permission::Admin)?;
        let limit = page_limit(limit)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.audit(object, before, limit).await?.into_iter().map(audit_entry).collect())
    }
}
