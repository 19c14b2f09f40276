//! The check-in planner, run by `serve` every few seconds: it writes each member's prompt for
//! their local today and tomorrow into the outbox as `scheduled` (one per member per workday,
//! by its dedupe key), queues the morning digest and the optional reminder when they are due,
//! and cancels prompts of people who left. The outbox's sender does the rest.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use sb_mail::Mailbox;
use sb_store::{CheckinMemberRecord, EntryQuery, MailState, Member, WorkspaceDb};
use sb_types::{Role, Timestamp, UserId, WorkspaceId};

use super::digest::{DigestMember, build_digest};
use super::token::ReplyToken;
use super::{MemberCalendar, Schedule, calendar_of, schedule_of};
use crate::mail::Compose;
use crate::{CoreError, Switchboard};

/// The outbox kinds of check-in mail.
pub(crate) const PROMPT: &str = "checkin_prompt";
const DIGEST: &str = "checkin_digest";
const REMINDER: &str = "checkin_reminder";
/// A digest not sent within this long after its time is not sent at all.
const DIGEST_WINDOW_SECONDS: i64 = 6 * 3600;

/// What one planner round did, summed over workspaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckinRound {
    pub prompts: u64,
    pub digests: u64,
    pub reminders: u64,
    pub cancelled: u64,
}

fn key(kind: &str, date: NaiveDate, user: UserId) -> String {
    format!("{kind}:{date}:{user}")
}

fn group(kind: &str, date: NaiveDate) -> String {
    format!("{kind}:{date}")
}

/// The member and day a prompt or reminder was for, from its dedupe key.
pub(crate) fn prompted_by_key(key: &str) -> Option<(UserId, NaiveDate)> {
    let mut parts = key.split(':');
    let kind = parts.next()?;
    if kind != PROMPT && kind != REMINDER {
        return None;
    }
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
    let user = UserId::parse(parts.next()?).ok()?;
    parts.next().is_none().then_some((user, date))
}

/// The dedupe keys of a member's prompts around `now` (yesterday to the day after tomorrow in
/// any zone), for withdrawing them when the member's settings change.
pub(crate) fn member_prompt_keys(user: UserId, now: Timestamp) -> Vec<String> {
    let today = now.as_utc().date_naive();
    (0..5)
        .filter_map(|i| today.checked_sub_days(Days::new(2))?.checked_add_days(Days::new(i)))
        .map(|date| key(PROMPT, date, user))
        .collect()
}

/// A member who may get check-in mail, with their calendar.
struct Person<'a> {
    member: &'a Member,
    own: Option<&'a CheckinMemberRecord>,
    calendar: MemberCalendar,
}

impl Person<'_> {
    fn prompts(&self) -> bool {
        self.own.map_or(self.member.role != Role::Viewer, |o| o.prompts)
    }

    fn digest(&self) -> bool {
        self.own.is_none_or(|o| o.digest)
    }

    fn mailbox(&self) -> Mailbox {
        let name = self.member.user.name.trim();
        Mailbox {
            name: (!name.is_empty()).then(|| name.to_owned()),
            address: self.member.user.email.to_string(),
        }
    }
}

impl Switchboard {
    /// One planner round in every workspace with check-ins on, as of `now` (the clock, except
    /// in tests). A workspace that fails is logged and skipped.
    pub async fn run_checkins(&self, now: Timestamp) -> Result<CheckinRound, CoreError> {
        let mut total = CheckinRound::default();
        for workspace in self.store().list_workspaces().await? {
            match self.run_workspace_checkins(workspace.id, workspace.name.as_str(), now).await {
                Ok(round) => {
                    total.prompts += round.prompts;
                    total.digests += round.digests;
                    total.reminders += round.reminders;
                    total.cancelled += round.cancelled;
                }
                Err(error) => tracing::warn!(workspace = %workspace.id, %error, "check-in round failed"),
            }
        }
        Ok(total)
    }

    async fn run_workspace_checkins(
        &self,
        workspace: WorkspaceId,
        name: &str,
        now: Timestamp,
    ) -> Result<CheckinRound, CoreError> {
        let db = self.store().workspace_db(workspace).await?;
        let settings = db.checkin_settings().await?;
        if !settings.enabled {
            return Ok(CheckinRound::default());
        }
        let schedule = schedule_of(&settings)?;
        let members = self.store().members(workspace).await?;
        let own = db.checkin_members().await?;
        let people: Vec<Person<'_>> = members
            .iter()
            .map(|member| {
                let own = own.iter().find(|o| o.user_id == member.user.id);
                Person { member, own, calendar: calendar_of(own) }
            })
            .collect();
        let mut round = CheckinRound {
            prompts: self.plan_prompts(&db, &schedule, &settings.question, &people, now).await?,
            ..CheckinRound::default()
        };
        round.cancelled = self.cancel_departed(&db, &people, now).await?;
        round.digests = self.queue_digests(&db, name, &schedule, &people, now).await?;
        if let Some(reminder) = schedule.reminder {
            round.reminders = self.queue_reminders(&db, &schedule, reminder, &people, now).await?;
        }
        Ok(round)
    }

