-- Tasks on boxes: text, an optional due date (`YYYY-MM-DD`, so text order is date order),
-- assignees (repeated as space-separated user ids so a task is one row, and in
-- crm_task_assignees for "my tasks"), and whether it is done (0 or 1).

CREATE TABLE crm_tasks (
    id          TEXT PRIMARY KEY,
    box_id      TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    due_date    TEXT,
    assignees   TEXT NOT NULL,
    done        BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crm_tasks_by_box ON crm_tasks (box_id, created_at, id);
CREATE INDEX crm_tasks_by_due ON crm_tasks (done, due_date, id);

CREATE TABLE crm_task_assignees (
    task_id TEXT NOT NULL REFERENCES crm_tasks (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX crm_task_assignees_by_user ON crm_task_assignees (user_id, task_id);
