//! Email thread services: a message is added once per Message-ID (adding it again returns
//! the stored one) and joins its thread by In-Reply-To and References; threads are filed on
//! boxes by hand, automatically or as suggestions, and a person can reject one from a box.
//! Messages arrive here from the API now and from the mail layer later.

use sb_store::{Filed, MessageRecord, ParticipantRecord, ThreadCursor, ThreadLinkRecord, ThreadRecord};
use sb_types::{BoxId, Email, MessageId, ParticipantRole, ThreadId, ThreadSource, Timestamp};
use serde_json::json;

use super::{
    Change, NAME_MAX, Page, decode_cursor, encode_cursor, id_in_path, invalid, outbox_entry, page_limit,
};
use crate::{Access, CoreError, Permission, Switchboard};

/// Longest Message-ID, as the line limit of RFC 5322 allows.
pub const MESSAGE_ID_MAX: usize = 998;
/// Most Message-IDs a message's References may name.
pub const REFERENCES_MAX: usize = 100;
/// Most addresses on one message.
pub const PARTICIPANTS_MAX: usize = 500;
/// Longest subject, in characters.
pub const SUBJECT_MAX: usize = 1_000;
/// Longest message text kept, in characters.
pub const BODY_MAX: usize = 1_000_000;
/// Length of a message's snippet, in characters.
const SNIPPET_CHARS: usize = 200;

/// An address on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub role: ParticipantRole,
    pub email: Email,
    pub name: String,
}

/// One email of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub thread: ThreadId,
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub sent_at: Timestamp,
    pub snippet: String,
    pub body: String,
    pub participants: Vec<Participant>,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub id: ThreadId,
    pub subject: String,
    pub message_count: i64,
    pub first_message_at: Timestamp,
    pub last_message_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A thread on a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLink {
    pub box_id: BoxId,
    pub thread: ThreadId,
    pub source: ThreadSource,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// A new message, as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageDraft {
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub subject: String,
    /// RFC 3339.
    pub sent_at: String,
    /// (role, address, display name), in header order.
    pub participants: Vec<(ParticipantRole, String, String)>,
    pub body: String,
    /// The box to file the message's thread on automatically, if any.
    pub file_on: Option<String>,
}

/// A Message-ID without its angle brackets, or a clear error.
fn message_id(what: &str, text: &str) -> Result<String, CoreError> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(trimmed);
    if bare.is_empty() || bare.len() > MESSAGE_ID_MAX {
        return Err(invalid(format!("{what} must be 1 to {MESSAGE_ID_MAX} characters")));
    }
    if bare.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') {
        return Err(invalid(format!(
            "{what} {trimmed:?} is not a Message-ID: no spaces or angle brackets inside"
        )));
    }
    Ok(bare.to_owned())
}

/// The first `SNIPPET_CHARS` characters of `body` with its whitespace runs made single spaces.
fn snippet(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(SNIPPET_CHARS).collect()
}

fn participants(drafts: &[(ParticipantRole, String, String)]) -> Result<Vec<ParticipantRecord>, CoreError> {
    if drafts.len() > PARTICIPANTS_MAX {
        return Err(invalid(format!("a message has at most {PARTICIPANTS_MAX} addresses")));
    }
    if !drafts.iter().any(|(role, _, _)| *role == ParticipantRole::From) {
        return Err(invalid("a message needs a sender: from"));
    }
    drafts
        .iter()
        .map(|(role, email, name)| {
            let email = Email::parse(email).map_err(|e| invalid(format!("{role} address: {e}")))?;
            let name = name.trim();
            if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "the name of {email} must be at most {NAME_MAX} characters without control characters"
                )));
            }
            Ok(ParticipantRecord { role: *role, email, name: name.to_owned() })
        })
        .collect()
}

