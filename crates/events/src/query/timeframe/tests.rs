//! Table tests for timeframe resolution and timezone parsing.

use serde_json::{Value, json};

use super::*;
use crate::timestamp::{format_keen_timestamp, parse_keen_timestamp};

fn at(text: &str) -> i64 {
    parse_keen_timestamp(text).unwrap_or_else(|| panic!("bad test timestamp {text:?}"))
}

fn zone(text: &str) -> Timezone {
    Timezone::parse(Some(&json!(text))).unwrap_or_else(|e| panic!("bad test timezone {text:?}: {e}"))
}

/// Compares as formatted text so a failure shows readable instants.
fn check(timeframe: Value, tz: &str, now: &str, expected_start: &str, expected_end: &str) {
    let range = resolve(&timeframe, zone(tz), at(now))
        .unwrap_or_else(|e| panic!("{timeframe} in {tz} at {now}: {e}"));
    assert_eq!(
        (format_keen_timestamp(range.start_ms), format_keen_timestamp(range.end_ms)),
        (format_keen_timestamp(at(expected_start)), format_keen_timestamp(at(expected_end))),
        "{timeframe} in {tz} at {now}"
    );
}

fn check_error(timeframe: Value, expected: TimeframeError) {
    let result = resolve(&timeframe, Timezone::default(), at("2024-05-15T13:45:30.500Z"));
    assert_eq!(result, Err(expected), "{timeframe}");
}

fn check_timezone(value: Option<Value>, expected: Result<Timezone, TimeframeError>) {
    assert_eq!(Timezone::parse(value.as_ref()), expected, "{value:?}");
}

/// Runs `check` over rows of (timeframe, now, expected start, expected end) in one timezone.
fn check_rows(tz: &str, rows: &[(Value, &str, &str, &str)]) {
    for (timeframe, now, start, end) in rows {
        check(timeframe.clone(), tz, now, start, end);
    }
}

#[test]
fn relative_this_runs_to_now() {
    // A Wednesday; the week began on Sunday 2024-05-12.
    let now = "2024-05-15T13:45:30.500Z";
    check_rows(
        "UTC",
        &[
            (json!("this_minute"), now, "2024-05-15T13:45Z", now),
            (json!("this_hour"), now, "2024-05-15T13:00Z", now),
            (json!("this_day"), now, "2024-05-15T00:00Z", now),
            (json!("today"), now, "2024-05-15T00:00Z", now),
            (json!("this_week"), now, "2024-05-12T00:00Z", now),
            (json!("this_month"), now, "2024-05-01T00:00Z", now),
            (json!("this_year"), now, "2024-01-01T00:00Z", now),
            (json!("this_1_day"), now, "2024-05-15T00:00Z", now),
            (json!("this_2_days"), now, "2024-05-14T00:00Z", now),
            (json!("this_7_days"), now, "2024-05-09T00:00Z", now),
            (json!("this_90_minutes"), now, "2024-05-15T12:16Z", now),
            (json!("this_3_hours"), now, "2024-05-15T11:00Z", now),
            (json!("this_2_weeks"), now, "2024-05-05T00:00Z", now),
            (json!("this_3_months"), now, "2024-03-01T00:00Z", now),
            (json!("this_2_years"), now, "2023-01-01T00:00Z", now),
        ],
    );
}

#[test]
fn relative_previous_is_complete_units() {
    let now = "2024-05-15T13:45:30.500Z";
    check_rows(
        "UTC",
        &[
            (json!("previous_minute"), now, "2024-05-15T13:44Z", "2024-05-15T13:45Z"),
            (json!("previous_hour"), now, "2024-05-15T12:00Z", "2024-05-15T13:00Z"),
            (json!("previous_day"), now, "2024-05-14T00:00Z", "2024-05-15T00:00Z"),
            (json!("yesterday"), now, "2024-05-14T00:00Z", "2024-05-15T00:00Z"),
            (json!("previous_7_days"), now, "2024-05-08T00:00Z", "2024-05-15T00:00Z"),
            (json!("previous_30_minutes"), now, "2024-05-15T13:15Z", "2024-05-15T13:45Z"),
            (json!("previous_24_hours"), now, "2024-05-14T13:00Z", "2024-05-15T13:00Z"),
            (json!("previous_week"), now, "2024-05-05T00:00Z", "2024-05-12T00:00Z"),
            (json!("previous_2_weeks"), now, "2024-04-28T00:00Z", "2024-05-12T00:00Z"),
            (json!("previous_month"), now, "2024-04-01T00:00Z", "2024-05-01T00:00Z"),
            (json!("previous_3_months"), now, "2024-02-01T00:00Z", "2024-05-01T00:00Z"),
            (json!("previous_year"), now, "2023-01-01T00:00Z", "2024-01-01T00:00Z"),
            (json!("previous_2_years"), now, "2022-01-01T00:00Z", "2024-01-01T00:00Z"),
        ],
    );
}

