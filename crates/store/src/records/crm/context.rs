//! The context queries, one statement each over the graph of threads, participants, contacts,
//! organizations and boxes: the boxes a thread concerns and why, a contact's or an
//! organization's threads and tasks, and a box's timeline.

use sb_types::{BoxId, ContactId, Email, OrganizationId, ThreadId, ThreadSource};
use sqlx::any::AnyRow;

use super::boxes::{self, BoxRecord};
use super::tasks::{self, TaskRecord};
use super::threads::{THREAD_COLUMNS, ThreadRecord, thread_from_row};
use super::{placeholders, prefixed};
use crate::{StoreError, WorkspaceDb, col};

/// Why a box concerns a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BoxReason {
    /// The thread is filed on the box (by hand or automatically).
    Filed,
    /// The thread is suggested for the box.
    Suggested,
    /// A participant is a contact linked to the box.
    Contact,
    /// A participant belongs to an organization linked to the box, as its contact or by the
    /// domain of the address.
    Organization,
}

impl BoxReason {
    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "filed" => Ok(BoxReason::Filed),
            "suggested" => Ok(BoxReason::Suggested),
            "contact" => Ok(BoxReason::Contact),
            "organization" => Ok(BoxReason::Organization),
            other => Err(StoreError::Corrupt(format!("unknown box reason {other:?}"))),
        }
    }

    /// The word in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            BoxReason::Filed => "filed",
            BoxReason::Suggested => "suggested",
            BoxReason::Contact => "contact",
            BoxReason::Organization => "organization",
        }
    }
}

/// What happened on a box, for its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineKind {
    /// Entered the stage `to` (from `from`, none when created).
    Stage {
        from: Option<String>,
        to: String,
    },
    /// An email of a thread filed on the box.
    Email {
        message: String,
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
    /// The box itself changed: `changes` as in the audit trail.
    Edit {
        changes: String,
    },
}

/// One entry of a box's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// RFC 3339, as stored.
    pub at: String,
    /// Who did it: the actor, or the sender of an email.
    pub actor: String,
    pub kind: TimelineKind,
}

/// Most boxes, threads or tasks a context query returns; most entries a timeline returns.
const CONTEXT_MAX: i64 = 500;

/// `columns` ("a, b") with each name prefixed by `alias.`.
fn timeline_from_row(row: &AnyRow) -> Result<TimelineEntry, StoreError> {
    let kind: String = col(row, 1)?;
    let (reference, a, b): (String, String, String) = (col(row, 3)?, col(row, 4)?, col(row, 5)?);
    let kind = match kind.as_str() {
        "stage" => TimelineKind::Stage { from: Some(a).filter(|a| !a.is_empty()), to: b },
        "email" => TimelineKind::Email { message: reference, subject: a, snippet: b },
        "comment" => TimelineKind::Comment { comment: reference, body: a },
        "task" => TimelineKind::Task { task: reference, text: a, done: b == "done" },
        "edit" => TimelineKind::Edit { changes: a },
        other => return Err(StoreError::Corrupt(format!("unknown timeline entry {other:?}"))),
    };
    Ok(TimelineEntry { at: col(row, 0)?, actor: col(row, 2)?, kind })
}

