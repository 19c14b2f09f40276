//! Table tests for analyses: every analysis type, group_by, interval series, order_by/limit and
//! the parameter errors.

use serde_json::{Map, Value, json};

use super::*;
use crate::timestamp::parse_keen_timestamp;

mod intervals;

fn params(query: &Value) -> Map<String, Value> {
    query.as_object().cloned().unwrap_or_else(|| panic!("test query {query} is not an object"))
}

fn kind(name: &str) -> AnalysisType {
    AnalysisType::parse(name).unwrap_or_else(|| panic!("bad test analysis {name:?}"))
}

fn analysis(name: &str, query: &Value) -> Analysis {
    Analysis::parse(kind(name), &params(query)).unwrap_or_else(|e| panic!("{name} {query}: {e}"))
}

fn at(text: &str) -> i64 {
    parse_keen_timestamp(text).unwrap_or_else(|| panic!("bad test timestamp {text:?}"))
}

fn zone(text: &str) -> Timezone {
    Timezone::parse(Some(&json!(text))).unwrap_or_else(|e| panic!("bad test timezone {text:?}: {e}"))
}

/// Evaluates without an interval; the events' timestamps do not matter then.
fn check(name: &str, query: Value, events: &[Value], expected: Value) {
    let result =
        analysis(name, &query).evaluate(events.iter().map(|event| (0, event)), None, Timezone::default());
    assert_eq!(result, Ok(expected), "{name} {query}");
}

/// Runs `check` over rows of (analysis, query, expected) on one set of events.
fn check_rows(events: &[Value], rows: &[(&str, Value, Value)]) {
    for (name, query, expected) in rows {
        check(name, query.clone(), events, expected.clone());
    }
}

fn evaluate_series(
    name: &str,
    query: &Value,
    tz: &str,
    (start, end): (&str, &str),
    events: &[(&str, Value)],
) -> Result<Value, AnalysisError> {
    let range = TimeRange { start_ms: at(start), end_ms: at(end) };
    analysis(name, query).evaluate(
        events.iter().map(|(time, event)| (at(time), event)),
        Some(range),
        zone(tz),
    )
}

/// Evaluates a series; `expected` lists (bucket start, bucket end, value).
fn check_series(
    name: &str,
    query: Value,
    tz: &str,
    range: (&str, &str),
    events: &[(&str, Value)],
    expected: &[(&str, &str, Value)],
) {
    let expected: Vec<Value> = expected
        .iter()
        .map(|(start, end, value)| json!({"timeframe": {"start": start, "end": end}, "value": value}))
        .collect();
    assert_eq!(
        evaluate_series(name, &query, tz, range, events),
        Ok(Value::Array(expected)),
        "{name} {query} in {tz}"
    );
}

fn check_parse_error(name: &str, query: Value, expected: AnalysisError, code: &str) {
    let result = Analysis::parse(kind(name), &params(&query)).map(|_| ());
    assert_eq!(result, Err(expected.clone()), "{name} {query}");
    assert_eq!(expected.keen_error_code(), code, "{name} {query}");
}

/// `base` with the parameters of `extra` added.
fn with(base: Value, extra: &Value) -> Value {
    let mut query = params(&base);
    query.extend(params(extra));
    Value::Object(query)
}

fn prices(values: &[Value]) -> Vec<Value> {
    values.iter().map(|price| json!({"price": price})).collect()
}

#[test]
fn analysis_type_names() {
    let names = [
        "count",
        "count_unique",
        "minimum",
        "maximum",
        "sum",
        "average",
        "median",
        "percentile",
        "standard_deviation",
        "select_unique",
    ];
    for name in names {
        assert_eq!(AnalysisType::parse(name).map(AnalysisType::name), Some(name));
    }
    for name in ["extraction", "funnel", "Count", "", "sum "] {
        assert_eq!(AnalysisType::parse(name), None, "{name:?}");
    }
}

