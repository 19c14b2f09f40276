//! How the values a scan finds become JSON, the byte keys that group, memoise and count them
//! (kept inline when short), the numbers targets hold, and the sorted runs percentiles rank.

use std::sync::Arc;

use serde_json::{Number, Value};

use crate::part::Found;
use crate::query::analysis::values::canonical;
use crate::timestamp::format_keen_timestamp;

/// A number as the JSON it was stored as.
pub(super) fn number_value(number: f64, integer: bool) -> Value {
    match integer {
        true if number < 0.0 => Value::from(number as i64),
        true => Value::from(number as u64),
        false => Number::from_f64(number).map_or(Value::Null, Value::Number),
    }
}

/// The JSON value found (None: missing).
pub(super) fn to_json(found: &Found<'_>) -> Option<Value> {
    Some(match found {
        Found::Missing => return None,
        Found::Null => Value::Null,
        Found::Str(text) | Found::Word(text, _) => Value::String((*text).to_owned()),
        Found::Num(number, integer) => number_value(*number, *integer),
        Found::Bool(value) => Value::Bool(*value),
        Found::Json(text) => serde_json::from_str(text).ok()?,
        Found::Time(ms) => Value::String(format_keen_timestamp(*ms)),
        Found::Value(value) => value.clone(),
    })
}

/// Whether a group_by value is an object or a list holding one (which cannot be grouped by).
pub(super) fn holds_object(found: &Found<'_>) -> bool {
    let check = |value: &Value| match value {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(Value::is_object),
        _ => false,
    };
    match found {
        Found::Json(text) => serde_json::from_str::<Value>(text).is_ok_and(|value| check(&value)),
        Found::Value(value) => check(value),
        _ => false,
    }
}

/// A key equal for values a filter cannot tell apart (missing and null differ; the integer
/// flag is kept).
pub(super) fn memo_key(found: &Found<'_>, out: &mut Vec<u8>) {
    match found {
        Found::Missing => out.push(0xff),
        Found::Num(number, integer) => {
            out.push(if *integer { 0xfe } else { 0xfd });
            out.extend_from_slice(&number.to_bits().to_le_bytes());
        }
        Found::Json(text) => text_key(0xfc, text, out),
        other => group_key(other, out),
    }
}

/// Appends a key equal for values the analyses treat as one (`canonical`): null and missing
/// alike, numbers by value.
pub(super) fn group_key(found: &Found<'_>, out: &mut Vec<u8>) {
    match found {
        Found::Missing | Found::Null => out.push(0),
        Found::Bool(value) => out.extend_from_slice(&[1, u8::from(*value)]),
        Found::Num(number, _) => float_key(*number, out),
        Found::Str(text) | Found::Word(text, _) => text_key(4, text, out),
        Found::Time(ms) => text_key(4, &format_keen_timestamp(*ms), out),
        Found::Json(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => value_key(&value, out),
            Err(_) => text_key(5, text, out),
        },
        Found::Value(value) => value_key(value, out),
    }
}

pub(super) fn value_key(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0),
        Value::Bool(value) => out.extend_from_slice(&[1, u8::from(*value)]),
        Value::Number(number) if number.is_f64() => float_key(number.as_f64().unwrap_or(f64::NAN), out),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => {
                out.push(2);
                out.extend_from_slice(&integer.to_le_bytes());
            }
            None => text_key(5, &number.to_string(), out),
        },
        Value::String(text) => text_key(4, text, out),
        other => {
            let mut text = String::new();
            canonical(other, &mut text);
            text_key(5, &text, out);
        }
    }
}

/// A float's key: whole values as the integer they equal (so 1.0 meets 1), as `canonical` does.
pub(super) fn float_key(number: f64, out: &mut Vec<u8>) {
    if number.fract() == 0.0 && number.abs() < 9.2e18 {
        out.push(2);
        out.extend_from_slice(&(number as i64).to_le_bytes());
    } else {
        out.push(3);
        out.extend_from_slice(&number.to_bits().to_le_bytes());
    }
}

