-- Mail out and in.
--
-- `mail_outbox` holds every message the workspace sends, as a state machine (see
-- docs/ARCHITECTURE.md, "Email out"): scheduled → queued → sending → sent, with deferred
-- (retried at `next_attempt_at`), failed, bounced, complained, expired, cancelled and
-- suppressed as the other ends. `dedupe_key` names what the message is for (a member's prompt
-- of one day, say), so planning it twice makes one row; `dedupe_group` gathers what is planned
-- together (a day's prompts) to look it up at once. Its Message-ID and bytes are fixed when it
-- is written, so a retry after a crash sends the same message again, never a second one.
-- `lease_owner` and `lease_until` are set while a sender holds a row in `sending`; a row whose
-- lease ran out is queued again. Every attempt is kept in `mail_attempts`.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    dedupe_key       TEXT NOT NULL UNIQUE,
    dedupe_group     TEXT NOT NULL,
    message_id       TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    envelope_from    TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL,
    send_at          TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    lease_owner      TEXT,
    lease_until      TEXT,
    attempts         BIGINT NOT NULL,
    last_code        BIGINT,
    last_error       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_by_group ON mail_outbox (dedupe_group);
CREATE INDEX mail_outbox_recent ON mail_outbox (updated_at, id);
CREATE INDEX mail_outbox_by_recipient ON mail_outbox (recipient, created_at);

CREATE TABLE mail_attempts (
    mail_id    TEXT NOT NULL REFERENCES mail_outbox (id) ON DELETE CASCADE,
    attempt    BIGINT NOT NULL,
    at         TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    code       BIGINT,
    enhanced   TEXT,
    detail     TEXT NOT NULL,
    PRIMARY KEY (mail_id, attempt)
);

-- Addresses nothing more is sent to: a permanent bounce, a complaint, an unsubscribe.
CREATE TABLE mail_suppressions (
    address    TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Provider events (bounces, complaints) already applied, by the provider's event id.
CREATE TABLE mail_provider_events (
    event_id   TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- Every message received, raw, once per Message-ID (a message without one gets
-- `<sha256 of its bytes>@switchboard.invalid`). `outcome` says what became of it: `entries`
-- (turned into check-in entries), `flagged` (kept, but not acted on; `detail` says why) or
-- `duplicate` is never stored — the first copy answers.
CREATE TABLE inbound_mail (
    id            TEXT PRIMARY KEY,
    message_id    TEXT NOT NULL UNIQUE,
    received_via  TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    envelope_to   TEXT NOT NULL,
    from_address  TEXT NOT NULL,
    subject       TEXT NOT NULL,
    raw           BYTEA NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL,
    received_at   TEXT NOT NULL
);
CREATE INDEX inbound_mail_recent ON inbound_mail (received_at, id);
