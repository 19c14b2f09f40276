//! Comparing and combining JSON values for analyses: distinctness, sums, sort order.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;

/// Distinct values in first-seen order, compared as JSON with numbers by value.
pub(super) fn distinct<'v>(values: &[&'v Value]) -> Vec<&'v Value> {
    let mut seen = HashSet::new();
    values
        .iter()
        .copied()
        .filter(|value| {
            let mut key = String::new();
            canonical(value, &mut key);
            seen.insert(key)
        })
        .collect()
}

/// A text equal for equal JSON values: numbers equal by value print alike, object keys sorted.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(number) => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if number.is_f64() && float.fract() == 0.0 && float.abs() < 9.2e18 {
                // A whole float prints as the integer it equals, so 1.0 meets 1.
                out.push_str(&(float as i64).to_string());
            } else {
                out.push_str(&number.to_string());
            }
        }
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut sorted: Vec<_> = fields.iter().collect();
            sorted.sort_by(|left, right| left.0.cmp(right.0));
            out.push('{');
            for (name, field) in sorted {
                out.push_str(&Value::from(name.as_str()).to_string());
                out.push(':');
                canonical(field, out);
                out.push(',');
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// An integer while every value is one and the total fits in i64, else a float.
pub(super) fn sum(numbers: &[(f64, &Value)]) -> Value {
    let integer = numbers.iter().try_fold(0_i64, |total, (_, value)| total.checked_add(value.as_i64()?));
    match integer {
        Some(total) => total.into(),
        None => Value::from(numbers.iter().map(|(number, _)| number).sum::<f64>()),
    }
}

/// Row order for one order_by key: nulls last in either direction.
pub(super) fn compare_for_order(left: &Value, right: &Value, descending: bool) -> Ordering {
    match (left.is_null(), right.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => compare_values(left, right).reverse(),
        _ => compare_values(left, right),
    }
}

pub(super) fn compare_values(left: &Value, right: &Value) -> Ordering {
    let rank = |value: &Value| match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match (left, right) {
        (Value::Bool(l), Value::Bool(r)) => l.cmp(r),
        (Value::Number(l), Value::Number(r)) => {
            l.as_f64().unwrap_or(f64::NAN).total_cmp(&r.as_f64().unwrap_or(f64::NAN))
        }
        (Value::String(l), Value::String(r)) => l.cmp(r),
        (Value::Array(l), Value::Array(r)) => l
            .iter()
            .zip(r)
            .map(|(l, r)| compare_values(l, r))
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| l.len().cmp(&r.len())),
        _ => rank(left).cmp(&rank(right)),
    }
}
