//! Tasks on boxes: created, read, listed by box or by due date (open tasks due by a day,
//! optionally one user's), updated under optimistic concurrency, deleted with their box.

use sb_types::{BoxId, TaskId, Timestamp, UserId};
use sqlx::any::AnyRow;

use super::pipelines::stale;
use super::{NewOutboxEntry, missing_as, write_outbox};
use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, decode, parsed};

/// A task on a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
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

/// Most tasks one list returns.
const TASKS_MAX: i64 = 500;

pub(super) const COLUMNS: &str =
    "id, box_id, text, due_date, assignees, done, version, created_by, created_at, updated_at";

pub(super) fn from_row(row: &AnyRow) -> Result<TaskRecord, StoreError> {
    let assignees: String = col(row, 4)?;
    Ok(TaskRecord {
        id: parsed(row, 0, "crm_tasks.id", TaskId::parse)?,
        box_id: parsed(row, 1, "crm_tasks.box_id", BoxId::parse)?,
        text: col(row, 2)?,
        due_date: col(row, 3)?,
        assignees: assignees
            .split_whitespace()
            .map(|id| decode("crm_tasks.assignees", UserId::parse(id)))
            .collect::<Result<_, _>>()?,
        done: col::<i64>(row, 5)? != 0,
        version: col(row, 6)?,
        created_by: col(row, 7)?,
        created_at: parsed(row, 8, "crm_tasks.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 9, "crm_tasks.updated_at", Timestamp::parse)?,
    })
}

fn assignees_text(assignees: &[UserId]) -> String {
    assignees.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

async fn put_assignees(tx: &mut WriteTransaction, task: &TaskRecord) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM crm_task_assignees WHERE task_id = $1")
        .bind(task.id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    for user in &task.assignees {
        sqlx::query("INSERT INTO crm_task_assignees (task_id, user_id) VALUES ($1, $2)")
            .bind(task.id.to_string())
            .bind(user.to_string())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

impl WorkspaceDb {
    /// Stores a new task and writes `outbox`. `NotFound` if its box does not exist.
    pub async fn insert_task(&self, task: &TaskRecord, outbox: &[NewOutboxEntry]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_tasks (id, box_id, text, due_date, assignees, done, version, created_by,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(task.id.to_string())
        .bind(task.box_id.to_string())
        .bind(&task.text)
        .bind(task.due_date.clone())
        .bind(assignees_text(&task.assignees))
        .bind(i64::from(task.done))
        .bind(task.version)
        .bind(&task.created_by)
        .bind(task.created_at.to_string())
        .bind(task.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(missing_as("box"))?;
        put_assignees(&mut tx, task).await?;
        write_outbox(&mut tx, outbox, task.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The task `id`, if it exists.
    pub async fn task(&self, id: TaskId) -> Result<Option<TaskRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM crm_tasks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(from_row).transpose()
    }

    /// The tasks of the box `id`, oldest first (at most 500).
    pub async fn box_tasks(&self, id: BoxId) -> Result<Vec<TaskRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM crm_tasks WHERE box_id = $1 ORDER BY created_at, id LIMIT {TASKS_MAX}"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// The open tasks due on or before `date` (`YYYY-MM-DD`), of `assignee` only if given,
    /// earliest due first (at most 500).
    pub async fn due_tasks(
        &self,
        date: &str,
        assignee: Option<UserId>,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let mine = match assignee {
            Some(_) => " AND id IN (SELECT task_id FROM crm_task_assignees WHERE user_id = $2)",
            None => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM crm_tasks WHERE done = 0 AND due_date <= $1{mine}
             ORDER BY due_date, id LIMIT {TASKS_MAX}"
        );
        let mut statement = sqlx::query(&sql).bind(date.to_owned());
        if let Some(user) = assignee {
            statement = statement.bind(user.to_string());
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces the task `task.id`, if it is still at `expected_version`, with `task`, and
    /// writes `outbox`. `NotFound` if it does not exist, `Conflict` if it is at another
    /// version; either way nothing changes.
    pub async fn update_task(
        &self,
        task: &TaskRecord,
        expected_version: i64,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_tasks SET text = $1, due_date = $2, assignees = $3, done = $4, version = $5,
                 updated_at = $6
             WHERE id = $7 AND version = $8",
        )
        .bind(&task.text)
        .bind(task.due_date.clone())
        .bind(assignees_text(&task.assignees))
        .bind(i64::from(task.done))
        .bind(task.version)
        .bind(task.updated_at.to_string())
        .bind(task.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            return Err(stale(&mut tx, "crm_tasks", "task", &task.id.to_string(), expected_version).await);
        }
        put_assignees(&mut tx, task).await?;
        write_outbox(&mut tx, outbox, task.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the task `id` and writes `outbox`. `NotFound` if it does not exist.
    pub async fn delete_task(
        &self,
        id: TaskId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.delete_row("crm_tasks", "task", &id.to_string(), outbox, now).await
    }
}
