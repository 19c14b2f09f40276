-- Comments on boxes, oldest first, with the members they mention (space-separated user ids),
-- cascading with their box.

CREATE TABLE crm_comments (
    id          TEXT PRIMARY KEY,
    box_id      TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    mentions    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crm_comments_by_box ON crm_comments (box_id, created_at, id);