#[test]
fn every_analysis_type_on_mixed_values() {
    // Numbers 4, 1, 3, 1.0, 2 and five values the numeric analyses skip: a numeric string, a
    // null, a missing property, a list and a boolean.
    let mut events = prices(&[json!(4), json!(1), json!(3), json!(1.0), json!(2), json!("9"), json!(null)]);
    events.extend([json!({}), json!({"price": [7]}), json!({"price": true})]);
    let price = json!({"target_property": "price"});
    let percentile = |p: Value| json!({"target_property": "price", "percentile": p});
    check_rows(
        &events,
        &[
            ("count", json!({}), json!(10)),
            ("count_unique", price.clone(), json!(7)),
            ("select_unique", price.clone(), json!([4, 1, 3, 2, "9", [7], true])),
            ("minimum", price.clone(), json!(1)),
            ("maximum", price.clone(), json!(4)),
            ("sum", price.clone(), json!(11.0)),
            ("average", price.clone(), json!(2.2)),
            ("median", price.clone(), json!(2)),
            ("percentile", percentile(json!(90)), json!(4)),
            ("percentile", percentile(json!(0)), json!(1)),
            // Rank 2 of the sorted values is the float that tied with 1; data values keep their form.
            ("percentile", percentile(json!(40)), json!(1.0)),
            ("percentile", percentile(json!(40.01)), json!(2)),
            ("percentile", percentile(json!("90")), json!(4)),
        ],
    );
}

#[test]
fn reference_examples_of_section_5_8() {
    let events = prices(&[json!(10), json!(20)]);
    let price = json!({"target_property": "price"});
    let percentile = |p: u32| json!({"target_property": "price", "percentile": p});
    check_rows(
        &events,
        &[
            ("count", json!({}), json!(2)),
            ("median", price.clone(), json!(10)),
            ("percentile", percentile(50), json!(10)),
            ("percentile", percentile(100), json!(20)),
            ("count_unique", price.clone(), json!(2)),
            ("average", price.clone(), json!(15.0)),
            ("sum", price.clone(), json!(30)),
            ("minimum", price.clone(), json!(10)),
            ("maximum", price.clone(), json!(20)),
            ("standard_deviation", price.clone(), json!(5.0)),
            ("select_unique", price.clone(), json!([10, 20])),
        ],
    );
}

#[test]
fn standard_deviation_is_the_population_one() {
    let events = prices(&[2, 4, 4, 4, 5, 5, 7, 9].map(Value::from));
    check("standard_deviation", json!({"target_property": "price"}), &events, json!(2.0));
    check("standard_deviation", json!({"target_property": "price"}), &prices(&[json!(3)]), json!(0.0));
}

#[test]
fn empty_inputs() {
    let price = json!({"target_property": "price"});
    let rows = [
        ("count", json!({}), json!(0)),
        ("count_unique", price.clone(), json!(0)),
        ("select_unique", price.clone(), json!([])),
        ("minimum", price.clone(), json!(null)),
        ("maximum", price.clone(), json!(null)),
        ("sum", price.clone(), json!(0)),
        ("average", price.clone(), json!(null)),
        ("median", price.clone(), json!(null)),
        ("percentile", json!({"target_property": "price", "percentile": 50}), json!(null)),
        ("standard_deviation", price.clone(), json!(null)),
    ];
    check_rows(&[], &rows);
    // Events without a single number behave the same, except that they are counted.
    let strings = prices(&[json!("a"), json!("b")]);
    check_rows(&strings, &rows[3..]);
    check("count", json!({}), &strings, json!(2));
}

#[test]
fn schema_drift_keeps_types_apart() {
    let events = prices(&[json!("10"), json!(5), json!("abc"), json!(5.0), json!(10)]);
    let price = json!({"target_property": "price"});
    check_rows(
        &events,
        &[
            ("count_unique", price.clone(), json!(4)),
            ("select_unique", price.clone(), json!(["10", 5, "abc", 10])),
            ("sum", price.clone(), json!(20.0)),
            ("maximum", price.clone(), json!(10)),
            ("average", price.clone(), json!(6.666666666666667)),
        ],
    );
}

#[test]
fn distinct_values_compare_as_json() {
    let events = [
        json!({"v": {"a": 1, "b": [1, 2]}}),
        json!({"v": {"b": [1.0, 2], "a": 1.0}}),
        json!({"v": [1, 2]}),
        json!({"v": [2, 1]}),
        json!({"v": "1"}),
        json!({"v": 1}),
        json!({"v": false}),
    ];
    check_rows(
        &events,
        &[
            ("count_unique", json!({"target_property": "v"}), json!(6)),
            (
                "select_unique",
                json!({"target_property": "v"}),
                json!([{"a": 1, "b": [1, 2]}, [1, 2], [2, 1], "1", 1, false]),
            ),
        ],
    );
}

