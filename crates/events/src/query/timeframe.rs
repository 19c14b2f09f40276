//! Keen timeframes and timezones: turning `this_7_days` or `{"start", "end"}` into a UTC millisecond range.
//!
//! Semantics follow keen-api.md §5.2 and §5.3:
//!
//! * `this_N_units` runs from the start of the unit N−1 units before the current one up to `now`
//!   (not to the end of the current unit), so `this_2_days` is yesterday plus today so far.
//!   `this_unit` is `this_1_unit` and `today` is `this_day`.
//! * `previous_N_units` is the N complete units before the current one; `yesterday` is
//!   `previous_day`. The legacy `last_N_units` / `last_unit` spelling is an alias of `previous_`.
//! * Units are minutes, hours, days, weeks, months and years, singular or plural whatever N is
//!   (`this_1_days` and `this_2_day` both work). Prefix and unit are matched case-insensitively.
//! * Boundaries are calendar-aligned in the query timezone, weeks start on Sunday 00:00. Days,
//!   weeks, months and years follow the wall clock of a named zone, so a day can last 23 or 25
//!   hours; minutes and hours are fixed lengths of real time, aligned to the local clock at `now`.
//! * Absolute bounds that carry an offset ignore the timezone (keen-js #391); naive bounds,
//!   date-only ones included, are read in the query timezone, as §5.2 recommends [infer].
//!
//! Where a wall-clock time does not exist (the spring-forward gap) it is read with the offset in
//! force before the gap, landing as far past the transition as it was written past it (02:30 in
//! New York on 2024-03-10 becomes 03:30 EDT). Where it exists twice (fall back) the earlier instant
//! is taken. Both matter only for naive absolute bounds and for zones whose DST starts at midnight
//! (Brazil until 2019), where a day then starts at 01:00.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};
use serde_json::{Map, Value};

use crate::timestamp::parse_keen_datetime;

/// A timezone for calendar arithmetic: fixed offset in seconds, or an IANA zone (DST-correct).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timezone {
    Offset(i32),
    Named(chrono_tz::Tz),
}

/// A half-open range [start_ms, end_ms) in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl TimeRange {
    /// Whether the instant falls inside the range (start inclusive, end exclusive).
    pub fn contains(&self, millis: i64) -> bool {
        self.start_ms <= millis && millis < self.end_ms
    }
}

/// A calendar unit of relative timeframes (and of interval buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl CalendarUnit {
    /// `minute` or `minutes`, `hour` or `hours`, and so on, in any letter case.
    pub fn parse(text: &str) -> Option<CalendarUnit> {
        let lower = text.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        Some(match singular {
            "minute" => CalendarUnit::Minute,
            "hour" => CalendarUnit::Hour,
            "day" => CalendarUnit::Day,
            "week" => CalendarUnit::Week,
            "month" => CalendarUnit::Month,
            "year" => CalendarUnit::Year,
            _ => return None,
        })
    }
}

/// Why a `timeframe` or `timezone` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeframeError {
    #[error("timeframe must be a relative timeframe string or an object with start and end, not {found}")]
    WrongType { found: String },
    #[error("timeframe {value:?} is not valid JSON")]
    InvalidJson { value: String },
    #[error(
        "timeframe {value:?} is not a relative timeframe such as \"this_7_days\", \
         \"previous_week\" or \"today\""
    )]
    Unrecognized { value: String },
    #[error("timeframe {value:?} must count a whole number of units, at least 1")]
    InvalidCount { value: String },
    #[error(
        "timeframe {value:?} has unknown unit {unit:?}; expected minutes, hours, days, weeks, months or years"
    )]
    UnknownUnit { value: String, unit: String },
    #[error("timeframe {value:?} reaches outside the supported range of dates")]
    OutOfRange { value: String },
    #[error("absolute timeframe is missing {bound:?}")]
    MissingBound { bound: &'static str },
    #[error("absolute timeframe {bound} {value} is not an ISO-8601 timestamp")]
    InvalidBound { bound: &'static str, value: String },
    #[error("absolute timeframe start {start:?} must be before end {end:?}")]
    EmptyRange { start: String, end: String },
    #[error(
        "unknown timezone {value}; expected seconds east of UTC such as -28800 \
         or a zone name such as \"US/Pacific\""
    )]
    InvalidTimezone { value: String },
    #[error("timezone offset {seconds} seconds is a day or more away from UTC")]
    TimezoneOutOfRange { seconds: i64 },
}