#[test]
fn relative_spellings() {
    let now = "2024-05-15T13:45:30.500Z";
    check_rows(
        "UTC",
        &[
            // Legacy last_ is previous_.
            (json!("last_14_days"), now, "2024-05-01T00:00Z", "2024-05-15T00:00Z"),
            (json!("last_hour"), now, "2024-05-15T12:00Z", "2024-05-15T13:00Z"),
            (json!("last_day"), now, "2024-05-14T00:00Z", "2024-05-15T00:00Z"),
            (json!("last_week"), now, "2024-05-05T00:00Z", "2024-05-12T00:00Z"),
            // Singular and plural either way, any case, leading zeros, surrounding blanks.
            (json!("this_1_days"), now, "2024-05-15T00:00Z", now),
            (json!("previous_2_day"), now, "2024-05-13T00:00Z", "2024-05-15T00:00Z"),
            (json!("this_days"), now, "2024-05-15T00:00Z", now),
            (json!("this_07_days"), now, "2024-05-09T00:00Z", now),
            (json!("This_7_Days"), now, "2024-05-09T00:00Z", now),
            (json!("TODAY"), now, "2024-05-15T00:00Z", now),
            (json!(" this_7_days "), now, "2024-05-09T00:00Z", now),
            // Quoted JSON strings, as keen-analysis DELETE and Java dataset calls send them.
            (json!("\"this_7_days\""), now, "2024-05-09T00:00Z", now),
            (json!(" \"yesterday\" "), now, "2024-05-14T00:00Z", "2024-05-15T00:00Z"),
        ],
    );
}

#[test]
fn month_and_year_boundaries() {
    // Exactly on a boundary the current unit is empty so far. 2024-01-01 is a Monday, so its
    // week began on Sunday 2023-12-31.
    let new_year = "2024-01-01T00:00Z";
    // The last millisecond of a Sunday is still in that week.
    let sunday_end = "2023-12-31T23:59:59.999Z";
    check_rows(
        "UTC",
        &[
            (json!("previous_month"), "2024-03-31T10:00Z", "2024-02-01T00:00Z", "2024-03-01T00:00Z"),
            (json!("this_2_months"), "2024-03-31T10:00Z", "2024-02-01T00:00Z", "2024-03-31T10:00Z"),
            (json!("previous_day"), "2024-03-01T05:00Z", "2024-02-29T00:00Z", "2024-03-01T00:00Z"),
            (json!("previous_12_months"), "2024-02-29T12:00Z", "2023-02-01T00:00Z", "2024-02-01T00:00Z"),
            (json!("this_14_months"), "2024-02-29T12:00Z", "2023-01-01T00:00Z", "2024-02-29T12:00Z"),
            (json!("today"), new_year, new_year, new_year),
            (json!("this_month"), new_year, new_year, new_year),
            (json!("previous_day"), new_year, "2023-12-31T00:00Z", new_year),
            (json!("previous_month"), new_year, "2023-12-01T00:00Z", new_year),
            (json!("previous_year"), new_year, "2023-01-01T00:00Z", new_year),
            (json!("this_week"), new_year, "2023-12-31T00:00Z", new_year),
            (json!("previous_week"), new_year, "2023-12-24T00:00Z", "2023-12-31T00:00Z"),
            (json!("this_week"), sunday_end, "2023-12-31T00:00Z", sunday_end),
            (json!("this_2_weeks"), sunday_end, "2023-12-24T00:00Z", sunday_end),
            (json!("previous_minute"), sunday_end, "2023-12-31T23:58Z", "2023-12-31T23:59Z"),
            // Before 1970 the floor still rounds down.
            (json!("previous_hour"), "1969-12-31T23:30Z", "1969-12-31T22:00Z", "1969-12-31T23:00Z"),
        ],
    );
}

