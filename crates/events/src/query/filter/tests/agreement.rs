//! Operators that must agree with one another: `in` with `eq` on each operand, and every
//! operator on a number found in a column with the same operator on its JSON.

use serde_json::{Value, json};

use super::filter;
use crate::query::filter::{NumberTest, parse_filters};

#[test]
fn in_passes_where_eq_passes_with_one_of_its_operands() {
    let found = [
        None,
        Some(json!("SKU-1")),
        Some(json!("sku-1")),
        Some(json!("")),
        Some(json!("2015-05-27T22:44:50.722Z")),
        Some(json!("2015-05-27T15:44:50.722-07:00")),
        Some(json!("2015-05-27T22:44:50.723Z")),
        Some(json!(10)),
        Some(json!(10.0)),
        Some(json!(null)),
        Some(json!(true)),
        Some(json!(["SKU-2", "x"])),
        Some(json!(["2015-05-27T22:44:50.722+00:00"])),
        Some(json!({"SKU-1": 1})),
    ];
    let operands = [
        json!([]),
        json!(["SKU-1"]),
        json!(["SKU-3", "SKU-2", "SKU-1"]),
        json!(["SKU-1 ", "Sku-1"]),
        json!(["", null]),
        json!(["2015-05-27T22:44:50.722+00:00"]),
        json!(["x", "2015-05-27T23:44:50.722+01:00", 10]),
        json!(["10", true]),
        json!([["SKU-2", "x"], {"SKU-1": 1}]),
    ];
    let mut passed = 0;
    for operands in &operands {
        let members = parse_filters(Some(&json!([filter("p", "in", operands.clone())]))).unwrap();
        for value in &found {
            let event = match value {
                Some(value) => json!({"p": value}),
                None => json!({}),
            };
            let any_eq = operands.as_array().unwrap().iter().any(|operand| {
                parse_filters(Some(&json!([filter("p", "eq", operand.clone())]))).unwrap()[0].matches(&event)
            });
            assert_eq!(members[0].matches(&event), any_eq, "{value:?} in {operands}");
            passed += usize::from(any_eq);
        }
    }
    assert!(passed >= 12, "the table tries values that are in the list: {passed}");
}

#[test]
fn numbers_pass_as_their_json_does() {
    let numbers = [
        json!(0),
        json!(-0.0),
        json!(1),
        json!(1.0),
        json!(2.5),
        json!(-3),
        json!(9_007_199_254_740_992_u64),
    ];
    let operands = [
        json!(1),
        json!(1.0),
        json!(2.5),
        json!(-3),
        json!(0),
        json!("1"),
        json!(null),
        json!(true),
        json!([1, 2]),
        json!([2.5, "x"]),
        json!(9_007_199_254_740_993_u64),
        json!(-9_007_199_254_740_993_i64),
    ];
    let operators =
        ["eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains", "starts_with"];
    let (mut decided, mut compared) = (0, 0);
    for operator in operators {
        for operand in &operands {
            let operand = match (operator, operand) {
                ("exists", _) => json!(true),
                ("in", Value::Array(_)) => operand.clone(),
                ("in", other) => json!([other]),
                ("starts_with", _) => json!("1"),
                _ => operand.clone(),
            };
            let Ok(filters) = parse_filters(Some(&json!([filter("n", operator, operand.clone())]))) else {
                continue;
            };
            for number in &numbers {
                let float = number.as_f64().unwrap();
                if let Some(passed) = filters[0].passes_number(float) {
                    decided += 1;
                    assert_eq!(passed, filters[0].passes(Some(number)), "{operator} {operand} on {number}");
                }
                // The comparison the columnar scan runs in a loop of its own.
                if let Some(test) = filters[0].number_test() {
                    compared += 1;
                    let passed = match test {
                        NumberTest::Equal(operand) => float == operand,
                        NumberTest::Unequal(operand) => float != operand,
                        NumberTest::Below(operand) => float < operand,
                        NumberTest::AtMost(operand) => float <= operand,
                        NumberTest::Above(operand) => float > operand,
                        NumberTest::AtLeast(operand) => float >= operand,
                    };
                    assert_eq!(
                        passed,
                        filters[0].passes(Some(number)),
                        "{test:?} for {operator} {operand} on {number}"
                    );
                }
            }
        }
    }
    assert!(decided > 300, "only {decided} answers came without JSON");
    assert!(compared > 150, "only {compared} answers came from one comparison");
    let huge = parse_filters(Some(&json!([filter("n", "gt", json!(9_007_199_254_740_993_u64))]))).unwrap();
    assert_eq!(huge[0].passes_number(1.0), None, "an integer past 2^53 needs the exact comparison");
}
