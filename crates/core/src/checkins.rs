//! Daily check-ins (iDoneThis): the workspace's schedule, members' own settings (time zone,
//! vacation, prompts on or off) and the entries — dones, goals, blockers — with likes and
//! comments. Reading needs `Read`; members write their own entries and settings; admins
//! change the schedule and anyone's entries. The entries' service is in `checkins/journal.rs`,
//! the planner and mail handling in `checkins/rounds.rs` and `checkins/replies.rs`.

pub(crate) mod calendar;
mod digest;
mod entries;
pub(crate) mod intake;
mod journal;
mod replies;
mod rounds;
mod schedule;
mod token;

use sb_store::{CheckinMemberRecord, CheckinSettingsRecord};
use sb_types::{Role, Timestamp, UserId};

pub use entries::{EntryDraft, EntryKind, entries_from_reply, entry_from_line};
pub(crate) use journal::entry_record;
pub use journal::{Entry, EntryComment, EntryFilter, EntryPatch, NewEntries};
pub use replies::{Receipt, ReceivedVia};
pub use rounds::CheckinRound;
pub use schedule::{MemberCalendar, Schedule};
pub use token::ReplyToken;

use crate::{Access, Actor, CoreError, Permission, Switchboard};

/// Longest question, in characters.
const QUESTION_MAX: usize = 300;
/// Most holidays a schedule lists.
const HOLIDAYS_MAX: usize = 400;

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

pub(crate) fn caller(access: &Access) -> Option<UserId> {
    match access.actor() {
        Actor::User { id, .. } => Some(*id),
        _ => None,
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
}
