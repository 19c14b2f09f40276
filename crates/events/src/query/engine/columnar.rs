//! Builders fed whole batches by a columnar scan (`PartFile::scan_batches`): the filters keep
//! a selection of rows, column by column (a string filter is tested once per dictionary word,
//! a number filter on the float); the interval's buckets cut the selection by binary search in
//! the sorted timestamps; a group is looked up by word number; a count adds no value per row.
//! Where the group and every filter are read from dictionary columns, rows are added per key of
//! the group's dictionary instead (`words`). Each row ends in the same aggregate as
//! `Builder::add` would put it, and groups come in the same order (sums of floats are added in
//! another order).

mod words;

pub(super) use words::PendingWords;

use std::ops::Range;
use std::sync::atomic::Ordering;

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, Float64Array, PrimitiveArray};
use serde_json::Value;

use super::values::{RANKED_BYTES, Stored, text_key, to_json};
use super::{AnalyzeError, Builder, Check, MEMORY_LIMIT, Memo, cell_mark, passes};
use crate::part::{Batch, Found, Values};
use crate::query::analysis::{AnalysisError, AnalysisType};
use crate::query::filter::NumberTest;

/// Adds the rows of `batch` (which lie inside the scan's time range) to each of the builders
/// of one scan. Their plans all hold the query's filters, so the rows that pass them are
/// selected once (into `selection`), by the first builder that needs a selection.
pub(super) fn add_batch(
    builders: &mut [Builder<'_, '_>],
    batch: &Batch<'_>,
    selection: &mut Vec<u32>,
) -> Result<(), AnalyzeError> {
    let mut selected = false;
    for builder in builders {
        if builder.stop.load(Ordering::Relaxed) {
            return Err(AnalyzeError::Stopped);
        }
        builder.note_group_words(batch);
        if builder.add_by_words(batch)? {
            continue;
        }
        builder.flush_words();
        if !selected {
            select(&builder.plan.checks, batch, selection, &mut builder.memos, &mut builder.key);
            selected = true;
        }
        builder.add_selected(batch, selection)?;
    }
    Ok(())
}

impl Builder<'_, '_> {
    /// Notes the first dictionary with word numbers the one group_by property is read from,
    /// so that the partial can give the groups of its words (`Partial::words`).
    fn note_group_words(&mut self, batch: &Batch<'_>) {
        if self.group_words.is_none()
            && let [path] = self.plan.groups.as_slice()
            && let Values::Words { words, base: Some(base), .. } = &batch.columns[*path]
        {
            self.group_words = Some(((*words).clone(), *base as usize));
        }
    }

    /// The rows of `batch` in each of the plan's buckets (the one bucket without an interval),
    /// as (bucket number, rows), in time order.
    fn segments(&self, batch: &Batch<'_>) -> Vec<(usize, Range<usize>)> {
        if self.plan.buckets.is_none() {
            return vec![(0, batch.rows.clone())];
        }
        let rows = &batch.timestamps[batch.rows.clone()];
        let buckets = &self.partial.buckets;
        let mut segments = Vec::new();
        let mut done = 0;
        let from = buckets.partition_point(|bucket| bucket.end_ms <= rows[0]);
        for (index, bucket) in buckets.iter().enumerate().skip(from) {
            if done == rows.len() {
                break;
            }
            let start = done + rows[done..].partition_point(|&ms| ms < bucket.start_ms);
            let end = start + rows[start..].partition_point(|&ms| ms < bucket.end_ms);
            if end > start {
                segments.push((index, batch.rows.start + start..batch.rows.start + end));
            }
            done = end;
        }
        segments
    }

    /// Adds the selected rows, bucket by bucket.
    fn add_selected(&mut self, batch: &Batch<'_>, selection: &[u32]) -> Result<(), AnalyzeError> {
        if selection.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        for (bucket, rows) in self.segments(batch) {
            let end = done + selection[done..].partition_point(|&row| (row as usize) < rows.end);
            let start = done + selection[done..end].partition_point(|&row| (row as usize) < rows.start);
            if end > start {
                self.add_rows(batch, bucket, &selection[start..end])?;
            }
            done = end;
        }
        Ok(())
    }