#[test]
fn nested_paths_and_sums() {
    let events = [json!({"item": {"price": 2}}), json!({"item": {"price": 3}}), json!({"item": 5})];
    check("sum", json!({"target_property": "item.price"}), &events, json!(5));
    let huge = prices(&[json!(i64::MAX), json!(1)]);
    check("sum", json!({"target_property": "price"}), &huge, json!(9_223_372_036_854_775_808.0));
    // count ignores target_property, even a malformed one.
    check("count", json!({"target_property": ["x"]}), &huge, json!(2));
}

#[test]
fn group_by_one_property() {
    let events = [
        json!({"item": {"id": 1}, "price": 10}),
        json!({"item": {"id": 2}, "price": 5}),
        json!({"item": {"id": 1}, "price": 3}),
        json!({"price": 1}),
        json!({"item": {"id": "1"}, "price": 4}),
        json!({"item": {"id": 1.0}, "price": 2}),
        json!({"item": {"id": null}, "price": 6}),
    ];
    check(
        "sum",
        json!({"target_property": "price", "group_by": "item.id"}),
        &events,
        json!([
            {"item.id": 1, "result": 15},
            {"item.id": 2, "result": 5},
            {"item.id": null, "result": 7},
            {"item.id": "1", "result": 4},
        ]),
    );
    check(
        "select_unique",
        json!({"target_property": "price", "group_by": ["item.id"]}),
        &events[..3],
        json!([{"item.id": 1, "result": [10, 3]}, {"item.id": 2, "result": [5]}]),
    );
    check("count", json!({"group_by": "item.id"}), &[], json!([]));
}

#[test]
fn group_by_several_properties() {
    let events = [
        json!({"user": "bob", "country": "FR", "tags": ["a", "b"]}),
        json!({"user": "bob", "country": "US", "tags": ["a", "b"]}),
        json!({"user": "ann", "country": "FR", "tags": ["b"]}),
        json!({"user": "bob", "country": "FR"}),
    ];
    check(
        "count",
        json!({"group_by": ["user", "country"]}),
        &events,
        json!([
            {"user": "bob", "country": "FR", "result": 2},
            {"user": "bob", "country": "US", "result": 1},
            {"user": "ann", "country": "FR", "result": 1},
        ]),
    );
    // A list of scalars groups as a whole.
    check(
        "count",
        json!({"group_by": "tags"}),
        &events,
        json!([{"tags": ["a", "b"], "result": 2}, {"tags": ["b"], "result": 1}, {"tags": null, "result": 1}]),
    );
    // Numbers from a query string name properties.
    check("count", json!({"group_by": 2024}), &[json!({"2024": true})], json!([{"2024": true, "result": 1}]));
}

#[test]
fn group_by_objects_fails() {
    let cases = [
        (json!({"item": {"id": 1}}), "item"),
        (json!({"item": [{"id": 1}]}), "item"),
        (json!({"item": [1, {"id": 1}]}), "item"),
    ];
    for (event, property) in cases {
        let result = analysis("count", &json!({"group_by": property})).evaluate(
            [(0, &event)].into_iter(),
            None,
            Timezone::default(),
        );
        let expected = AnalysisError::GroupByObject { property: property.to_owned() };
        assert_eq!(result, Err(expected.clone()), "{event}");
        assert_eq!(expected.keen_error_code(), "InvalidGroupByError");
    }
}

