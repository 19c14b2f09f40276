//! The check-in journal: entries listed by member, day and tag a page at a time, added in
//! reply syntax, edited and deleted by their author (or an admin), liked and commented on by
//! signed-in members.

use sb_store::{EntryCommentRecord, EntryQuery, EntryRecord, WorkspaceDb};
use sb_types::{CheckinCommentId, CheckinEntryId, Timestamp, UserId};

use super::{EntryDraft, EntryKind, caller, entries_from_reply, entry_from_line, schedule};
use crate::{Access, Actor, CoreError, Page, Permission, Switchboard};

/// Longest comment, in characters.
const COMMENT_MAX: usize = 2_000;
/// Most entries one page lists.
const PAGE_MAX: i64 = 500;

/// An entry with its likes and comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: CheckinEntryId,
    pub user_id: UserId,
    pub date: String,
    pub kind: EntryKind,
    pub completed: bool,
    pub text: String,
    pub tags: Vec<String>,
    pub mentions: Vec<String>,
    pub source: String,
    pub likes: Vec<UserId>,
    pub comments: Vec<EntryComment>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A comment on an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryComment {
    pub id: CheckinCommentId,
    pub user_id: UserId,
    pub text: String,
    pub created_at: Timestamp,
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub user: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tag: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    pub newest_first: bool,
}

/// Entries to add: `text` in reply syntax (one entry per line).
#[derive(Debug, Clone, Default)]
pub struct NewEntries {
    /// Whose entries; the caller's own unless an admin says otherwise.
    pub user: Option<String>,
    pub date: String,
    pub text: String,
}

/// A change to an entry.
#[derive(Debug, Clone, Default)]
pub struct EntryPatch {
    pub text: Option<String>,
    pub kind: Option<String>,
    pub completed: Option<bool>,
    pub date: Option<String>,
    pub version: Option<i64>,
}

fn encode_cursor(entry: &EntryRecord) -> String {
    format!("{}~{}~{}~{}", entry.entry_date, entry.user_id, entry.position, entry.id)
}

