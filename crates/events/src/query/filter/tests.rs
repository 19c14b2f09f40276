//! Table tests for filter parsing and matching.

use serde_json::{Value, json};

use super::*;

mod agreement;

/// One event with a bit of everything; San Francisco as its location.
fn event() -> Value {
    json!({
        "keen": {
            "timestamp": "2015-05-27T22:44:50.722Z",
            "created_at": "2015-05-27T22:44:51.000Z",
            "location": {"coordinates": [-122.4194, 37.7749]}
        },
        "price": 10,
        "ratio": 0.5,
        "debt": -3,
        "big": 18_446_744_073_709_551_615_u64,
        "name": "Bob Smith",
        "empty": "",
        "active": true,
        "nothing": null,
        "count_text": "10",
        "tags": ["red", "green", 5],
        "numbers": [1, 2, 3],
        "no_tags": [],
        "customer": {"address": {"city": "Paris", "zip": "75001"}, "age": 30},
        "signup": "2015-01-01T12:00:00-08:00"
    })
}

fn filter(name: &str, operator: &str, value: Value) -> Value {
    json!({"property_name": name, "operator": operator, "property_value": value})
}

fn check(filter_json: Value, event_json: &Value, expected: bool) {
    let filters = parse_filters(Some(&json!([filter_json])))
        .unwrap_or_else(|e| panic!("{filter_json} does not parse: {e}"));
    assert_eq!(filters[0].matches(event_json), expected, "{filter_json}");
}

fn check_table(cases: Vec<(Value, bool)>) {
    let event = event();
    for (filter_json, expected) in cases {
        check(filter_json, &event, expected);
    }
}

fn check_error(filters: Value, expected: FilterError) {
    assert_eq!(parse_filters(Some(&filters)).map(|f| f.len()), Err(expected), "{filters}");
}

#[test]
fn eq() {
    check_table(vec![
        (filter("price", "eq", json!(10)), true),
        (filter("price", "eq", json!(10.0)), true),
        (filter("price", "eq", json!(11)), false),
        (filter("ratio", "eq", json!(0.5)), true),
        (filter("debt", "eq", json!(-3)), true),
        (filter("big", "eq", json!(18_446_744_073_709_551_615_u64)), true),
        (filter("name", "eq", json!("Bob Smith")), true),
        (filter("name", "eq", json!("bob smith")), false),
        (filter("empty", "eq", json!("")), true),
        (filter("active", "eq", json!(true)), true),
        (filter("active", "eq", json!(false)), false),
        // Different JSON types are never equal.
        (filter("price", "eq", json!("10")), false),
        (filter("count_text", "eq", json!(10)), false),
        (filter("count_text", "eq", json!("10")), true),
        (filter("active", "eq", json!("true")), false),
        (filter("active", "eq", json!(1)), false),
        // Null and missing.
        (filter("nothing", "eq", json!(null)), true),
        (filter("missing", "eq", json!(null)), true),
        (filter("price", "eq", json!(null)), false),
        (filter("missing", "eq", json!(10)), false),
        (filter("nothing", "eq", json!("")), false),
        // Lists contain the value, or equal a list value as a whole.
        (filter("tags", "eq", json!("red")), true),
        (filter("tags", "eq", json!(5)), true),
        (filter("tags", "eq", json!("blue")), false),
        (filter("tags", "eq", json!(["red", "green", 5])), true),
        (filter("tags", "eq", json!(["red", "green", 5.0])), true),
        (filter("tags", "eq", json!(["red"])), false),
        (filter("no_tags", "eq", json!([])), true),
        (filter("no_tags", "eq", json!("red")), false),
        (filter("price", "eq", json!([10])), false),
        // Nested paths.
        (filter("customer.address.city", "eq", json!("Paris")), true),
        (filter("customer.age", "eq", json!(30)), true),
        (filter("customer.address", "eq", json!({"zip": "75001", "city": "Paris"})), true),
        (filter("customer.address", "eq", json!({"city": "Paris"})), false),
        (filter("customer.address.city.name", "eq", json!("Paris")), false),
        (filter("customer.missing.city", "eq", json!("Paris")), false),
        (filter("tags.0", "eq", json!("red")), false),
        // Timestamps compare as instants.
        (filter("keen.timestamp", "eq", json!("2015-05-27T22:44:50.722Z")), true),
        (filter("keen.timestamp", "eq", json!("2015-05-27T15:44:50.722-07:00")), true),
        (filter("keen.timestamp", "eq", json!("2015-05-27T22:44:50.722")), true),
        (filter("keen.timestamp", "eq", json!("2015-05-27T22:44:50Z")), false),
        (filter("signup", "eq", json!("2015-01-01T20:00:00Z")), true),
    ]);
}

