-- The CRM's first tables: pipelines with their ordered stages and typed fields, boxes, the
-- stage history of boxes, and the outbox that every CRM change writes to in its transaction.
-- Ids are 24-hex-character text; field values are a JSON object (field id -> value) checked
-- by sb-core against the pipeline's fields before it is stored.

CREATE TABLE crm_pipelines (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crm_pipelines_by_name ON crm_pipelines (name, id);

CREATE TABLE crm_stages (
    id          TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES crm_pipelines (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    color       TEXT NOT NULL,
    UNIQUE (pipeline_id, id)
);

-- `options` is a JSON array of strings (the choices of a dropdown; empty for other types).
CREATE TABLE crm_fields (
    id          TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES crm_pipelines (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    field_type  TEXT NOT NULL,
    options     TEXT NOT NULL
);
CREATE INDEX crm_fields_by_pipeline ON crm_fields (pipeline_id, position);

-- A box's stage must be a stage of its own pipeline (the composite foreign key), and a stage
-- that holds boxes cannot be deleted. `assignees` repeats crm_box_assignees as space-separated
-- user ids, so that reading a box is one row.
CREATE TABLE crm_boxes (
    id          TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES crm_pipelines (id),
    stage_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    notes       TEXT NOT NULL,
    fields      TEXT NOT NULL,
    assignees   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    FOREIGN KEY (pipeline_id, stage_id) REFERENCES crm_stages (pipeline_id, id)
);
CREATE INDEX crm_boxes_by_updated ON crm_boxes (pipeline_id, updated_at, id);
CREATE INDEX crm_boxes_by_name ON crm_boxes (pipeline_id, name, id);
CREATE INDEX crm_boxes_by_stage ON crm_boxes (stage_id, updated_at, id);

CREATE TABLE crm_box_assignees (
    box_id  TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (box_id, user_id)
);
CREATE INDEX crm_box_assignees_by_user ON crm_box_assignees (user_id, box_id);

-- Every stage a box has been in: `from_stage` is NULL for the stage it was created in;
-- `box_version` is the box's version after the change, which orders one box's entries.
CREATE TABLE crm_stage_history (
    box_id      TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    box_version BIGINT NOT NULL,
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX crm_stage_history_by_box ON crm_stage_history (box_id, box_version);

-- The outbox: one row per change, written in the change's transaction, for the consumers
-- that mirror records into search and analytics (and later deliver webhooks). `id` comes from
-- `outbox_sequence`, whose single row each writer updates last before committing: the row lock
-- orders writers, so ids increase in commit order and a consumer never sees a gap fill later.
CREATE TABLE outbox (
    id          BIGINT PRIMARY KEY,
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX outbox_by_object ON outbox (object_kind, object_id, id);

CREATE TABLE outbox_sequence (
    last BIGINT NOT NULL
);
INSERT INTO outbox_sequence (last) VALUES (0);