impl TimeframeError {
    /// The Keen `error_code` to answer with. `TimeframeDefinitionError` is what Keen's own clients
    /// check for; Keen's name for a bad timezone is not recorded, so `InvalidTimezoneError` follows
    /// its naming pattern [infer].
    pub fn keen_error_code(&self) -> &'static str {
        match self {
            TimeframeError::InvalidTimezone { .. } | TimeframeError::TimezoneOutOfRange { .. } => {
                "InvalidTimezoneError"
            }
            _ => "TimeframeDefinitionError",
        }
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone::Offset(0)
    }
}

impl Timezone {
    /// From a query's `timezone` value: JSON number (seconds east of UTC), a string holding an
    /// integer, or an IANA name (also a quoted JSON string like "\"US/Pacific\""). None/null → UTC.
    ///
    /// An empty string (`timezone=` in a query string) also means UTC. Zone names are matched
    /// exactly first and then ignoring ASCII case, so `us/pacific` works. Offsets must be less
    /// than a day from UTC, the most a fixed offset can express.
    pub fn parse(value: Option<&Value>) -> Result<Timezone, TimeframeError> {
        match value {
            None | Some(Value::Null) => Ok(Timezone::default()),
            Some(Value::Number(number)) => match number.as_i64() {
                Some(seconds) => Timezone::from_seconds(seconds),
                // -28800.0 is as good as -28800; the saturating cast keeps huge values out of range.
                None => match number.as_f64() {
                    Some(float) if float.fract() == 0.0 => Timezone::from_seconds(float as i64),
                    _ => Err(TimeframeError::InvalidTimezone { value: shown(&number.to_string()) }),
                },
            },
            Some(Value::String(text)) => {
                let trimmed = text.trim();
                if trimmed.starts_with('"') {
                    match serde_json::from_str::<String>(trimmed) {
                        Ok(inner) => Timezone::from_text(inner.trim()),
                        Err(_) => Err(TimeframeError::InvalidTimezone {
                            value: shown(&Value::from(text.as_str()).to_string()),
                        }),
                    }
                } else {
                    Timezone::from_text(trimmed)
                }
            }
            Some(other) => Err(TimeframeError::InvalidTimezone { value: shown(&other.to_string()) }),
        }
    }

    fn from_seconds(seconds: i64) -> Result<Timezone, TimeframeError> {
        match i32::try_from(seconds) {
            Ok(fits) if fits.unsigned_abs() < 86_400 => Ok(Timezone::Offset(fits)),
            _ => Err(TimeframeError::TimezoneOutOfRange { seconds }),
        }
    }

