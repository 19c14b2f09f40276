//! `keen.timestamp` text: parsing the ISO-8601 variants Keen clients send, and the one form we answer in.
//!
//! The parser is hand-written rather than chrono's RFC 3339 parser because real clients stray from
//! RFC 3339 in several directions at once: Java omits the colon in the offset (`-0800`), Python sends
//! naive microsecond timestamps, old docs show minute precision (`2012-08-13T19:00Z`) and absolute
//! timeframes use bare dates (`2015-10-19`).
//!
//! Accepted, after trimming surrounding ASCII whitespace:
//!
//! * a date `YYYY-MM-DD` (four-digit year), alone (midnight) or followed by `T`, `t` or one space and a time;
//! * a time `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f` with 1 to 9 fractional digits, truncated (not rounded)
//!   to milliseconds; seconds are optional because minute-precision bounds occur in Keen's own docs;
//! * an offset `Z`, `z`, `±hh:mm`, `±hhmm` or `±hh`, or none at all, which means UTC (Keen's old ISO-8601
//!   note). A bare date takes no offset.
//!
//! Rejected: anything else, including impossible dates (`2015-02-30`), hour 24, leap second 60 (no
//! client sends one, and accepting it would make two texts name the same instant), offsets of 24
//! hours or more, and a fraction without seconds.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

/// Parses a `keen.timestamp` string as Keen clients send it; returns Unix milliseconds (UTC).
pub fn parse_keen_timestamp(text: &str) -> Option<i64> {
    let parsed = parse_keen_datetime(text)?;
    Some(parsed.local.and_utc().timestamp_millis() - i64::from(parsed.offset_seconds.unwrap_or(0)) * 1000)
}

/// Formats Unix milliseconds as `2015-05-27T22:44:50.722Z` (always 3 fractional digits, Z).
///
/// Values beyond chrono's range (about ±262,000 years) are clamped to it rather than panicking.
pub fn format_keen_timestamp(millis: i64) -> String {
    match keen_timestamp_text(millis) {
        Some(text) => text.iter().map(|&byte| char::from(byte)).collect(),
        None => clamped(millis).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    }
}

