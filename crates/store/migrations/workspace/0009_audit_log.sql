-- The audit trail: who changed what, one row per change, written with the change's outbox row
-- (the same id) in the change's transaction. Unlike the outbox, which its consumers may let go,
-- it is kept. `changes` is a JSON object: each changed property -> {"from": …, "to": …}, with
-- "from" null for what was created and "to" null for what was deleted.

CREATE TABLE audit_log (
    id          BIGINT PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    changes     TEXT NOT NULL
);
CREATE INDEX audit_log_by_object ON audit_log (object_id, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
