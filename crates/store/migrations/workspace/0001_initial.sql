-- A workspace's records database. It names its workspace so that a database can never be
-- opened on behalf of another tenant by mistake.

CREATE TABLE workspace_meta (
    workspace_id TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL
);
