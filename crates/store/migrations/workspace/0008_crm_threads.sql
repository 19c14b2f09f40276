-- Email threads and their messages, filed on boxes. A message is known by its Message-ID
-- (unique in the workspace, without angle brackets); the Message-IDs it names in In-Reply-To
-- and References are kept one per row so that a message arriving before its parent still finds
-- the thread. Participants are kept per message with their role, by normalised address and
-- domain, for the context queries (which boxes concern a thread, which threads a contact's).
-- `crm_threads` repeats what its messages say (subject of the first, count, first and last
-- sending time) so that a list of threads is one row each.

CREATE TABLE crm_threads (
    id               TEXT PRIMARY KEY,
    subject          TEXT NOT NULL,
    message_count    BIGINT NOT NULL,
    first_message_at TEXT NOT NULL,
    last_message_at  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX crm_threads_by_last ON crm_threads (last_message_at, id);

CREATE TABLE crm_messages (
    id          TEXT PRIMARY KEY,
    thread_id   TEXT NOT NULL REFERENCES crm_threads (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL UNIQUE,
    in_reply_to TEXT NOT NULL,
    refs        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    snippet     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX crm_messages_by_thread ON crm_messages (thread_id, sent_at, id);

CREATE TABLE crm_message_references (
    reference  TEXT NOT NULL,
    message    TEXT NOT NULL REFERENCES crm_messages (id) ON DELETE CASCADE,
    PRIMARY KEY (reference, message)
);
CREATE INDEX crm_message_references_by_message ON crm_message_references (message);

CREATE TABLE crm_participants (
    message    TEXT NOT NULL REFERENCES crm_messages (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    role       TEXT NOT NULL,
    email      TEXT NOT NULL,
    domain     TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (message, position)
);
CREATE INDEX crm_participants_by_email ON crm_participants (email, message);
CREATE INDEX crm_participants_by_domain ON crm_participants (domain, message);

-- Threads on boxes, with why: manual, automatic, suggested, rejected (a rejected link stays as
-- a record that a person said no).
CREATE TABLE crm_box_threads (
    box_id    TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    thread_id TEXT NOT NULL REFERENCES crm_threads (id) ON DELETE CASCADE,
    source    TEXT NOT NULL,
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (box_id, thread_id)
);
CREATE INDEX crm_box_threads_by_thread ON crm_box_threads (thread_id, box_id);
