-- Outgoing webhooks. A subscription names a URL, the events it wants (space-separated, or
-- `*`) and the secret its deliveries are signed with; it receives the changes committed after
-- it was made (`after_outbox`). The dispatcher turns outbox rows into deliveries, one per
-- subscription that wants the row's event, and records how far it got in `webhook_cursor`.
-- A delivery is a job: pending until its endpoint answers 2xx (delivered) or it has failed too
-- often (failed), retried at `next_attempt_at`, which is also its lease while it is being sent.

CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    secret       TEXT NOT NULL,
    after_outbox BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE webhook_cursor (
    id   BIGINT PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, last) VALUES (1, 0);

CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    outbox_id       BIGINT NOT NULL,
    object_id       TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, outbox_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_object ON webhook_deliveries (webhook_id, object_id, state, outbox_id);