    /// Adds `rows`, all in bucket number `bucket`.
    fn add_rows(&mut self, batch: &Batch<'_>, bucket: usize, rows: &[u32]) -> Result<(), AnalyzeError> {
        let plan = self.plan;
        let kind = plan.analysis.kind;
        let groups = if plan.groups.is_empty() { Vec::new() } else { self.groups_of(batch, rows)? };
        let Some(target) = plan.target else {
            // A count: only the number of rows per group.
            match groups.iter().max() {
                None => self.partial.cell(bucket, 0, kind).count += rows.len() as u64,
                Some(&last) => {
                    self.partial.cell(bucket, last as usize, kind);
                    let cells = &mut self.partial.cells[bucket];
                    for &group in &groups {
                        cells[group as usize].count += 1;
                    }
                }
            }
            return Ok(());
        };
        if let Values::Nums { values, integer } = &batch.columns[target]
            && !matches!(kind, AnalysisType::CountUnique | AnalysisType::SelectUnique)
        {
            return self.add_numbers(bucket, &groups, rows, values, *integer);
        }
        if let Values::Words { keys, base: Some(base), .. } = &batch.columns[target]
            && matches!(kind, AnalysisType::CountUnique | AnalysisType::SelectUnique)
        {
            return self.add_words(batch, bucket, &groups, rows, (keys, *base as usize));
        }
        for (index, &row) in rows.iter().enumerate() {
            let group = groups.get(index).map_or(0, |&group| group as usize);
            self.add_value(batch, bucket, group, row as usize)?;
        }
        Ok(())
    }

    /// Adds the target value of `row` to its cell.
    fn add_value(
        &mut self,
        batch: &Batch<'_>,
        bucket: usize,
        group: usize,
        row: usize,
    ) -> Result<(), AnalyzeError> {
        let target = self.plan.target.expect("a value is added for a target");
        let cell = self.partial.cell(bucket, group, self.plan.analysis.kind);
        let before = cell.bytes();
        cell.add(Some(&batch.found(target, row)), &mut self.key);
        let after = cell.bytes();
        self.partial.bytes = (self.partial.bytes + after).saturating_sub(before);
        if self.partial.bytes > MEMORY_LIMIT {
            return Err(AnalysisError::MemoryLimit.into());
        }
        Ok(())
    }

    /// Adds `rows` of count_unique or select_unique whose target is a dictionary column, with
    /// `keys` and the word number of key 0: a row without the value adds none, and a word
    /// already added to the row's cell holds a value already in its set, so those rows are
    /// only counted.
    fn add_words(
        &mut self,
        batch: &Batch<'_>,
        bucket: usize,
        groups: &[u32],
        rows: &[u32],
        (keys, base): (&DictionaryArray<Int32Type>, usize),
    ) -> Result<(), AnalyzeError> {
        let kind = self.plan.analysis.kind;
        let (codes, nulls) = (keys.keys().values(), keys.nulls().filter(|nulls| nulls.null_count() > 0));
        let end = base + keys.values().len();
        if self.last_cells.len() < end {
            self.last_cells.resize(end, 0);
        }
        if let Some(mark) = cell_mark(bucket, 0)
            && groups.is_empty()
        {
            // All in one cell: the rows whose words are new to it are picked out first, in a
            // loop that only reads keys and marks.
            let mut fresh = Vec::new();
            for &row in rows {
                if nulls.is_some_and(|nulls| nulls.is_null(row as usize)) {
                    continue;
                }
                let last = &mut self.last_cells[base + codes[row as usize] as usize];
                if *last != mark {
                    *last = mark;
                    fresh.push(row);
                }
            }
            self.partial.cell(bucket, 0, kind).count += (rows.len() - fresh.len()) as u64;
            for row in fresh {
                self.add_value(batch, bucket, 0, row as usize)?;
            }
            return Ok(());
        }
        for (index, &row) in rows.iter().enumerate() {
            let row = row as usize;
            let group = groups.get(index).map_or(0, |&group| group as usize);
            if nulls.is_some_and(|nulls| nulls.is_null(row))
                || self.already_added(base + codes[row] as usize, bucket, group)
            {
                self.partial.cell(bucket, group, kind).count += 1;
                continue;
            }
            self.add_value(batch, bucket, group, row)?;
        }
        Ok(())
    }

