//! Daily check-ins (iDoneThis): the workspace's schedule, members' own settings (time zone,
//! vacation, prompts on or off) and the entries — dones, goals, blockers — with likes and
//! comments. Reading needs `Read`; members write their own entries and settings; admins
//! change the schedule and anyone's entries. The planner and mail handling are in
//! `checkins/rounds.rs` and `checkins/replies.rs`.

pub(crate) mod calendar;
mod digest;
mod entries;
pub(crate) mod intake;
mod replies;
mod rounds;
mod schedule;
mod token;

use sb_store::{
    CheckinMemberRecord, CheckinSettingsRecord, EntryCommentRecord, EntryQuery, EntryRecord, WorkspaceDb,
};
use sb_types::{CheckinCommentId, CheckinEntryId, Role, Timestamp, UserId};

pub use entries::{EntryDraft, EntryKind, entries_from_reply, entry_from_line};
pub use replies::{Receipt, ReceivedVia};
pub use rounds::CheckinRound;
pub use schedule::{MemberCalendar, Schedule};
pub use token::ReplyToken;

use crate::{Access, Actor, CoreError, Page, Permission, Switchboard};

/// Longest question, in characters.
const QUESTION_MAX: usize = 300;
/// Most holidays a schedule lists.
const HOLIDAYS_MAX: usize = 400;
/// Longest comment, in characters.
const COMMENT_MAX: usize = 2_000;
/// Most entries one page lists.
const PAGE_MAX: i64 = 500;

/// The workspace's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinSettings {
    pub enabled: bool,
    pub question: String,
    pub prompt_time: String,
    pub digest_time: String,
    pub reminder_time: Option<String>,
    pub timezone: String,
    pub workdays: String,
    pub holidays: Vec<String>,
    pub version: i64,
    pub updated_at: Timestamp,
}

/// A change to the schedule; absent fields stay. `reminder_time: Some(None)` removes it.
#[derive(Debug, Clone, Default)]
pub struct CheckinSettingsPatch {
    pub enabled: Option<bool>,
    pub question: Option<String>,
    pub prompt_time: Option<String>,
    pub digest_time: Option<String>,
    pub reminder_time: Option<Option<String>>,
    pub timezone: Option<String>,
    pub workdays: Option<String>,
    pub holidays: Option<Vec<String>>,
    /// The version the change was made against; a stale one is refused.
    pub version: Option<i64>,
}

/// A member as check-ins see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Their own zone, if they set one.
    pub timezone: Option<String>,
    pub vacation_from: Option<String>,
    pub vacation_until: Option<String>,
    pub prompts: bool,
    pub digest: bool,
}

/// A change to a member's own settings; `Some(None)` clears a value.
#[derive(Debug, Clone, Default)]
pub struct CheckinMemberPatch {
    pub timezone: Option<Option<String>>,
    pub vacation_from: Option<Option<String>>,
    pub vacation_until: Option<Option<String>>,
    pub prompts: Option<bool>,
    pub digest: Option<bool>,
}

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

fn settings_from(record: CheckinSettingsRecord) -> CheckinSettings {
    CheckinSettings {
        enabled: record.enabled,
        question: record.question,
        prompt_time: record.prompt_time,
        digest_time: record.digest_time,
        reminder_time: record.reminder_time,
        timezone: record.timezone,
        workdays: record.workdays,
        holidays: record.holidays,
        version: record.version,
        updated_at: record.updated_at,
    }
}

/// The validated schedule of stored settings.
pub(crate) fn schedule_of(settings: &CheckinSettingsRecord) -> Result<Schedule, CoreError> {
    Ok(Schedule {
        prompt: schedule::parse_time("prompt_time", &settings.prompt_time)?,
        digest: schedule::parse_time("digest_time", &settings.digest_time)?,
        reminder: settings
            .reminder_time
            .as_deref()
            .map(|t| schedule::parse_time("reminder_time", t))
            .transpose()?,
        timezone: schedule::parse_timezone(&settings.timezone)?,
        workdays: schedule::parse_workdays(&settings.workdays)?,
        holidays: settings
            .holidays
            .iter()
            .map(|d| schedule::parse_date("holiday", d))
            .collect::<Result<_, _>>()?,
    })
}

/// A member's calendar from their stored settings.
pub(crate) fn calendar_of(member: Option<&CheckinMemberRecord>) -> MemberCalendar {
    let Some(member) = member else { return MemberCalendar::default() };
    let date = |d: &Option<String>| d.as_deref().and_then(|d| schedule::parse_date("date", d).ok());
    MemberCalendar {
        timezone: member.timezone.as_deref().and_then(|z| schedule::parse_timezone(z).ok()),
        vacation: date(&member.vacation_from).zip(date(&member.vacation_until)),
    }
}

