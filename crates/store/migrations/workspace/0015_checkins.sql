-- Daily check-ins (iDoneThis): the workspace's schedule, each member's own settings, and the
-- entries their replies became.
--
-- One settings row (id 1). Times are local wall-clock `HH:MM`, read in each member's time
-- zone (or the workspace's); `workdays` lists ISO weekdays (1 = Monday) as digits, e.g.
-- `12345`; `holidays` is a JSON array of `YYYY-MM-DD` dates on which nobody is prompted.
CREATE TABLE checkin_settings (
    id               BIGINT PRIMARY KEY,
    enabled          BIGINT NOT NULL,
    question         TEXT NOT NULL,
    prompt_time      TEXT NOT NULL,
    digest_time      TEXT NOT NULL,
    reminder_time    TEXT,
    timezone         TEXT NOT NULL,
    workdays         TEXT NOT NULL,
    holidays         TEXT NOT NULL,
    version          BIGINT NOT NULL,
    updated_at       TEXT NOT NULL
);
INSERT INTO checkin_settings (id, enabled, question, prompt_time, digest_time, reminder_time, timezone,
    workdays, holidays, version, updated_at)
VALUES (1, 0, 'What did you get done today?', '17:00', '08:00', NULL, 'UTC', '12345', '[]', 1,
    '1970-01-01T00:00:00.000Z');

-- A member's own settings; a member without a row uses the workspace's. `vacation_from` and
-- `vacation_until` (inclusive dates) silence prompts; `prompts` 0 makes the member a reader
-- who gets the digest only.
CREATE TABLE checkin_members (
    user_id       TEXT PRIMARY KEY,
    timezone      TEXT,
    vacation_from TEXT,
    vacation_until TEXT,
    prompts       BIGINT NOT NULL,
    digest        BIGINT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- An entry: a done, a goal (`[]`, done when `[x]`) or a blocker (`!`), on the day it belongs to
-- (`entry_date`, the prompted day, not the day the reply arrived). `tags` and `mentions` repeat
-- the text's #tags and @mentions, space-separated; `checkin_entry_tags` indexes the tags.
-- `source` is `email`, `api` or `web`; `inbound_id` names the message it came from.
CREATE TABLE checkin_entries (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    entry_date  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('done', 'goal', 'blocker')),
    completed   BIGINT NOT NULL,
    text        TEXT NOT NULL,
    tags        TEXT NOT NULL,
    mentions    TEXT NOT NULL,
    source      TEXT NOT NULL,
    inbound_id  TEXT,
    position    BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX checkin_entries_by_date ON checkin_entries (entry_date, user_id, position);
CREATE INDEX checkin_entries_by_user ON checkin_entries (user_id, entry_date, position);

CREATE TABLE checkin_entry_tags (
    tag      TEXT NOT NULL,
    entry_id TEXT NOT NULL REFERENCES checkin_entries (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, entry_id)
);
CREATE INDEX checkin_entry_tags_by_entry ON checkin_entry_tags (entry_id);

CREATE TABLE checkin_likes (
    entry_id   TEXT NOT NULL REFERENCES checkin_entries (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (entry_id, user_id)
);

CREATE TABLE checkin_comments (
    id         TEXT PRIMARY KEY,
    entry_id   TEXT NOT NULL REFERENCES checkin_entries (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX checkin_comments_by_entry ON checkin_comments (entry_id, created_at);