#[test]
fn fixed_offsets() {
    // 05:00Z is 21:00 on Tuesday 2024-05-14 at UTC−8.
    let now = "2024-05-15T05:00Z";
    check_rows(
        "-28800",
        &[
            (json!("today"), now, "2024-05-14T08:00Z", now),
            (json!("yesterday"), now, "2024-05-13T08:00Z", "2024-05-14T08:00Z"),
            (json!("this_week"), now, "2024-05-12T08:00Z", now),
            (json!("this_month"), now, "2024-05-01T08:00Z", now),
            (json!("previous_hour"), now, "2024-05-15T04:00Z", now),
            (json!("previous_year"), now, "2023-01-01T08:00Z", "2024-01-01T08:00Z"),
        ],
    );
    // 20:00Z is 01:30 on Thursday 2024-05-16 at UTC+05:30: hours fall on the half hour.
    let now = "2024-05-15T20:00Z";
    check_rows(
        "19800",
        &[
            (json!("today"), now, "2024-05-15T18:30Z", now),
            (json!("this_hour"), now, "2024-05-15T19:30Z", now),
            (json!("previous_hour"), now, "2024-05-15T18:30Z", "2024-05-15T19:30Z"),
            (json!("this_week"), now, "2024-05-11T18:30Z", now),
            (json!("this_minute"), now, now, now),
        ],
    );
    // A named zone with an odd offset: Kathmandu is UTC+05:45.
    check("this_hour".into(), "Asia/Kathmandu", now, "2024-05-15T19:15Z", now);
}

#[test]
fn new_york_spring_forward() {
    // 2024-03-10: 02:00 EST (07:00Z) jumps to 03:00 EDT, so the day is 23 hours long.
    check_rows(
        "America/New_York",
        &[
            (json!("today"), "2024-03-10T12:00Z", "2024-03-10T05:00Z", "2024-03-10T12:00Z"),
            (json!("yesterday"), "2024-03-10T12:00Z", "2024-03-09T05:00Z", "2024-03-10T05:00Z"),
            (json!("yesterday"), "2024-03-11T12:00Z", "2024-03-10T05:00Z", "2024-03-11T04:00Z"),
            (json!("previous_2_days"), "2024-03-11T12:00Z", "2024-03-09T05:00Z", "2024-03-11T04:00Z"),
            (json!("this_2_days"), "2024-03-11T12:00Z", "2024-03-10T05:00Z", "2024-03-11T12:00Z"),
            (json!("this_week"), "2024-03-11T12:00Z", "2024-03-10T05:00Z", "2024-03-11T12:00Z"),
            (json!("previous_week"), "2024-03-17T12:00Z", "2024-03-10T05:00Z", "2024-03-17T04:00Z"),
            // 07:30Z is 03:30 EDT; the previous hour is the real hour 01:00 EST to 03:00 EDT.
            (json!("this_hour"), "2024-03-10T07:30Z", "2024-03-10T07:00Z", "2024-03-10T07:30Z"),
            (json!("previous_hour"), "2024-03-10T07:30Z", "2024-03-10T06:00Z", "2024-03-10T07:00Z"),
            (json!("this_3_hours"), "2024-03-10T07:30Z", "2024-03-10T05:00Z", "2024-03-10T07:30Z"),
            (json!("this_month"), "2024-03-15T12:00Z", "2024-03-01T05:00Z", "2024-03-15T12:00Z"),
            (json!("previous_month"), "2024-04-15T12:00Z", "2024-03-01T05:00Z", "2024-04-01T04:00Z"),
        ],
    );
    // US/Pacific years start in PST.
    check_rows(
        "US/Pacific",
        &[
            (json!("this_year"), "2024-07-04T12:00Z", "2024-01-01T08:00Z", "2024-07-04T12:00Z"),
            (json!("previous_year"), "2024-07-04T12:00Z", "2023-01-01T08:00Z", "2024-01-01T08:00Z"),
        ],
    );
}

