//! The aggregates a scan builds: a `Partial` (what one part or the tail contributes: groups in
//! first-seen order, and per interval bucket and group an `Acc`), and how partials and their
//! aggregates merge and give each analysis's result.

use std::sync::Arc;

use serde_json::Value;

use super::values::{INLINE_KEY, Key, Run, Stored, group_key, number, ranked, to_json};
use super::{FastMap, FastSet, MEMORY_LIMIT};
use crate::part::Found;
use crate::query::analysis::{Analysis, AnalysisError, AnalysisType};
use crate::query::timeframe::TimeRange;

/// The most groups a partial makes room for before it sees them.
const RESERVED_GROUPS: usize = 1 << 14;

/// What one part (or the tail) contributes: its groups in first-seen order, and per bucket
/// (one when there is no interval) and group an aggregate.
pub(crate) struct Partial {
    /// The buckets this partial covers, clipped to its span; empty without an interval.
    pub(super) buckets: Vec<TimeRange>,
    /// Each group's canonical key and values.
    pub(super) groups: Vec<(Key, Vec<Value>)>,
    pub(super) positions: FastMap<Key, usize>,
    pub(super) cells: Vec<Vec<Acc>>,
    /// About how much memory the partial holds.
    pub(super) bytes: usize,
}

impl Partial {
    pub(super) fn new(buckets: Vec<TimeRange>) -> Partial {
        let rows = buckets.len().max(1);
        Partial {
            buckets,
            groups: Vec::new(),
            positions: FastMap::default(),
            cells: (0..rows).map(|_| Vec::new()).collect(),
            bytes: 512,
        }
    }

    /// Makes room for about `groups` groups (at most `RESERVED_GROUPS`).
    pub(super) fn reserve(&mut self, groups: usize) {
        let groups = groups.min(RESERVED_GROUPS);
        self.groups.reserve(groups);
        self.positions.reserve(groups);
    }

    /// The position of the group with `key`, added with `values` (made on demand) if new.
    pub(super) fn group(&mut self, key: &[u8], values: impl FnOnce() -> Vec<Value>) -> usize {
        if let Some(position) = self.positions.get(key) {
            return *position;
        }
        let position = self.groups.len();
        self.bytes += 2 * key.len() + 96;
        self.groups.push((Key::new(key), values()));
        self.positions.insert(Key::new(key), position);
        position
    }

    pub(super) fn cell(&mut self, bucket: usize, group: usize, kind: AnalysisType) -> &mut Acc {
        let row = &mut self.cells[bucket];
        if row.len() <= group {
            self.bytes += (group + 1 - row.len()) * 64;
            row.resize_with(group + 1, || Acc::new(kind));
        }
        &mut row[group]
    }

    /// Merges a later partial into this one (whose buckets are the query's). Its groups come
    /// after the groups already seen, in its own first-seen order.
    pub(super) fn absorb(&mut self, other: &Partial, analysis: &Analysis) -> Result<(), AnalysisError> {
        if self.groups.is_empty() && self.buckets == other.buckets && self.cells.iter().all(Vec::is_empty) {
            // Nothing to merge with: a copy, without finding each group again.
            self.groups.clone_from(&other.groups);
            self.positions.clone_from(&other.positions);
            self.cells.clone_from(&other.cells);
            self.bytes += other.bytes;
            return match self.bytes > MEMORY_LIMIT {
                true => Err(AnalysisError::MemoryLimit),
                false => Ok(()),
            };
        }
        let positions: Vec<usize> =
            other.groups.iter().map(|(key, values)| self.group(key.as_bytes(), || values.clone())).collect();
        for (local, row) in other.cells.iter().enumerate() {
            let bucket = match other.buckets.get(local) {
                None => 0,
                Some(b) => match self.buckets.partition_point(|g| g.start_ms <= b.start_ms).checked_sub(1) {
                    Some(index) => index,
                    None => continue,
                },
            };
            for (group, acc) in row.iter().enumerate() {
                if acc.count == 0 {
                    continue;
                }
                let position = positions.get(group).copied().unwrap_or(0);
                let cell = self.cell(bucket, position, analysis.kind);
                let before = cell.bytes();
                cell.absorb(acc);
                let grown = cell.bytes().saturating_sub(before);
                self.bytes += grown;
                if self.bytes > MEMORY_LIMIT {
                    return Err(AnalysisError::MemoryLimit);
                }
            }
        }
        Ok(())
    }
}

