//! Table tests for interval series: clipping, calendar units, named zones, zero-filled
//! groups and the bucket limit.

use serde_json::json;

use super::*;

#[test]
fn interval_daily_clips_first_and_last_buckets() {
    let events = [
        ("2024-05-01T04:00Z", json!({})),
        ("2024-05-01T05:00Z", json!({})),
        ("2024-05-01T23:59:59.999Z", json!({})),
        ("2024-05-02T00:00Z", json!({})),
        ("2024-05-03T04:59Z", json!({})),
        ("2024-05-03T05:00Z", json!({})),
    ];
    check_series(
        "count",
        json!({"interval": "daily"}),
        "UTC",
        ("2024-05-01T05:00Z", "2024-05-03T05:00Z"),
        &events,
        &[
            ("2024-05-01T05:00:00.000Z", "2024-05-02T00:00:00.000Z", json!(2)),
            ("2024-05-02T00:00:00.000Z", "2024-05-03T00:00:00.000Z", json!(1)),
            ("2024-05-03T00:00:00.000Z", "2024-05-03T05:00:00.000Z", json!(1)),
        ],
    );
}

#[test]
fn interval_units_and_alignment() {
    // 2015-01-01 is a Thursday, so the first week is clipped to end on Sunday the 4th.
    check_series(
        "count",
        json!({"interval": "weekly"}),
        "UTC",
        ("2015-01-01", "2015-01-20"),
        &[("2015-01-03T12:00Z", json!({})), ("2015-01-04T00:00Z", json!({}))],
        &[
            ("2015-01-01T00:00:00.000Z", "2015-01-04T00:00:00.000Z", json!(1)),
            ("2015-01-04T00:00:00.000Z", "2015-01-11T00:00:00.000Z", json!(1)),
            ("2015-01-11T00:00:00.000Z", "2015-01-18T00:00:00.000Z", json!(0)),
            ("2015-01-18T00:00:00.000Z", "2015-01-20T00:00:00.000Z", json!(0)),
        ],
    );
    check_series(
        "sum",
        json!({"interval": "every_2_days", "target_property": "n"}),
        "UTC",
        ("2024-05-01T12:00Z", "2024-05-06T00:00Z"),
        &[("2024-05-02T00:00Z", json!({"n": 1})), ("2024-05-04T00:00Z", json!({"n": 2}))],
        &[
            ("2024-05-01T12:00:00.000Z", "2024-05-03T00:00:00.000Z", json!(1)),
            ("2024-05-03T00:00:00.000Z", "2024-05-05T00:00:00.000Z", json!(2)),
            ("2024-05-05T00:00:00.000Z", "2024-05-06T00:00:00.000Z", json!(0)),
        ],
    );
    check_series(
        "count",
        json!({"interval": "Every_1_Months"}),
        "UTC",
        ("2024-01-15", "2024-03-10"),
        &[],
        &[
            ("2024-01-15T00:00:00.000Z", "2024-02-01T00:00:00.000Z", json!(0)),
            ("2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z", json!(0)),
            ("2024-03-01T00:00:00.000Z", "2024-03-10T00:00:00.000Z", json!(0)),
        ],
    );
    // A +05:30 day starts at 18:30Z (keen-js #411).
    check_series(
        "count",
        json!({"interval": "daily"}),
        "19800",
        ("2024-01-01T00:00Z", "2024-01-02T00:00Z"),
        &[("2024-01-01T18:30Z", json!({}))],
        &[
            ("2024-01-01T00:00:00.000Z", "2024-01-01T18:30:00.000Z", json!(0)),
            ("2024-01-01T18:30:00.000Z", "2024-01-02T00:00:00.000Z", json!(1)),
        ],
    );
}

