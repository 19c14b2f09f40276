//! Columnar scans: when every shape in a part puts each property a query reads in one column
//! (or leaves it out), the scan hands over whole batches of columns instead of rows, cuts each
//! batch to the time range by binary search in its sorted timestamps, and does not read the
//! `$shape` column. A part where some path leads to a null, an object, an event kept whole, or
//! to columns of several kinds is read row by row instead (`PartFile::scan_groups`).

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMillisecondType};
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, StringArray};

use super::columns::ColumnsView;
use super::{Found, Mode, PartFile, Slot, TIMESTAMP, time_bounds};
use crate::query::timeframe::TimeRange;

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
    /// Every row's timestamp (sorted); empty when the scan was not asked for them and the
    /// batch's row group lies wholly inside the range (its timestamp column is not read).
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
    fn uniform_slots(&self, paths: &[Vec<String>]) -> Option<Vec<Option<(usize, Mode)>>> {
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

    /// Calls `each` with every batch of rows in `range` in the row groups `groups` (ascending),
    /// in timestamp order, reading only the columns `paths` lead to, and the timestamps only
    /// where `times` asks for them or a row group is not wholly inside `range`; false (and
    /// `each` never called) when the part's shapes do not allow a columnar scan of `paths`,
    /// which `scan_groups` then reads row by row.
    pub(crate) fn scan_batches<E: From<std::io::Error>>(
        &self,
        groups: Vec<usize>,
        range: TimeRange,
        paths: &[Vec<String>],
        times: bool,
        mut each: impl FnMut(&Batch<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some(slots) = self.uniform_slots(paths) else { return Ok(false) };
        let mut read: Vec<usize> = slots.iter().flatten().map(|(column, _)| *column).collect();
        read.sort_unstable();
        read.dedup();
        // Whether a row group's rows are all in the range, so need no timestamp to be cut to it.
        let metadata = self.metadata.metadata();
        let inside = |group: usize| {
            let bounds = time_bounds(metadata.row_group(group).column(TIMESTAMP).statistics());
            bounds.is_some_and(|(min, max)| min >= range.start_ms && max < range.end_ms)
        };
        let untimed =
            |group: &usize| !times && !read.is_empty() && !read.contains(&TIMESTAMP) && inside(*group);
        let mut dictionaries: Vec<Option<(ArrayRef, u32)>> = vec![None; self.kinds.len()];
        let mut next_word = 0u32;
        for run in groups.chunk_by(|left, right| untimed(left) == untimed(right)) {
            let timed = !untimed(&run[0]);
            let mut columns = read.clone();
            if timed && !columns.contains(&TIMESTAMP) {
                columns.insert(0, TIMESTAMP);
            }
            for batch in self.reader_with(&self.words, run.to_vec(), Some(columns.clone()), None)? {
                let batch = batch.map_err(std::io::Error::other)?;
                let (timestamps, rows) = match timed {
                    true => {
                        let timestamps = batch.column(0).as_primitive::<TimestampMillisecondType>().values();
                        let start = timestamps.partition_point(|&ms| ms < range.start_ms);
                        let end = timestamps.partition_point(|&ms| ms < range.end_ms);
                        (&timestamps[..], start..end)
                    }
                    false => (&[][..], 0..batch.num_rows()),
                };
                if rows.is_empty() {
                    continue;
                }
                let mut view = ColumnsView::projected(&batch, &self.kinds, &columns);
                view.number_words(&mut dictionaries, &mut next_word);
                let columns = slots
                    .iter()
                    .map(|slot| match *slot {
                        None => Values::Missing,
                        Some((column, mode)) => view.column(column, mode),
                    })
                    .collect();
                each(&Batch { rows, timestamps, columns, view, slots: &slots })?;
            }
        }
        Ok(true)
    }
}