/// `format_keen_timestamp`'s text as bytes, for the years 0 to 9999; None for the others.
/// Every stored event is stamped twice and every extracted one formatted twice, so the common
/// years are written digit by digit.
pub(crate) fn keen_timestamp_text(millis: i64) -> Option<[u8; 24]> {
    let instant = clamped(millis);
    if !(0..=9999).contains(&instant.year()) {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    for (at, width, value) in [
        (0, 4, instant.year().unsigned_abs()),
        (5, 2, instant.month()),
        (8, 2, instant.day()),
        (11, 2, instant.hour()),
        (14, 2, instant.minute()),
        (17, 2, instant.second()),
        (20, 3, instant.timestamp_subsec_millis()),
    ] {
        let mut value = value;
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    Some(text)
}

/// The instant `millis` names, clamped to chrono's range.
fn clamped(millis: i64) -> DateTime<Utc> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    DateTime::from_timestamp_millis(millis.clamp(min, max)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A timestamp as written: the wall-clock time (already truncated to milliseconds) and the offset
/// east of UTC in seconds, if the text carried one. Absolute timeframes need the difference between
/// "no offset" and "+00:00", because naive bounds are read in the query's timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeenDateTime {
    pub(crate) local: NaiveDateTime,
    pub(crate) offset_seconds: Option<i32>,
}

/// Parses the text without pinning it to an instant; see the module docs for the accepted forms.
pub(crate) fn parse_keen_datetime(text: &str) -> Option<KeenDateTime> {
    let mut cursor =
        Cursor { bytes: text.trim_matches(|c: char| c.is_ascii_whitespace()).as_bytes(), pos: 0 };
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if cursor.at_end() {
        return Some(KeenDateTime { local: date.and_time(NaiveTime::MIN), offset_seconds: None });
    }
    if !(cursor.eat(b'T') || cursor.eat(b't') || cursor.eat(b' ')) {
        return None;
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let (second, millis) = if cursor.eat(b':') {
        let second = cursor.digits(2)?;
        let millis = if cursor.eat(b'.') { cursor.fraction_millis()? } else { 0 };
        (second, millis)
    } else {
        (0, 0)
    };
    // Refuses hour 24, minute 60 and second 60 (chrono would only take a leap second as 59 plus
    // 1000 ms or more, which a truncated fraction never reaches).
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?;
    let offset_seconds = cursor.offset()?;
    cursor.at_end().then_some(KeenDateTime { local: date.and_time(time), offset_seconds })
}

/// A forward-only reader over the ASCII bytes of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.bytes.get(self.pos) == Some(&byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let run = self.bytes.get(self.pos..self.pos + count)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += count;
        Some(run.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    /// 1 to 9 fractional digits, truncated to whole milliseconds.
    fn fraction_millis(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let run = &self.bytes[start..self.pos];
        if run.is_empty() || run.len() > 9 {
            return None;
        }
        Some((0..3).fold(0, |n, i| n * 10 + run.get(i).map_or(0, |d| u32::from(d - b'0'))))
    }

    /// The trailing offset in seconds: `Some(None)` when the text ends without one, `None` when
    /// what follows the time is not an offset.
    fn offset(&mut self) -> Option<Option<i32>> {
        if self.at_end() {
            return Some(None);
        }
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(Some(0));
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.digits(2)?;
        let minutes = if self.at_end() {
            0
        } else {
            self.eat(b':');
            self.digits(2)?
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(Some(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expected` is the canonical output form, so each case also checks the round trip.
    fn check(input: &str, expected: Option<&str>) {
        let parsed = parse_keen_timestamp(input);
        assert_eq!(parsed.map(format_keen_timestamp).as_deref(), expected, "input {input:?}");
        if let Some(millis) = parsed {
            assert_eq!(parse_keen_timestamp(&format_keen_timestamp(millis)), Some(millis), "{input:?}");
        }
    }

    #[test]
    fn client_formats() {
        // Java: milliseconds and an offset without a colon.
        check("2015-01-01T12:00:00.000-0800", Some("2015-01-01T20:00:00.000Z"));
        // iOS: no fraction, offset with a colon.
        check("2015-01-01T12:00:00-08:00", Some("2015-01-01T20:00:00.000Z"));
        // Python isoformat(): naive, microseconds, meaning UTC.
        check("2012-07-06T02:09:10.141000", Some("2012-07-06T02:09:10.141Z"));
        check("2012-07-06T02:09:10.141999", Some("2012-07-06T02:09:10.141Z"));
        check("2012-07-06T02:09:10", Some("2012-07-06T02:09:10.000Z"));
        // JavaScript toISOString().
        check("2015-05-27T22:44:50.722Z", Some("2015-05-27T22:44:50.722Z"));
        // Python with an aware datetime.
        check("2015-05-27T22:44:50.722000+00:00", Some("2015-05-27T22:44:50.722Z"));
    }

    #[test]
    fn offsets() {
        check("2015-01-01T00:00:00+05:30", Some("2014-12-31T18:30:00.000Z"));
        check("2015-01-01T00:00:00+0530", Some("2014-12-31T18:30:00.000Z"));
        check("2015-01-01T00:00:00+05", Some("2014-12-31T19:00:00.000Z"));
        check("2015-01-01T00:00:00-03", Some("2015-01-01T03:00:00.000Z"));
        check("2015-01-01T00:00:00-00:00", Some("2015-01-01T00:00:00.000Z"));
        check("2015-01-01T00:00:00z", Some("2015-01-01T00:00:00.000Z"));
        check("2015-01-01T23:59:59.999+23:59", Some("2015-01-01T00:00:59.999Z"));
        check("2015-01-01T00:00:00-12:00", Some("2015-01-01T12:00:00.000Z"));
        check("2015-01-01T00:00:00+14:00", Some("2014-12-31T10:00:00.000Z"));
    }

    #[test]
    fn fractions_are_truncated() {
        check("2015-01-01T00:00:00.1Z", Some("2015-01-01T00:00:00.100Z"));
        check("2015-01-01T00:00:00.12Z", Some("2015-01-01T00:00:00.120Z"));
        check("2015-01-01T00:00:00.9999Z", Some("2015-01-01T00:00:00.999Z"));
        check("2015-01-01T00:00:00.123456789Z", Some("2015-01-01T00:00:00.123Z"));
        check("2015-01-01T00:00:00.123456789-01:00", Some("2015-01-01T01:00:00.123Z"));
        check("1969-12-31T23:59:59.9999Z", Some("1969-12-31T23:59:59.999Z"));
    }

    #[test]
    fn shorter_and_looser_forms() {
        check("2012-08-13T19:00Z", Some("2012-08-13T19:00:00.000Z"));
        check("2012-08-13T19:00", Some("2012-08-13T19:00:00.000Z"));
        check("2012-08-13T19:00+01:00", Some("2012-08-13T18:00:00.000Z"));
        check("2015-10-19", Some("2015-10-19T00:00:00.000Z"));
        check("2015-10-19 12:30:00", Some("2015-10-19T12:30:00.000Z"));
        check("2015-10-19t12:30:00z", Some("2015-10-19T12:30:00.000Z"));
        check("  2015-10-19T12:30:00Z\n", Some("2015-10-19T12:30:00.000Z"));
        check("2016-02-29T00:00:00Z", Some("2016-02-29T00:00:00.000Z"));
        check("0001-01-01T00:00:00Z", Some("0001-01-01T00:00:00.000Z"));
        check("9999-12-31T23:59:59.999Z", Some("9999-12-31T23:59:59.999Z"));
        check("1970-01-01T00:00:00Z", Some("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "   ",
            "yesterday",
            "1420070400000",
            "2015",
            "2015-01",
            "15-01-01T00:00:00Z",
            "2015-1-01T00:00:00Z",
            "2015/01/01T00:00:00Z",
            "20150101T000000Z",
            "2015-01-01T",
            "2015-01-01T12",
            "2015-01-01T1:00:00Z",
            "2015-01-01T12:00:0Z",
            "2015-01-01T12:00:00.Z",
            "2015-01-01T12:00:00.1234567890Z",
            "2015-01-01T12:00:00,123Z",
            "2015-01-01T12:00.5Z",
            "2015-01-01Z",
            "2015-01-01+01:00",
            "2015-01-01  12:00:00",
            "2015-01-01_12:00:00",
            "2015-01-01T12:00:00 Z",
            "2015-01-01T12:00:00+1",
            "2015-01-01T12:00:00+01:0",
            "2015-01-01T12:00:00+01:",
            "2015-01-01T12:00:00+010",
            "2015-01-01T12:00:00+01:00:00",
            "2015-01-01T12:00:00ZZ",
            "2015-01-01T12:00:00Z garbage",
            "2015-01-01T12:00:00EST",
            "+2015-01-01T12:00:00Z",
            "２０１５-01-01T12:00:00Z",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for bad in [
            "2015-00-01T00:00:00Z",
            "2015-13-01T00:00:00Z",
            "2015-01-00T00:00:00Z",
            "2015-01-32T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2015-04-31T00:00:00Z",
            "2015-01-01T24:00:00Z",
            "2015-01-01T23:60:00Z",
            "2015-01-01T23:59:60Z",
            "2015-01-01T00:00:00+24:00",
            "2015-01-01T00:00:00+05:60",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn formatting_writes_what_the_format_string_writes() {
        // Instants from 1900 to 2100 by an odd step, and the edges of the four-digit years.
        let (first, last) = (-2_208_988_800_000_i64, 4_102_444_800_000_i64);
        let instants = (first..last).step_by(987_654_321_013).chain([
            -62_167_219_200_000,
            -62_167_219_200_001,
            253_402_300_799_999,
            253_402_300_800_000,
        ]);
        for millis in instants {
            let instant = DateTime::from_timestamp_millis(millis).unwrap();
            assert_eq!(format_keen_timestamp(millis), instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_keen_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_keen_timestamp(1_432_766_690_722), "2015-05-27T22:44:50.722Z");
        assert_eq!(format_keen_timestamp(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_keen_timestamp(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        // Far outside chrono's range: clamped, not a panic.
        assert!(format_keen_timestamp(i64::MAX).starts_with('+'));
        assert!(format_keen_timestamp(i64::MIN).starts_with('-'));
    }

    #[test]
    fn naive_and_offset_forms_stay_distinct() {
        let naive = parse_keen_datetime("2015-01-01T12:00:00").unwrap();
        let utc = parse_keen_datetime("2015-01-01T12:00:00Z").unwrap();
        assert_eq!(naive.offset_seconds, None);
        assert_eq!(utc.offset_seconds, Some(0));
        assert_eq!(naive.local, utc.local);
        assert_eq!(parse_keen_datetime("2015-01-01T12:00:00-0130").unwrap().offset_seconds, Some(-5400));
    }
}