    fn from_text(text: &str) -> Result<Timezone, TimeframeError> {
        if text.is_empty() {
            return Ok(Timezone::default());
        }
        if let Ok(seconds) = text.parse::<i64>() {
            return Timezone::from_seconds(seconds);
        }
        text.parse::<chrono_tz::Tz>()
            .ok()
            .or_else(|| {
                chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(text))
            })
            .map(Timezone::Named)
            .ok_or_else(|| TimeframeError::InvalidTimezone { value: shown(&Value::from(text).to_string()) })
    }

    /// The start of the unit `shift` units after (or, if negative, before) the unit that contains
    /// `millis`, in this timezone. `shift` 0 is the start of the containing unit. `None` when the
    /// answer falls outside chrono's range.
    ///
    /// Interval buckets step with this too: bucket k of an `every_N_units` series starts at
    /// `unit_start(start, unit, k * N)`.
    pub fn unit_start(self, millis: i64, unit: CalendarUnit, shift: i64) -> Option<i64> {
        // Inside chrono's range (about ±8.3e15 ms) none of the arithmetic below can overflow i64.
        DateTime::from_timestamp_millis(millis)?;
        let offset_ms = i64::from(self.offset_seconds_at(millis)?) * 1000;
        let local_ms = millis.checked_add(offset_ms)?;
        let fixed_size = match unit {
            CalendarUnit::Minute => Some(60_000),
            CalendarUnit::Hour => Some(3_600_000),
            _ => None,
        };
        let start = if let Some(size) = fixed_size {
            // Real-time arithmetic: an hour is 3,600 s even across a DST change, and the
            // alignment uses the offset at `millis`, so hours stay on the local clock's hours.
            (local_ms.div_euclid(size) * size - offset_ms).checked_add(shift.checked_mul(size)?)?
        } else {
            let date = DateTime::from_timestamp_millis(local_ms)?.date_naive();
            let first = match unit {
                CalendarUnit::Week => {
                    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_sunday())))?
                }
                CalendarUnit::Month => date.with_day(1)?,
                CalendarUnit::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1)?,
                _ => date,
            };
            self.local_to_utc(shift_date(first, unit, shift)?.and_time(NaiveTime::MIN))?
        };
        DateTime::from_timestamp_millis(start).map(|_| start)
    }

    /// Seconds east of UTC in force at the instant.
    fn offset_seconds_at(self, millis: i64) -> Option<i32> {
        match self {
            Timezone::Offset(seconds) => Some(seconds),
            Timezone::Named(tz) => {
                let utc = DateTime::from_timestamp_millis(millis)?.naive_utc();
                Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
            }
        }
    }

    /// The instant a wall-clock time names here; gaps and overlaps as described in the module docs.
    fn local_to_utc(self, local: NaiveDateTime) -> Option<i64> {
        let as_if_utc = local.and_utc();
        let offset = match self {
            Timezone::Offset(seconds) => seconds,
            Timezone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
                    return Some(instant.timestamp_millis());
                }
                // Transitions are months apart, so a day earlier is safely before the gap.
                LocalResult::None => self.offset_seconds_at(as_if_utc.timestamp_millis() - 86_400_000)?,
            },
        };
        as_if_utc.timestamp_millis().checked_sub(i64::from(offset) * 1000)
    }
}

/// The date `shift` units after `date`, for the calendar units (days and longer).
fn shift_date(date: NaiveDate, unit: CalendarUnit, shift: i64) -> Option<NaiveDate> {
    let magnitude = shift.unsigned_abs();
    let days = |count: u64| {
        if shift < 0 {
            date.checked_sub_days(Days::new(count))
        } else {
            date.checked_add_days(Days::new(count))
        }
    };
    let months = |count: u64| {
        let count = Months::new(u32::try_from(count).ok()?);
        if shift < 0 { date.checked_sub_months(count) } else { date.checked_add_months(count) }
    };
    match unit {
        CalendarUnit::Week => days(magnitude.checked_mul(7)?),
        CalendarUnit::Month => months(magnitude),
        CalendarUnit::Year => months(magnitude.checked_mul(12)?),
        _ => days(magnitude),
    }
}

/// Resolves a Keen `timeframe` (relative string like "this_7_days", "previous_week", "today",
/// "yesterday", legacy "last_N_units", or an absolute object {"start": "...", "end": "..."} whose
/// strings are parsed with parse_keen_timestamp) at instant `now_ms` in `timezone`.
///
/// A string that begins with `{` or `"` is JSON from a query string (§1.3) and is decoded once
/// first. `null` is refused: a query without a timeframe means "all time", which the caller
/// decides before calling. Absolute bounds use the same parser as `keen.timestamp`, except that a
/// naive bound is read in `timezone` (see the module docs).
pub fn resolve(timeframe: &Value, timezone: Timezone, now_ms: i64) -> Result<TimeRange, TimeframeError> {
    match timeframe {
        Value::String(text) => {
            let trimmed = text.trim();
            if !(trimmed.starts_with('{') || trimmed.starts_with('"')) {
                return resolve_relative(trimmed, timezone, now_ms);
            }
            match serde_json::from_str::<Value>(trimmed) {
                Ok(Value::String(inner)) => resolve_relative(inner.trim(), timezone, now_ms),
                Ok(Value::Object(bounds)) => resolve_absolute(&bounds, timezone),
                _ => Err(TimeframeError::InvalidJson { value: shown(text) }),
            }
        }
        Value::Object(bounds) => resolve_absolute(bounds, timezone),
        other => Err(TimeframeError::WrongType { found: shown(&other.to_string()) }),
    }
}