#[test]
fn ne_is_the_negation_of_eq() {
    check_table(vec![
        (filter("price", "ne", json!(10)), false),
        (filter("price", "ne", json!(11)), true),
        (filter("price", "ne", json!("10")), true),
        (filter("missing", "ne", json!(1)), true),
        (filter("nothing", "ne", json!(null)), false),
        (filter("missing", "ne", json!(null)), false),
        (filter("price", "ne", json!(null)), true),
        (filter("tags", "ne", json!("red")), false),
        (filter("tags", "ne", json!("blue")), true),
        (filter("customer.address.city", "ne", json!("London")), true),
        (filter("keen.timestamp", "ne", json!("2015-05-27T23:44:50.722+01:00")), false),
    ]);
}

#[test]
fn ordering() {
    check_table(vec![
        (filter("price", "lt", json!(11)), true),
        (filter("price", "lt", json!(10)), false),
        (filter("price", "lte", json!(10)), true),
        (filter("price", "lte", json!(9.99)), false),
        (filter("price", "gt", json!(9.5)), true),
        (filter("price", "gt", json!(10)), false),
        (filter("price", "gte", json!(10)), true),
        (filter("debt", "gt", json!(-5)), true),
        (filter("debt", "lt", json!(0)), true),
        (filter("ratio", "lt", json!(1)), true),
        (filter("big", "gt", json!(1)), true),
        (filter("big", "gt", json!(-1)), true),
        (filter("customer.age", "gte", json!(18)), true),
        // Mismatched types never order.
        (filter("price", "lt", json!("11")), false),
        (filter("price", "gt", json!("1")), false),
        (filter("count_text", "lt", json!(11)), false),
        (filter("active", "gt", json!(0)), false),
        (filter("nothing", "lt", json!(5)), false),
        (filter("missing", "lt", json!(5)), false),
        (filter("customer", "gt", json!(0)), false),
        // Strings order by code point.
        (filter("count_text", "lt", json!("9")), true),
        (filter("name", "gt", json!("Alice")), true),
        (filter("name", "lt", json!("alice")), true),
        (filter("name", "gte", json!("Bob Smith")), true),
        (filter("empty", "lt", json!("a")), true),
        // Timestamps order as instants: 22:44Z is before 16:00−07:00 (23:00Z) though "22" > "16".
        (filter("keen.timestamp", "lt", json!("2015-05-27T16:00:00-07:00")), true),
        (filter("keen.timestamp", "gt", json!("2015-05-27T00:00:00Z")), true),
        (filter("keen.timestamp", "lt", json!("2015-05-28")), true),
        (filter("keen.timestamp", "gt", json!("2015-05-27T22:44:50.722Z")), false),
        (filter("keen.timestamp", "gte", json!("2015-05-27T22:44:50.722+00:00")), true),
        (filter("keen.timestamp", "lte", json!("2015-05-27T22:44:50.721Z")), false),
        (filter("signup", "gt", json!("2015-01-01T19:59:59Z")), true),
        (filter("signup", "lt", json!("2015-01-01T12:00:00-0700")), false),
        // Lists: any element.
        (filter("numbers", "gt", json!(2)), true),
        (filter("numbers", "gt", json!(3)), false),
        (filter("numbers", "lt", json!(1)), false),
        (filter("numbers", "lte", json!(1)), true),
        (filter("tags", "gt", json!("p")), true),
        (filter("no_tags", "gt", json!(0)), false),
    ]);
}

#[test]
fn exists() {
    check_table(vec![
        (filter("price", "exists", json!(true)), true),
        (filter("price", "exists", json!(false)), false),
        (filter("missing", "exists", json!(true)), false),
        (filter("missing", "exists", json!(false)), true),
        (filter("nothing", "exists", json!(true)), true),
        (filter("price", "exists", json!("false")), false),
        (filter("price", "exists", json!("TRUE")), true),
        (filter("customer.address", "exists", json!(true)), true),
        (filter("customer.address.country", "exists", json!(false)), true),
        (filter("customer.address.city.name", "exists", json!(true)), false),
        (filter("keen.location.coordinates", "exists", json!(true)), true),
        (filter("no_tags", "exists", json!(true)), true),
    ]);
}