/// One bucket's and group's aggregate: the row count and the analysis's state.
#[derive(Debug, Clone)]
pub(super) struct Acc {
    pub(super) count: u64,
    pub(super) state: State,
}

#[derive(Debug, Clone)]
pub(super) enum State {
    Count,
    Sum {
        integer: Option<i64>,
        float: f64,
    },
    Minimum(Option<(f64, Stored)>),
    Maximum(Option<(f64, Stored)>),
    Mean {
        n: u64,
        sum: f64,
    },
    /// Welford's running mean and sum of squared deviations.
    Deviation {
        n: u64,
        mean: f64,
        m2: f64,
    },
    /// For median and percentile: values in scan order (`pending`), and sealed runs, each
    /// sorted stably (ties in scan order) and shared with the cached partial it came from.
    Ranked {
        pending: Box<Run>,
        runs: Vec<Arc<Run>>,
    },
    Unique(Box<Distinct>),
}

/// Distinct values by key; with `first`, the values in first-seen order (select_unique).
/// Boxed in `State`, which stays small for the other analyses' many cells.
///
/// Strings of at most 15 bytes (most distinct values: ids, names) are `packed` into one
/// integer and kept in `PARTS` small tables chosen by the integer's bits. Without `first`
/// (count_unique, where order does not matter), they are gathered in `pending` first and
/// added a table at a time (`flush`), so that each table is in the CPU's cache while it is
/// filled: one large table takes a cache miss per insert.
#[derive(Debug, Clone, Default)]
pub(super) struct Distinct {
    /// Packed strings, by `part`; empty until the first one.
    short: Vec<FastSet<u128>>,
    /// Packed strings not yet in `short` (count_unique only; empty once sealed).
    pending: Vec<u128>,
    /// Every other value, by key.
    seen: FastSet<Key>,
    first: Option<Vec<(Key, Value)>>,
    bytes: usize,
}

/// What a packed string counts for in `Distinct::bytes`, once in a table and while pending.
const PACKED_BYTES: usize = 48;
const PENDING_BYTES: usize = 16;
/// The tables packed strings are spread over.
const PARTS: usize = 256;
/// Packed strings gathered before they are added to the tables.
const FLUSH_AT: usize = 1 << 16;