    /// Writes the missing prompts of each member's local today and tomorrow.
    async fn plan_prompts(
        &self,
        db: &WorkspaceDb,
        schedule: &Schedule,
        question: &str,
        people: &[Person<'_>],
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        let mut existing: HashMap<NaiveDate, HashSet<String>> = HashMap::new();
        let mut messages = Vec::new();
        for person in people.iter().filter(|p| p.prompts()) {
            let today = schedule.local_date(&person.calendar, now);
            for date in [Some(today), today.checked_add_days(Days::new(1))].into_iter().flatten() {
                if !schedule.is_prompt_day(&person.calendar, date) {
                    continue;
                }
                let send_at = schedule.instant(&person.calendar, date, schedule.prompt);
                let expires_at = prompt_expiry(schedule, &person.calendar, date, send_at);
                if now >= expires_at {
                    continue;
                }
                let dedupe_key = key(PROMPT, date, person.member.user.id);
                if known_keys(db, &mut existing, PROMPT, date).await?.contains(&dedupe_key) {
                    continue;
                }
                messages.push(self.prompt(
                    db.workspace(),
                    person,
                    question,
                    date,
                    dedupe_key,
                    send_at,
                    expires_at,
                ));
            }
        }
        if messages.is_empty() {
            return Ok(0);
        }
        self.queue_mail(db, messages, now).await
    }

    #[allow(clippy::too_many_arguments)]
    fn prompt(
        &self,
        workspace: WorkspaceId,
        person: &Person<'_>,
        question: &str,
        date: NaiveDate,
        dedupe_key: String,
        send_at: Timestamp,
        expires_at: Timestamp,
    ) -> Compose<'static> {
        let token = ReplyToken { workspace, user: person.member.user.id, date };
        let day = date.format("%A, %B %-d");
        let text = format!(
            "{question}\n\nReply to this email: one line for each thing you got done on {day}.\n\
             Start a line with [] for a goal, [x] for a goal you reached, ! for a blocker.\n\
             #tags and @mentions are kept.\n"
        );
        Compose {
            kind: PROMPT,
            dedupe_key,
            dedupe_group: group(PROMPT, date),
            to: person.mailbox(),
            reply_to: Some(token.address(self.secret(), &self.mail_setup().domain)),
            subject: format!("{question} ({day})"),
            text,
            html: None,
            state: MailState::Scheduled,
            send_at,
            expires_at,
        }
    }

