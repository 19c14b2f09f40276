//! The aggregates a scan builds: a `Partial` (what one part or the tail contributes: groups in
//! first-seen order, and per interval bucket and group an `Acc`), and how partials and their
//! aggregates merge and give each analysis's result.

use std::sync::Arc;

use arrow_array::StringArray;
use serde_json::Value;

use super::distinct::Distinct;
use super::values::{Key, Run, Stored, group_key, number, ranked, to_json};
use super::{FastMap, MEMORY_LIMIT};
use crate::part::Found;
use crate::query::analysis::{Analysis, AnalysisError, AnalysisType};
use crate::query::timeframe::TimeRange;

/// The most groups a partial makes room for before it sees them.
const RESERVED_GROUPS: usize = 1 << 14;

/// What one part (or the tail) contributes: its groups in first-seen order, and per bucket
/// (one when there is no interval) and group an aggregate.
#[derive(Clone)]
pub(crate) struct Partial {
    /// The buckets this partial covers, clipped to its span; empty without an interval.
    pub(super) buckets: Vec<TimeRange>,
    /// Each group's canonical key and values.
    pub(super) groups: Vec<(Key, Vec<Value>)>,
    pub(super) positions: FastMap<Key, usize>,
    pub(super) cells: Vec<Vec<Acc>>,
    /// About how much memory the partial holds.
    pub(super) bytes: usize,
    /// The groups of the words of the first dictionary the one group_by property was read
    /// from, when it was: for merging the partials of pieces of one row group.
    pub(super) words: Option<GroupWords>,
    /// A piece's aggregates per word of its group's dictionary, not in groups yet: only in
    /// the partial of a piece after the first of its row group, which is merged into the
    /// first piece's (`absorb`), where each word finds its group.
    pub(super) keyed: Option<KeyedAccs>,
}

/// Aggregates per key of a dictionary of the one group_by property, without groups.
#[derive(Clone)]
pub(super) struct KeyedAccs {
    pub(super) dictionary: StringArray,
    /// The keys with rows, in the order of their first.
    pub(super) keys: Vec<usize>,
    /// Per key of the dictionary, its aggregate (of no rows unless the key is in `keys`).
    pub(super) accs: Vec<Acc>,
}

/// The group of each word of a dictionary a partial's one group_by property was read from.
/// The pieces of one row group read the same dictionary, so their partials merge word by word
/// (`Partial::absorb`), without finding each group again by its key.
#[derive(Clone)]
pub(super) struct GroupWords {
    pub(super) dictionary: StringArray,
    /// Per key of the dictionary, its group's position (`u32::MAX`: none).
    pub(super) groups: Vec<u32>,
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
            words: None,
            keyed: None,
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

    /// The position of the group of the rows whose one group_by property holds `found` (a
    /// string or nothing), added if new; `key` is room for the group's key.
    pub(super) fn group_of_one(&mut self, found: &Found<'_>, key: &mut Vec<u8>) -> usize {
        key.clear();
        group_key(found, key);
        self.group(key, || vec![to_json(found).unwrap_or(Value::Null)])
    }

    pub(super) fn cell(&mut self, bucket: usize, group: usize, kind: AnalysisType) -> &mut Acc {
        let row = &mut self.cells[bucket];
        if row.len() <= group {
            self.bytes += (group + 1 - row.len()) * 64;
            row.resize_with(group + 1, || Acc::new(kind));
        }
        &mut row[group]
    }

    /// The partial of the groups whose values `keep` accepts, in their order, with their
    /// aggregates (of an analysis of `kind`).
    pub(super) fn select(&self, kind: AnalysisType, keep: impl Fn(&[Value]) -> bool) -> Partial {
        let mut selected = Partial::new(self.buckets.clone());
        for (position, (key, values)) in self.groups.iter().enumerate() {
            if !keep(values) {
                continue;
            }
            let at = selected.group(key.as_bytes(), || values.clone());
            for (bucket, row) in self.cells.iter().enumerate() {
                if let Some(acc) = row.get(position) {
                    let cell = selected.cell(bucket, at, kind);
                    let before = cell.bytes();
                    *cell = acc.clone();
                    let after = cell.bytes();
                    selected.bytes = (selected.bytes + after).saturating_sub(before);
                }
            }
        }
        selected
    }

    /// The position here of each group of `other`, added (in its order) where new: by word
    /// where both partials hold the groups of the same dictionary's words, else by key.
    fn positions_of(&mut self, other: &Partial) -> Vec<usize> {
        let mut words = self
            .words
            .take()
            .filter(|mine| other.words.as_ref().is_some_and(|theirs| theirs.dictionary == mine.dictionary));
        // Per group of `other`, its word's key in the shared dictionary (`u32::MAX`: none);
        // empty when no dictionary is shared.
        let mut keys = Vec::new();
        if let (Some(_), Some(theirs)) = (&words, &other.words) {
            keys.resize(other.groups.len(), u32::MAX);
            for (key, &group) in theirs.groups.iter().enumerate() {
                if let Some(slot) = keys.get_mut(group as usize) {
                    *slot = key as u32;
                }
            }
        }
        let positions = other
            .groups
            .iter()
            .enumerate()
            .map(|(group, (key, values))| {
                let word = keys.get(group).map_or(usize::MAX, |&word| word as usize);
                let mine = words.as_mut().and_then(|words| words.groups.get_mut(word));
                match mine {
                    Some(&mut position) if position != u32::MAX => position as usize,
                    Some(slot) => {
                        let position = self.group(key.as_bytes(), || values.clone());
                        *slot = position as u32;
                        position
                    }
                    None => self.group(key.as_bytes(), || values.clone()),
                }
            })
            .collect();
        self.words = words;
        positions
    }