#[test]
fn in_operator() {
    check_table(vec![
        (filter("price", "in", json!([1, 10])), true),
        (filter("price", "in", json!([1, 2])), false),
        (filter("price", "in", json!([])), false),
        (filter("price", "in", json!(["10"])), false),
        (filter("name", "in", json!(["Bob Smith", "Ann"])), true),
        (filter("tags", "in", json!(["blue", "green"])), true),
        (filter("tags", "in", json!(["blue"])), false),
        (filter("missing", "in", json!([null])), true),
        (filter("missing", "in", json!([1])), false),
        (filter("nothing", "in", json!([null, 1])), true),
        (filter("keen.timestamp", "in", json!(["2015-05-27T22:44:50.722+00:00"])), true),
    ]);
}

#[test]
fn contains_and_not_contains() {
    check_table(vec![
        (filter("name", "contains", json!("Smith")), true),
        (filter("name", "contains", json!("smith")), false),
        (filter("name", "contains", json!("")), true),
        (filter("empty", "contains", json!("")), true),
        (filter("customer.address.city", "contains", json!("ari")), true),
        // Membership, not substring, on lists.
        (filter("tags", "contains", json!("red")), true),
        (filter("tags", "contains", json!("re")), false),
        (filter("tags", "contains", json!(5)), true),
        (filter("no_tags", "contains", json!("red")), false),
        (filter("price", "contains", json!("1")), false),
        (filter("price", "contains", json!(10)), false),
        (filter("name", "contains", json!(5)), false),
        (filter("missing", "contains", json!("x")), false),
        (filter("nothing", "contains", json!("x")), false),
        (filter("name", "not_contains", json!("Smith")), false),
        (filter("name", "not_contains", json!("Jones")), true),
        (filter("tags", "not_contains", json!("red")), false),
        (filter("tags", "not_contains", json!("blue")), true),
        (filter("missing", "not_contains", json!("x")), true),
        (filter("price", "not_contains", json!("1")), true),
    ]);
}

#[test]
fn starts_with_and_regex() {
    check_table(vec![
        (filter("name", "starts_with", json!("Bob")), true),
        (filter("name", "starts_with", json!("Smith")), false),
        (filter("name", "starts_with", json!("")), true),
        (filter("tags", "starts_with", json!("gr")), true),
        (filter("price", "starts_with", json!("1")), false),
        (filter("missing", "starts_with", json!("")), false),
        (filter("name", "regex", json!("^Bob")), true),
        (filter("name", "regex", json!("S.ith")), true),
        (filter("name", "regex", json!("smith$")), false),
        (filter("name", "regex", json!("(?i)smith$")), true),
        (filter("name", "regex", json!("^Smith")), false),
        (filter("empty", "regex", json!("^$")), true),
        (filter("customer.address.zip", "regex", json!(r"^\d{5}$")), true),
        (filter("tags", "regex", json!("^gr")), true),
        (filter("tags", "regex", json!("^blue$")), false),
        (filter("price", "regex", json!("10")), false),
        (filter("active", "regex", json!("true")), false),
        (filter("missing", "regex", json!(".*")), false),
        (filter("nothing", "regex", json!(".*")), false),
    ]);
}

#[test]
fn within() {
    let near = |lon: f64, lat: f64, miles: f64| {
        filter(
            "keen.location.coordinates",
            "within",
            json!({"coordinates": [lon, lat], "max_distance_miles": miles}),
        )
    };
    // Oakland is about 8.4 miles from San Francisco, Los Angeles about 347.
    check_table(vec![
        (near(-122.2712, 37.8044, 10.0), true),
        (near(-122.2712, 37.8044, 5.0), false),
        (near(-118.2437, 34.0522, 400.0), true),
        (near(-118.2437, 34.0522, 300.0), false),
        (near(-122.4194, 37.7749, 0.0), true),
        // Swapping longitude and latitude lands elsewhere entirely.
        (near(37.7749, -12.4194, 1000.0), false),
    ]);
    let target = near(-122.4194, 37.7749, 1.0);
    check(target.clone(), &json!({"keen": {"timestamp": "2015-05-27T22:44:50.722Z"}}), false);
    check(target.clone(), &json!({"keen": {"location": {"coordinates": "37.7,-122.4"}}}), false);
    check(target.clone(), &json!({"keen": {"location": {"coordinates": [-122.4194]}}}), false);
    check(target.clone(), &json!({"keen": {"location": {"coordinates": [-122.4194, 37.7749, 3]}}}), false);
    check(target, &json!({"keen": {"location": {"coordinates": [-122.4194, 95.0]}}}), false);
    // Antipodes are half the circumference apart, not NaN.
    let distance = compare::miles_between((0.0, 0.0), (180.0, 0.0));
    assert!((distance - std::f64::consts::PI * 3958.7613).abs() < 1e-6, "{distance}");
}

