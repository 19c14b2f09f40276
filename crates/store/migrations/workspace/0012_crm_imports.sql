-- CSV imports of contacts, organizations and boxes: one row per run, with how far it got, so
-- that an import stopped part way (an error, a crash) can be resumed from the row it reached.
-- `content_hash` (SHA-256 of the file) is how a resumed run knows it has the same file;
-- `target` is the pipeline of a box import, empty otherwise. `state` is running, done or
-- stopped.

CREATE TABLE crm_imports (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    source       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    total_rows   BIGINT NOT NULL,
    rows_done    BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    unchanged    BIGINT NOT NULL,
    state        TEXT NOT NULL,
    message      TEXT NOT NULL,
    started_by   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX crm_imports_by_content ON crm_imports (content_hash, kind, target, started_at);