pub(super) fn text_key(tag: u8, text: &str, out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Values for median and percentile: each value's float, and how it prints (`FLOAT`,
/// `INTEGER`, or `OTHERS` plus its place in `others`, for integers a float cannot hold).
/// Values are pushed in scan order; `sealed` sorts them.
#[derive(Debug, Clone, Default)]
pub(super) struct Run {
    pub(super) values: Vec<(f64, u32)>,
    pub(super) others: Vec<Value>,
    /// Once sealed with repeated values: how many values the entries up to each one stand
    /// for (cumulative). Empty: each entry is one value.
    ends: Vec<u64>,
}

/// What each value in a run counts for in `Run::bytes`.
pub(super) const RANKED_BYTES: usize = 16;
pub(super) const FLOAT: u32 = 0;
pub(super) const INTEGER: u32 = 1;
pub(super) const OTHERS: u32 = 2;

impl Run {
    pub(super) fn push(&mut self, value: f64, stored: Stored) {
        let printed = match stored {
            Stored::Float => FLOAT,
            Stored::Integer => INTEGER,
            Stored::Other(other) => {
                self.others.push(*other);
                OTHERS + (self.others.len() - 1) as u32
            }
        };
        self.values.push((value, printed));
    }

    pub(super) fn value(&self, (value, printed): (f64, u32)) -> Value {
        match printed {
            FLOAT => number_value(value, false),
            INTEGER => number_value(value, true),
            other => self.others[(other - OTHERS) as usize].clone(),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        self.values.len() * RANKED_BYTES + self.ends.len() * 8 + self.others.len() * 48
    }

    /// How many values the run holds.
    pub(super) fn len(&self) -> usize {
        self.rows_before(self.values.len())
    }

    /// How many values the first `entries` entries stand for.
    fn rows_before(&self, entries: usize) -> usize {
        match entries.checked_sub(1) {
            _ if self.ends.is_empty() => entries,
            None => 0,
            Some(last) => self.ends[last] as usize,
        }
    }

    /// The run sorted stably by value (ties stay in scan order); when every value prints
    /// alike, by a radix sort, each value kept once with its count.
    pub(super) fn sealed(mut self) -> Run {
        let Some(&(_, printed)) = self.values.first() else { return self };
        if self.others.is_empty() && self.values.iter().all(|(_, p)| *p == printed) {
            // Equal values print alike here, so the order among ties cannot show.
            let mut keys: Vec<u64> = self.values.iter().map(|(value, _)| float_order(*value)).collect();
            radix_sort(&mut keys);
            self.values.clear();
            let mut ends = Vec::new();
            for (row, key) in keys.iter().enumerate() {
                if row > 0 && keys[row - 1] == *key {
                    *ends.last_mut().expect("a value was kept") += 1;
                } else {
                    self.values.push((from_order(*key), printed));
                    ends.push(row as u64 + 1);
                }
            }
            self.ends = if self.values.len() < keys.len() { ends } else { Vec::new() };
        } else {
            self.values.sort_by(|left, right| left.0.total_cmp(&right.0));
        }
        self.values.shrink_to_fit();
        self
    }
}

/// Sorts keys by their bytes, least significant first, skipping the bytes all keys share.
fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < 1024 {
        keys.sort_unstable();
        return;
    }
    let mut counts = [[0usize; 256]; 8];
    for key in keys.iter() {
        for (byte, count) in counts.iter_mut().enumerate() {
            count[(key >> (8 * byte)) as usize & 0xff] += 1;
        }
    }
    let mut sorted = vec![0u64; keys.len()];
    for (byte, count) in counts.iter().enumerate() {
        if count.contains(&keys.len()) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut total = 0;
        for (slot, n) in next.iter_mut().zip(count) {
            *slot = total;
            total += n;
        }
        for key in keys.iter() {
            let slot = &mut next[(key >> (8 * byte)) as usize & 0xff];
            sorted[*slot] = *key;
            *slot += 1;
        }
        std::mem::swap(keys, &mut sorted);
    }
}

/// The value at 1-based `rank` in the stable sort of the runs' values taken in order (runs are
/// each sorted; ties rank by run, then by place in the run): the least value with at least
/// `rank` values at or below it, found by bisecting the order of floats, then the tie that
/// falls on the rank.
pub(super) fn ranked(runs: &[Arc<Run>], rank: usize) -> Value {
    // The entries of a run below `key` (or at most `key`).
    let entries = |key: u64, inclusive: bool| {
        move |run: &Arc<Run>| {
            run.values.partition_point(
                |(v, _)| if inclusive { float_order(*v) <= key } else { float_order(*v) < key },
            )
        }
    };
    let below =
        |key: u64, inclusive: bool| move |run: &Arc<Run>| run.rows_before(entries(key, inclusive)(run));
    let (mut low, mut high) = (0u64, u64::MAX);
    while low < high {
        let middle = low + (high - low) / 2;
        if runs.iter().map(below(middle, true)).sum::<usize>() >= rank {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    let mut needed = rank - runs.iter().map(below(low, false)).sum::<usize>();
    for run in runs {
        let (first, base) = (entries(low, false)(run), below(low, false)(run));
        let ties = below(low, true)(run) - base;
        if needed <= ties {
            let tie = (first..).find(|&entry| run.rows_before(entry + 1) - base >= needed);
            return run.value(run.values[tie.expect("the tie is within the run")]);
        }
        needed -= ties;
    }
    unreachable!("rank {rank} is within the runs' values")
}

/// Maps floats to integers in `total_cmp` order.
pub(super) fn float_order(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The float `float_order` maps to `key`.
fn from_order(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

/// A value's key (`group_key`), kept inline when short, as most are, so that sets and maps of
/// keys hold them without an allocation each.
#[derive(Debug, Clone)]
pub(super) enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

pub(super) const INLINE_KEY: usize = 22;

impl Key {
    pub(super) fn new(bytes: &[u8]) -> Key {
        if bytes.len() <= INLINE_KEY {
            let mut inline = [0; INLINE_KEY];
            inline[..bytes.len()].copy_from_slice(bytes);
            Key::Inline { len: bytes.len() as u8, bytes: inline }
        } else {
            Key::Heap(bytes.into())
        }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(bytes) => bytes,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.as_bytes().len()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    /// As the bytes hash, so that maps of keys can be searched with byte slices.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// A numeric target value: its float, and how it was stored.
#[derive(Debug, Clone)]
pub(super) enum Stored {
    Integer,
    Float,
    /// Boxed: rare, and it would make every aggregate as large as a JSON value.
    Other(Box<Value>),
}

impl Stored {
    pub(super) fn value(&self, number: f64) -> Value {
        match self {
            Stored::Integer => number_value(number, true),
            Stored::Float => number_value(number, false),
            Stored::Other(value) => Value::clone(value),
        }
    }

    pub(super) fn as_i64(&self, number: f64) -> Option<i64> {
        match self {
            Stored::Integer => Some(number as i64),
            Stored::Float => None,
            Stored::Other(value) => value.as_i64(),
        }
    }
}

/// The number in a target value, if it is one.
pub(super) fn number(found: &Found<'_>) -> Option<(f64, Stored)> {
    match found {
        Found::Num(number, integer) => {
            Some((*number, if *integer { Stored::Integer } else { Stored::Float }))
        }
        Found::Json(text) => match serde_json::from_str::<Value>(text).ok()? {
            Value::Number(n) => Some((n.as_f64()?, Stored::Other(Box::new(Value::Number(n))))),
            _ => None,
        },
        Found::Value(Value::Number(n)) => {
            Some((n.as_f64()?, Stored::Other(Box::new(Value::Number(n.clone())))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Values drawn from a few, so that runs repeat them, with both zeros and negatives.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![(-40i32..40).prop_map(f64::from), Just(-0.0), Just(0.5), (-1e9f64..1e9)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Each rank gives the value a stable sort of all the runs' values (in run order) puts
        /// there, with how it prints, whether a run is small (sorted by comparison) or large
        /// (by radix), and whether its values print alike or not.
        #[test]
        fn ranks_follow_a_stable_sort(
            runs in proptest::collection::vec(
                (proptest::collection::vec((value(), any::<bool>()), 0..3000), any::<bool>()),
                1..4,
            ),
        ) {
            let mut all = Vec::new();
            let mut sealed = Vec::new();
            for (values, mixed) in &runs {
                let mut run = Run::default();
                for &(value, integer) in values {
                    let stored = if *mixed && integer && value.fract() == 0.0 { Stored::Integer } else { Stored::Float };
                    all.push((value, stored.value(value)));
                    run.push(value, stored);
                }
                sealed.push(Arc::new(run.sealed()));
            }
            let total: usize = sealed.iter().map(|run| run.len()).sum();
            prop_assert_eq!(total, all.len());
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Ranks within the values (none when every run is empty).
            for rank in [1, total / 4, total / 2, total * 95 / 100, total].into_iter().filter(|&r| r >= 1 && r <= total) {
                prop_assert_eq!(ranked(&sealed, rank), all[rank - 1].1.clone(), "rank {}", rank);
            }
        }
    }

    #[test]
    fn a_large_run_keeps_each_value_once_with_its_count() {
        let mut run = Run::default();
        for i in 0..10_000 {
            run.push(f64::from(i % 7) - 3.0, Stored::Integer);
        }
        let run = run.sealed();
        assert_eq!(run.values.len(), 7);
        assert_eq!(run.len(), 10_000);
        assert_eq!(ranked(&[Arc::new(run)], 10_000), Value::from(3));
    }
}