#[test]
fn or_filters() {
    let price = |v: i64| filter("price", "eq", json!(v));
    let name = |v: &str| filter("name", "eq", json!(v));
    check_table(vec![
        (json!({"operator": "or", "operands": [price(11), name("Bob Smith")]}), true),
        (json!({"operator": "or", "operands": [price(11), name("Ann")]}), false),
        (json!({"operator": "or", "operands": [price(10)]}), true),
        // The list may come as property_value; property_name is ignored.
        (json!({"operator": "or", "property_value": [price(11), price(10)]}), true),
        (json!({"property_name": "x", "operator": "or", "operands": [price(10)]}), true),
        // Lists inside are ANDed.
        (json!({"operator": "or", "operands": [[price(10), name("Ann")], [price(11)]]}), false),
        (
            json!({"operator": "or", "operands": [[price(10), name("Ann")], [price(10), name("Bob Smith")]]}),
            true,
        ),
        (
            json!({"operator": "or", "operands": [[price(10), name("Ann")], filter("active", "eq", json!(true))]}),
            true,
        ),
        // Nested ors.
        (
            json!({"operator": "or", "operands": [price(1), {"operator": "or", "operands": [price(2), price(10)]}]}),
            true,
        ),
        (json!({"operator": "or", "operands": [filter("missing", "exists", json!(false)), price(1)]}), true),
    ]);
}

#[test]
fn filter_lists_are_anded() {
    let filters = parse_filters(Some(&json!([
        filter("price", "gte", json!(5)),
        filter("tags", "contains", json!("red")),
        filter("keen.timestamp", "lt", json!("2016-01-01")),
    ])))
    .unwrap();
    let event = event();
    assert!(filters.iter().all(|f| f.matches(&event)));
    let mut cheaper = event.clone();
    cheaper["price"] = json!(1);
    assert!(!filters.iter().all(|f| f.matches(&cheaper)));
    // An event that is not an object has no properties.
    assert!(!filters[0].matches(&json!(7)));
    assert!(
        parse_filters(Some(&json!([filter("x", "exists", json!(false))]))).unwrap()[0].matches(&json!([1]))
    );
}

#[test]
fn accepted_encodings() {
    let text = r#"[{"property_name":"price","operator":"eq","property_value":10,
                    "property_type":"Number","coercion_type":"Number"}]"#;
    for value in [json!(text), json!(format!("  {text}  ")), serde_json::from_str::<Value>(text).unwrap()] {
        let filters = parse_filters(Some(&value)).unwrap();
        assert_eq!(filters.len(), 1);
        assert!(filters[0].matches(&event()));
    }
    for empty in
        [None, Some(json!(null)), Some(json!("")), Some(json!("  ")), Some(json!([])), Some(json!("[]"))]
    {
        assert_eq!(parse_filters(empty.as_ref()).unwrap().len(), 0, "{empty:?}");
    }
}

