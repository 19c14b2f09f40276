-- Followers of boxes (members who keep up with a box they are not assigned to), boxes linked
-- to other boxes (each link stored in both directions, so either side lists it), and every
-- field value of every box as text (one row per tag of a tags value), so that a list of boxes
-- can be filtered by field value on an index on both backends. `followers` repeats
-- crm_box_followers as space-separated user ids, as `assignees` does.

ALTER TABLE crm_boxes ADD COLUMN followers TEXT NOT NULL DEFAULT '';

CREATE TABLE crm_box_followers (
    box_id  TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (box_id, user_id)
);
CREATE INDEX crm_box_followers_by_user ON crm_box_followers (user_id, box_id);

CREATE TABLE crm_linked_boxes (
    box_id        TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    linked_box_id TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    PRIMARY KEY (box_id, linked_box_id)
);

CREATE TABLE crm_box_values (
    box_id   TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    field_id TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (field_id, value, box_id)
);
CREATE INDEX crm_box_values_by_box ON crm_box_values (box_id);