fn thread_from(record: ThreadRecord) -> Thread {
    Thread {
        id: record.id,
        subject: record.subject,
        message_count: record.message_count,
        first_message_at: record.first_message_at,
        last_message_at: record.last_message_at,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

pub(super) fn thread_list(records: Vec<ThreadRecord>) -> Vec<Thread> {
    records.into_iter().map(thread_from).collect()
}

fn message_from(record: MessageRecord) -> Message {
    Message {
        id: record.id,
        thread: record.thread,
        message_id: record.message_id,
        in_reply_to: record.in_reply_to,
        references: record.references,
        subject: record.subject,
        sent_at: record.sent_at,
        snippet: record.snippet,
        body: record.body,
        participants: record
            .participants
            .into_iter()
            .map(|p| Participant { role: p.role, email: p.email, name: p.name })
            .collect(),
        created_by: record.created_by,
        created_at: record.created_at,
    }
}

fn link_from(record: ThreadLinkRecord) -> ThreadLink {
    ThreadLink {
        box_id: record.box_id,
        thread: record.thread,
        source: record.source,
        added_by: record.added_by,
        added_at: record.added_at,
    }
}

/// The outbox payload of a new message: what lists show, not its text.
fn message_payload(record: &MessageRecord, thread: ThreadId) -> String {
    let participants: Vec<_> = record
        .participants
        .iter()
        .map(|p| json!({"role": p.role.as_str(), "email": p.email.as_str(), "name": p.name}))
        .collect();
    json!({
        "id": record.id.to_string(),
        "thread": thread.to_string(),
        "message_id": record.message_id,
        "subject": record.subject,
        "sent_at": record.sent_at.to_string(),
        "snippet": record.snippet,
        "participants": participants,
    })
    .to_string()
}

impl Switchboard {
    /// Adds a message: `(message, true)` if it was new, `(the stored one, false)` if a message
    /// with its Message-ID was already there (then nothing changes).
    pub async fn add_message(
        &self,
        access: &Access,
        draft: MessageDraft,
    ) -> Result<(Message, bool), CoreError> {
        access.require(Permission::Write)?;
        let references =
            draft.references.iter().map(|r| message_id("a reference", r)).collect::<Result<Vec<_>, _>>()?;
        if references.len() > REFERENCES_MAX {
            return Err(invalid(format!("a message may name at most {REFERENCES_MAX} references")));
        }
        let subject = draft.subject.trim();
        if subject.chars().count() > SUBJECT_MAX || subject.chars().any(char::is_control) {
            return Err(invalid(format!(
                "the subject must be at most {SUBJECT_MAX} characters without control characters"
            )));
        }
        let body_chars = draft.body.chars().count();
        if body_chars > BODY_MAX {
            return Err(invalid(format!(
                "the text is {body_chars} characters long; the limit is {BODY_MAX}"
            )));
        }
        let file_on = draft.file_on.as_deref().map(|id| id_in_path(id, "box")).transpose()?;
        let now = Timestamp::now();
        let record = MessageRecord {
            id: MessageId::generate(),
            thread: ThreadId::generate(),
            message_id: message_id("message_id", &draft.message_id)?,
            in_reply_to: draft.in_reply_to.as_deref().map(|r| message_id("in_reply_to", r)).transpose()?,
            references,
            subject: subject.to_owned(),
            sent_at: Timestamp::parse(&draft.sent_at)
                .map_err(|_| invalid(format!("sent_at {:?} is not an RFC 3339 time", draft.sent_at)))?,
            snippet: snippet(&draft.body),
            body: draft.body,
            participants: participants(&draft.participants)?,
            created_by: access.actor_label(),
            created_at: now,
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        let filed = db
            .file_message(&record, file_on, |thread| {
                let id = record.id.to_string();
                vec![outbox_entry(
                    access,
                    "message",
                    id,
                    "MESSAGE_CREATE",
                    Change::Made(message_payload(&record, thread)),
                )]
            })
            .await?;
        match filed {
            Filed::Stored(thread) => Ok((message_from(MessageRecord { thread, ..record }), true)),
            Filed::Duplicate(id) => {
                let stored = db.message(id).await?.ok_or(CoreError::NotFound("message"))?;
                let mut message = message_from(stored);
                if !access.allows(Permission::Read) {
                    // A key that may only write learns which message it is, not what it says.
                    message = Message {
                        body: String::new(),
                        snippet: String::new(),
                        participants: Vec::new(),
                        ..message
                    };
                }
                Ok((message, false))
            }
        }
    }

    /// The message `id`.
    pub async fn message(&self, access: &Access, id: &str) -> Result<Message, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let found = db.message(id_in_path(id, "message")?).await?;
        found.map(message_from).ok_or(CoreError::NotFound("message"))
    }

    /// The thread `id`, its messages oldest first, and every box it is on or was rejected from.
    pub async fn thread(
        &self,
        access: &Access,
        id: &str,
    ) -> Result<(Thread, Vec<Message>, Vec<ThreadLink>), CoreError> {
        access.require(Permission::Read)?;
        let id = id_in_path(id, "thread")?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let thread = db.thread(id).await?.ok_or(CoreError::NotFound("thread"))?;
        let messages = db.thread_messages(id).await?.into_iter().map(message_from).collect();
        let links = db.thread_links(id).await?.into_iter().map(link_from).collect();
        Ok((thread_from(thread), messages, links))
    }

    /// A page of threads, last written to first.
    pub async fn threads(
        &self,
        access: &Access,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<Thread>, CoreError> {
        access.require(Permission::Read)?;
        let limit = page_limit(limit)?;
        let after = match cursor {
            Some(text) => {
                let (key, id) = decode_cursor("threads", text)?;
                let id = ThreadId::parse(&id).map_err(|_| invalid("cursor names no thread"))?;
                Some(ThreadCursor { last_message_at: key, id })
            }
            None => None,
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        let mut items = db.threads(after.as_ref(), limit + 1).await?;
        let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => {
                Some(encode_cursor("threads", &last.last_message_at.to_string(), &last.id.to_string()))
            }
            _ => None,
        };
        Ok(Page { items: thread_list(items), next_cursor })
    }

    /// Files the thread on the box with `source` (a person filing by hand says manual), or with
    /// `Rejected` takes it off the box for good: it will not be filed there automatically or
    /// suggested again until a person files it.
    pub async fn file_thread(
        &self,
        access: &Access,
        box_id: &str,
        thread: &str,
        source: ThreadSource,
    ) -> Result<ThreadLink, CoreError> {
        access.require(Permission::Write)?;
        let link = ThreadLinkRecord {
            box_id: id_in_path(box_id, "box")?,
            thread: id_in_path(thread, "thread")?,
            source,
            added_by: access.actor_label(),
            added_at: Timestamp::now(),
        };
        let payload = json!({
            "box": link.box_id.to_string(),
            "thread": link.thread.to_string(),
            "source": source.as_str(),
        });
        let event = if source == ThreadSource::Rejected { "BOX_THREAD_REJECT" } else { "BOX_THREAD_FILE" };
        let outbox =
            [outbox_entry(access, "box", link.box_id.to_string(), event, Change::Made(payload.to_string()))];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.put_thread_link(&link, &outbox).await?;
        Ok(link_from(link))
    }

    /// The threads on the box `id` (suggested ones included, rejected ones not), last written
    /// to first.
    pub async fn box_threads(
        &self,
        access: &Access,
        id: &str,
    ) -> Result<Vec<(Thread, ThreadLink)>, CoreError> {
        access.require(Permission::Read)?;
        let (crm_box, _) = self.find_box(access, id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let found = db.box_threads(crm_box.id).await?;
        Ok(found.into_iter().map(|(thread, link)| (thread_from(thread), link_from(link))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_lose_their_brackets_and_keep_their_case() {
        assert_eq!(message_id("m", " <AbC.1@mail.example> ").unwrap(), "AbC.1@mail.example");
        assert_eq!(message_id("m", "x@y").unwrap(), "x@y");
        for bad in ["", "<>", "a b@c", "<a<b@c>", "a\u{1}@c"] {
            assert!(message_id("m", bad).is_err(), "{bad:?}");
        }
        assert!(message_id("m", &"x".repeat(MESSAGE_ID_MAX + 1)).is_err());
    }

    #[test]
    fn snippets_are_short_single_spaced_text() {
        assert_eq!(snippet("Hi Ana,\n\n  the  contract\tis signed."), "Hi Ana, the contract is signed.");
        assert_eq!(snippet(&"é".repeat(500)).chars().count(), SNIPPET_CHARS);
    }

    #[test]
    fn a_message_needs_a_sender_and_real_addresses() {
        let to = (ParticipantRole::To, "ana@acme.com".to_owned(), String::new());
        assert!(participants(std::slice::from_ref(&to)).unwrap_err().to_string().contains("sender"));
        let from = (ParticipantRole::From, "Bo@Team.example".to_owned(), " Bo ".to_owned());
        let found = participants(&[from, to]).unwrap();
        assert_eq!(found[0].email.as_str(), "bo@team.example");
        assert_eq!(found[0].name, "Bo");
        let bad = (ParticipantRole::From, "not an address".to_owned(), String::new());
        assert!(participants(&[bad]).is_err());
    }
}
