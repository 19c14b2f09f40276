//! Task services: tasks on a box (text, an optional due date, assignees among the members,
//! done or not), created, read, listed by box, updated under their version, deleted; and the
//! open tasks due by a day ("due today, overdue"), everyone's or one member's.

use sb_store::TaskRecord;
use sb_types::{BoxId, TaskId, Timestamp, UserId};
use serde_json::json;

use super::pipelines::stale;
use super::{Change, id_in_path, invalid, is_date, outbox_entry};
use crate::{Access, CoreError, Permission, Switchboard};

/// Longest task text, in characters.
pub const TASK_TEXT_MAX: usize = 2_000;

/// A task on a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub box_id: BoxId,
    pub text: String,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub assignees: Vec<UserId>,
    pub done: bool,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new task, as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskDraft {
    pub text: String,
    pub due_date: Option<String>,
    /// User ids of members of the workspace.
    pub assignees: Vec<String>,
}

/// A change to a task at `version`; `None` leaves a part as it is (`due_date: Some(None)`
/// clears the date).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    pub version: i64,
    pub text: Option<String>,
    pub due_date: Option<Option<String>>,
    pub assignees: Option<Vec<String>>,
    pub done: Option<bool>,
}

fn text(text: &str) -> Result<String, CoreError> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > TASK_TEXT_MAX {
        return Err(invalid(format!("a task's text is 1 to {TASK_TEXT_MAX} characters, got {chars}")));
    }
    Ok(trimmed.to_owned())
}

fn due_date(date: Option<&str>) -> Result<Option<String>, CoreError> {
    match date {
        Some(date) if !is_date(date) => {
            Err(invalid(format!("due date {date:?} must be a date as YYYY-MM-DD")))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

pub(super) fn from_record(record: TaskRecord) -> Task {
    Task {
        id: record.id,
        box_id: record.box_id,
        text: record.text,
        due_date: record.due_date,
        assignees: record.assignees,
        done: record.done,
        version: record.version,
        created_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn record(task: &Task) -> TaskRecord {
    TaskRecord {
        id: task.id,
        box_id: task.box_id,
        text: task.text.clone(),
        due_date: task.due_date.clone(),
        assignees: task.assignees.clone(),
        done: task.done,
        version: task.version,
        created_by: task.created_by.clone(),
        created_at: task.created_at,
        updated_at: task.updated_at,
    }
}

/// The outbox payload of a task.
fn payload(task: &Task) -> String {
    json!({
        "id": task.id.to_string(),
        "box": task.box_id.to_string(),
        "text": task.text,
        "due_date": task.due_date,
        "assignees": task.assignees.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "done": task.done,
        "version": task.version,
        "updated_at": task.updated_at.to_string(),
    })
    .to_string()
}

impl Switchboard {
    /// Creates a task on the box `box_id` (as it appears in a URL).
    pub async fn create_task(
        &self,
        access: &Access,
        box_id: &str,
        draft: TaskDraft,
    ) -> Result<Task, CoreError> {
        access.require(Permission::Write)?;
        let (crm_box, _) = self.find_box(access, box_id).await?;
        let now = Timestamp::now();
        let task = Task {
            id: TaskId::generate(),
            box_id: crm_box.id,
            text: text(&draft.text)?,
            due_date: due_date(draft.due_date.as_deref())?,
            assignees: self.assignees(access, &draft.assignees).await?,
            done: false,
            version: 1,
            created_by: access.actor_label(),
            created_at: now,
            updated_at: now,
        };
        let outbox =
            [outbox_entry(access, "task", task.id.to_string(), "TASK_CREATE", Change::Made(payload(&task)))];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_task(&record(&task), &outbox).await?;
        Ok(task)
    }

    /// The task `id` (as it appears in a URL).
    pub async fn task(&self, access: &Access, id: &str) -> Result<Task, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let found = db.task(id_in_path(id, "task")?).await?.ok_or(CoreError::NotFound("task"))?;
        Ok(from_record(found))
    }

    /// The tasks of the box `box_id`, oldest first.
    pub async fn box_tasks(&self, access: &Access, box_id: &str) -> Result<Vec<Task>, CoreError> {
        access.require(Permission::Read)?;
        let (crm_box, _) = self.find_box(access, box_id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.box_tasks(crm_box.id).await?.into_iter().map(from_record).collect())
    }

    /// The open tasks due on or before `date` (today in UTC when `None`), of the member
    /// `assignee` only if given, earliest due first.
    pub async fn due_tasks(
        &self,
        access: &Access,
        date: Option<&str>,
        assignee: Option<&str>,
    ) -> Result<Vec<Task>, CoreError> {
        access.require(Permission::Read)?;
        let today = Timestamp::now().as_utc().format("%Y-%m-%d").to_string();
        let date = due_date(date)?.unwrap_or(today);
        let assignee = assignee
            .map(|text| {
                UserId::parse(text).map_err(|_| invalid(format!("assignee {text:?} is not a user id")))
            })
            .transpose()?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.due_tasks(&date, assignee).await?.into_iter().map(from_record).collect())
    }

    /// Applies `patch` to the task `id` if it is still at `patch.version`. Nothing changes on
    /// any error, and a patch that changes nothing writes nothing.
    pub async fn update_task(&self, access: &Access, id: &str, patch: TaskPatch) -> Result<Task, CoreError> {
        access.require(Permission::Write)?;
        let current = self.task(access, id).await?;
        if patch.version != current.version {
            return Err(stale("task", patch.version, current.version));
        }
        let mut task = current.clone();
        if let Some(new) = &patch.text {
            task.text = text(new)?;
        }
        if let Some(date) = &patch.due_date {
            task.due_date = due_date(date.as_deref())?;
        }
        if let Some(ids) = &patch.assignees {
            task.assignees = self.assignees(access, ids).await?;
        }
        if let Some(done) = patch.done {
            task.done = done;
        }
        if task == current {
            return Ok(current);
        }
        task.version = current.version + 1;
        task.updated_at = Timestamp::now();
        let outbox = [outbox_entry(
            access,
            "task",
            task.id.to_string(),
            "TASK_EDIT",
            Change::Edited(payload(&current), payload(&task)),
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.update_task(&record(&task), current.version, &outbox).await?;
        Ok(task)
    }

    /// Deletes the task `id`.
    pub async fn delete_task(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let task = self.task(access, id).await?;
        let outbox = [outbox_entry(
            access,
            "task",
            task.id.to_string(),
            "TASK_DELETE",
            Change::Removed(payload(&task)),
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_task(task.id, &outbox, Timestamp::now()).await?)
    }
}
