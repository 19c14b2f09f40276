//! A member's check-in calendar and streak: which days of the last months have entries, and
//! how many workdays in a row (the schedule's workdays, less holidays and the member's
//! vacation) they checked in. Today counts once it has an entry but does not break a streak
//! before the day is over.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use sb_store::EntryQuery;
use sb_types::{Timestamp, UserId};

use super::{MemberCalendar, Schedule, calendar_of, schedule_of};
use crate::{Access, CoreError, Permission, Switchboard};

/// How far back a streak is counted, in days; a longer one shows as this many workdays.
const STREAK_LOOKBACK_DAYS: u64 = 400;
/// Entries read from the store at a time.
const BATCH: i64 = 500;

/// One day of a member's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    /// How many entries the member has on this day.
    pub entries: u32,
    /// Whether the member was asked that day: a workday, not a holiday, not on vacation.
    pub prompt_day: bool,
}

/// A member's recent days and current streak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinCalendar {
    /// The member's local date.
    pub today: NaiveDate,
    /// Every day from the first of the month two months before `today` to `today`, oldest first.
    pub days: Vec<CalendarDay>,
    /// Workdays in a row with at least one entry, ending today (or yesterday's workday while
    /// today has none yet).
    pub streak: u32,
}

/// The first day `calendar_days` shows for `today`: the first of the month two months back.
pub fn calendar_start(today: NaiveDate) -> NaiveDate {
    let first = today.with_day(1).unwrap_or(today);
    first.checked_sub_months(Months::new(2)).unwrap_or(first)
}

/// The streak ending at `today` over `counts` (entries per day). Days the member is not asked
/// are skipped; they neither add to a streak nor break it.
pub fn streak(
    schedule: &Schedule,
    member: &MemberCalendar,
    today: NaiveDate,
    counts: &BTreeMap<NaiveDate, u32>,
) -> u32 {
    let has_entries = |day: &NaiveDate| counts.get(day).is_some_and(|n| *n > 0);
    let mut streak = u32::from(schedule.is_prompt_day(member, today) && has_entries(&today));
    for back in 1..=STREAK_LOOKBACK_DAYS {
        let Some(day) = today.checked_sub_days(Days::new(back)) else { break };
        if !schedule.is_prompt_day(member, day) {
            continue;
        }
        if !has_entries(&day) {
            break;
        }
        streak += 1;
    }
    streak
}

/// The calendar's days from `calendar_start(today)` to `today`.
pub fn calendar_days(
    schedule: &Schedule,
    member: &MemberCalendar,
    today: NaiveDate,
    counts: &BTreeMap<NaiveDate, u32>,
) -> Vec<CalendarDay> {
    calendar_start(today)
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|date| CalendarDay {
            date,
            entries: counts.get(&date).copied().unwrap_or(0),
            prompt_day: schedule.is_prompt_day(member, date),
        })
        .collect()
}

