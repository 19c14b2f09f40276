-- Where the IMAP poller got to in each mailbox it reads: the mailbox's UIDVALIDITY and the
-- highest UID already handed on. Server-wide, because the replies in one mailbox belong to
-- many workspaces (the reply address says which).
CREATE TABLE imap_cursors (
    mailbox      TEXT PRIMARY KEY,
    uid_validity BIGINT NOT NULL,
    last_uid     BIGINT NOT NULL,
    updated_at   TEXT NOT NULL
);