#[test]
fn new_york_fall_back() {
    // 2024-11-03: 02:00 EDT (06:00Z) falls back to 01:00 EST, so the day is 25 hours long.
    check_rows(
        "America/New_York",
        &[
            (json!("yesterday"), "2024-11-04T12:00Z", "2024-11-03T04:00Z", "2024-11-04T05:00Z"),
            (json!("today"), "2024-11-03T06:30Z", "2024-11-03T04:00Z", "2024-11-03T06:30Z"),
            // 05:30Z is the first 01:30 (EDT), 06:30Z the second (EST); each is aligned in its own offset.
            (json!("this_hour"), "2024-11-03T05:30Z", "2024-11-03T05:00Z", "2024-11-03T05:30Z"),
            (json!("this_hour"), "2024-11-03T06:30Z", "2024-11-03T06:00Z", "2024-11-03T06:30Z"),
            (json!("previous_hour"), "2024-11-03T06:30Z", "2024-11-03T05:00Z", "2024-11-03T06:00Z"),
            (json!("previous_month"), "2024-11-15T12:00Z", "2024-10-01T04:00Z", "2024-11-01T04:00Z"),
            (json!("this_week"), "2024-11-05T12:00Z", "2024-11-03T04:00Z", "2024-11-05T12:00Z"),
        ],
    );
}

#[test]
fn other_named_zones() {
    // London's clocks go forward at 01:00Z on 2024-03-31; that midnight is still GMT.
    check_rows(
        "Europe/London",
        &[
            (json!("today"), "2024-03-31T12:00Z", "2024-03-31T00:00Z", "2024-03-31T12:00Z"),
            (json!("yesterday"), "2024-04-01T12:00Z", "2024-03-31T00:00Z", "2024-03-31T23:00Z"),
        ],
    );
    // São Paulo's DST began at midnight on 2018-11-04, so that day started at 01:00 −02 (03:00Z).
    check_rows(
        "America/Sao_Paulo",
        &[
            (json!("today"), "2018-11-04T12:00Z", "2018-11-04T03:00Z", "2018-11-04T12:00Z"),
            (json!("yesterday"), "2018-11-05T12:00Z", "2018-11-04T03:00Z", "2018-11-05T02:00Z"),
            (json!("this_week"), "2018-11-05T12:00Z", "2018-11-04T03:00Z", "2018-11-05T12:00Z"),
        ],
    );
    check_rows(
        "Asia/Tokyo",
        &[(json!("today"), "2024-05-15T20:00Z", "2024-05-15T15:00Z", "2024-05-15T20:00Z")],
    );
}