#[test]
fn parse_errors() {
    let missing = |field, filter: &str| FilterError::MissingField { field, filter: filter.to_owned() };
    let unknown = |operator: &str| FilterError::UnknownOperator { operator: operator.to_owned() };
    let bad_name = |name: &str| FilterError::InvalidPropertyName { name: name.to_owned() };
    let bad_value = |operator, expected, value: &str| FilterError::InvalidValue {
        operator,
        expected,
        value: value.to_owned(),
    };
    let number_or_string = "a number or a string";
    let geo = "{\"coordinates\": [longitude, latitude], \"max_distance_miles\": miles}";
    let one = |name: &str, op: &str, value: Value| json!([filter(name, op, value)]);

    check_error(json!("not json"), FilterError::InvalidJson { value: "not json".to_owned() });
    check_error(
        json!("[{\"property_name\":"),
        FilterError::InvalidJson { value: "[{\"property_name\":".to_owned() },
    );
    check_error(json!(5), FilterError::NotAList { found: "5".to_owned() });
    check_error(json!("{}"), FilterError::NotAList { found: "{}".to_owned() });
    // Object texts are built the way the parser prints them, whatever serde_json's key order.
    check_error(
        filter("a", "eq", json!(1)),
        FilterError::NotAList { found: filter("a", "eq", json!(1)).to_string() },
    );
    check_error(json!("\"[]\""), FilterError::NotAList { found: "\"[]\"".to_owned() });
    check_error(json!([5]), FilterError::NotAnObject { filter: "5".to_owned() });
    check_error(
        json!([[filter("a", "eq", json!(1))]]),
        FilterError::NotAnObject { filter: json!([filter("a", "eq", json!(1))]).to_string() },
    );
    for (incomplete, field) in [
        (json!({"property_name": "a", "property_value": 1}), "operator"),
        (json!({"operator": "eq", "property_value": 1}), "property_name"),
        (json!({"property_name": "a", "operator": "eq"}), "property_value"),
        (json!({"property_name": "a", "operator": "exists"}), "property_value"),
        (json!({"operator": "or"}), "operands"),
    ] {
        check_error(json!([incomplete]), missing(field, &incomplete.to_string()));
    }
    check_error(one("a", "equals", json!(1)), unknown("\"equals\""));
    check_error(one("a", "EQ", json!(1)), unknown("\"EQ\""));
    check_error(one("a", "not_in", json!([1])), unknown("\"not_in\""));
    check_error(one("a", "", json!(1)), unknown("\"\""));
    check_error(json!([{"property_name": "a", "operator": 5, "property_value": 1}]), unknown("5"));
    check_error(json!([{"property_name": "a", "operator": null, "property_value": 1}]), unknown("null"));
    check_error(one("", "eq", json!(1)), bad_name("\"\""));
    check_error(one("a..b", "eq", json!(1)), bad_name("\"a..b\""));
    check_error(one(".a", "eq", json!(1)), bad_name("\".a\""));
    check_error(one("a.", "eq", json!(1)), bad_name("\"a.\""));
    check_error(json!([{"property_name": 5, "operator": "eq", "property_value": 1}]), bad_name("5"));
    check_error(
        json!([{"property_name": ["a"], "operator": "eq", "property_value": 1}]),
        bad_name("[\"a\"]"),
    );
    check_error(one("a", "lt", json!(true)), bad_value("lt", number_or_string, "true"));
    check_error(one("a", "gte", json!(null)), bad_value("gte", number_or_string, "null"));
    check_error(one("a", "gt", json!([1])), bad_value("gt", number_or_string, "[1]"));
    check_error(one("a", "lte", json!({"a": 1})), bad_value("lte", number_or_string, "{\"a\":1}"));
    check_error(one("a", "exists", json!("maybe")), bad_value("exists", "true or false", "\"maybe\""));
    check_error(one("a", "exists", json!(1)), bad_value("exists", "true or false", "1"));
    check_error(one("a", "exists", json!(null)), bad_value("exists", "true or false", "null"));
    check_error(one("a", "in", json!("a")), bad_value("in", "a list of values", "\"a\""));
    check_error(one("a", "in", json!(null)), bad_value("in", "a list of values", "null"));
    check_error(
        one("a", "contains", json!(null)),
        bad_value("contains", "a string, number or boolean", "null"),
    );
    check_error(
        one("a", "not_contains", json!(["x"])),
        bad_value("not_contains", "a string, number or boolean", "[\"x\"]"),
    );
    check_error(one("a", "starts_with", json!(5)), bad_value("starts_with", "a string", "5"));
    check_error(one("a", "regex", json!(5)), bad_value("regex", "a string", "5"));
    check_error(
        one("a", "regex", json!("(")),
        FilterError::InvalidRegex { pattern: "(".to_owned(), reason: "error: unclosed group".to_owned() },
    );
    check_error(
        one("a", "regex", json!("a{2,1}")),
        FilterError::InvalidRegex {
            pattern: "a{2,1}".to_owned(),
            reason: "error: invalid repetition count range, the start must be <= the end".to_owned(),
        },
    );
    let coords = "keen.location.coordinates";
    let circle = |c: Value, m: Value| json!({"coordinates": c, "max_distance_miles": m});
    check_error(
        one("location.coordinates", "within", circle(json!([0, 0]), json!(1))),
        FilterError::GeoPropertyName { name: "\"location.coordinates\"".to_owned() },
    );
    check_error(
        one("", "within", circle(json!([0, 0]), json!(1))),
        FilterError::GeoPropertyName { name: "\"\"".to_owned() },
    );
    check_error(one(coords, "within", json!("INVALID")), bad_value("within", geo, "\"INVALID\""));
    check_error(
        one(coords, "within", json!({"coordinates": [0, 0]})),
        bad_value("within", geo, "{\"coordinates\":[0,0]}"),
    );
    for bad_circle in [
        circle(json!([0, 91]), json!(1)),
        circle(json!([181, 0]), json!(1)),
        circle(json!([0, 0, 0]), json!(1)),
        circle(json!(["0", "0"]), json!(1)),
        circle(json!([0, 0]), json!(-1)),
        circle(json!([0, 0]), json!("5")),
        circle(json!(null), json!(1)),
    ] {
        check_error(
            one(coords, "within", bad_circle.clone()),
            bad_value("within", geo, &bad_circle.to_string()),
        );
    }
    let or_list = "a non-empty list of filters or lists of filters";
    check_error(json!([{"operator": "or", "operands": []}]), bad_value("or", or_list, "[]"));
    check_error(json!([{"operator": "or", "operands": [[]]}]), bad_value("or", or_list, "[[]]"));
    check_error(json!([{"operator": "or", "operands": "x"}]), bad_value("or", or_list, "\"x\""));
    check_error(
        json!([{"operator": "or", "operands": [filter("a", "nope", json!(1))]}]),
        unknown("\"nope\""),
    );
    check_error(
        json!([{"operator": "or", "operands": [5]}]),
        FilterError::NotAnObject { filter: "5".to_owned() },
    );
}