/// The table of `packed`: the top bits of a multiplicative hash of both halves.
fn part(packed: u128) -> usize {
    let folded = (packed as u64) ^ ((packed >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % PARTS
}

impl Distinct {
    /// Adds the value whose key (`group_key`) is `key` at once; true when it is new.
    fn insert(&mut self, key: &[u8]) -> bool {
        let (new, bytes) = match packed(key) {
            Some(packed) => (self.tables()[part(packed)].insert(packed), PACKED_BYTES),
            // One probe for keys kept inline (built without allocating); longer ones are built
            // only when new.
            None if key.len() <= INLINE_KEY => (self.seen.insert(Key::new(key)), 2 * key.len() + 32),
            None => (!self.seen.contains(key) && self.seen.insert(Key::new(key)), 2 * key.len() + 32),
        };
        if new {
            self.bytes += bytes;
        }
        new
    }

    /// Adds a row's value: without `first`, a packed string waits in `pending` (false: whether
    /// it is new is not known yet); otherwise as `insert`.
    fn add(&mut self, key: &[u8]) -> bool {
        match packed(key) {
            Some(packed) if self.first.is_none() => {
                self.pending.push(packed);
                self.bytes += PENDING_BYTES;
                if self.pending.len() >= FLUSH_AT {
                    self.flush();
                }
                false
            }
            _ => self.insert(key),
        }
    }

    fn tables(&mut self) -> &mut [FastSet<u128>] {
        if self.short.is_empty() {
            self.short = (0..PARTS).map(|_| FastSet::default()).collect();
        }
        &mut self.short
    }

    /// Adds the pending packed strings to their tables, a table at a time.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut starts = [0usize; PARTS + 1];
        for &packed in &self.pending {
            starts[part(packed) + 1] += 1;
        }
        for index in 1..=PARTS {
            starts[index] += starts[index - 1];
        }
        let mut next = starts;
        let mut sorted = vec![0u128; self.pending.len()];
        for &packed in &self.pending {
            let slot = &mut next[part(packed)];
            sorted[*slot] = packed;
            *slot += 1;
        }
        let mut added = 0;
        let tables = self.tables();
        for (index, table) in tables.iter_mut().enumerate() {
            for &packed in &sorted[starts[index]..starts[index + 1]] {
                added += usize::from(table.insert(packed));
            }
        }
        self.bytes = self.bytes.saturating_sub(self.pending.len() * PENDING_BYTES) + added * PACKED_BYTES;
        self.pending = Vec::new();
    }

    fn len(&self) -> usize {
        debug_assert!(self.pending.is_empty(), "a distinct set is sealed before it is read");
        self.short.iter().map(|table| table.len()).sum::<usize>() + self.seen.len()
    }

    /// Adds the distinct values of a later, sealed partial (not kept in first-seen order).
    fn absorb(&mut self, more: &Distinct) {
        if self.len() == 0 {
            // The first partial: its tables as they are, without hashing each key again.
            self.short.clone_from(&more.short);
            self.seen.clone_from(&more.seen);
            self.bytes = more.bytes;
            return;
        }
        if !more.short.is_empty() {
            let mut added = 0;
            for (table, more) in self.tables().iter_mut().zip(&more.short) {
                added += more.iter().filter(|&&packed| table.insert(packed)).count();
            }
            self.bytes += added * PACKED_BYTES;
        }
        for key in &more.seen {
            if self.seen.insert(key.clone()) {
                self.bytes += 2 * key.len() + 32;
            }
        }
    }
}

/// A string's key (`text_key`: tag 4, length, bytes) packed into one integer when the string
/// has at most 15 bytes: its bytes, then zeros, and its length in the last byte.
fn packed(key: &[u8]) -> Option<u128> {
    let text = key.strip_prefix(&[4])?.get(4..)?;
    if text.len() > 15 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..text.len()].copy_from_slice(text);
    bytes[15] = text.len() as u8;
    Some(u128::from_le_bytes(bytes))
}

impl Acc {
    pub(super) fn new(kind: AnalysisType) -> Acc {
        let state = match kind {
            AnalysisType::Count => State::Count,
            AnalysisType::Sum => State::Sum { integer: Some(0), float: 0.0 },
            AnalysisType::Minimum => State::Minimum(None),
            AnalysisType::Maximum => State::Maximum(None),
            AnalysisType::Average => State::Mean { n: 0, sum: 0.0 },
            AnalysisType::StandardDeviation => State::Deviation { n: 0, mean: 0.0, m2: 0.0 },
            AnalysisType::Median | AnalysisType::Percentile => {
                State::Ranked { pending: Box::default(), runs: Vec::new() }
            }
            AnalysisType::CountUnique => State::Unique(Box::default()),
            AnalysisType::SelectUnique => {
                State::Unique(Box::new(Distinct { first: Some(Vec::new()), ..Distinct::default() }))
            }
        };
        Acc { count: 0, state }
    }

    /// About how much memory the state holds beyond its fixed size.
    pub(super) fn bytes(&self) -> usize {
        match &self.state {
            State::Ranked { pending, runs } => {
                pending.bytes() + runs.iter().map(|run| run.bytes()).sum::<usize>()
            }
            State::Unique(distinct) => distinct.bytes,
            _ => 0,
        }
    }

