//! Email threads and their messages. A message is stored once per Message-ID and joins the
//! thread of the messages it names in In-Reply-To or References, or of the messages that name
//! it; when it connects two threads they become one (the older keeps its id, and the boxes of
//! both). Threads are filed on boxes with a source (manual, automatic, suggested, rejected).
//! The context queries over the graph of threads, contacts, organizations and boxes are in
//! `context.rs`.

use std::collections::{HashMap, HashSet};

use sb_types::{BoxId, Email, MessageId, ParticipantRole, ThreadId, ThreadSource, Timestamp};
use sqlx::any::AnyRow;

use super::{
    Cell, NewOutboxEntry, insert_rows, lock_thread_writers, missing_as, placeholders, require_row,
    write_outbox,
};
use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, decode, parsed};

/// An address on a message, and the part it plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRecord {
    pub role: ParticipantRole,
    pub email: Email,
    /// The display name, empty if the header gave none.
    pub name: String,
}

/// One email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub thread: ThreadId,
    /// The Message-ID header without angle brackets; unique in the workspace.
    pub message_id: String,
    /// In-Reply-To, without angle brackets.
    pub in_reply_to: Option<String>,
    /// References, without angle brackets, oldest first.
    pub references: Vec<String>,
    pub subject: String,
    pub sent_at: Timestamp,
    /// The start of the text, for lists.
    pub snippet: String,
    /// The text.
    pub body: String,
    /// In header order: from, then to, cc, bcc, reply-to.
    pub participants: Vec<ParticipantRecord>,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A conversation: the messages that reply to one another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRecord {
    pub id: ThreadId,
    /// The subject of its first message.
    pub subject: String,
    pub message_count: i64,
    pub first_message_at: Timestamp,
    pub last_message_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A thread on a box, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLinkRecord {
    pub box_id: BoxId,
    pub thread: ThreadId,
    pub source: ThreadSource,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// Where a page of threads starts: after the thread `id` last written to at `last_message_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCursor {
    pub last_message_at: String,
    pub id: ThreadId,
}

/// Most messages one thread's read returns, oldest first.
const MESSAGES_MAX: i64 = 1_000;

pub(super) const THREAD_COLUMNS: &str =
    "id, subject, message_count, first_message_at, last_message_at, created_at, updated_at";
const MESSAGE_COLUMNS: &str =
    "id, thread_id, message_id, in_reply_to, refs, subject, sent_at, snippet, body, created_by, created_at";
/// As `MESSAGE_COLUMNS` without the text, which a thread's list of messages does not show.
const MESSAGE_LIST_COLUMNS: &str = "id, thread_id, message_id, in_reply_to, refs, subject, sent_at, snippet, \
     CAST('' AS TEXT) AS body, created_by, created_at";

pub(super) fn thread_from_row(row: &AnyRow) -> Result<ThreadRecord, StoreError> {
    Ok(ThreadRecord {
        id: parsed(row, 0, "crm_threads.id", ThreadId::parse)?,
        subject: col(row, 1)?,
        message_count: col(row, 2)?,
        first_message_at: parsed(row, 3, "crm_threads.first_message_at", Timestamp::parse)?,
        last_message_at: parsed(row, 4, "crm_threads.last_message_at", Timestamp::parse)?,
        created_at: parsed(row, 5, "crm_threads.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 6, "crm_threads.updated_at", Timestamp::parse)?,
    })
}

fn message_from_row(row: &AnyRow) -> Result<MessageRecord, StoreError> {
    let in_reply_to: String = col(row, 3)?;
    let refs: String = col(row, 4)?;
    Ok(MessageRecord {
        id: parsed(row, 0, "crm_messages.id", MessageId::parse)?,
        thread: parsed(row, 1, "crm_messages.thread_id", ThreadId::parse)?,
        message_id: col(row, 2)?,
        in_reply_to: Some(in_reply_to).filter(|r| !r.is_empty()),
        references: refs.split_whitespace().map(str::to_owned).collect(),
        subject: col(row, 5)?,
        sent_at: parsed(row, 6, "crm_messages.sent_at", Timestamp::parse)?,
        snippet: col(row, 7)?,
        body: col(row, 8)?,
        participants: Vec::new(),
        created_by: col(row, 9)?,
        created_at: parsed(row, 10, "crm_messages.created_at", Timestamp::parse)?,
    })
}

fn link_from_row(row: &AnyRow, first: usize) -> Result<ThreadLinkRecord, StoreError> {
    Ok(ThreadLinkRecord {
        box_id: parsed(row, first, "crm_box_threads.box_id", BoxId::parse)?,
        thread: parsed(row, first + 1, "crm_box_threads.thread_id", ThreadId::parse)?,
        source: parsed(row, first + 2, "crm_box_threads.source", ThreadSource::parse)?,
        added_by: col(row, first + 3)?,
        added_at: parsed(row, first + 4, "crm_box_threads.added_at", Timestamp::parse)?,
    })
}

/// The Message-IDs `message` names, each once, without its own.
fn named_ids(message: &MessageRecord) -> Vec<&str> {
    let mut seen = HashSet::new();
    message
        .references
        .iter()
        .chain(&message.in_reply_to)
        .map(String::as_str)
        .filter(|r| *r != message.message_id && seen.insert(*r))
        .collect()
}

/// The threads that hold a message `message` names or a message that names it, oldest first
/// (read before `message` is stored).
async fn related_threads(
    tx: &mut WriteTransaction,
    message: &MessageRecord,
) -> Result<Vec<ThreadId>, StoreError> {
    let named = named_ids(message);
    let named_sql = match named.len() {
        0 => String::new(),
        n => {
            format!("SELECT thread_id FROM crm_messages WHERE message_id IN ({}) UNION ", placeholders(2, n))
        }
    };
    let sql = format!(
        "SELECT id FROM crm_threads WHERE id IN (
             {named_sql}SELECT m.thread_id FROM crm_message_references r JOIN crm_messages m ON m.id = r.message
             WHERE r.reference = $1)
         ORDER BY created_at, id"
    );
    let mut query = sqlx::query_scalar(&sql).bind(&message.message_id);
    for id in named {
        query = query.bind(id);
    }
    let rows: Vec<String> = query.fetch_all(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    rows.iter().map(|id| decode("crm_threads.id", ThreadId::parse(id))).collect()
}

/// Moves the messages and box links of `from` into `into`, then deletes `from`. A box that
/// had both keeps the stronger link: a person's filing, then a person's rejection, then an
/// automatic filing, then a suggestion.
async fn merge_thread(tx: &mut WriteTransaction, from: ThreadId, into: ThreadId) -> Result<(), StoreError> {
    let (from, into) = (from.to_string(), into.to_string());
    for sql in [
        "UPDATE crm_messages SET thread_id = $1 WHERE thread_id = $2",
        "INSERT INTO crm_box_threads (box_id, thread_id, source, added_by, added_at)
         SELECT box_id, $1, source, added_by, added_at FROM crm_box_threads WHERE thread_id = $2
         ON CONFLICT (box_id, thread_id) DO UPDATE
         SET source = excluded.source, added_by = excluded.added_by, added_at = excluded.added_at
         WHERE (CASE excluded.source WHEN 'manual' THEN 4 WHEN 'rejected' THEN 3 WHEN 'automatic' THEN 2 ELSE 1 END)
             > (CASE crm_box_threads.source WHEN 'manual' THEN 4 WHEN 'rejected' THEN 3
                WHEN 'automatic' THEN 2 ELSE 1 END)",
    ] {
        sqlx::query(sql).bind(&into).bind(&from).execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
    }
    sqlx::query("DELETE FROM crm_threads WHERE id = $1")
        .bind(&from)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// Sets the thread's subject, count and times from its messages.
async fn summarize_thread(
    tx: &mut WriteTransaction,
    thread: ThreadId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE crm_threads SET
             subject = (SELECT subject FROM crm_messages WHERE thread_id = $1 ORDER BY sent_at, id LIMIT 1),
             message_count = (SELECT COUNT(*) FROM crm_messages WHERE thread_id = $1),
             first_message_at = (SELECT MIN(sent_at) FROM crm_messages WHERE thread_id = $1),
             last_message_at = (SELECT MAX(sent_at) FROM crm_messages WHERE thread_id = $1),
             updated_at = $2
         WHERE id = $1",
    )
    .bind(thread.to_string())
    .bind(now.to_string())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

async fn insert_message_rows(
    tx: &mut WriteTransaction,
    message: &MessageRecord,
    thread: ThreadId,
) -> Result<(), StoreError> {
    let id = message.id.to_string();
    sqlx::query(
        "INSERT INTO crm_messages (id, thread_id, message_id, in_reply_to, refs, subject, sent_at, snippet,
             body, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(thread.to_string())
    .bind(&message.message_id)
    .bind(message.in_reply_to.clone().unwrap_or_default())
    .bind(message.references.join(" "))
    .bind(&message.subject)
    .bind(message.sent_at.to_string())
    .bind(&message.snippet)
    .bind(&message.body)
    .bind(&message.created_by)
    .bind(message.created_at.to_string())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    let references: Vec<[Cell; 2]> =
        named_ids(message).into_iter().map(|r| [r.into(), id.as_str().into()]).collect();
    insert_rows(tx, "crm_message_references", ["reference", "message"], &references).await?;
    let participants: Vec<[Cell; 6]> = (0_i64..)
        .zip(&message.participants)
        .map(|(position, p)| {
            [
                id.as_str().into(),
                position.into(),
                p.role.as_str().into(),
                p.email.as_str().into(),
                p.email.domain().into(),
                p.name.as_str().into(),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "crm_participants",
        ["message", "position", "role", "email", "domain", "name"],
        &participants,
    )
    .await
}

async fn upsert_link(tx: &mut WriteTransaction, link: &ThreadLinkRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO crm_box_threads (box_id, thread_id, source, added_by, added_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (box_id, thread_id) DO UPDATE
         SET source = excluded.source, added_by = excluded.added_by, added_at = excluded.added_at",
    )
    .bind(link.box_id.to_string())
    .bind(link.thread.to_string())
    .bind(link.source.as_str())
    .bind(&link.added_by)
    .bind(link.added_at.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How storing a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filed {
    /// Stored in this thread.
    Stored(ThreadId),
    /// A message with this Message-ID was already stored (nothing was written): its id.
    Duplicate(MessageId),
}

impl WorkspaceDb {
    /// Stores `message` in the thread it belongs to, or in a new thread `message.thread` if it
    /// belongs to none; files that thread on `file_on` automatically unless a person rejected it
    /// there; writes what `outbox` makes of the thread the message went to. `NotFound` if the box
    /// does not exist.
    pub async fn file_message(
        &self,
        message: &MessageRecord,
        file_on: Option<BoxId>,
        outbox: impl FnOnce(ThreadId) -> Vec<NewOutboxEntry>,
    ) -> Result<Filed, StoreError> {
        let mut tx = self.begin().await?;
        lock_thread_writers(&mut tx).await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM crm_messages WHERE message_id = $1")
                .bind(&message.message_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
        if let Some(id) = existing {
            tx.rollback().await.map_err(StoreError::from_sqlx)?;
            return Ok(Filed::Duplicate(decode("crm_messages.id", MessageId::parse(&id))?));
        }
        if let Some(box_id) = file_on {
            require_row(&mut tx, "crm_boxes", &box_id.to_string(), "box").await?;
        }
        let now = message.created_at;
        let related = related_threads(&mut tx, message).await?;
        let thread = related.first().copied().unwrap_or(message.thread);
        if related.is_empty() {
            sqlx::query(
                "INSERT INTO crm_threads (id, subject, message_count, first_message_at, last_message_at,
                     created_at, updated_at)
                 VALUES ($1, $2, 0, $3, $3, $4, $4)",
            )
            .bind(thread.to_string())
            .bind(&message.subject)
            .bind(message.sent_at.to_string())
            .bind(now.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        }
        insert_message_rows(&mut tx, message, thread).await?;
        for &other in related.iter().skip(1) {
            merge_thread(&mut tx, other, thread).await?;
        }
        if let Some(box_id) = file_on {
            sqlx::query(
                "INSERT INTO crm_box_threads (box_id, thread_id, source, added_by, added_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (box_id, thread_id) DO NOTHING",
            )
            .bind(box_id.to_string())
            .bind(thread.to_string())
            .bind(ThreadSource::Automatic.as_str())
            .bind(&message.created_by)
            .bind(now.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        }
        summarize_thread(&mut tx, thread, now).await?;
        write_outbox(&mut tx, &outbox(thread), now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(Filed::Stored(thread))
    }

    /// The message `id` with its participants, if it exists.
    pub async fn message(&self, id: MessageId) -> Result<Option<MessageRecord>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM crm_messages WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(mut message) = row.as_ref().map(message_from_row).transpose()? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT message, role, email, name FROM crm_participants WHERE message = $1 ORDER BY position",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        message.participants = rows.iter().map(participant_from_row).collect::<Result<_, _>>()?;
        Ok(Some(message))
    }

    /// The thread `id`, if it exists.
    pub async fn thread(&self, id: ThreadId) -> Result<Option<ThreadRecord>, StoreError> {
        let sql = format!("SELECT {THREAD_COLUMNS} FROM crm_threads WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(thread_from_row).transpose()
    }

    /// Threads, last written to first, after `after`, at most `limit`.
    pub async fn threads(
        &self,
        after: Option<&ThreadCursor>,
        limit: i64,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        let page = match after {
            Some(_) => "WHERE (last_message_at < $1 OR (last_message_at = $1 AND id < $2))",
            None => "",
        };
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM crm_threads {page}
             ORDER BY last_message_at DESC, id DESC LIMIT {limit}"
        );
        let mut statement = sqlx::query(&sql);
        if let Some(cursor) = after {
            statement = statement.bind(cursor.last_message_at.clone()).bind(cursor.id.to_string());
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(thread_from_row).collect()
    }

    /// The messages of the thread `id` with their participants but without their text (an
    /// empty `body`; `message` reads one whole), oldest first (at most 1,000).
    pub async fn thread_messages(&self, id: ThreadId) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_LIST_COLUMNS} FROM crm_messages WHERE thread_id = $1
             ORDER BY sent_at, id LIMIT {MESSAGES_MAX}"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut messages = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT p.message, p.role, p.email, p.name FROM crm_participants p
             JOIN crm_messages m ON m.id = p.message
             WHERE m.thread_id = $1 ORDER BY p.message, p.position",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        let position: HashMap<String, usize> =
            messages.iter().enumerate().map(|(n, m)| (m.id.to_string(), n)).collect();
        for row in &rows {
            if let Some(&n) = position.get(&col::<String>(row, 0)?) {
                messages[n].participants.push(participant_from_row(row)?);
            }
        }
        Ok(messages)
    }

    /// Files the thread on the box with `link.source`, replacing the link there was, and writes
    /// `outbox`. `NotFound` if the box or the thread does not exist.
    pub async fn put_thread_link(
        &self,
        link: &ThreadLinkRecord,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_thread_writers(&mut tx).await?;
        require_row(&mut tx, "crm_boxes", &link.box_id.to_string(), "box").await?;
        require_row(&mut tx, "crm_threads", &link.thread.to_string(), "thread").await?;
        upsert_link(&mut tx, link).await.map_err(missing_as("box or thread"))?;
        write_outbox(&mut tx, outbox, link.added_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The threads on the box `id` that are not rejected, last written to first, with their
    /// links (at most 500).
    pub async fn box_threads(&self, id: BoxId) -> Result<Vec<(ThreadRecord, ThreadLinkRecord)>, StoreError> {
        let sql = format!(
            "SELECT t.id, t.subject, t.message_count, t.first_message_at, t.last_message_at, t.created_at,
                 t.updated_at, l.box_id, l.thread_id, l.source, l.added_by, l.added_at
             FROM crm_box_threads l JOIN crm_threads t ON t.id = l.thread_id
             WHERE l.box_id = $1 AND l.source <> '{}'
             ORDER BY t.last_message_at DESC, t.id DESC LIMIT 500",
            ThreadSource::Rejected.as_str()
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|row| Ok((thread_from_row(row)?, link_from_row(row, 7)?))).collect()
    }

    /// Every link of the thread `id`, rejected ones included, by box.
    pub async fn thread_links(&self, id: ThreadId) -> Result<Vec<ThreadLinkRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT box_id, thread_id, source, added_by, added_at FROM crm_box_threads
             WHERE thread_id = $1 ORDER BY box_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|row| link_from_row(row, 0)).collect()
    }
}

fn participant_from_row(row: &AnyRow) -> Result<ParticipantRecord, StoreError> {
    Ok(ParticipantRecord {
        role: parsed(row, 1, "crm_participants.role", ParticipantRole::parse)?,
        email: parsed(row, 2, "crm_participants.email", Email::parse)?,
        name: col(row, 3)?,
    })
}