#[test]
fn order_by_and_limit() {
    let events = [
        json!({"user": "bob", "price": 5}),
        json!({"user": "ann", "price": 7}),
        json!({"price": 9}),
        json!({"user": "cid", "price": 7}),
        json!({"user": "dan"}),
        json!({"user": 3, "price": 1}),
    ];
    let sum = |extra: Value| with(json!({"target_property": "price", "group_by": "user"}), &extra);
    let row = |user: Value, result: Value| json!({"user": user, "result": result});
    check_rows(
        &events,
        &[
            (
                "sum",
                sum(json!({"order_by": "result"})),
                json!([
                    row(json!("dan"), json!(0)),
                    row(json!(3), json!(1)),
                    row(json!("bob"), json!(5)),
                    row(json!("ann"), json!(7)),
                    row(json!("cid"), json!(7)),
                    row(json!(null), json!(9))
                ]),
            ),
            (
                "sum",
                sum(json!({"order_by": {"property_name": "result", "direction": "DESC"}, "limit": 2})),
                json!([row(json!(null), json!(9)), row(json!("ann"), json!(7))]),
            ),
            (
                "sum",
                sum(json!({
                    "order_by": [{"property_name": "result", "direction": "desc"}, {"property_name": "user", "direction": "DESC"}],
                    "limit": "3",
                })),
                json!([row(json!(null), json!(9)), row(json!("cid"), json!(7)), row(json!("ann"), json!(7))]),
            ),
            // Numbers sort before strings and the null group stays last in either direction.
            (
                "sum",
                sum(json!({"order_by": "user", "limit": 10})),
                json!([
                    row(json!(3), json!(1)),
                    row(json!("ann"), json!(7)),
                    row(json!("bob"), json!(5)),
                    row(json!("cid"), json!(7)),
                    row(json!("dan"), json!(0)),
                    row(json!(null), json!(9))
                ]),
            ),
            (
                "sum",
                sum(json!({"order_by": {"property_name": "user", "direction": "DESC"}, "limit": 2})),
                json!([row(json!("dan"), json!(0)), row(json!("cid"), json!(7))]),
            ),
            // Null results (no numbers for dan) also go last.
            (
                "average",
                sum(json!({"order_by": {"property_name": "result", "direction": "DESC"}, "limit": 1})),
                json!([row(json!(null), json!(9.0))]),
            ),
            (
                "average",
                sum(json!({"order_by": {"property_name": "result", "direction": null}})),
                json!([
                    row(json!(3), json!(1.0)),
                    row(json!("bob"), json!(5.0)),
                    row(json!("ann"), json!(7.0)),
                    row(json!("cid"), json!(7.0)),
                    row(json!(null), json!(9.0)),
                    row(json!("dan"), json!(null))
                ]),
            ),
        ],
    );
}

/// With a limit, the rows of many groups wait in a buffer that keeps only the first `limit`
/// each time it fills (`ROWS_BUFFERED`): the answer must still be the start of the whole
/// ordered answer, ties in first-seen order.
#[test]
fn a_limit_over_many_groups_is_the_start_of_the_whole_order() {
    let events: Vec<Value> =
        (0..5_000).map(|i| json!({"user": format!("u{i}"), "price": i * 7_919 % 100})).collect();
    for direction in ["ASC", "DESC"] {
        let ordered = json!({
            "target_property": "price",
            "group_by": "user",
            "order_by": {"property_name": "result", "direction": direction},
        });
        let whole = analysis("sum", &ordered)
            .evaluate(events.iter().map(|event| (0, event)), None, Timezone::default())
            .unwrap_or_else(|e| panic!("{ordered}: {e}"));
        let whole = whole.as_array().expect("grouped rows");
        assert_eq!(whole.len(), events.len());
        for limit in [1, 25, 1_000, 1_500, 4_999] {
            let expected = Value::Array(whole[..limit].to_vec());
            check("sum", with(ordered.clone(), &json!({"limit": limit})), &events, expected);
        }
    }
}

