//! Columnar scans: when every shape in a part puts each property a query reads in one column
//! (or leaves it out), the scan hands over whole batches of columns instead of rows, cuts each
//! batch to the time range by binary search in its sorted timestamps, and does not read the
//! `$shape` column. A part where some path leads to a null, an object, an event kept whole, or
//! to columns of several kinds is read row by row instead (`PartFile::scan_groups`).

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMillisecondType};
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, StringArray};
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};

use super::columns::ColumnsView;
use super::{Found, Mode, PartFile, Slot, Strings, TIMESTAMP, time_bounds};
use crate::query::timeframe::TimeRange;

/// A row group, and rows within it (numbered from the group's first).
pub(crate) type GroupRows = (usize, Range<usize>);

/// One property's values in a batch.
pub(crate) enum Values<'a> {
    /// No event in the part has the property.
    Missing,
    /// Strings read as a dictionary: each row's key into `words` (a null row lacks the
    /// property), and the word number of key 0 when the scan numbers this dictionary's words
    /// (rows with the same word number hold the same string, as for `Found::Word`).
    Words { keys: &'a DictionaryArray<Int32Type>, words: &'a StringArray, base: Option<u32> },
    /// Numbers (a null row lacks the property); `integer` says how they print.
    Nums { values: &'a Float64Array, integer: bool },
    /// Any other kind of value: read row by row with `Batch::found`.
    Other,
}

/// A batch of rows from a columnar scan.
pub(crate) struct Batch<'a> {
    /// The rows inside the scan's time range, in timestamp order.
    pub rows: Range<usize>,
    /// Every row's timestamp (sorted); empty unless the scan was asked for them, a path leads
    /// to them, or no other column is read.
    pub timestamps: &'a [i64],
    /// Per path scanned, its values.
    pub columns: Vec<Values<'a>>,
    view: ColumnsView<'a>,
    slots: &'a [Option<(usize, Mode)>],
}

impl<'a> Batch<'a> {
    /// The value at path number `path` in `row`, as a row scan finds it.
    pub(crate) fn found(&self, path: usize, row: usize) -> Found<'a> {
        match self.slots[path] {
            None => Found::Missing,
            Some((TIMESTAMP, _)) => Found::Time(self.timestamps[row]),
            Some((column, mode)) => self.view.found(column, mode, row).unwrap_or(Found::Missing),
        }
    }
}

impl PartFile {
    /// Where each of `paths` leads in every shape of the part: one column (with how its
    /// values print) or nowhere (None); None overall when some path leads anywhere else.
    pub(super) fn uniform_slots(&self, paths: &[Vec<String>]) -> Option<Vec<Option<(usize, Mode)>>> {
        paths
            .iter()
            .map(|path| {
                let mut found: Option<(usize, Mode)> = None;
                for shape in &self.shapes {
                    match shape.resolve(path) {
                        Slot::Missing => {}
                        Slot::Leaf { column, mode } => match found {
                            None => found = Some((column, mode)),
                            Some(seen) if seen == (column, mode) => {}
                            Some(_) => return None,
                        },
                        Slot::Null | Slot::Whole => return None,
                    }
                }
                Some(found)
            })
            .collect()
    }

    /// Calls `each` with every batch of rows in `range` among `pieces` (each a row group and
    /// rows within it, in ascending order), in timestamp order, reading only the columns
    /// `paths` lead to, and the timestamps only where `times` asks for them; false (and `each`
    /// never called) when the part's shapes do not allow a columnar scan of `paths`, which
    /// `scan_groups` then reads row by row. A row group not wholly inside `range` is cut to it
    /// first (`time_rows`: the page index, and the timestamps of the pages at its edges).
    pub(crate) fn scan_batches<E: From<std::io::Error>>(
        &self,
        pieces: Vec<GroupRows>,
        range: TimeRange,
        paths: &[Vec<String>],
        times: bool,
        mut each: impl FnMut(&Batch<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some(slots) = self.uniform_slots(paths) else { return Ok(false) };
        let mut read: Vec<usize> = slots.iter().flatten().map(|(column, _)| *column).collect();
        read.sort_unstable();
        read.dedup();
        let mut cut = Vec::with_capacity(pieces.len());
        for (group, rows) in pieces {
            let rows = self.rows_in(group, rows, range)?;
            if !rows.is_empty() {
                cut.push((group, rows));
            }
        }
        // Every row left is in the range: the timestamps are read only where asked for (or a
        // path leads to them), and when no other column is.
        let timed = times || read.is_empty() || read.contains(&TIMESTAMP);
        let mut columns = read;
        if timed && !columns.contains(&TIMESTAMP) {
            columns.insert(0, TIMESTAMP);
        }
        if cut.is_empty() {
            return Ok(true);
        }
        let groups: Vec<usize> = cut.iter().map(|(group, _)| *group).collect();
        let selection = self.selection(&cut);
        let mut dictionaries: Vec<Option<(ArrayRef, u32)>> = vec![None; self.kinds.len()];
        let mut next_word = 0u32;
        let footer = self.footer_for(Strings::Words, &selection)?;
        for batch in self.reader_with(footer, groups, Some(columns.clone()), Some(selection))? {
            let batch = batch.map_err(std::io::Error::other)?;
            let timestamps = match timed {
                true => batch.column(0).as_primitive::<TimestampMillisecondType>().values(),
                false => &[][..],
            };
            let mut view = ColumnsView::projected(&batch, &self.kinds, &columns);
            view.number_words(&mut dictionaries, &mut next_word);
            let columns = slots
                .iter()
                .map(|slot| match *slot {
                    None => Values::Missing,
                    Some((column, mode)) => view.column(column, mode),
                })
                .collect();
            each(&Batch { rows: 0..batch.num_rows(), timestamps, columns, view, slots: &slots })?;
        }
        Ok(true)
    }

    /// The rows among `rows` of row group `group` whose timestamps are in `range`: all of them
    /// when the group's statistics put it wholly inside, otherwise cut by `time_rows`.
    pub(crate) fn rows_in(
        &self,
        group: usize,
        rows: Range<usize>,
        range: TimeRange,
    ) -> std::io::Result<Range<usize>> {
        let statistics = self.metadata.metadata().row_group(group).column(TIMESTAMP).statistics();
        match time_bounds(statistics) {
            Some((min, max)) if min >= range.start_ms && max < range.end_ms => Ok(rows),
            _ => self.time_rows(group, rows, range),
        }
    }

    /// The selection of `pieces` (each a row group and rows within it, in ascending order; a
    /// row group may come more than once) among the rows of their row groups.
    pub(super) fn selection(&self, pieces: &[GroupRows]) -> RowSelection {
        let mut selectors = Vec::with_capacity(2 * pieces.len() + 1);
        // The row group read last, and the row after the last one selected in it.
        let mut at: Option<(usize, usize)> = None;
        for (group, rows) in pieces {
            let from = match at {
                Some((last, next)) if last == *group => next,
                Some((last, next)) => {
                    selectors.push(RowSelector::skip(self.group_rows(last) - next));
                    0
                }
                None => 0,
            };
            selectors.push(RowSelector::skip(rows.start - from));
            selectors.push(RowSelector::select(rows.len()));
            at = Some((*group, rows.end));
        }
        if let Some((last, next)) = at {
            selectors.push(RowSelector::skip(self.group_rows(last) - next));
        }
        RowSelection::from(selectors)
    }
}
