//! When check-in mail goes out: wall-clock times read in each member's own time zone (DST
//! included), workdays, holidays and vacations. Pure functions over a validated `Schedule`.

use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use sb_types::Timestamp;

use crate::CoreError;

/// The workspace's schedule, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub prompt: NaiveTime,
    pub digest: NaiveTime,
    pub reminder: Option<NaiveTime>,
    pub timezone: Tz,
    /// ISO weekdays, 1 = Monday.
    pub workdays: Vec<u32>,
    pub holidays: Vec<NaiveDate>,
}

/// A member's own calendar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberCalendar {
    pub timezone: Option<Tz>,
    pub vacation: Option<(NaiveDate, NaiveDate)>,
}

/// `HH:MM` (24-hour), or a clear error naming `what`.
pub fn parse_time(what: &str, text: &str) -> Result<NaiveTime, CoreError> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        CoreError::Invalid(format!("{what} must be a time of day as HH:MM (24-hour), not {text:?}"))
    })
}

/// `YYYY-MM-DD`, or a clear error naming `what`.
pub fn parse_date(what: &str, text: &str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CoreError::Invalid(format!("{what} must be a date as YYYY-MM-DD, not {text:?}")))
}

/// An IANA time zone name, or a clear error.
pub fn parse_timezone(text: &str) -> Result<Tz, CoreError> {
    text.trim().parse::<Tz>().map_err(|_| {
        CoreError::Invalid(format!("unknown time zone {text:?}; use an IANA name such as Europe/Lisbon"))
    })
}

/// Workdays as ISO weekday digits (`12345`), each once, or a clear error.
pub fn parse_workdays(text: &str) -> Result<Vec<u32>, CoreError> {
    let mut days: Vec<u32> = Vec::new();
    for c in text.chars() {
        let day = c.to_digit(10).filter(|d| (1..=7).contains(d)).ok_or_else(|| {
            CoreError::Invalid(format!("workdays are ISO weekday digits 1 (Monday) to 7, not {text:?}"))
        })?;
        if !days.contains(&day) {
            days.push(day);
        }
    }
    days.sort_unstable();
    Ok(days)
}

impl Schedule {
    /// The zone `member` lives in.
    pub fn zone(&self, member: &MemberCalendar) -> Tz {
        member.timezone.unwrap_or(self.timezone)
    }

    /// The member's local date at `now`.
    pub fn local_date(&self, member: &MemberCalendar, now: Timestamp) -> NaiveDate {
        now.as_utc().with_timezone(&self.zone(member)).date_naive()
    }

    /// Whether `member` is asked on `date`: a workday, not a holiday, not on vacation.
    pub fn is_prompt_day(&self, member: &MemberCalendar, date: NaiveDate) -> bool {
        self.is_workday(date) && !member.vacation.is_some_and(|(from, until)| (from..=until).contains(&date))
    }

    /// A workday that is not a holiday.
    pub fn is_workday(&self, date: NaiveDate) -> bool {
        self.workdays.contains(&date.weekday().number_from_monday()) && !self.holidays.contains(&date)
    }

    /// The last workday before `date` (within a month; None if there is none).
    pub fn previous_workday(&self, date: NaiveDate) -> Option<NaiveDate> {
        (1..=31).filter_map(|back| date.checked_sub_days(Days::new(back))).find(|d| self.is_workday(*d))
    }

    /// The instant `time` on `date` in the member's zone. A time that a DST change skips is
    /// moved forward by the gap; one that happens twice is the first.
    pub fn instant(&self, member: &MemberCalendar, date: NaiveDate, time: NaiveTime) -> Timestamp {
        let zone = self.zone(member);
        let local = date.and_time(time);
        let resolved = match zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
            LocalResult::None => {
                let later = local + chrono::Duration::hours(1);
                match zone.from_local_datetime(&later) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
                    LocalResult::None => zone.from_utc_datetime(&local),
                }
            }
        };
        Timestamp::from_millis(resolved.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(zone: &str) -> Schedule {
        Schedule {
            prompt: parse_time("prompt", "17:00").unwrap(),
            digest: parse_time("digest", "08:00").unwrap(),
            reminder: None,
            timezone: parse_timezone(zone).unwrap(),
            workdays: parse_workdays("12345").unwrap(),
            holidays: vec![parse_date("holiday", "2026-12-25").unwrap()],
        }
    }

    fn date(text: &str) -> NaiveDate {
        parse_date("date", text).unwrap()
    }

    #[test]
    fn times_are_read_in_the_members_zone_across_dst() {
        let s = schedule("Europe/Lisbon");
        let lisbon = MemberCalendar::default();
        let tokyo = MemberCalendar { timezone: Some(parse_timezone("Asia/Tokyo").unwrap()), vacation: None };
        let prompt = s.prompt;
        // Lisbon is UTC+1 in summer and UTC+0 in winter.
        assert_eq!(s.instant(&lisbon, date("2026-07-01"), prompt).to_string(), "2026-07-01T16:00:00.000Z");
        assert_eq!(s.instant(&lisbon, date("2026-12-01"), prompt).to_string(), "2026-12-01T17:00:00.000Z");
        assert_eq!(s.instant(&tokyo, date("2026-12-01"), prompt).to_string(), "2026-12-01T08:00:00.000Z");
        // 01:30 does not exist in Lisbon on 2026-03-29 (clocks go from 01:00 to 02:00).
        let gap = parse_time("t", "01:30").unwrap();
        assert_eq!(s.instant(&lisbon, date("2026-03-29"), gap).to_string(), "2026-03-29T01:30:00.000Z");
        // 01:30 happens twice on 2026-10-25: the first, still summer time.
        assert_eq!(s.instant(&lisbon, date("2026-10-25"), gap).to_string(), "2026-10-25T00:30:00.000Z");
    }

    #[test]
    fn workdays_holidays_and_vacations() {
        let s = schedule("UTC");
        let member =
            MemberCalendar { timezone: None, vacation: Some((date("2026-12-07"), date("2026-12-08"))) };
        assert!(s.is_prompt_day(&member, date("2026-12-04")), "a Friday");
        assert!(!s.is_prompt_day(&member, date("2026-12-05")), "a Saturday");
        assert!(!s.is_prompt_day(&member, date("2026-12-07")), "on vacation");
        assert!(!s.is_prompt_day(&member, date("2026-12-08")), "vacation ends inclusive");
        assert!(s.is_prompt_day(&member, date("2026-12-09")));
        assert!(!s.is_prompt_day(&MemberCalendar::default(), date("2026-12-25")), "a holiday");
        assert_eq!(s.previous_workday(date("2026-12-07")), Some(date("2026-12-04")), "Monday's is Friday");
        assert_eq!(s.previous_workday(date("2026-12-28")), Some(date("2026-12-24")), "skips the holiday");
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(parse_time("prompt time", "25:00").unwrap_err().to_string().contains("prompt time"));
        assert!(parse_timezone("Mars/Olympus").unwrap_err().to_string().contains("Mars/Olympus"));
        assert!(parse_workdays("1289").is_err());
        assert_eq!(parse_workdays("5115").unwrap(), [1, 5]);
        assert!(parse_date("holiday", "2026-02-30").is_err());
    }
}