fn caller(access: &Access) -> Option<UserId> {
    match access.actor() {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    }
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
pub(crate) async fn entries_with_reactions(
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
    /// The workspace's check-in schedule.
    pub async fn checkin_settings(&self, access: &Access) -> Result<CheckinSettings, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(settings_from(db.checkin_settings().await?))
    }

    /// Changes the schedule (admins). Prompts planned but not yet due are planned again.
    pub async fn update_checkin_settings(
        &self,
        access: &Access,
        patch: CheckinSettingsPatch,
    ) -> Result<CheckinSettings, CoreError> {
        access.require(Permission::Admin)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let mut record = db.checkin_settings().await?;
        if patch.version.is_some_and(|v| v != record.version) {
            return Err(CoreError::Conflict("the schedule was changed meanwhile; reload it".into()));
        }
        if let Some(enabled) = patch.enabled {
            record.enabled = enabled;
        }
        if let Some(question) = patch.question {
            let question = question.trim().to_owned();
            if question.is_empty() || question.chars().count() > QUESTION_MAX {
                return Err(CoreError::Invalid(format!("question must be 1 to {QUESTION_MAX} characters")));
            }
            record.question = question;
        }
        if let Some(time) = patch.prompt_time {
            record.prompt_time = schedule::parse_time("prompt_time", &time)?.format("%H:%M").to_string();
        }
        if let Some(time) = patch.digest_time {
            record.digest_time = schedule::parse_time("digest_time", &time)?.format("%H:%M").to_string();
        }
        if let Some(time) = patch.reminder_time {
            record.reminder_time = time
                .map(|t| schedule::parse_time("reminder_time", &t).map(|t| t.format("%H:%M").to_string()))
                .transpose()?;
        }
        if let Some(zone) = patch.timezone {
            record.timezone = schedule::parse_timezone(&zone)?.name().to_owned();
        }
        if let Some(days) = patch.workdays {
            let days = schedule::parse_workdays(&days)?;
            if days.is_empty() {
                return Err(CoreError::Invalid("name at least one workday".into()));
            }
            record.workdays = days.iter().map(ToString::to_string).collect();
        }
        if let Some(holidays) = patch.holidays {
            if holidays.len() > HOLIDAYS_MAX {
                return Err(CoreError::Invalid(format!("a schedule lists at most {HOLIDAYS_MAX} holidays")));
            }
            let mut dates = holidays
                .iter()
                .map(|d| schedule::parse_date("holiday", d).map(|d| d.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            dates.sort();
            dates.dedup();
            record.holidays = dates;
        }
        record.updated_at = Timestamp::now();
        db.put_checkin_settings(&record).await?;
        db.withdraw_scheduled_mail(rounds::PROMPT, None).await?;
        Ok(settings_from(db.checkin_settings().await?))
    }

    /// Every member with their check-in settings.
    pub async fn checkin_members(&self, access: &Access) -> Result<Vec<CheckinMember>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let own = db.checkin_members().await?;
        let members = self.store().members(access.workspace()).await?;
        Ok(members
            .into_iter()
            .map(|m| {
                let settings = own.iter().find(|o| o.user_id == m.user.id);
                CheckinMember {
                    user_id: m.user.id,
                    email: m.user.email.to_string(),
                    name: m.user.name.clone(),
                    role: m.role,
                    timezone: settings.and_then(|s| s.timezone.clone()),
                    vacation_from: settings.and_then(|s| s.vacation_from.clone()),
                    vacation_until: settings.and_then(|s| s.vacation_until.clone()),
                    prompts: settings.map_or(m.role != Role::Viewer, |s| s.prompts),
                    digest: settings.is_none_or(|s| s.digest),
                }
            })
            .collect())
    }

    /// Changes a member's own settings: their own, or anyone's for admins.
    pub async fn update_checkin_member(
        &self,
        access: &Access,
        user: &str,
        patch: CheckinMemberPatch,
    ) -> Result<CheckinMember, CoreError> {
        let user = UserId::parse(user).map_err(|_| CoreError::NotFound("member"))?;
        if caller(access) != Some(user) {
            access.require(Permission::Admin)?;
        }
        access.require(Permission::Read)?;
        let current = self
            .checkin_members(access)
            .await?
            .into_iter()
            .find(|m| m.user_id == user)
            .ok_or(CoreError::NotFound("member"))?;
        let optional_date = |what: &str, value: Option<Option<String>>, old: Option<String>| match value {
            None => Ok(old),
            Some(None) => Ok(None),
            Some(Some(d)) if d.trim().is_empty() => Ok(None),
            Some(Some(d)) => schedule::parse_date(what, &d).map(|d| Some(d.to_string())),
        };
        let timezone = match patch.timezone {
            None => current.timezone.clone(),
            Some(None) => None,
            Some(Some(z)) if z.trim().is_empty() => None,
            Some(Some(z)) => Some(schedule::parse_timezone(&z)?.name().to_owned()),
        };
        let vacation_from =
            optional_date("vacation_from", patch.vacation_from, current.vacation_from.clone())?;
        let vacation_until =
            optional_date("vacation_until", patch.vacation_until, current.vacation_until.clone())?;
        if vacation_from.is_some() != vacation_until.is_some() {
            return Err(CoreError::Invalid("a vacation needs both vacation_from and vacation_until".into()));
        }
        if vacation_from > vacation_until {
            return Err(CoreError::Invalid("vacation_until must not be before vacation_from".into()));
        }
        let record = CheckinMemberRecord {
            user_id: user,
            timezone,
            vacation_from,
            vacation_until,
            prompts: patch.prompts.unwrap_or(current.prompts),
            digest: patch.digest.unwrap_or(current.digest),
            updated_at: Timestamp::now(),
        };
        let db = self.store().workspace_db(access.workspace()).await?;
        db.put_checkin_member(&record).await?;
        db.withdraw_scheduled_mail(
            rounds::PROMPT,
            Some(&rounds::member_prompt_keys(user, record.updated_at)),
        )
        .await?;
        Ok(CheckinMember {
            timezone: record.timezone,
            vacation_from: record.vacation_from,
            vacation_until: record.vacation_until,
            prompts: record.prompts,
            digest: record.digest,
            ..current
        })
    }

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