fn decode_cursor(text: &str) -> Result<(String, String, i64, String), CoreError> {
    let bad = || CoreError::Invalid("cursor is not one this server gave out".into());
    let mut parts = text.split('~');
    let date = schedule::parse_date("cursor", parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
    let user = UserId::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
    let position: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let id = CheckinEntryId::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
    Ok((date.to_string(), user.to_string(), position, id.to_string()))
}

/// Entries with their likes and comments.
async fn entries_with_reactions(
    db: &WorkspaceDb,
    records: Vec<EntryRecord>,
) -> Result<Vec<Entry>, CoreError> {
    let ids: Vec<CheckinEntryId> = records.iter().map(|r| r.id).collect();
    let likes = db.entry_likes(&ids).await?;
    let comments = db.entry_comments(&ids).await?;
    Ok(records
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            user_id: r.user_id,
            date: r.entry_date,
            kind: EntryKind::parse(&r.kind).unwrap_or(EntryKind::Done),
            completed: r.completed,
            text: r.text,
            tags: r.tags,
            mentions: r.mentions,
            source: r.source,
            likes: likes.iter().filter(|(e, _)| *e == r.id).map(|(_, u)| *u).collect(),
            comments: comments
                .iter()
                .filter(|c: &&EntryCommentRecord| c.entry_id == r.id)
                .map(|c| EntryComment {
                    id: c.id,
                    user_id: c.user_id,
                    text: c.text.clone(),
                    created_at: c.created_at,
                })
                .collect(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// A new entry record from a draft.
pub(crate) fn entry_record(
    draft: EntryDraft,
    user: UserId,
    date: &str,
    source: &str,
    inbound: Option<sb_types::InboundId>,
    now: Timestamp,
) -> EntryRecord {
    EntryRecord {
        id: CheckinEntryId::generate(),
        user_id: user,
        entry_date: date.to_owned(),
        kind: draft.kind.as_str().to_owned(),
        completed: draft.completed,
        text: draft.text,
        tags: draft.tags,
        mentions: draft.mentions,
        source: source.to_owned(),
        inbound_id: inbound,
        position: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

impl Switchboard {
    /// Entries matching `filter`, by day (oldest first unless `newest_first`), member and order.
    pub async fn checkin_entries(
        &self,
        access: &Access,
        filter: EntryFilter,
    ) -> Result<Page<Entry>, CoreError> {
        access.require(Permission::Read)?;
        let user = filter
            .user
            .filter(|u| !u.is_empty())
            .map(|u| UserId::parse(&u).map_err(|e| CoreError::Invalid(e.0)))
            .transpose()?;
        let date = |what: &str, d: Option<String>| {
            d.filter(|d| !d.is_empty())
                .map(|d| schedule::parse_date(what, &d).map(|d| d.to_string()))
                .transpose()
        };
        let limit = filter.limit.unwrap_or(100);
        if !(1..=PAGE_MAX).contains(&limit) {
            return Err(CoreError::Invalid(format!("limit must be 1 to {PAGE_MAX}")));
        }
        let query = EntryQuery {
            user,
            from: date("from", filter.from)?,
            to: date("to", filter.to)?,
            tag: filter.tag.filter(|t| !t.is_empty()).map(|t| t.trim_start_matches('#').to_lowercase()),
            after: filter.cursor.filter(|c| !c.is_empty()).map(|c| decode_cursor(&c)).transpose()?,
            newest_first: filter.newest_first,
            limit: limit + 1,
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        let mut records = db.checkin_entries(&query).await?;
        let more = records.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = more.then(|| records.last().map(encode_cursor)).flatten();
        Ok(Page { items: entries_with_reactions(&db, records).await?, next_cursor })
    }

    /// The entry `id`.
    pub async fn checkin_entry(&self, access: &Access, id: &str) -> Result<Entry, CoreError> {
        access.require(Permission::Read)?;
        let id = CheckinEntryId::parse(id).map_err(|_| CoreError::NotFound("entry"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let record = db.checkin_entry(id).await?.ok_or(CoreError::NotFound("entry"))?;
        Ok(entries_with_reactions(&db, vec![record]).await?.remove(0))
    }

    /// Adds entries written in reply syntax, one per line, to a day.
    pub async fn add_checkin_entries(
        &self,
        access: &Access,
        new: NewEntries,
    ) -> Result<Vec<Entry>, CoreError> {
        access.require(Permission::Write)?;
        let user = self.entry_owner(access, new.user.as_deref()).await?;
        let date = schedule::parse_date("date", &new.date)?.to_string();
        let drafts = entries_from_reply(&new.text);
        if drafts.is_empty() {
            return Err(CoreError::Invalid("text holds no entry: write one per line".into()));
        }
        let now = Timestamp::now();
        let source = if matches!(access.actor(), Actor::User { .. }) { "web" } else { "api" };
        let records: Vec<EntryRecord> =
            drafts.into_iter().map(|d| entry_record(d, user, &date, source, None, now)).collect();
        let db = self.store().workspace_db(access.workspace()).await?;
        let stored = db.insert_checkin_entries(&records).await?;
        entries_with_reactions(&db, stored).await
    }

    /// Whose entries a caller writes: their own, or (admins and keys) the member named.
    async fn entry_owner(&self, access: &Access, named: Option<&str>) -> Result<UserId, CoreError> {
        let named = named.filter(|n| !n.is_empty());
        let user = match (named, caller(access)) {
            (None, Some(me)) => me,
            (None, None) => {
                return Err(CoreError::Invalid("name the member the entries are for (user)".into()));
            }
            (Some(text), me) => {
                let user = UserId::parse(text).map_err(|e| CoreError::Invalid(e.0))?;
                if me != Some(user) {
                    access.require(Permission::Admin)?;
                }
                user
            }
        };
        if self.store().member_role(access.workspace(), user).await?.is_none() {
            return Err(CoreError::Invalid("the entries' member is not in this workspace".into()));
        }
        Ok(user)
    }

    /// Changes an entry: its author, or an admin.
    pub async fn update_checkin_entry(
        &self,
        access: &Access,
        id: &str,
        patch: EntryPatch,
    ) -> Result<Entry, CoreError> {
        access.require(Permission::Write)?;
        let id = CheckinEntryId::parse(id).map_err(|_| CoreError::NotFound("entry"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let mut record = db.checkin_entry(id).await?.ok_or(CoreError::NotFound("entry"))?;
        if caller(access) != Some(record.user_id) {
            access.require(Permission::Admin)?;
        }
        if patch.version.is_some_and(|v| v != record.version) {
            return Err(CoreError::Conflict("the entry was changed meanwhile; reload it".into()));
        }
        if let Some(text) = patch.text {
            let draft =
                entry_from_line(&text).ok_or_else(|| CoreError::Invalid("text must not be empty".into()))?;
            record.text = draft.text;
            record.tags = draft.tags;
            record.mentions = draft.mentions;
            if patch.kind.is_none() && draft.kind != EntryKind::Done {
                record.kind = draft.kind.as_str().to_owned();
                record.completed = draft.completed;
            }
        }
        if let Some(kind) = patch.kind {
            let kind = EntryKind::parse(&kind).ok_or_else(|| {
                CoreError::Invalid(format!("kind must be done, goal or blocker, not {kind:?}"))
            })?;
            record.kind = kind.as_str().to_owned();
        }
        if let Some(completed) = patch.completed {
            record.completed = completed;
        }
        if record.kind != "goal" {
            record.completed = false;
        }
        if let Some(date) = patch.date {
            record.entry_date = schedule::parse_date("date", &date)?.to_string();
        }
        record.updated_at = Timestamp::now();
        let stored = db.update_checkin_entry(&record).await?;
        Ok(entries_with_reactions(&db, vec![stored]).await?.remove(0))
    }

    /// Deletes an entry: its author, or an admin.
    pub async fn delete_checkin_entry(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let id = CheckinEntryId::parse(id).map_err(|_| CoreError::NotFound("entry"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let record = db.checkin_entry(id).await?.ok_or(CoreError::NotFound("entry"))?;
        if caller(access) != Some(record.user_id) {
            access.require(Permission::Admin)?;
        }
        Ok(db.delete_checkin_entry(id).await?)
    }

    /// Likes (or stops liking) an entry, as the signed-in member.
    pub async fn like_checkin_entry(
        &self,
        access: &Access,
        id: &str,
        like: bool,
    ) -> Result<Entry, CoreError> {
        access.require(Permission::Read)?;
        let user = caller(access).ok_or(CoreError::Forbidden("only a signed-in member can like an entry"))?;
        let entry_id = CheckinEntryId::parse(id).map_err(|_| CoreError::NotFound("entry"))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.checkin_entry(entry_id).await?.ok_or(CoreError::NotFound("entry"))?;
        db.set_entry_like(entry_id, user, like, Timestamp::now()).await?;
        self.checkin_entry(access, id).await
    }

    /// Comments on an entry, as the signed-in member.
    pub async fn comment_checkin_entry(
        &self,
        access: &Access,
        id: &str,
        text: &str,
    ) -> Result<Entry, CoreError> {
        access.require(Permission::Read)?;
        let user =
            caller(access).ok_or(CoreError::Forbidden("only a signed-in member can comment on an entry"))?;
        let entry_id = CheckinEntryId::parse(id).map_err(|_| CoreError::NotFound("entry"))?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > COMMENT_MAX {
            return Err(CoreError::Invalid(format!("a comment is 1 to {COMMENT_MAX} characters")));
        }
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_entry_comment(&EntryCommentRecord {
            id: CheckinCommentId::generate(),
            entry_id,
            user_id: user,
            text: text.to_owned(),
            created_at: Timestamp::now(),
        })
        .await?;
        self.checkin_entry(access, id).await
    }

    /// The tags in use, most used first.
    pub async fn checkin_tags(&self, access: &Access) -> Result<Vec<(String, i64)>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.checkin_tags().await?)
    }
}