#[test]
fn interval_in_a_named_zone_across_dst() {
    // New York springs forward on 2024-03-10, a 23-hour day.
    check_series(
        "count",
        json!({"interval": "daily"}),
        "America/New_York",
        ("2024-03-09T05:00Z", "2024-03-12T04:00Z"),
        &[("2024-03-11T03:59Z", json!({})), ("2024-03-11T04:00Z", json!({}))],
        &[
            ("2024-03-09T05:00:00.000Z", "2024-03-10T05:00:00.000Z", json!(0)),
            ("2024-03-10T05:00:00.000Z", "2024-03-11T04:00:00.000Z", json!(1)),
            ("2024-03-11T04:00:00.000Z", "2024-03-12T04:00:00.000Z", json!(1)),
        ],
    );
}

#[test]
fn interval_with_group_by_zero_fills_every_group() {
    let events = [
        ("2024-05-01T10:00Z", json!({"user": "bob", "price": 3})),
        ("2024-05-02T10:00Z", json!({"user": "ann", "price": 4})),
        ("2024-05-02T11:00Z", json!({"user": "bob", "price": 5})),
        // Outside the range: neither counted nor a group.
        ("2024-05-04T10:00Z", json!({"user": "cid", "price": 6})),
    ];
    let range = ("2024-05-01", "2024-05-03");
    let day1 = ("2024-05-01T00:00:00.000Z", "2024-05-02T00:00:00.000Z");
    let day2 = ("2024-05-02T00:00:00.000Z", "2024-05-03T00:00:00.000Z");
    let expect = |first: Value, second: Value| [(day1.0, day1.1, first), (day2.0, day2.1, second)];
    let grouped = |extra: Value| {
        with(json!({"interval": "daily", "target_property": "price", "group_by": "user"}), &extra)
    };
    check_series(
        "count",
        grouped(json!({})),
        "UTC",
        range,
        &events,
        &expect(
            json!([{"user": "bob", "result": 1}, {"user": "ann", "result": 0}]),
            json!([{"user": "bob", "result": 1}, {"user": "ann", "result": 1}]),
        ),
    );
    check_series(
        "select_unique",
        grouped(json!({})),
        "UTC",
        range,
        &events,
        &expect(
            json!([{"user": "bob", "result": [3]}, {"user": "ann", "result": []}]),
            json!([{"user": "bob", "result": [5]}, {"user": "ann", "result": [4]}]),
        ),
    );
    check_series(
        "maximum",
        grouped(json!({"order_by": {"property_name": "result", "direction": "DESC"}, "limit": 1})),
        "UTC",
        range,
        &events,
        &expect(json!([{"user": "bob", "result": 3}]), json!([{"user": "bob", "result": 5}])),
    );
    check_series("count", grouped(json!({})), "UTC", range, &[], &expect(json!([]), json!([])));
}

#[test]
fn interval_limits() {
    let count = |interval: &str, range: (&str, &str)| {
        evaluate_series("count", &json!({"interval": interval}), "UTC", range, &[])
            .map(|series| series.as_array().map_or(0, Vec::len))
    };
    assert_eq!(count("minutely", ("2024-05-01T00:00Z", "2024-05-02T17:40Z")), Ok(2_500));
    assert_eq!(
        count("minutely", ("2024-05-01T00:00Z", "2024-05-02T17:41Z")),
        Err(AnalysisError::TooManyIntervals)
    );
    assert_eq!(AnalysisError::TooManyIntervals.keen_error_code(), "TooManyIntervalsError");
    assert_eq!(count("every_1000000_years", ("2024-05-01", "2024-05-02")), Ok(1));
    assert_eq!(count("hourly", ("2024-05-01T00:30Z", "2024-05-01T02:00Z")), Ok(2));

    let series = analysis("count", &json!({"interval": "daily"}));
    assert!(series.needs_timeframe());
    assert!(!analysis("count", &json!({"interval": ""})).needs_timeframe());
    let result = series.evaluate(std::iter::empty(), None, Timezone::default());
    assert_eq!(result, Err(AnalysisError::MissingTimeframe));
    assert_eq!(AnalysisError::MissingTimeframe.keen_error_code(), "TimeframeDefinitionError");
}
