//! How a filter's value meets an event's value: path lookup, typed equality and ordering,
//! instants for timestamp strings, list membership and great-circle distance.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;

use serde_json::{Number, Value};

use crate::timestamp::parse_keen_timestamp;

/// Mean Earth radius in miles (6,371.0088 km), for haversine distances.
const EARTH_RADIUS_MILES: f64 = 3958.7613;

/// A filter's `property_value`, with its instant worked out once if it reads as a timestamp.
#[derive(Debug, Clone)]
pub(super) struct Operand {
    value: Value,
    instant: Option<i64>,
    number: Exact,
}

/// An operand as a float, for comparing numbers found in columns without their JSON.
#[derive(Debug, Clone, Copy)]
pub(super) enum Exact {
    /// A number the float holds exactly: comparing floats gives what `compare_numbers` gives.
    Number(f64),
    NotANumber,
    /// An integer beyond 2^53, which only an exact comparison orders right.
    Inexact,
}

impl Operand {
    pub(super) fn new(value: Value) -> Operand {
        let instant = value.as_str().and_then(parse_keen_timestamp);
        let number = match &value {
            Value::Number(n) if n.is_f64() => n.as_f64().map_or(Exact::Inexact, Exact::Number),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if i.unsigned_abs() <= 1 << 53 => Exact::Number(i as f64),
                (None, Some(u)) if u <= 1 << 53 => Exact::Number(u as f64),
                _ => Exact::Inexact,
            },
            _ => Exact::NotANumber,
        };
        Operand { value, instant, number }
    }

    pub(super) fn exact_number(&self) -> Exact {
        self.number
    }
}

/// An `in` filter's operands, with those that are strings also in a set: a string found is
/// looked up, not compared with each operand in turn. Its `Debug` text is the operands' alone,
/// in their order: cache keys are made of the filters' `Debug` text, and a set's order
/// changes from one set to the next.
#[derive(Clone)]
pub(super) struct Members {
    operands: Vec<Operand>,
    texts: HashSet<String, foldhash::fast::RandomState>,
    /// The instants of the operands that read as timestamps.
    instants: Vec<i64>,
}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.operands.fmt(f)
    }
}

impl Members {
    pub(super) fn new(values: &[Value]) -> Members {
        let operands: Vec<Operand> = values.iter().cloned().map(Operand::new).collect();
        Members {
            texts: values.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            instants: operands.iter().filter_map(|operand| operand.instant).collect(),
            operands,
        }
    }

    pub(super) fn operands(&self) -> &[Operand] {
        &self.operands
    }

    /// Whether `found` equals one of the operands, as `equals` has it: a string equals a
    /// string operand of the same text, or a timestamp operand of the same instant, and
    /// nothing else.
    pub(super) fn contain(&self, found: Option<&Value>) -> bool {
        match found {
            Some(Value::String(text)) => {
                self.texts.contains(text.as_str())
                    || (!self.instants.is_empty()
                        && parse_keen_timestamp(text).is_some_and(|ms| self.instants.contains(&ms)))
            }
            _ => self.operands.iter().any(|operand| equals(found, operand)),
        }
    }
}

/// The value at a dot path through nested objects; `None` when any step is missing or not an object.
pub(super) fn lookup<'a>(event: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(event, |value, segment| value.as_object()?.get(segment))
}

/// `eq`: a missing property equals only null; a list equals a list operand as a whole and
/// otherwise "contains" the operand.
pub(super) fn equals(found: Option<&Value>, operand: &Operand) -> bool {
    match found {
        None => operand.value.is_null(),
        Some(Value::Array(items)) if !operand.value.is_array() => {
            items.iter().any(|item| scalar_equals(item, operand))
        }
        Some(value) => scalar_equals(value, operand),
    }
}