#[test]
fn parse_errors() {
    use AnalysisError as E;
    let missing = |analysis| E::MissingTargetProperty { analysis };
    let target = |value: &str| E::InvalidTargetProperty { value: value.to_owned() };
    let percentile = |value: &str| E::InvalidPercentile { value: value.to_owned() };
    let group_by = |value: &str| E::InvalidGroupBy { value: value.to_owned() };
    let interval = |value: &str| E::InvalidInterval { value: value.to_owned() };
    let order_by = |value: &str| E::InvalidOrderBy { value: value.to_owned() };
    let limit = |value: &str| E::InvalidLimit { value: value.to_owned() };
    let grouped = |extra: Value| with(json!({"target_property": "price", "group_by": "user"}), &extra);
    let cases = [
        ("sum", json!({}), missing("sum"), "MissingRequiredPropertyError"),
        (
            "select_unique",
            json!({"target_property": null}),
            missing("select_unique"),
            "MissingRequiredPropertyError",
        ),
        (
            "count_unique",
            json!({"target_property": " "}),
            missing("count_unique"),
            "MissingRequiredPropertyError",
        ),
        ("sum", json!({"target_property": "a..b"}), target("\"a..b\""), "InvalidPropertyNameError"),
        ("sum", json!({"target_property": ["a"]}), target("[\"a\"]"), "InvalidPropertyNameError"),
        ("percentile", json!({"target_property": "p"}), E::MissingPercentile, "InvalidPercentileError"),
        (
            "percentile",
            json!({"target_property": "p", "percentile": 100.5}),
            percentile("100.5"),
            "InvalidPercentileError",
        ),
        (
            "percentile",
            json!({"target_property": "p", "percentile": -1}),
            percentile("-1"),
            "InvalidPercentileError",
        ),
        (
            "percentile",
            json!({"target_property": "p", "percentile": "x"}),
            percentile("\"x\""),
            "InvalidPercentileError",
        ),
        (
            "percentile",
            json!({"target_property": "p", "percentile": [50]}),
            percentile("[50]"),
            "InvalidPercentileError",
        ),
        ("count", json!({"group_by": []}), group_by("[]"), "InvalidGroupByError"),
        ("count", json!({"group_by": "a..b"}), group_by("\"a..b\""), "InvalidGroupByError"),
        ("count", json!({"group_by": ["a", "a"]}), group_by("[\"a\",\"a\"]"), "InvalidGroupByError"),
        ("count", json!({"group_by": ["a", true]}), group_by("[\"a\",true]"), "InvalidGroupByError"),
        ("count", json!({"group_by": {"a": 1}}), group_by("{\"a\":1}"), "InvalidGroupByError"),
        ("count", json!({"interval": "fortnightly"}), interval("\"fortnightly\""), "InvalidIntervalError"),
        ("count", json!({"interval": "every_0_days"}), interval("\"every_0_days\""), "InvalidIntervalError"),
        ("count", json!({"interval": "every__days"}), interval("\"every__days\""), "InvalidIntervalError"),
        (
            "count",
            json!({"interval": "every_+2_days"}),
            interval("\"every_+2_days\""),
            "InvalidIntervalError",
        ),
        (
            "count",
            json!({"interval": "every_2_fortnights"}),
            interval("\"every_2_fortnights\""),
            "InvalidIntervalError",
        ),
        ("count", json!({"interval": "every_2"}), interval("\"every_2\""), "InvalidIntervalError"),
        ("count", json!({"interval": 7}), interval("7"), "InvalidIntervalError"),
        ("count", json!({"order_by": "result"}), E::OrderByWithoutGroupBy, "InvalidOrderByError"),
        (
            "sum",
            grouped(json!({"order_by": "price"})),
            E::UnknownOrderByProperty { property: "price".to_owned() },
            "InvalidOrderByError",
        ),
        ("sum", grouped(json!({"order_by": 5})), order_by("5"), "InvalidOrderByError"),
        ("sum", grouped(json!({"order_by": []})), order_by("[]"), "InvalidOrderByError"),
        (
            "sum",
            grouped(json!({"order_by": {"direction": "ASC"}})),
            order_by("{\"direction\":\"ASC\"}"),
            "InvalidOrderByError",
        ),
        (
            "sum",
            grouped(json!({"order_by": [{"property_name": "result", "direction": "UP"}]})),
            order_by("[{\"property_name\":\"result\",\"direction\":\"UP\"}]"),
            "InvalidOrderByError",
        ),
        ("sum", grouped(json!({"limit": 5})), E::LimitWithoutOrderBy, "InvalidLimitError"),
        ("sum", grouped(json!({"order_by": "result", "limit": 0})), limit("0"), "InvalidLimitError"),
        ("sum", grouped(json!({"order_by": "result", "limit": -1})), limit("-1"), "InvalidLimitError"),
        ("sum", grouped(json!({"order_by": "result", "limit": 1.5})), limit("1.5"), "InvalidLimitError"),
        ("sum", grouped(json!({"order_by": "result", "limit": "x"})), limit("\"x\""), "InvalidLimitError"),
    ];
    for (name, query, expected, code) in cases {
        check_parse_error(name, query, expected, code);
    }
}