impl WorkspaceDb {
    /// The boxes the thread `id` concerns, most recently updated first, each with its reasons:
    /// filed or suggested there, or linked to a contact or an organization of one of the
    /// thread's participants. Addresses in `team` are not participants for this (they are on
    /// every thread); a box the thread was rejected from is left out.
    pub async fn thread_boxes(
        &self,
        id: ThreadId,
        team: &[Email],
    ) -> Result<Vec<(BoxRecord, Vec<BoxReason>)>, StoreError> {
        let not_team = match team.len() {
            0 => String::new(),
            n => format!("AND pa.email NOT IN ({})", placeholders(2, n)),
        };
        let (suggested, rejected) = (ThreadSource::Suggested.as_str(), ThreadSource::Rejected.as_str());
        // Each step is materialised and joined from the small side (`CROSS JOIN` fixes the
        // join order on SQLite, and is an ordinary join on PostgreSQL): without statistics,
        // newer SQLite planners otherwise scan the link tables whole and the query grows with
        // the workspace (4.5 ms against 0.13 ms on 40,000 threads, bench/crm.md).
        let sql = format!(
            "WITH p AS MATERIALIZED (
                 SELECT DISTINCT pa.email, pa.domain FROM crm_messages m
                 CROSS JOIN crm_participants pa
                 WHERE m.thread_id = $1 AND pa.message = m.id {not_team}
             ), c AS MATERIALIZED (
                 SELECT DISTINCT ce.contact_id FROM p CROSS JOIN crm_contact_emails ce WHERE ce.email = p.email
             ), o AS MATERIALIZED (
                 SELECT co.organization_id FROM c
                 CROSS JOIN crm_contact_organizations co WHERE co.contact_id = c.contact_id
                 UNION
                 SELECT od.organization_id FROM p
                 CROSS JOIN crm_organization_domains od WHERE od.domain = p.domain
             ), why AS MATERIALIZED (
                 SELECT box_id, CASE source WHEN '{suggested}' THEN 'suggested' ELSE 'filed' END AS reason
                 FROM crm_box_threads WHERE thread_id = $1 AND source <> '{rejected}'
                 UNION
                 SELECT bc.box_id, 'contact' FROM c CROSS JOIN crm_box_contacts bc WHERE bc.contact_id = c.contact_id
                 UNION
                 SELECT bo.box_id, 'organization' FROM o
                 CROSS JOIN crm_box_organizations bo WHERE bo.organization_id = o.organization_id
             )
             SELECT {columns}, why.reason FROM why CROSS JOIN crm_boxes b
             WHERE b.id = why.box_id AND why.box_id NOT IN (
                 SELECT box_id FROM crm_box_threads WHERE thread_id = $1 AND source = '{rejected}')
             ORDER BY b.updated_at DESC, b.id DESC, why.reason
             LIMIT {limit}",
            columns = prefixed(boxes::COLUMNS, "b"),
            limit = CONTEXT_MAX * 4,
        );
        let mut statement = sqlx::query(&sql).bind(id.to_string());
        for email in team {
            statement = statement.bind(email.as_str().to_owned());
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        let reason_column = boxes::COLUMNS.split(", ").count();
        let mut found: Vec<(BoxRecord, Vec<BoxReason>)> = Vec::new();
        for row in &rows {
            let reason = BoxReason::parse(&col::<String>(row, reason_column)?)?;
            let crm_box = boxes::from_row(row)?;
            match found.last_mut() {
                Some((last, reasons)) if last.id == crm_box.id => reasons.push(reason),
                _ => found.push((crm_box, vec![reason])),
            }
        }
        for (_, reasons) in &mut found {
            reasons.sort();
        }
        found.truncate(usize::try_from(CONTEXT_MAX).unwrap_or(usize::MAX));
        Ok(found)
    }