fn resolve_relative(text: &str, timezone: Timezone, now_ms: i64) -> Result<TimeRange, TimeframeError> {
    let (complete_units_only, count, unit) = parse_relative(text)?;
    let out_of_range = || TimeframeError::OutOfRange { value: shown(text) };
    let current = timezone.unit_start(now_ms, unit, 0).ok_or_else(out_of_range)?;
    let range = if complete_units_only {
        TimeRange {
            start_ms: timezone.unit_start(now_ms, unit, -count).ok_or_else(out_of_range)?,
            end_ms: current,
        }
    } else {
        TimeRange {
            start_ms: timezone.unit_start(now_ms, unit, 1 - count).ok_or_else(out_of_range)?,
            end_ms: now_ms,
        }
    };
    Ok(range)
}

/// Splits a relative timeframe into (whether it is `previous_`/`last_`, N, unit).
fn parse_relative(text: &str) -> Result<(bool, i64, CalendarUnit), TimeframeError> {
    let lower = text.to_ascii_lowercase();
    let unrecognized = || TimeframeError::Unrecognized { value: shown(text) };
    let (prefix, rest) = match lower.as_str() {
        "today" => ("this", "day"),
        "yesterday" => ("previous", "day"),
        _ => lower.split_once('_').ok_or_else(unrecognized)?,
    };
    let complete_units_only = match prefix {
        "this" => false,
        "previous" | "last" => true,
        _ => return Err(unrecognized()),
    };
    let (count, unit_text) = match rest.split_once('_') {
        None => (1, rest),
        Some((digits, unit_text)) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TimeframeError::InvalidCount { value: shown(text) });
            }
            // Past u32 no timeframe fits in chrono's ±262,000 years, even in minutes.
            let count =
                digits.parse::<u32>().map_err(|_| TimeframeError::OutOfRange { value: shown(text) })?;
            if count == 0 {
                return Err(TimeframeError::InvalidCount { value: shown(text) });
            }
            (i64::from(count), unit_text)
        }
    };
    let unit = CalendarUnit::parse(unit_text)
        .ok_or_else(|| TimeframeError::UnknownUnit { value: shown(text), unit: shown(unit_text) })?;
    Ok((complete_units_only, count, unit))
}

fn resolve_absolute(bounds: &Map<String, Value>, timezone: Timezone) -> Result<TimeRange, TimeframeError> {
    let bound = |name: &'static str| -> Result<(i64, String), TimeframeError> {
        let value = bounds.get(name).ok_or(TimeframeError::MissingBound { bound: name })?;
        let invalid = || TimeframeError::InvalidBound { bound: name, value: shown(&value.to_string()) };
        let text = value.as_str().ok_or_else(invalid)?;
        let parsed = parse_keen_datetime(text).ok_or_else(invalid)?;
        let millis = match parsed.offset_seconds {
            Some(offset) => Some(parsed.local.and_utc().timestamp_millis() - i64::from(offset) * 1000),
            None => timezone.local_to_utc(parsed.local),
        };
        Ok((millis.ok_or_else(invalid)?, shown(text)))
    };
    let (start_ms, start) = bound("start")?;
    let (end_ms, end) = bound("end")?;
    if start_ms >= end_ms {
        return Err(TimeframeError::EmptyRange { start, end });
    }
    Ok(TimeRange { start_ms, end_ms })
}

/// User text for an error message, shortened so the message stays readable whatever was sent.
fn shown(text: &str) -> String {
    const LIMIT: usize = 120;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