    /// Adds a row whose target value is `target` (None for count).
    pub(super) fn add(&mut self, target: Option<&Found<'_>>, key: &mut Vec<u8>) {
        self.count += 1;
        let Some(target) = target else { return };
        if let State::Unique(distinct) = &mut self.state {
            if matches!(target, Found::Missing | Found::Null) {
                return;
            }
            key.clear();
            group_key(target, key);
            if distinct.add(key)
                && let Some(first) = &mut distinct.first
            {
                first.push((Key::new(key), to_json(target).unwrap_or(Value::Null)));
            }
            return;
        }
        if let Some((value, stored)) = number(target) {
            self.add_number(value, stored);
        }
    }

    /// Adds a number to the state (the row is counted by the caller).
    #[inline]
    pub(super) fn add_number(&mut self, value: f64, stored: Stored) {
        match &mut self.state {
            State::Count | State::Unique(_) => {}
            State::Sum { integer, float } => {
                *integer = integer.and_then(|total| total.checked_add(stored.as_i64(value)?));
                *float += value;
            }
            State::Minimum(best) => {
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_lt()) {
                    *best = Some((value, stored));
                }
            }
            State::Maximum(best) => {
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_ge()) {
                    *best = Some((value, stored));
                }
            }
            State::Mean { n, sum } => {
                *n += 1;
                *sum += value;
            }
            State::Deviation { n, mean, m2 } => {
                *n += 1;
                let delta = value - *mean;
                *mean += delta / *n as f64;
                *m2 += delta * (value - *mean);
            }
            State::Ranked { pending, .. } => pending.push(value, stored),
        }
    }

    /// Sorts the values added row by row into a run (stably: ties stay in scan order), or
    /// adds the distinct values still pending to their tables.
    pub(super) fn seal(&mut self) {
        match &mut self.state {
            State::Ranked { pending, runs } if !pending.values.is_empty() => {
                runs.push(Arc::new(std::mem::take(&mut **pending).sealed()));
            }
            State::Unique(distinct) => distinct.flush(),
            _ => {}
        }
    }

    /// Merges the aggregate of later rows.
    pub(super) fn absorb(&mut self, other: &Acc) {
        self.count += other.count;
        match (&mut self.state, &other.state) {
            (State::Sum { integer, float }, State::Sum { integer: more, float: more_float }) => {
                *integer = integer.zip(*more).and_then(|(a, b)| a.checked_add(b));
                *float += more_float;
            }
            (State::Minimum(best), State::Minimum(Some((value, stored))))
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_lt()) =>
            {
                *best = Some((*value, stored.clone()));
            }
            (State::Maximum(best), State::Maximum(Some((value, stored))))
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_ge()) =>
            {
                *best = Some((*value, stored.clone()));
            }
            (State::Mean { n, sum }, State::Mean { n: more, sum: more_sum }) => {
                *n += more;
                *sum += more_sum;
            }
            (State::Deviation { n, mean, m2 }, State::Deviation { n: nb, mean: mb, m2: m2b }) if *nb > 0 => {
                let total = *n + nb;
                let delta = mb - *mean;
                *mean += delta * *nb as f64 / total as f64;
                *m2 += m2b + delta * delta * (*n as f64) * (*nb as f64) / total as f64;
                *n = total;
            }
            (State::Ranked { runs, .. }, State::Ranked { runs: more, .. }) => {
                runs.extend(more.iter().cloned());
            }
            (State::Unique(distinct), State::Unique(more)) => match &more.first {
                // The first partial: its values and tables as they are, without hashing each
                // value again.
                Some(_) if distinct.first.as_ref().is_some_and(Vec::is_empty) => distinct.clone_from(more),
                Some(more_first) if distinct.first.is_some() => {
                    for (key, value) in more_first {
                        if distinct.insert(key.as_bytes())
                            && let Some(first) = &mut distinct.first
                        {
                            first.push((key.clone(), value.clone()));
                        }
                    }
                }
                _ => distinct.absorb(more),
            },
            _ => {}
        }
    }

    /// The analysis's answer for this cell, as the reference evaluator gives it.
    pub(super) fn result(&self, analysis: &Analysis) -> Value {
        match &self.state {
            State::Count => self.count.into(),
            State::Sum { integer: Some(total), .. } => (*total).into(),
            State::Sum { float, .. } => Value::from(*float),
            State::Minimum(best) | State::Maximum(best) => {
                best.as_ref().map_or(Value::Null, |(value, stored)| stored.value(*value))
            }
            State::Mean { n: 0, .. } | State::Deviation { n: 0, .. } => Value::Null,
            State::Mean { n, sum } => Value::from(sum / *n as f64),
            State::Deviation { n, m2, .. } => Value::from((m2.max(0.0) / *n as f64).sqrt()),
            State::Ranked { runs, .. } => {
                let total: usize = runs.iter().map(|run| run.len()).sum();
                if total == 0 {
                    return Value::Null;
                }
                let rank = (analysis.percentile_hundredths * total as u64).div_ceil(10_000).max(1);
                ranked(runs, rank as usize)
            }
            State::Unique(distinct) => match &distinct.first {
                None => distinct.len().into(),
                Some(first) => Value::Array(first.iter().map(|(_, value)| value.clone()).collect()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::{float_key, text_key};
    use super::*;

    /// Strings of at most 15 bytes are kept packed, other values by key: each distinct value
    /// counts once, whichever partial brings it, and a string differs from itself followed by
    /// a zero byte.
    #[test]
    fn distinct_values_count_once_packed_or_not() {
        let key = |text: &str| {
            let mut key = Vec::new();
            text_key(4, text, &mut key);
            key
        };
        let mut left = Distinct::default();
        for text in ["a", "a\0", "exactly15bytes!", "sixteen bytes!!!", ""] {
            assert!(left.insert(&key(text)), "{text:?} is new");
        }
        let mut one = Vec::new();
        float_key(1.0, &mut one);
        assert!(left.insert(&one));
        assert!(!left.insert(&key("a")));
        assert!(!left.insert(&key("sixteen bytes!!!")));
        assert_eq!((left.short.iter().map(|table| table.len()).sum::<usize>(), left.seen.len()), (4, 2));
        let mut right = Distinct::default();
        for text in ["a", "b", "sixteen bytes!!!", "a string longer than a packed one"] {
            right.insert(&key(text));
        }
        let mut total = Distinct::default();
        total.absorb(&left);
        total.absorb(&right);
        assert_eq!(total.len(), 8);
    }

    /// count_unique gathers packed strings and adds them a table at a time, past `FLUSH_AT`
    /// and when sealed: the count is the same as adding each at once, and so is a merge.
    #[test]
    fn gathered_strings_count_as_those_added_at_once() {
        let key = |n: u64| {
            let mut key = Vec::new();
            text_key(4, &format!("user-{:x}", n % 50_000), &mut key);
            key
        };
        let (mut gathered, mut at_once) = (Acc::new(AnalysisType::CountUnique), Distinct::default());
        let mut scratch = Vec::new();
        for n in (0..3 * FLUSH_AT as u64 + 100).map(|n| n.wrapping_mul(2_654_435_761)) {
            let text = std::str::from_utf8(&key(n)[5..]).unwrap().to_owned();
            gathered.add(Some(&Found::Str(&text)), &mut scratch);
            at_once.insert(&key(n));
        }
        let State::Unique(distinct) = &gathered.state else { unreachable!() };
        assert!(!distinct.pending.is_empty() && distinct.short.iter().any(|table| !table.is_empty()));
        gathered.seal();
        let State::Unique(distinct) = &gathered.state else { unreachable!() };
        assert_eq!(distinct.len(), at_once.len());
        let mut total = Acc::new(AnalysisType::CountUnique);
        total.absorb(&gathered);
        total.absorb(&gathered);
        let target = serde_json::json!({"target_property": "user"});
        let analysis = Analysis::parse(AnalysisType::CountUnique, target.as_object().unwrap()).unwrap();
        assert_eq!(total.result(&analysis), Value::from(at_once.len()));
    }
}