/// Ordered comparison of the event's value (or any element of a list) against the operand.
pub(super) fn ordered(found: Option<&Value>, operand: &Operand, accept: impl Fn(Ordering) -> bool) -> bool {
    any_element(found, |value| {
        let ordering = match (value, &operand.value) {
            (Value::Number(left), Value::Number(right)) => compare_numbers(left, right),
            (Value::String(left), Value::String(right)) => {
                Some(compare_strings(left, right, operand.instant))
            }
            _ => None,
        };
        ordering.is_some_and(&accept)
    })
}

/// `contains`: a substring of a string property, or a member of a list property.
pub(super) fn contains(found: Option<&Value>, operand: &Operand) -> bool {
    match found {
        Some(Value::String(text)) => operand.value.as_str().is_some_and(|needle| text.contains(needle)),
        Some(Value::Array(items)) => items.iter().any(|item| scalar_equals(item, operand)),
        _ => false,
    }
}

/// Whether the value, or any element of a list value, is a string passing `test`.
pub(super) fn any_string(found: Option<&Value>, test: impl Fn(&str) -> bool) -> bool {
    any_element(found, |value| value.as_str().is_some_and(&test))
}

/// `[longitude, latitude]` in degrees, when the value is exactly that and in range.
pub(super) fn coordinates(found: Option<&Value>) -> Option<(f64, f64)> {
    let [longitude, latitude] = found?.as_array()?.as_slice() else {
        return None;
    };
    let (longitude, latitude) = (longitude.as_f64()?, latitude.as_f64()?);
    ((-180.0..=180.0).contains(&longitude) && (-90.0..=90.0).contains(&latitude))
        .then_some((longitude, latitude))
}

/// Great-circle distance between two `(longitude, latitude)` points, by the haversine formula.
pub(super) fn miles_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat_a, lat_b) = (a.1.to_radians(), b.1.to_radians());
    let half_dlat = (lat_b - lat_a) / 2.0;
    let half_dlon = (b.0 - a.0).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_dlon.sin().powi(2);
    // Rounding can push h a hair past 1 for antipodal points, where asin would give NaN.
    2.0 * EARTH_RADIUS_MILES * h.sqrt().min(1.0).asin()
}

fn any_element(found: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match found {
        Some(Value::Array(items)) => items.iter().any(test),
        Some(value) => test(value),
        None => false,
    }
}

fn scalar_equals(value: &Value, operand: &Operand) -> bool {
    match (value, &operand.value) {
        // Unequal strings compare equal only as instants (a timestamp operand).
        (Value::String(left), Value::String(right)) => {
            left == right
                || (operand.instant.is_some() && compare_strings(left, right, operand.instant).is_eq())
        }
        (left, right) => json_equals(left, right),
    }
}

/// Two timestamps compare as instants, anything else by code point.
fn compare_strings(left: &str, right: &str, right_instant: Option<i64>) -> Ordering {
    if let Some(right_ms) = right_instant
        && let Some(left_ms) = parse_keen_timestamp(left)
    {
        return left_ms.cmp(&right_ms);
    }
    left.cmp(right)
}

/// Exact for integers, by f64 for anything with a fraction or mixing signs beyond i64.
fn compare_numbers(left: &Number, right: &Number) -> Option<Ordering> {
    if let (Some(l), Some(r)) = (left.as_i64(), right.as_i64()) {
        return Some(l.cmp(&r));
    }
    if let (Some(l), Some(r)) = (left.as_u64(), right.as_u64()) {
        return Some(l.cmp(&r));
    }
    left.as_f64()?.partial_cmp(&right.as_f64()?)
}

/// Structural equality in which numbers compare by value (`1` equals `1.0`).
fn json_equals(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) => compare_numbers(l, r).is_some_and(Ordering::is_eq),
        (Value::Array(l), Value::Array(r)) => {
            l.len() == r.len() && l.iter().zip(r).all(|(a, b)| json_equals(a, b))
        }
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len() && l.iter().all(|(key, a)| r.get(key).is_some_and(|b| json_equals(a, b)))
        }
        _ => left == right,
    }
}
