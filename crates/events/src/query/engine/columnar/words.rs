//! Analyses added per key of the group's dictionary: where the group and every filter are
//! read from dictionary columns, a count, sum, average, minimum, maximum or standard deviation
//! adds each row to an aggregate per key, without a row selection. A count's per-key counts go
//! into their groups' cells after each batch; the other analyses' aggregates are kept across
//! the batches that share a dictionary (a row group's) until the bucket changes, so that a
//! group_by property of thousands of words costs one move per word and bucket, not per batch.
//! Keys new to the partial take their groups in the order of their first rows.

use std::ops::Range;

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, Float64Array};

use super::{Table, fill, passing};
use crate::part::{Batch, Values};
use crate::query::analysis::AnalysisType;
use crate::query::engine::aggregate::Acc;
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
                    Some(Words { keys, words: words.len(), base: *base as usize })
                }
                _ => return Ok(false),
            },
        };
        if let Some(group) = &group
            && self.partial.groups.is_empty()
        {
            // The dictionary's words are about the groups to come.
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
        let added = match numbers.zip(group.as_ref()) {
            Some((numbers, group)) => self.add_passing(batch, segments, &tables, group, numbers),
            None => self.count_passing(batch, segments, &tables, group.as_ref()),
        };
        self.memos = memos;
        added.map(|()| true)
    }

    /// Counts the rows of `batch` that pass `tables`, per bucket, and per key of `group` when
    /// there is one.
    fn count_passing(
        &mut self,
        batch: &Batch<'_>,
        segments: Vec<(usize, Range<usize>)>,
        tables: &[Table<'_>],
        group: Option<&Words<'_>>,
    ) -> Result<(), AnalyzeError> {
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
            let groups = self.key_groups(batch, tables, rows, group, |key| counts[key] > 0);
            let cells = groups.map(|groups| {
                for (key, group) in groups {
                    self.partial.cell(bucket, group, kind).count += u64::from(counts[key]);
                }
            });
            self.key_counts = counts;
            cells?;
        }
        Ok(())
    }

    /// Adds the numbers of `values` (integers or not) in the rows of `batch` that pass
    /// `tables`, per bucket and word of `group`: each word's rows into an aggregate of its own
    /// (in row order), kept across batches until the bucket or the dictionary changes or the
    /// piece ends (`flush_words`). Words new to the partial take their groups in the order of
    /// their first rows.
    fn add_passing(
        &mut self,
        batch: &Batch<'_>,
        segments: Vec<(usize, Range<usize>)>,
        tables: &[Table<'_>],
        group: &Words<'_>,
        (values, integer): (&Float64Array, bool),
    ) -> Result<(), AnalyzeError> {
        let kind = self.plan.analysis.kind;
        let stored = || if integer { Stored::Integer } else { Stored::Float };
        let Words { keys, words, base } = *group;
        let (codes, numbers) = (keys.keys().values(), values.values());
        let absent = values.nulls().filter(|nulls| nulls.null_count() > 0);
        for (bucket, rows) in segments {
            if (self.pending.bucket, self.pending.base) != (bucket, base) {
                self.flush_words();
                (self.pending.bucket, self.pending.base) = (bucket, base);
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
                        None => &mut pending.missing.get_or_insert_with(|| (usize::MAX, Acc::new(kind))).1,
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
            let made = self.first_groups(batch, group, &firsts, &mut pending);
            self.pending = pending;
            made?;
        }
        Ok(())
    }

    /// Notes the words of the rows `firsts` as pending, and gives each word new to the partial,
    /// and the rows without the property, a group (in the rows' order).
    fn first_groups(
        &mut self,
        batch: &Batch<'_>,
        group: &Words<'_>,
        firsts: &[usize],
        pending: &mut PendingWords,
    ) -> Result<(), AnalyzeError> {
        let mut found = Vec::with_capacity(batch.columns.len());
        for &row in firsts {
            let key = group.key_of(row);
            // The word's number; none for a row without the property.
            let word = (key < group.words).then_some(group.base + key);
            if let Some(word) = word {
                pending.touched.push(key);
                if self.word_groups.get(word).is_some_and(|&group| group != u32::MAX) {
                    continue;
                }
            }
            fill(batch, row, &mut found);
            let position = self.group_of(&found)?;
            match (word, &mut pending.missing) {
                (Some(word), _) => self.set_word_group(word, position),
                (None, Some((missing, _))) => *missing = position,
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Moves the pending aggregates of words (and of rows without the group's property) into
    /// their groups' cells, in the order of their first rows; before the rows of a batch are
    /// added another way, and once the piece is read.
    pub(in crate::query::engine) fn flush_words(&mut self) {
        let kind = self.plan.analysis.kind;
        let pending = &mut self.pending;
        // Room for a cell per group at once, rather than as each group comes.
        let row = &mut self.partial.cells[pending.bucket];
        row.reserve(self.partial.groups.len().saturating_sub(row.len()));
        for key in pending.touched.drain(..) {
            let acc = std::mem::replace(&mut pending.accs[key], Acc::new(kind));
            let group = self.word_groups[pending.base + key] as usize;
            self.partial.cell(pending.bucket, group, kind).absorb(&acc);
        }
        if let Some((group, acc)) = pending.missing.take() {
            self.partial.cell(pending.bucket, group, kind).absorb(&acc);
        }
    }

    /// The group of each key of `group` that has rows among `rows` (`used`), by key; keys
    /// whose group is not known yet take one in the order their first passing rows come. The
    /// key one past the dictionary's (rows without the property) has its group made anew from
    /// its first row each time; the others are remembered by word number.
    fn key_groups(
        &mut self,
        batch: &Batch<'_>,
        tables: &[Table<'_>],
        rows: Range<usize>,
        group: &Words<'_>,
        used: impl Fn(usize) -> bool,
    ) -> Result<Vec<(usize, usize)>, AnalyzeError> {
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
                firsts.push((key, row));
                new[key] = false;
                left -= 1;
            }
        }
        let mut groups = Vec::with_capacity(words + 1);
        let mut found = Vec::with_capacity(batch.columns.len());
        for (key, row) in firsts {
            fill(batch, row, &mut found);
            let group = self.group_of(&found)?;
            if key < words {
                self.set_word_group(base + key, group);
            } else {
                groups.push((key, group));
            }
        }
        groups.extend(
            (0..words).filter(|&key| used(key)).map(|key| (key, self.word_groups[base + key] as usize)),
        );
        Ok(groups)
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

/// The one group_by property of a query, read from a dictionary column: its keys, how many
/// words its dictionary holds, and the word number of key 0.
struct Words<'a> {
    keys: &'a DictionaryArray<Int32Type>,
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
    /// The keys with rows, in the order of their first.
    touched: Vec<usize>,
    /// The group and aggregate of the rows without the property.
    missing: Option<(usize, Acc)>,
    /// The bucket the rows are in.
    bucket: usize,
    /// The word number of the dictionary's key 0.
    base: usize,
}
