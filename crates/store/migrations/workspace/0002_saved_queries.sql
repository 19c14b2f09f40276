-- Saved queries (Keen's `/queries/saved`): a named analysis definition. `query` and `metadata`
-- are JSON objects kept as text; `refresh_rate` is in seconds, 0 for a plain saved query.

CREATE TABLE saved_queries (
    name         TEXT PRIMARY KEY,
    refresh_rate BIGINT NOT NULL,
    query        TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