    /// Adds `rows` of a numeric target, all in bucket number `bucket`, each in its group of
    /// `groups` (or the only one): numbers straight from the column, for the analyses that
    /// read a number.
    fn add_numbers(
        &mut self,
        bucket: usize,
        groups: &[u32],
        rows: &[u32],
        values: &Float64Array,
        integer: bool,
    ) -> Result<(), AnalyzeError> {
        let kind = self.plan.analysis.kind;
        let last = groups.iter().max().map_or(0, |&group| group as usize);
        self.partial.cell(bucket, last, kind);
        let cells = &mut self.partial.cells[bucket];
        let (numbers, nulls) = (values.values(), values.null_count() > 0);
        let mut added = 0;
        for (index, &row) in rows.iter().enumerate() {
            let row = row as usize;
            let cell = &mut cells[groups.get(index).map_or(0, |&group| group as usize)];
            cell.count += 1;
            if nulls && values.is_null(row) {
                continue;
            }
            cell.add_number(numbers[row], if integer { Stored::Integer } else { Stored::Float });
            added += 1;
        }
        if matches!(kind, AnalysisType::Median | AnalysisType::Percentile) {
            self.partial.bytes += added * RANKED_BYTES;
            if self.partial.bytes > MEMORY_LIMIT {
                return Err(AnalysisError::MemoryLimit.into());
            }
        }
        Ok(())
    }

    /// The group of each of `rows`: by word number when the one group_by property is a
    /// dictionary column, otherwise from the row's values.
    fn groups_of(&mut self, batch: &Batch<'_>, rows: &[u32]) -> Result<Vec<u32>, AnalyzeError> {
        let mut groups = Vec::with_capacity(rows.len());
        let mut found = Vec::with_capacity(batch.columns.len());
        let words = match self.plan.groups.as_slice() {
            [path] => match &batch.columns[*path] {
                Values::Words { keys, words, base: Some(base) } => Some((keys, *words, *base as usize)),
                _ => None,
            },
            _ => None,
        };
        let Some((keys, words, base)) = words else {
            for &row in rows {
                fill(batch, row as usize, &mut found);
                groups.push(self.group_of(&found)? as u32);
            }
            return Ok(groups);
        };
        if self.partial.groups.is_empty() {
            // The dictionary's words are about the groups to come.
            self.partial.reserve(keys.values().len());
        }
        let (codes, nulls) = (keys.keys().values(), keys.null_count() > 0);
        let mut missing: Option<u32> = None;
        for &row in rows {
            let row = row as usize;
            let group = if nulls && keys.is_null(row) {
                match missing {
                    Some(group) => group,
                    None => {
                        fill(batch, row, &mut found);
                        *missing.insert(self.group_of(&found)? as u32)
                    }
                }
            } else {
                let word = base + codes[row] as usize;
                match self.word_groups.get(word) {
                    Some(&group) if group != u32::MAX => group,
                    _ => {
                        // The group of a word, as `group_of` makes it from `Found::Word`.
                        let text = words.value(codes[row] as usize);
                        self.key.clear();
                        text_key(4, text, &mut self.key);
                        let group =
                            self.partial.group(&self.key, || vec![Value::String(text.to_owned())]) as u32;
                        self.set_word_group(word, group as usize);
                        group
                    }
                }
            };
            groups.push(group);
        }
        Ok(groups)
    }
}

