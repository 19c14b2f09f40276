//! Analyses added per key of the group's dictionary: where the group and every filter are
//! read from dictionary columns, a count, sum, average, minimum, maximum or standard deviation
//! adds each row to an aggregate per key, without a row selection. A count's per-key counts go
//! into their groups' cells after each batch; the other analyses' aggregates are kept across
//! the batches that share a dictionary (a row group's) until the bucket changes, so that a
//! group_by property of thousands of words costs one move per word and bucket, not per batch.
//! Keys new to the partial take their groups in the order of their first rows, made from the
//! dictionary's words when the aggregates move into cells. A count without filters or an
//! interval over whole row groups comes counted per key from the column's pages instead
//! (`add_word_counts`, `PartFile::count_words`).

use std::ops::Range;
use std::sync::atomic::Ordering;

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, Float64Array, StringArray};

use super::{Table, passing};
use crate::part::{Batch, Found, Values, WordCounts};
use crate::query::analysis::AnalysisType;
use crate::query::engine::aggregate::{Acc, KeyedAccs};
use crate::query::engine::values::Stored;
use crate::query::engine::{AnalyzeError, Builder, Check};

impl Builder<'_, '_> {
    /// A count, or a sum, average, minimum, maximum or standard deviation of a number column
    /// grouped by one property, whose filters each test one property, with the group and the
    /// filters all read from dictionary columns with word numbers: each bucket's rows are
    /// added per key of the group's dictionary in one pass, without a row selection. False
    /// (nothing added) when the query is not such an analysis, or the dictionary of the group
    /// or of a filter holds more words than twice the batch's rows.
    pub(super) fn add_by_words(&mut self, batch: &Batch<'_>) -> Result<bool, AnalyzeError> {
        let plan = self.plan;
        if plan.groups.len() > 1 {
            return Ok(false);
        }
        let numbers = match plan.target {
            None => None,
            Some(target) => match (&batch.columns[target], plan.analysis.kind) {
                (
                    Values::Nums { values, integer },
                    AnalysisType::Sum
                    | AnalysisType::Average
                    | AnalysisType::Minimum
                    | AnalysisType::Maximum
                    | AnalysisType::StandardDeviation,
                ) if plan.groups.len() == 1 => Some((*values, *integer)),
                _ => return Ok(false),
            },
        };
        let mut tests = Vec::with_capacity(plan.checks.len());
        for check in &plan.checks {
            let Check::Property { path, leaf, filter } = check else { return Ok(false) };
            match &batch.columns[*path] {
                Values::Missing if filter.passes(None) => {}
                Values::Missing => return Ok(true),
                // Each word of the dictionary is tested up front: not for far more words than
                // rows.
                Values::Words { keys, words, base: Some(base) } if words.len() <= 2 * batch.rows.len() => {
                    tests.push((*leaf, *filter, *keys, *words, *base));
                }
                _ => return Ok(false),
            }
        }
        let group = match plan.groups.first() {
            None => None,
            Some(&path) => match &batch.columns[path] {
                Values::Words { keys, words, base: Some(base) } if words.len() <= 2 * batch.rows.len() => {
                    Some(Words { keys, dictionary: words, words: words.len(), base: *base as usize })
                }
                _ => return Ok(false),
            },
        };
        if let Some(group) = &group
            && self.partial.groups.is_empty()
            && !self.by_key
        {
            // The dictionary's words are about the groups to come (unless they stay by key).
            self.partial.reserve(group.words);
        }
        let segments = self.segments(batch);
        for &(leaf, filter, _, words, base) in &tests {
            self.memos[leaf].test_words(filter, words, base);
        }
        // The memos are read, not written, while the rows are added.
        let memos = std::mem::take(&mut self.memos);
        let tables: Vec<Table<'_>> = tests
            .iter()
            .map(|&(leaf, filter, keys, words, base)| Table {
                passed: &memos[leaf].words[base as usize..base as usize + words.len()],
                codes: keys.keys().values(),
                nulls: (keys.null_count() > 0).then(|| keys.keys()),
                missing: filter.passes(None),
            })
            .collect();
        // Numbers come with a group (above).
        match numbers.zip(group.as_ref()) {
            Some((numbers, group)) => self.add_passing(segments, &tables, group, numbers),
            None => self.count_passing(segments, &tables, group.as_ref()),
        }
        self.memos = memos;
        Ok(true)
    }