impl Switchboard {
    /// The date it is at `now` for `user` (in their own zone, or the schedule's).
    pub async fn checkin_today(
        &self,
        access: &Access,
        user: UserId,
        now: Timestamp,
    ) -> Result<NaiveDate, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let schedule = schedule_of(&db.checkin_settings().await?)?;
        let members = db.checkin_members().await?;
        let member = calendar_of(members.iter().find(|m| m.user_id == user));
        Ok(schedule.local_date(&member, now))
    }

    /// `user`'s calendar and streak at `now`.
    pub async fn checkin_calendar(
        &self,
        access: &Access,
        user: &str,
        now: Timestamp,
    ) -> Result<CheckinCalendar, CoreError> {
        access.require(Permission::Read)?;
        let user = UserId::parse(user).map_err(|_| CoreError::NotFound("member"))?;
        if self.store().member_role(access.workspace(), user).await?.is_none() {
            return Err(CoreError::NotFound("member"));
        }
        let db = self.store().workspace_db(access.workspace()).await?;
        let schedule = schedule_of(&db.checkin_settings().await?)?;
        let members = db.checkin_members().await?;
        let member = calendar_of(members.iter().find(|m| m.user_id == user));
        let today = schedule.local_date(&member, now);
        let from = today.checked_sub_days(Days::new(STREAK_LOOKBACK_DAYS)).unwrap_or(today);
        let mut counts: BTreeMap<NaiveDate, u32> = BTreeMap::new();
        let mut query = EntryQuery {
            user: Some(user),
            from: Some(from.to_string()),
            to: Some(today.to_string()),
            tag: None,
            after: None,
            newest_first: true,
            limit: BATCH,
        };
        loop {
            let batch = db.checkin_entries(&query).await?;
            for entry in &batch {
                if let Ok(date) = NaiveDate::parse_from_str(&entry.entry_date, "%Y-%m-%d") {
                    *counts.entry(date).or_default() += 1;
                }
            }
            match batch.last() {
                Some(last) if batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX) => {
                    query.after = Some((
                        last.entry_date.clone(),
                        last.user_id.to_string(),
                        last.position,
                        last.id.to_string(),
                    ));
                }
                _ => break,
            }
        }
        Ok(CheckinCalendar {
            today,
            days: calendar_days(&schedule, &member, today, &counts),
            streak: streak(&schedule, &member, today, &counts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::schedule::{parse_date, parse_time, parse_timezone, parse_workdays};
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            prompt: parse_time("prompt", "17:00").unwrap(),
            digest: parse_time("digest", "08:00").unwrap(),
            reminder: None,
            timezone: parse_timezone("UTC").unwrap(),
            workdays: parse_workdays("12345").unwrap(),
            holidays: vec![date("2026-12-08")],
        }
    }

    fn date(text: &str) -> NaiveDate {
        parse_date("date", text).unwrap()
    }

    fn counts(days: &[&str]) -> BTreeMap<NaiveDate, u32> {
        days.iter().map(|d| (date(d), 1)).collect()
    }

    /// `today` (2026-12 is a month whose 1st is a Tuesday) and the days with entries.
    fn check(today: &str, days: &[&str], vacation: Option<(&str, &str)>, expected: u32) {
        let member = MemberCalendar { timezone: None, vacation: vacation.map(|(f, u)| (date(f), date(u))) };
        assert_eq!(streak(&schedule(), &member, date(today), &counts(days)), expected, "{today} {days:?}");
    }

    #[test]
    fn streaks_count_workdays_in_a_row() {
        check("2026-12-04", &[], None, 0);
        check("2026-12-04", &["2026-12-04"], None, 1);
        check("2026-12-04", &["2026-12-02", "2026-12-03", "2026-12-04"], None, 3);
        check("2026-12-04", &["2026-12-02", "2026-12-04"], None, 1);
    }

    #[test]
    fn today_without_entries_does_not_break_the_streak() {
        check("2026-12-04", &["2026-12-02", "2026-12-03"], None, 2);
    }

    #[test]
    fn weekends_holidays_and_vacations_are_skipped() {
        // Friday 4th, the weekend, Monday 7th, Tuesday 8th a holiday, Wednesday 9th.
        check("2026-12-09", &["2026-12-04", "2026-12-07", "2026-12-09"], None, 3);
        // An entry on a Saturday adds nothing.
        check("2026-12-07", &["2026-12-04", "2026-12-05", "2026-12-07"], None, 2);
        // Monday 14th to Friday 18th on vacation.
        let vacation = Some(("2026-12-14", "2026-12-18"));
        check("2026-12-21", &["2026-12-11", "2026-12-21"], vacation, 2);
        check("2026-12-21", &["2026-12-11", "2026-12-21"], None, 1);
    }

    #[test]
    fn a_streak_on_days_off_only_is_none() {
        check("2026-12-06", &["2026-12-05", "2026-12-06"], None, 0);
    }

    #[test]
    fn the_calendar_covers_this_month_and_the_two_before() {
        let today = date("2027-01-15");
        assert_eq!(calendar_start(today), date("2026-11-01"));
        let days = calendar_days(&schedule(), &MemberCalendar::default(), today, &counts(&["2026-12-04"]));
        assert_eq!(days.first().map(|d| d.date), Some(date("2026-11-01")));
        assert_eq!(days.last().map(|d| d.date), Some(today));
        assert_eq!(days.len(), 30 + 31 + 15);
        let friday = days.iter().find(|d| d.date == date("2026-12-04")).unwrap();
        assert_eq!((friday.entries, friday.prompt_day), (1, true));
        let holiday = days.iter().find(|d| d.date == date("2026-12-08")).unwrap();
        assert_eq!((holiday.entries, holiday.prompt_day), (0, false));
    }
}