#[test]
fn absolute_timeframes() {
    let now = "2024-05-15T13:45:30.500Z";
    let bounds = |start: &str, end: &str| json!({"start": start, "end": end});
    check_rows(
        "UTC",
        &[
            (
                bounds("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
                now,
                "2024-01-01T00:00Z",
                "2024-02-01T00:00Z",
            ),
            (bounds("2015-10-19", "2015-10-20"), now, "2015-10-19T00:00Z", "2015-10-20T00:00Z"),
            (
                bounds("2012-07-06T02:09:10.141000", "2012-07-06T03:00"),
                now,
                "2012-07-06T02:09:10.141Z",
                "2012-07-06T03:00Z",
            ),
            // Minute precision, extra keys ignored, and the JSON text form from query strings.
            (
                json!({"start": "2012-08-13T19:00Z", "end": "2012-08-13T20:00Z", "x": 1}),
                now,
                "2012-08-13T19:00Z",
                "2012-08-13T20:00Z",
            ),
            (
                json!(r#"{"start":"2024-01-01T00:00:00.000Z","end":"2024-01-08"}"#),
                now,
                "2024-01-01T00:00Z",
                "2024-01-08T00:00Z",
            ),
        ],
    );
    // Java and iOS offsets; the query timezone is ignored when a bound has an offset.
    check_rows(
        "Europe/Paris",
        &[
            (
                bounds("2015-01-01T12:00:00.000-0800", "2015-01-02T12:00:00-08:00"),
                now,
                "2015-01-01T20:00Z",
                "2015-01-02T20:00Z",
            ),
            (
                bounds("2024-01-01T00:00:00Z", "2024-01-02T00:00:00+01:00"),
                now,
                "2024-01-01T00:00Z",
                "2024-01-01T23:00Z",
            ),
        ],
    );
    // Naive and date-only bounds are wall-clock times in the query timezone.
    check_rows(
        "US/Pacific",
        &[(bounds("2015-10-19", "2015-10-20"), now, "2015-10-19T07:00Z", "2015-10-20T07:00Z")],
    );
    check_rows(
        "-28800",
        &[(bounds("2024-01-01T00:00:00", "2024-01-01T12:00"), now, "2024-01-01T08:00Z", "2024-01-01T20:00Z")],
    );
    check_rows(
        "Asia/Tokyo",
        &[(
            json!(r#"  {"start":"2024-01-01","end":"2024-01-02"}"#),
            now,
            "2023-12-31T15:00Z",
            "2024-01-01T15:00Z",
        )],
    );
    // 02:30 does not exist in New York on 2024-03-10 (read as 03:30 EDT); 01:30 on 2024-11-03
    // exists twice (the earlier, EDT, is taken).
    check_rows(
        "America/New_York",
        &[
            (bounds("2024-03-10T02:30", "2024-03-10T04:00"), now, "2024-03-10T07:30Z", "2024-03-10T08:00Z"),
            (bounds("2024-11-03T01:30", "2024-11-03T03:00"), now, "2024-11-03T05:30Z", "2024-11-03T08:00Z"),
        ],
    );
}

#[test]
fn relative_errors() {
    let count = |v: &str| TimeframeError::InvalidCount { value: v.to_owned() };
    let unrecognized = |v: &str| TimeframeError::Unrecognized { value: v.to_owned() };
    let unit = |v: &str, u: &str| TimeframeError::UnknownUnit { value: v.to_owned(), unit: u.to_owned() };
    let range = |v: &str| TimeframeError::OutOfRange { value: v.to_owned() };
    check_error(json!("this_0_days"), count("this_0_days"));
    check_error(json!("previous_0_weeks"), count("previous_0_weeks"));
    check_error(json!("this_-1_days"), count("this_-1_days"));
    check_error(json!("this_+1_days"), count("this_+1_days"));
    check_error(json!("this_x_days"), count("this_x_days"));
    check_error(json!("this_1.5_days"), count("this_1.5_days"));
    check_error(json!("this__days"), count("this__days"));
    check_error(json!("this_2_fortnights"), unit("this_2_fortnights", "fortnights"));
    check_error(json!("this_7_dayz"), unit("this_7_dayz", "dayz"));
    check_error(json!("this_7_days_ago"), unit("this_7_days_ago", "days_ago"));
    check_error(json!("this_7_"), unit("this_7_", ""));
    check_error(json!("previous_decade"), unit("previous_decade", "decade"));
    check_error(json!("next_7_days"), unrecognized("next_7_days"));
    check_error(json!("this"), unrecognized("this"));
    check_error(json!("7_days"), unrecognized("7_days"));
    check_error(json!("tomorrow"), unrecognized("tomorrow"));
    check_error(json!(""), unrecognized(""));
    check_error(json!("   "), unrecognized(""));
    check_error(json!("[\"this_7_days\"]"), unrecognized("[\"this_7_days\"]"));
    check_error(json!("\"{}\""), unrecognized("{}"));
    check_error(json!("this_99999999999_days"), range("this_99999999999_days"));
    check_error(json!("this_1000000_years"), range("this_1000000_years"));
    check_error(json!("previous_4000000000_hours"), range("previous_4000000000_hours"));
    check_error(json!("previous_4294967295_years"), range("previous_4294967295_years"));
}

#[test]
fn shape_and_absolute_errors() {
    let wrong = |v: &str| TimeframeError::WrongType { found: v.to_owned() };
    let invalid = |bound, v: &str| TimeframeError::InvalidBound { bound, value: v.to_owned() };
    check_error(json!(null), wrong("null"));
    check_error(json!(7), wrong("7"));
    check_error(json!(true), wrong("true"));
    check_error(json!(["this_7_days"]), wrong("[\"this_7_days\"]"));
    check_error(json!("{not json"), TimeframeError::InvalidJson { value: "{not json".to_owned() });
    check_error(json!("\"unterminated"), TimeframeError::InvalidJson { value: "\"unterminated".to_owned() });
    check_error(json!("\"7\" trailing"), TimeframeError::InvalidJson { value: "\"7\" trailing".to_owned() });
    check_error(json!({}), TimeframeError::MissingBound { bound: "start" });
    check_error(json!({"start": "2024-01-01T00:00:00Z"}), TimeframeError::MissingBound { bound: "end" });
    check_error(json!({"end": "2024-01-01T00:00:00Z"}), TimeframeError::MissingBound { bound: "start" });
    check_error(
        json!({"start": 1_420_070_400_000_i64, "end": "2024-01-01"}),
        invalid("start", "1420070400000"),
    );
    check_error(json!({"start": "yesterday", "end": "2024-01-01"}), invalid("start", "\"yesterday\""));
    check_error(json!({"start": "2024-01-01", "end": "2024-02-30"}), invalid("end", "\"2024-02-30\""));
    check_error(json!({"start": "2024-01-01", "end": null}), invalid("end", "null"));
    let empty = |s: &str, e: &str| TimeframeError::EmptyRange { start: s.to_owned(), end: e.to_owned() };
    check_error(json!({"start": "2024-01-02", "end": "2024-01-01"}), empty("2024-01-02", "2024-01-01"));
    check_error(
        json!({"start": "2024-01-01", "end": "2024-01-01T00:00:00Z"}),
        empty("2024-01-01", "2024-01-01T00:00:00Z"),
    );
    // The same instant written in two offsets is still an empty range.
    check_error(
        json!({"start": "2024-01-01T01:00:00+01:00", "end": "2024-01-01T00:00:00Z"}),
        empty("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"),
    );
}

#[test]
fn error_codes_and_messages() {
    let err = resolve(&json!("this_2_fortnights"), Timezone::default(), 0).unwrap_err();
    assert_eq!(err.keen_error_code(), "TimeframeDefinitionError");
    assert_eq!(
        err.to_string(),
        "timeframe \"this_2_fortnights\" has unknown unit \"fortnights\"; expected minutes, hours, days, weeks, months or years"
    );
    let err = Timezone::parse(Some(&json!("Mars/Olympus"))).unwrap_err();
    assert_eq!(err.keen_error_code(), "InvalidTimezoneError");
    assert_eq!(
        err.to_string(),
        "unknown timezone \"Mars/Olympus\"; expected seconds east of UTC such as -28800 or a zone name such as \"US/Pacific\""
    );
    let err =
        resolve(&json!({"start": "2024-01-02", "end": "2024-01-01"}), Timezone::default(), 0).unwrap_err();
    assert_eq!(err.to_string(), "absolute timeframe start \"2024-01-02\" must be before end \"2024-01-01\"");
    // Long values are shortened in messages.
    let long = resolve(&json!(format!("this_{}_days", "9".repeat(500))), Timezone::default(), 0).unwrap_err();
    assert!(long.to_string().len() < 300 && long.to_string().contains('…'), "{long}");
}

#[test]
fn timezones() {
    use chrono_tz::Tz;
    let ok = |tz| Ok(tz);
    let invalid = |v: &str| Err(TimeframeError::InvalidTimezone { value: v.to_owned() });
    check_timezone(None, ok(Timezone::Offset(0)));
    check_timezone(Some(json!(null)), ok(Timezone::Offset(0)));
    check_timezone(Some(json!(-28800)), ok(Timezone::Offset(-28800)));
    check_timezone(Some(json!(19800)), ok(Timezone::Offset(19800)));
    check_timezone(Some(json!(-28800.0)), ok(Timezone::Offset(-28800)));
    check_timezone(Some(json!(86399)), ok(Timezone::Offset(86399)));
    check_timezone(Some(json!("-28800")), ok(Timezone::Offset(-28800)));
    check_timezone(Some(json!("+3600")), ok(Timezone::Offset(3600)));
    check_timezone(Some(json!(" 0 ")), ok(Timezone::Offset(0)));
    check_timezone(Some(json!("")), ok(Timezone::Offset(0)));
    check_timezone(Some(json!("\"-28800\"")), ok(Timezone::Offset(-28800)));
    check_timezone(Some(json!("US/Pacific")), ok(Timezone::Named(Tz::US__Pacific)));
    check_timezone(Some(json!("\"US/Pacific\"")), ok(Timezone::Named(Tz::US__Pacific)));
    check_timezone(Some(json!("us/pacific")), ok(Timezone::Named(Tz::US__Pacific)));
    check_timezone(Some(json!("America/New_York")), ok(Timezone::Named(Tz::America__New_York)));
    check_timezone(Some(json!("UTC")), ok(Timezone::Named(Tz::UTC)));
    check_timezone(Some(json!("Etc/GMT+8")), ok(Timezone::Named(Tz::Etc__GMTPlus8)));
    check_timezone(Some(json!(" Asia/Kolkata ")), ok(Timezone::Named(Tz::Asia__Kolkata)));
    check_timezone(Some(json!("Mars/Olympus")), invalid("\"Mars/Olympus\""));
    check_timezone(Some(json!("-28800.5")), invalid("\"-28800.5\""));
    check_timezone(Some(json!("PST8PDTX")), invalid("\"PST8PDTX\""));
    check_timezone(Some(json!("\"unterminated")), invalid("\"\\\"unterminated\""));
    check_timezone(Some(json!(1.5)), invalid("1.5"));
    check_timezone(Some(json!(true)), invalid("true"));
    check_timezone(Some(json!(["UTC"])), invalid("[\"UTC\"]"));
    check_timezone(Some(json!({"name": "UTC"})), invalid("{\"name\":\"UTC\"}"));
    let out = |seconds| Err(TimeframeError::TimezoneOutOfRange { seconds });
    check_timezone(Some(json!(86400)), out(86400));
    check_timezone(Some(json!(-86400)), out(-86400));
    check_timezone(Some(json!("28800000")), out(28_800_000));
    check_timezone(Some(json!(1e30)), out(i64::MAX));
}

#[test]
fn unit_start_steps_like_interval_buckets() {
    let ny = zone("America/New_York");
    let start = at("2024-03-09T17:00:00Z");
    let days: Vec<String> =
        (0..4).map(|k| format_keen_timestamp(ny.unit_start(start, CalendarUnit::Day, k).unwrap())).collect();
    assert_eq!(
        days,
        [
            "2024-03-09T05:00:00.000Z",
            "2024-03-10T05:00:00.000Z",
            "2024-03-11T04:00:00.000Z",
            "2024-03-12T04:00:00.000Z"
        ]
    );
    let utc = Timezone::default();
    let months: Vec<String> = (0..3)
        .map(|k| {
            format_keen_timestamp(utc.unit_start(at("2024-01-31T12:00:00Z"), CalendarUnit::Month, k).unwrap())
        })
        .collect();
    assert_eq!(months, ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]);
    assert_eq!(utc.unit_start(i64::MAX, CalendarUnit::Day, 0), None);
    assert_eq!(utc.unit_start(0, CalendarUnit::Minute, i64::MAX), None);
    let range = TimeRange { start_ms: 10, end_ms: 20 };
    assert!(range.contains(10) && range.contains(19) && !range.contains(20) && !range.contains(9));
}

#[test]
fn units() {
    for (text, unit) in [
        ("minute", Some(CalendarUnit::Minute)),
        ("minutes", Some(CalendarUnit::Minute)),
        ("Hours", Some(CalendarUnit::Hour)),
        ("day", Some(CalendarUnit::Day)),
        ("weeks", Some(CalendarUnit::Week)),
        ("month", Some(CalendarUnit::Month)),
        ("YEARS", Some(CalendarUnit::Year)),
        ("dayss", None),
        ("s", None),
        ("", None),
        ("fortnight", None),
    ] {
        assert_eq!(CalendarUnit::parse(text), unit, "{text:?}");
    }
}