    /// Cancels the pending prompts of people who left the workspace or turned prompts off.
    async fn cancel_departed(
        &self,
        db: &WorkspaceDb,
        people: &[Person<'_>],
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        let prompted: HashSet<String> =
            people.iter().filter(|p| p.prompts()).map(|p| p.member.user.id.to_string()).collect();
        let today = now.as_utc().date_naive();
        let mut stale = Vec::new();
        for date in [today.checked_sub_days(Days::new(1)), Some(today), today.checked_add_days(Days::new(1))]
            .into_iter()
            .flatten()
        {
            for (key, state) in db.mail_keys(&group(PROMPT, date)).await? {
                let pending = matches!(state, MailState::Scheduled | MailState::Queued | MailState::Deferred);
                if pending && key.rsplit(':').next().is_some_and(|user| !prompted.contains(user)) {
                    stale.push(key);
                }
            }
        }
        if stale.is_empty() {
            return Ok(0);
        }
        Ok(db.cancel_mail(&stale, now).await?)
    }

    /// Queues each member's digest once its time has come on a workday: the team's entries of
    /// the previous workday, if there are any.
    async fn queue_digests(
        &self,
        db: &WorkspaceDb,
        team: &str,
        schedule: &Schedule,
        people: &[Person<'_>],
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        let mut built: HashMap<NaiveDate, Option<super::digest::Digest>> = HashMap::new();
        let mut existing: HashMap<NaiveDate, HashSet<String>> = HashMap::new();
        let mut messages = Vec::new();
        let names: Vec<DigestMember> = people
            .iter()
            .map(|p| DigestMember {
                id: p.member.user.id,
                name: p.mailbox().name.unwrap_or_else(|| p.mailbox().address),
            })
            .collect();
        for person in people.iter().filter(|p| p.digest()) {
            let today = schedule.local_date(&person.calendar, now);
            if !schedule.is_prompt_day(&person.calendar, today) {
                continue;
            }
            let at = schedule.instant(&person.calendar, today, schedule.digest);
            if now < at || now >= at.plus_seconds(DIGEST_WINDOW_SECONDS) {
                continue;
            }
            let Some(covered) = schedule.previous_workday(today) else { continue };
            let dedupe_key = key(DIGEST, today, person.member.user.id);
            if known_keys(db, &mut existing, DIGEST, today).await?.contains(&dedupe_key) {
                continue;
            }
            if let Entry::Vacant(slot) = built.entry(covered) {
                let entries = db
                    .checkin_entries(&EntryQuery {
                        from: Some(covered.to_string()),
                        to: Some(covered.to_string()),
                        limit: 10_000,
                        ..EntryQuery::default()
                    })
                    .await?;
                let link =
                    format!("{}/w/{}/checkins?date={covered}", self.mail_setup().public_url, db.workspace());
                slot.insert(
                    (!entries.is_empty()).then(|| build_digest(team, covered, &names, &entries, &link)),
                );
            }
            let Some(Some(digest)) = built.get(&covered) else { continue };
            messages.push(Compose {
                kind: DIGEST,
                dedupe_key,
                dedupe_group: group(DIGEST, today),
                to: person.mailbox(),
                reply_to: None,
                subject: digest.subject.clone(),
                text: digest.text.clone(),
                html: Some(digest.html.clone()),
                state: MailState::Queued,
                send_at: now,
                expires_at: at.plus_seconds(DIGEST_WINDOW_SECONDS),
            });
        }
        if messages.is_empty() {
            return Ok(0);
        }
        self.queue_mail(db, messages, now).await
    }

    /// Queues a reminder for members who were prompted today and have not answered by the
    /// reminder time.
    async fn queue_reminders(
        &self,
        db: &WorkspaceDb,
        schedule: &Schedule,
        reminder: chrono::NaiveTime,
        people: &[Person<'_>],
        now: Timestamp,
    ) -> Result<u64, CoreError> {
        let mut prompted: HashMap<NaiveDate, HashMap<String, MailState>> = HashMap::new();
        let mut answered: HashMap<NaiveDate, HashSet<UserId>> = HashMap::new();
        let mut reminded: HashMap<NaiveDate, HashSet<String>> = HashMap::new();
        let mut messages = Vec::new();
        let question = "Anything done today?";
        for person in people.iter().filter(|p| p.prompts()) {
            let today = schedule.local_date(&person.calendar, now);
            let prompt_at = schedule.instant(&person.calendar, today, schedule.prompt);
            let at = schedule.instant(&person.calendar, today, reminder);
            let expires_at = prompt_expiry(schedule, &person.calendar, today, prompt_at);
            if at <= prompt_at || now < at || now >= expires_at {
                continue;
            }
            if let Entry::Vacant(slot) = prompted.entry(today) {
                slot.insert(db.mail_keys(&group(PROMPT, today)).await?.into_iter().collect());
                answered
                    .insert(today, db.members_with_entries(&today.to_string()).await?.into_iter().collect());
                reminded.insert(
                    today,
                    db.mail_keys(&group(REMINDER, today)).await?.into_iter().map(|(k, _)| k).collect(),
                );
            }
            let user = person.member.user.id;
            let was_sent =
                prompted.get(&today).and_then(|p| p.get(&key(PROMPT, today, user))) == Some(&MailState::Sent);
            let dedupe_key = key(REMINDER, today, user);
            if !was_sent
                || answered.get(&today).is_some_and(|a| a.contains(&user))
                || reminded.get(&today).is_some_and(|r| r.contains(&dedupe_key))
            {
                continue;
            }
            let mut compose =
                self.prompt(db.workspace(), person, question, today, dedupe_key, now, expires_at);
            compose.kind = REMINDER;
            compose.dedupe_group = group(REMINDER, today);
            compose.state = MailState::Queued;
            messages.push(compose);
        }
        if messages.is_empty() {
            return Ok(0);
        }
        self.queue_mail(db, messages, now).await
    }
}

/// The dedupe keys in use for `kind` on `date`, read once per round.
async fn known_keys<'c>(
    db: &WorkspaceDb,
    cache: &'c mut HashMap<NaiveDate, HashSet<String>>,
    kind: &str,
    date: NaiveDate,
) -> Result<&'c HashSet<String>, CoreError> {
    let keys = match cache.entry(date) {
        Entry::Occupied(known) => known.into_mut(),
        Entry::Vacant(slot) => {
            let keys = db.mail_keys(&group(kind, date)).await?;
            slot.insert(keys.into_iter().map(|(k, _)| k).collect())
        }
    };
    Ok(keys)
}

/// A prompt stops being worth sending at the next morning's digest time (or a day after it
/// was due, if the digest comes earlier in the day than the prompt).
fn prompt_expiry(
    schedule: &Schedule,
    calendar: &MemberCalendar,
    date: NaiveDate,
    send_at: Timestamp,
) -> Timestamp {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    let digest = schedule.instant(calendar, next, schedule.digest);
    if digest > send_at { digest } else { send_at.plus_seconds(24 * 3600) }
}