    /// Whether nothing was added to the partial.
    fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.cells.iter().all(Vec::is_empty) && self.keyed.is_none()
    }

    /// Merges `other` into the total `shared` (whose buckets are the query's): while the total
    /// is empty, it becomes `other` itself, shared (with the cache) rather than copied; it is
    /// copied only when a second partial with rows is merged into it.
    pub(super) fn absorb_shared(
        shared: &mut Arc<Partial>,
        other: &Arc<Partial>,
        analysis: &Analysis,
    ) -> Result<(), AnalysisError> {
        if other.is_empty() {
            return Ok(());
        }
        if shared.is_empty() && shared.buckets == other.buckets {
            *shared = other.clone();
            return Ok(());
        }
        Arc::make_mut(shared).absorb(other, analysis)
    }

    /// Merges a later partial into this one (whose buckets are the query's). Its groups come
    /// after the groups already seen, in its own first-seen order.
    pub(super) fn absorb(&mut self, other: &Partial, analysis: &Analysis) -> Result<(), AnalysisError> {
        if let Some(keyed) = &other.keyed {
            return self.absorb_keyed(keyed, analysis.kind);
        }
        if self.is_empty() && self.buckets == other.buckets {
            // Nothing to merge with: a copy, without finding each group again.
            self.groups.clone_from(&other.groups);
            self.positions.clone_from(&other.positions);
            self.cells.clone_from(&other.cells);
            self.words.clone_from(&other.words);
            self.bytes += other.bytes;
            return match self.bytes > MEMORY_LIMIT {
                true => Err(AnalysisError::MemoryLimit),
                false => Ok(()),
            };
        }
        let positions = self.positions_of(other);
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

impl Partial {
    /// Merges a later piece's aggregates per word (of a partial without an interval): each
    /// word into its group, found by word where this partial holds the groups of the same
    /// dictionary's words, else by key, and added (in the order of the words' first rows)
    /// where new.
    fn absorb_keyed(&mut self, keyed: &KeyedAccs, kind: AnalysisType) -> Result<(), AnalysisError> {
        let mut words = self.words.take().filter(|mine| mine.dictionary == keyed.dictionary);
        let mut bytes = Vec::new();
        for &key in &keyed.keys {
            let position = match words.as_mut().and_then(|words| words.groups.get_mut(key)) {
                Some(&mut position) if position != u32::MAX => position as usize,
                slot => {
                    let position = self.group_of_one(&Found::Str(keyed.dictionary.value(key)), &mut bytes);
                    if let Some(slot) = slot {
                        *slot = position as u32;
                    }
                    position
                }
            };
            let cell = self.cell(0, position, kind);
            let before = cell.bytes();
            cell.absorb(&keyed.accs[key]);
            self.bytes += cell.bytes().saturating_sub(before);
        }
        self.words = words;
        match self.bytes > MEMORY_LIMIT {
            true => Err(AnalysisError::MemoryLimit),
            false => Ok(()),
        }
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
    /// For sum and average: how many numbers, their sum while every one is an integer and it
    /// fits, and their sum as floats.
    Moments {
        n: u64,
        integer: Option<i64>,
        float: f64,
    },
    Minimum(Option<(f64, Stored)>),
    Maximum(Option<(f64, Stored)>),
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

impl Acc {
    pub(super) fn new(kind: AnalysisType) -> Acc {
        let state = match kind {
            AnalysisType::Count => State::Count,
            AnalysisType::Sum | AnalysisType::Average => {
                State::Moments { n: 0, integer: Some(0), float: 0.0 }
            }
            AnalysisType::Minimum => State::Minimum(None),
            AnalysisType::Maximum => State::Maximum(None),
            AnalysisType::StandardDeviation => State::Deviation { n: 0, mean: 0.0, m2: 0.0 },
            AnalysisType::Median | AnalysisType::Percentile => {
                State::Ranked { pending: Box::default(), runs: Vec::new() }
            }
            AnalysisType::CountUnique => State::Unique(Box::default()),
            AnalysisType::SelectUnique => State::Unique(Box::new(Distinct::ordered())),
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

    /// The distinct values of a count_unique or select_unique cell.
    pub(super) fn into_distinct(self) -> Option<Distinct> {
        match self.state {
            State::Unique(distinct) => Some(*distinct),
            _ => None,
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

    /// Adds a number to a sum or average's state as `add_number` does (`integer`: stored as an
    /// integer), and nothing to another state: for a loop over a batch's rows that knows its
    /// analysis, so that it does not match the state's kind per row.
    #[inline(always)]
    pub(super) fn add_moment(&mut self, value: f64, integer: bool) {
        if let State::Moments { n, integer: total, float } = &mut self.state {
            *n += 1;
            *total = total.filter(|_| integer).and_then(|total| total.checked_add(value as i64));
            *float += value;
        }
    }

    /// Adds a number to the state (the row is counted by the caller): in the loops over a
    /// batch's rows, inlined.
    #[inline(always)]
    pub(super) fn add_number(&mut self, value: f64, stored: Stored) {
        match &mut self.state {
            State::Count | State::Unique(_) => {}
            State::Moments { n, integer, float } => {
                *n += 1;
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
            (
                State::Moments { n, integer, float },
                State::Moments { n: more_n, integer: more, float: more_float },
            ) => {
                *n += more_n;
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
            State::Moments { n, integer, float } => match analysis.kind {
                AnalysisType::Average if *n == 0 => Value::Null,
                AnalysisType::Average => Value::from(float / *n as f64),
                _ => integer.map_or(Value::from(*float), Value::from),
            },
            State::Minimum(best) | State::Maximum(best) => {
                best.as_ref().map_or(Value::Null, |(value, stored)| stored.value(*value))
            }
            State::Deviation { n: 0, .. } => Value::Null,
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
