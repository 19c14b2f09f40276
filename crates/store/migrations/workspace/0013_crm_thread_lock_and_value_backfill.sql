-- Two one-row tables. `crm_thread_lock` is what message filing locks before it reads which
-- threads a message belongs to, so that concurrent filers see each other's messages without
-- serialising every other CRM writer (they take the outbox sequence row, last). And
-- `crm_box_values_backfill` records whether `crm_box_values` has been filled for the boxes
-- written before migration 10: the store fills it, from each box's field values, the first
-- time it opens the database after this migration.

CREATE TABLE crm_thread_lock (
    id    BIGINT PRIMARY KEY,
    taken BIGINT NOT NULL
);
INSERT INTO crm_thread_lock (id, taken) VALUES (1, 0);

CREATE TABLE crm_box_values_backfill (
    id   BIGINT PRIMARY KEY,
    done BIGINT NOT NULL
);
INSERT INTO crm_box_values_backfill (id, done) VALUES (1, 0);