/// Makes `selection` the rows of `batch` that pass every one of `checks` (`keep`).
pub(super) fn select(
    checks: &[Check<'_>],
    batch: &Batch<'_>,
    selection: &mut Vec<u32>,
    memos: &mut [Memo],
    key: &mut Vec<u8>,
) {
    selection.clear();
    selection.extend(batch.rows.start as u32..batch.rows.end as u32);
    for check in checks {
        keep(check, batch, selection, memos, key);
    }
}

/// Keeps the rows of `selection` that pass `check` (a string filter tested once per word of a
/// dictionary with word numbers, a number filter on the float), with `memos` and `key` as
/// `passes` takes them.
fn keep(
    check: &Check<'_>,
    batch: &Batch<'_>,
    selection: &mut Vec<u32>,
    memos: &mut [Memo],
    key: &mut Vec<u8>,
) {
    if selection.is_empty() {
        return;
    }
    if let Check::Property { path, leaf, filter } = check {
        let memo = &mut memos[*leaf];
        match &batch.columns[*path] {
            Values::Missing => {
                if !filter.passes(None) {
                    selection.clear();
                }
                return;
            }
            Values::Words { keys, words, base: Some(base) } => {
                let missing = filter.passes(None);
                let (codes, nulls) = (keys.keys().values(), keys.null_count() > 0);
                if words.len() <= 2 * batch.rows.len() {
                    // Each word tested up front, then a lookup per row, as `add_by_words`.
                    memo.test_words(filter, words, *base);
                    let table = Table {
                        passed: &memo.words[*base as usize..*base as usize + words.len()],
                        codes,
                        nulls: nulls.then(|| keys.keys()),
                        missing,
                    };
                    selection.retain(|&row| passing(std::slice::from_ref(&table), row as usize));
                    return;
                }
                selection.retain(|&row| {
                    let row = row as usize;
                    if nulls && keys.is_null(row) {
                        return missing;
                    }
                    let key = codes[row] as usize;
                    let word = *base as usize + key;
                    if let Some(&known @ 1..) = memo.words.get(word) {
                        return known == 2;
                    }
                    let passed = filter.passes(Some(&Value::String(words.value(key).to_owned())));
                    if memo.words.len() <= word {
                        memo.words.resize(word + 1, 0);
                    }
                    memo.words[word] = 1 + u8::from(passed);
                    passed
                });
                return;
            }
            Values::Nums { values, integer } => {
                let missing = filter.passes(None);
                let (numbers, nulls) = (values.values(), values.null_count() > 0);
                if let Some(test) = filter.number_test() {
                    keep_numbers(selection, values, missing, test);
                    return;
                }
                selection.retain(|&row| {
                    let row = row as usize;
                    if nulls && values.is_null(row) {
                        return missing;
                    }
                    let number = numbers[row];
                    filter
                        .passes_number(number)
                        .unwrap_or_else(|| filter.passes(to_json(&Found::Num(number, *integer)).as_ref()))
                });
                return;
            }
            Values::Words { base: None, .. } | Values::Other => {}
        }
    }
    let mut found = Vec::with_capacity(batch.columns.len());
    selection.retain(|&row| {
        fill(batch, row as usize, &mut found);
        passes(check, &found, memos, key)
    });
}

/// Keeps the rows of `selection` whose number in `values` passes `test` (rows without one:
/// `missing`), in a loop of its own per comparison.
fn keep_numbers(selection: &mut Vec<u32>, values: &Float64Array, missing: bool, test: NumberTest) {
    fn keep(selection: &mut Vec<u32>, values: &Float64Array, missing: bool, passes: impl Fn(f64) -> bool) {
        let numbers = values.values();
        match values.nulls().filter(|nulls| nulls.null_count() > 0) {
            None => selection.retain(|&row| passes(numbers[row as usize])),
            Some(nulls) => selection.retain(|&row| match nulls.is_null(row as usize) {
                true => missing,
                false => passes(numbers[row as usize]),
            }),
        }
    }
    match test {
        NumberTest::Equal(operand) => keep(selection, values, missing, |number| number == operand),
        NumberTest::Unequal(operand) => keep(selection, values, missing, |number| number != operand),
        NumberTest::Below(operand) => keep(selection, values, missing, |number| number < operand),
        NumberTest::AtMost(operand) => keep(selection, values, missing, |number| number <= operand),
        NumberTest::Above(operand) => keep(selection, values, missing, |number| number > operand),
        NumberTest::AtLeast(operand) => keep(selection, values, missing, |number| number >= operand),
    }
}

/// The values of every path in `row`, as a row scan finds them.
fn fill<'a>(batch: &Batch<'a>, row: usize, found: &mut Vec<Found<'a>>) {
    found.clear();
    found.extend((0..batch.columns.len()).map(|path| batch.found(path, row)));
}

/// A filter on a dictionary column, for one batch: per key of the dictionary, 2 when its word
/// passes (1 when not); each row's key; the keys again when some rows lack the property; and
/// whether those pass.
struct Table<'a> {
    passed: &'a [u8],
    codes: &'a [i32],
    nulls: Option<&'a PrimitiveArray<Int32Type>>,
    missing: bool,
}

/// Whether `row` passes every filter of `tables`.
#[inline]
fn passing(tables: &[Table<'_>], row: usize) -> bool {
    tables.iter().all(|table| match table.nulls {
        Some(keys) if keys.is_null(row) => table.missing,
        _ => table.passed[table.codes[row] as usize] == 2,
    })
}