    /// Counts the rows of `batch` that pass `tables`, per bucket, and per key of `group` when
    /// there is one.
    fn count_passing(
        &mut self,
        segments: Vec<(usize, Range<usize>)>,
        tables: &[Table<'_>],
        group: Option<&Words<'_>>,
    ) {
        let kind = self.plan.analysis.kind;
        for (bucket, rows) in segments {
            let Some(group) = group else {
                let passed = match tables {
                    [] => rows.len(),
                    [Table { passed, codes, nulls: None, .. }] => {
                        rows.filter(|&row| passed[codes[row] as usize] == 2).count()
                    }
                    _ => rows.filter(|&row| passing(tables, row)).count(),
                };
                self.partial.cell(bucket, 0, kind).count += passed as u64;
                continue;
            };
            // Per key of the group's dictionary (and one more for rows without the property),
            // how many rows passed.
            let Words { keys, words, .. } = *group;
            let mut counts = std::mem::take(&mut self.key_counts);
            counts.clear();
            counts.resize(words + 1, 0);
            let codes = keys.keys().values();
            if tables.is_empty() {
                // Every row by its key, in a loop without tests; then the few rows without
                // the property move to the last count (a null's key is any number).
                for &code in &codes[rows.clone()] {
                    if let Some(count) = counts.get_mut(code as usize) {
                        *count += 1;
                    }
                }
                if let Some(present) = keys.nulls().filter(|_| keys.null_count() > 0) {
                    let absent = !&present.inner().slice(rows.start, rows.len());
                    for row in absent.set_indices().map(|offset| rows.start + offset) {
                        if let Some(count) = counts.get_mut(codes[row] as usize) {
                            *count -= 1;
                        }
                        counts[words] += 1;
                    }
                }
            } else {
                for row in rows.clone() {
                    if passing(tables, row) {
                        counts[group.key_of(row)] += 1;
                    }
                }
            }
            for (key, group) in self.key_groups(tables, rows, group, |key| counts[key] > 0) {
                self.partial.cell(bucket, group, kind).count += u64::from(counts[key]);
            }
            self.key_counts = counts;
        }
    }

    /// Adds the numbers of `values` (integers or not) in the rows of `batch` that pass
    /// `tables`, per bucket and word of `group`: each word's rows into an aggregate of its own
    /// (in row order), kept across batches until the bucket or the dictionary changes or the
    /// piece ends (`flush_words`). Words new to the partial take their groups in the order of
    /// their first rows.
    fn add_passing(
        &mut self,
        segments: Vec<(usize, Range<usize>)>,
        tables: &[Table<'_>],
        group: &Words<'_>,
        (values, integer): (&Float64Array, bool),
    ) {
        let kind = self.plan.analysis.kind;
        let stored = || if integer { Stored::Integer } else { Stored::Float };
        let Words { keys, dictionary, words, base } = *group;
        let (codes, numbers) = (keys.keys().values(), values.values());
        let absent = values.nulls().filter(|nulls| nulls.null_count() > 0);
        for (bucket, rows) in segments {
            let pending = &self.pending;
            if pending.dictionary.is_none() || (pending.bucket, pending.base) != (bucket, base) {
                self.flush_words();
                let pending = &mut self.pending;
                (pending.bucket, pending.base, pending.dictionary) = (bucket, base, Some(dictionary.clone()));
            }
            let mut pending = std::mem::take(&mut self.pending);
            if pending.accs.len() < words {
                pending.accs.resize_with(words, || Acc::new(kind));
            }
            // The rows whose words (or lack of the property) had no rows pending yet.
            let mut firsts = Vec::new();
            let accs = &mut pending.accs[..words];
            if tables.is_empty() && keys.null_count() == 0 && absent.is_none() {
                // Every row has a key and a number: a loop without tests, and for a sum or an
                // average without a match on the state's kind per row.
                let (codes, numbers) = (&codes[rows.clone()], &numbers[rows.clone()]);
                match kind {
                    AnalysisType::Sum | AnalysisType::Average => {
                        let add = |acc: &mut Acc, value| acc.add_moment(value, integer);
                        add_every_row(accs, codes, numbers, rows.start, &mut firsts, add);
                    }
                    _ => {
                        let add = |acc: &mut Acc, value| acc.add_number(value, stored());
                        add_every_row(accs, codes, numbers, rows.start, &mut firsts, add);
                    }
                }
            } else {
                for row in rows.filter(|&row| passing(tables, row)) {
                    let key = group.key_of(row);
                    let acc = match accs.get_mut(key) {
                        Some(acc) => acc,
                        None => pending.missing.get_or_insert_with(|| Acc::new(kind)),
                    };
                    if acc.count == 0 {
                        firsts.push(row);
                    }
                    acc.count += 1;
                    if absent.is_none_or(|absent| absent.is_valid(row)) {
                        acc.add_number(numbers[row], stored());
                    }
                }
            }
            // The keys with rows now, in the order of their first.
            pending.touched.extend(firsts.iter().map(|&row| group.key_of(row)));
            self.pending = pending;
        }
    }

    /// Moves the pending aggregates of words (and of rows without the group's property) into
    /// their groups' cells, in the order of their first rows, giving each word new to the
    /// partial, and the rows without the property, a group in that order; before the rows of a
    /// batch are added another way, and once the piece is read.
    pub(in crate::query::engine) fn flush_words(&mut self) {
        let kind = self.plan.analysis.kind;
        let mut pending = std::mem::take(&mut self.pending);
        let mut touched = std::mem::take(&mut pending.touched);
        // Room for the groups and a cell per group at once, rather than as each group comes.
        let (groups, row) = (&mut self.partial.groups, &mut self.partial.cells[pending.bucket]);
        groups.reserve(touched.len());
        row.reserve((groups.len() + touched.len()).saturating_sub(row.len()));
        for key in touched.drain(..) {
            let (group, acc) = match (&pending.dictionary, pending.accs.get_mut(key)) {
                (Some(dictionary), Some(acc)) if key < dictionary.len() => {
                    let acc = std::mem::replace(acc, Acc::new(kind));
                    (self.word_group(dictionary, pending.base, key), acc)
                }
                _ => match pending.missing.take() {
                    Some(acc) => (self.partial.group_of_one(&Found::Missing, &mut self.key), acc),
                    None => continue,
                },
            };
            self.partial.cell(pending.bucket, group, kind).absorb(&acc);
        }
        pending.touched = touched;
        self.pending = pending;
    }

    /// Moves the pending aggregates into the partial by key (`Partial::keyed`) when the
    /// builder may (`by_key`), every row read was added per key of one dictionary, in one
    /// bucket, and every row had the property; true when it did.
    pub(in crate::query::engine) fn keep_by_key(&mut self) -> bool {
        let pending = &mut self.pending;
        let partial = &mut self.partial;
        if !self.by_key
            || self.plan.buckets.is_some()
            || pending.missing.is_some()
            || !partial.groups.is_empty()
            || partial.cells.iter().any(|row| !row.is_empty())
        {
            return false;
        }
        let Some(dictionary) = pending.dictionary.take() else { return false };
        let (keys, mut accs) = (std::mem::take(&mut pending.touched), std::mem::take(&mut pending.accs));
        for &key in &keys {
            accs[key].seal();
            partial.bytes += accs[key].bytes();
        }
        partial.keyed = Some(KeyedAccs { dictionary, keys, accs });
        true
    }

    /// Adds a count's rows per word of the group_by property's dictionaries, row group by row
    /// group (`PartFile::count_words`); words new to the partial take their groups in the order
    /// of their first rows.
    pub(in crate::query::engine) fn add_word_counts(
        &mut self,
        counted: &[WordCounts],
    ) -> Result<(), AnalyzeError> {
        let kind = self.plan.analysis.kind;
        for WordCounts { dictionary, base, counts, firsts } in counted {
            if self.stop.load(Ordering::Relaxed) {
                return Err(AnalyzeError::Stopped);
            }
            if self.group_words.is_none() {
                self.group_words = Some((dictionary.clone(), *base));
            }
            for &key in firsts {
                let group = match key < dictionary.len() {
                    true => self.word_group(dictionary, *base, key),
                    false => self.partial.group_of_one(&Found::Missing, &mut self.key),
                };
                self.partial.cell(0, group, kind).count += u64::from(counts[key]);
            }
        }
        Ok(())
    }

    /// The group of the word of key `key` in `dictionary` (whose key 0 is word number `base`),
    /// made from the word when new to the partial.
    fn word_group(&mut self, dictionary: &StringArray, base: usize, key: usize) -> usize {
        let word = base + key;
        if let Some(&group) = self.word_groups.get(word).filter(|&&group| group != u32::MAX) {
            return group as usize;
        }
        let group =
            self.partial.group_of_one(&Found::Word(dictionary.value(key), word as u32), &mut self.key);
        self.set_word_group(word, group);
        group
    }

    /// The group of each key of `group` that has rows among `rows` (`used`), by key; keys
    /// whose group is not known yet take one in the order their first passing rows come. The
    /// key one past the dictionary's (rows without the property) has its group looked up by
    /// its key each time; the others are remembered by word number.
    fn key_groups(
        &mut self,
        tables: &[Table<'_>],
        rows: Range<usize>,
        group: &Words<'_>,
        used: impl Fn(usize) -> bool,
    ) -> Vec<(usize, usize)> {
        let Words { words, base, .. } = *group;
        let known = |key: usize, word_groups: &[u32]| {
            key < words && word_groups.get(base + key).is_some_and(|&group| group != u32::MAX)
        };
        let mut new = vec![false; words + 1];
        let mut left = 0;
        for key in (0..=words).filter(|&key| used(key) && !known(key, &self.word_groups)) {
            new[key] = true;
            left += 1;
        }
        let mut firsts = Vec::with_capacity(left);
        for row in rows {
            if left == 0 {
                break;
            }
            let key = group.key_of(row);
            if new[key] && passing(tables, row) {
                firsts.push(key);
                new[key] = false;
                left -= 1;
            }
        }
        let mut groups = Vec::with_capacity(words + 1);
        for key in firsts {
            match key < words {
                true => _ = self.word_group(group.dictionary, base, key),
                false => groups.push((key, self.partial.group_of_one(&Found::Missing, &mut self.key))),
            }
        }
        groups.extend(
            (0..words).filter(|&key| used(key)).map(|key| (key, self.word_groups[base + key] as usize)),
        );
        groups
    }
}

/// Adds each row (`codes` and `numbers` from row `first` on, every row with a key and a
/// number) to the aggregate of its key in `accs` with `add`, noting in `firsts` the rows whose
/// key had none pending yet.
#[inline(always)]
fn add_every_row(
    accs: &mut [Acc],
    codes: &[i32],
    numbers: &[f64],
    first: usize,
    firsts: &mut Vec<usize>,
    add: impl Fn(&mut Acc, f64),
) {
    for (row, (&code, &number)) in codes.iter().zip(numbers).enumerate() {
        if let Some(acc) = accs.get_mut(code as usize) {
            if acc.count == 0 {
                firsts.push(first + row);
            }
            acc.count += 1;
            add(acc, number);
        }
    }
}

/// The one group_by property of a query, read from a dictionary column: its keys, its
/// dictionary, how many words that holds, and the word number of key 0.
struct Words<'a> {
    keys: &'a DictionaryArray<Int32Type>,
    dictionary: &'a StringArray,
    words: usize,
    base: usize,
}

impl Words<'_> {
    /// The key of `row`, or the number of words when the row lacks the property.
    #[inline]
    fn key_of(&self, row: usize) -> usize {
        match self.keys.is_null(row) {
            true => self.words,
            false => self.keys.keys().values()[row] as usize,
        }
    }
}

/// The aggregates of a bucket's rows per word of a group's dictionary (`add_passing`), not yet
/// in their groups' cells: one dictionary at a time, so that their room is bounded by the
/// largest dictionary, not by all the words a piece numbers.
#[derive(Default)]
pub(in crate::query::engine) struct PendingWords {
    /// Per key of the dictionary, the aggregate of its rows; empty unless the key is in
    /// `touched`.
    accs: Vec<Acc>,
    /// The keys with rows, in the order of their first (the number of words for the rows
    /// without the property).
    touched: Vec<usize>,
    /// The aggregate of the rows without the property.
    missing: Option<Acc>,
    /// The bucket the rows are in.
    bucket: usize,
    /// The dictionary, once rows are pending, and the word number of its key 0.
    dictionary: Option<StringArray>,
    base: usize,
}