#[test]
fn error_codes_and_messages() {
    let error = |filters: Value| parse_filters(Some(&filters)).unwrap_err();
    let geo =
        error(json!([filter("location", "within", json!({"coordinates": [0, 0], "max_distance_miles": 1}))]));
    assert_eq!(geo.keen_error_code(), "InvalidPropertyNameForGeoFilter");
    assert_eq!(
        geo.to_string(),
        "you specified a geo filter on a property other than keen.location.coordinates, which is not allowed; you specified \"location\""
    );
    let name = error(json!([filter("a..b", "eq", json!(1))]));
    assert_eq!(name.keen_error_code(), "InvalidPropertyNameError");
    assert_eq!(
        name.to_string(),
        "filter property_name \"a..b\" is not a property path such as \"customer.address.city\""
    );
    let value = error(json!([filter("a", "lt", json!(true))]));
    assert_eq!(value.keen_error_code(), "InvalidPropertyValueError");
    assert_eq!(
        value.to_string(),
        "filter operator \"lt\" needs a number or a string as property_value, not true"
    );
    assert_eq!(
        error(json!([filter("a", "regex", json!("("))])).keen_error_code(),
        "InvalidPropertyValueError"
    );
    let operator = error(json!([filter("a", "like", json!(1))]));
    assert_eq!(operator.keen_error_code(), "InvalidFilterError");
    assert!(
        operator.to_string().starts_with("unknown filter operator \"like\"; expected one of eq, ne,"),
        "{operator}"
    );
    assert_eq!(error(json!("nope")).keen_error_code(), "InvalidFilterError");
    // Long values are shortened in messages.
    let long = error(json!([filter("a", "in", json!("x".repeat(500)))])).to_string();
    assert!(long.len() < 300 && long.contains('…'), "{long}");
}

/// Cached partials and answers are keyed by the filters' `Debug` text, so a filter parsed
/// again for a repeated query must print the same text.
#[test]
fn a_filter_parsed_twice_prints_the_same_debug_text() {
    let colours: Vec<Value> = (0..16).map(|i| json!(format!("colour-{i}"))).collect();
    let mixed: Vec<Value> =
        colours.iter().cloned().chain([json!("2015-05-27T22:44:50.722Z"), json!(10), json!(null)]).collect();
    let filters = json!([
        filter("name", "eq", json!("Bob Smith")),
        filter("price", "ne", json!(3)),
        filter("price", "gte", json!(2.5)),
        filter("keen.timestamp", "lt", json!("2015-05-27T22:44:50.722Z")),
        filter("name", "exists", json!(true)),
        filter("name", "in", json!(mixed)),
        filter("tags", "contains", json!("red")),
        filter("tags", "not_contains", json!("blue")),
        filter("name", "starts_with", json!("Bo")),
        filter("name", "regex", json!("^B(ob|en)")),
        filter("keen.location.coordinates", "within", json!({"coordinates": [-122.4, 37.8], "max_distance_miles": 10})),
        {"operator": "or", "operands": [filter("price", "lt", json!(1)), filter("name", "in", json!(colours))]},
    ]);
    let text = || format!("{:?}", parse_filters(Some(&filters)).unwrap());
    assert_eq!(text(), text());
}