    /// The threads one of the contact's addresses takes part in, last written to first.
    pub async fn contact_threads(&self, id: ContactId) -> Result<Vec<ThreadRecord>, StoreError> {
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM crm_threads WHERE id IN (
                 SELECT m.thread_id FROM crm_contact_emails ce
                 JOIN crm_participants p ON p.email = ce.email
                 JOIN crm_messages m ON m.id = p.message
                 WHERE ce.contact_id = $1)
             ORDER BY last_message_at DESC, id DESC LIMIT {CONTEXT_MAX}"
        );
        self.threads_by(&sql, &id.to_string()).await
    }

    /// The threads an organization's contacts, or addresses at its domains, take part in, last
    /// written to first. Addresses in `team` do not count (the team's own domain may be an
    /// organization too).
    pub async fn organization_threads(
        &self,
        id: OrganizationId,
        team: &[Email],
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        let not_team = match team.len() {
            0 => String::new(),
            n => format!("AND p.email NOT IN ({})", placeholders(2, n)),
        };
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM crm_threads WHERE id IN (
                 SELECT m.thread_id FROM crm_contact_organizations co
                 JOIN crm_contact_emails ce ON ce.contact_id = co.contact_id
                 JOIN crm_participants p ON p.email = ce.email
                 JOIN crm_messages m ON m.id = p.message
                 WHERE co.organization_id = $1 {not_team}
                 UNION
                 SELECT m.thread_id FROM crm_organization_domains od
                 JOIN crm_participants p ON p.domain = od.domain
                 JOIN crm_messages m ON m.id = p.message
                 WHERE od.organization_id = $1 {not_team})
             ORDER BY last_message_at DESC, id DESC LIMIT {CONTEXT_MAX}"
        );
        let mut statement = sqlx::query(&sql).bind(id.to_string());
        for email in team {
            statement = statement.bind(email.as_str().to_owned());
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(thread_from_row).collect()
    }

    async fn threads_by(&self, sql: &str, id: &str) -> Result<Vec<ThreadRecord>, StoreError> {
        let rows = sqlx::query(sql)
            .bind(id.to_owned())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(thread_from_row).collect()
    }

    /// The tasks on the contact's boxes: open ones first, then by due date (none last).
    pub async fn contact_tasks(&self, id: ContactId) -> Result<Vec<TaskRecord>, StoreError> {
        self.tasks_of("SELECT box_id FROM crm_box_contacts WHERE contact_id = $1", &id.to_string()).await
    }

    /// The tasks on the organization's boxes and on its contacts' boxes, ordered as
    /// `contact_tasks`.
    pub async fn organization_tasks(&self, id: OrganizationId) -> Result<Vec<TaskRecord>, StoreError> {
        let boxes = "SELECT box_id FROM crm_box_organizations WHERE organization_id = $1
                     UNION
                     SELECT bc.box_id FROM crm_box_contacts bc
                     JOIN crm_contact_organizations co ON co.contact_id = bc.contact_id
                     WHERE co.organization_id = $1";
        self.tasks_of(boxes, &id.to_string()).await
    }

    async fn tasks_of(&self, boxes: &str, id: &str) -> Result<Vec<TaskRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM crm_tasks WHERE box_id IN ({boxes})
             ORDER BY done, CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, created_at, id
             LIMIT {CONTEXT_MAX}",
            tasks::COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_owned())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(tasks::from_row).collect()
    }

    /// The box's latest 500 events in time order: stage changes, emails of the threads filed
    /// there, comments, tasks and edits of the box, in one statement.
    pub async fn box_timeline(&self, id: BoxId) -> Result<Vec<TimelineEntry>, StoreError> {
        let filed = [ThreadSource::Manual.as_str(), ThreadSource::Automatic.as_str()];
        let sql = format!(
            "SELECT at, kind, actor, reference, a, b FROM (
                 SELECT changed_at AS at, 'stage' AS kind, changed_by AS actor,
                     CAST(box_version AS TEXT) AS reference, COALESCE(from_stage, '') AS a, to_stage AS b
                 FROM crm_stage_history WHERE box_id = $1
                 UNION ALL
                 SELECT m.sent_at, 'email',
                     COALESCE((SELECT p.email FROM crm_participants p
                               WHERE p.message = m.id AND p.role = 'from' ORDER BY p.position LIMIT 1), ''),
                     m.id, m.subject, m.snippet
                 FROM crm_messages m JOIN crm_box_threads l ON l.thread_id = m.thread_id
                 WHERE l.box_id = $1 AND l.source IN ('{}', '{}')
                 UNION ALL
                 SELECT created_at, 'comment', created_by, id, body, '' FROM crm_comments WHERE box_id = $1
                 UNION ALL
                 SELECT created_at, 'task', created_by, id, text, CASE WHEN done = 0 THEN 'open' ELSE 'done' END
                 FROM crm_tasks WHERE box_id = $1
                 UNION ALL
                 SELECT at, 'edit', actor, CAST(id AS TEXT), changes, '' FROM audit_log
                 WHERE object_id = $1 AND event = 'BOX_EDIT'
             ) timeline
             ORDER BY at DESC, kind DESC, reference DESC LIMIT {CONTEXT_MAX}",
            filed[0], filed[1]
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut entries = rows.iter().map(timeline_from_row).collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        Ok(entries)
    }
}
