//! Reading whole events back out of a part: all of them in a time range (`PartFile::events`),
//! the rows a scan picked out as JSON text (`rows_json`), and the newest (`latest`).

use std::collections::VecDeque;
use std::io;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection, RowSelector};
use serde_json::Value;

use super::columns::ColumnsView;
use super::{PartFile, SHAPE, Strings, TIMESTAMP};
use crate::query::timeframe::TimeRange;
use crate::threads::on_threads;

/// The least bytes of pages `rows_json` must read (as the footer's sizes tell) before it
/// reads the columns on more than one thread: starting a thread takes tens of microseconds,
/// about as long as reading a few dozen KiB of pages. A byte in tests, whose parts are small.
#[cfg(not(test))]
const SPLIT_BYTES: u64 = 256 * 1024;
#[cfg(test)]
const SPLIT_BYTES: u64 = 1;

/// The most rows `rows_json` reads at once, from its window's first row to its last: 128 Ki
/// rows of every column are some tens of MiB (a window's dictionaries are decoded anew).
/// Fewer in tests, so that their small parts are read in several windows.
#[cfg(not(test))]
const WINDOW_ROWS: usize = 128 * 1024;
#[cfg(test)]
const WINDOW_ROWS: usize = 7;

impl PartFile {
    /// The events in `range` (all when `None`) in timestamp order, as (timestamp, event),
    /// decoded a batch of rows at a time.
    pub(crate) fn events(&self, range: Option<TimeRange>) -> io::Result<PartEvents<'_>> {
        let reader = self.reader(self.row_groups(range), None, None)?;
        Ok(PartEvents { part: self, reader, range, buffer: VecDeque::new() })
    }

    /// The events at row numbers `rows` (ascending, as `scan_groups` numbers them) as JSON
    /// text, in that order, read a window of at most `WINDOW_ROWS` rows at a time (every
    /// column of a window's rows is held until its events are written).
    pub(crate) fn rows_json(&self, rows: &[usize], threads: usize) -> io::Result<Vec<String>> {
        let mut texts = Vec::with_capacity(rows.len());
        let mut rest = rows;
        while let Some(&first) = rest.first() {
            let window = rest.partition_point(|&row| row - first < WINDOW_ROWS);
            texts.extend(self.window_json(&rest[..window], threads)?);
            rest = &rest[window..];
        }
        Ok(texts)
    }

    /// `rows_json` for one window. The columns are read on up to `threads` threads at once,
    /// each reading a share of them of about equal bytes (`column_sets`); then as many threads
    /// write a run of the events each.
    fn window_json(&self, rows: &[usize], threads: usize) -> io::Result<Vec<String>> {
        // Only the row groups holding those rows are read, and in each one the run from the
        // first of them to the last (the page index skips the pages before and after): a
        // selector per row would skip and read each column a row at a time. `keep` numbers
        // the rows asked for among the rows read; `runs` has each group's rows read.
        let metadata = self.metadata.metadata();
        let (mut runs, mut selectors, mut keep) = (Vec::new(), Vec::new(), Vec::with_capacity(rows.len()));
        let (mut first, mut read, mut wanted) = (0, 0, rows.iter().peekable());
        for group in 0..metadata.num_row_groups() {
            let end = first + metadata.row_group(group).num_rows() as usize;
            if let Some(&&start) = wanted.peek().filter(|&&&row| row < end) {
                let mut last = start;
                while let Some(&row) = wanted.next_if(|&&row| row < end) {
                    keep.push(read + row - start);
                    last = row;
                }
                runs.push((group, last + 1 - start));
                selectors.extend([
                    RowSelector::skip(start - first),
                    RowSelector::select(last + 1 - start),
                    RowSelector::skip(end - last - 1),
                ]);
                read += last + 1 - start;
            }
            first = end;
        }
        let sets = self.column_sets(&runs, threads);
        let (picked, selection) = (&self.indexed()?.picked, RowSelection::from(selectors));
        let groups: Vec<usize> = runs.iter().map(|&(group, _)| group).collect();
        let read_set = |columns: &[usize]| -> io::Result<Vec<RecordBatch>> {
            let reader =
                self.reader_with(picked, groups.clone(), Some(columns.to_vec()), Some(selection.clone()))?;
            reader.map(|batch| batch.map_err(io::Error::other)).collect()
        };
        // Every set reads the same rows in batches of the same size: batch i of each set holds
        // the same rows.
        let sets_read = on_threads(&sets, |set| read_set(set)).into_iter().collect::<io::Result<Vec<_>>>()?;
        // Each batch's columns, joined, with its timestamps and shapes (the first set holds
        // them, first and second); and the rows asked for, as (batch, row in it).
        let mut views = Vec::with_capacity(sets_read[0].len());
        let (mut picked, mut keep, mut read) =
            (Vec::with_capacity(rows.len()), keep.into_iter().peekable(), 0);
        for (i, batch) in sets_read[0].iter().enumerate() {
            let joined = (sets_read.iter().zip(&sets))
                .map(|(batches, columns)| {
                    let same = batches.get(i).filter(|other| other.num_rows() == batch.num_rows());
                    Ok((
                        same.ok_or_else(|| io::Error::other("the column sets read different batches"))?,
                        &columns[..],
                    ))
                })
                .collect::<io::Result<Vec<_>>>()?;
            let timestamps = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let shapes = batch.column(1).as_primitive::<UInt32Type>();
            views.push((ColumnsView::joined(&joined, &self.kinds), timestamps, shapes));
            while let Some(row) = keep.next_if(|&at| at < read + batch.num_rows()).map(|at| at - read) {
                picked.push((i, row));
            }
            read += batch.num_rows();
        }
        // The texts are written in as many runs of the rows as column sets were read, each on
        // a thread of its own.
        let write = |rows: &[(usize, usize)]| -> io::Result<Vec<String>> {
            let mut texts: Vec<String> = Vec::with_capacity(rows.len());
            for &(batch, row) in rows {
                let (columns, timestamps, shapes) = &views[batch];
                // Room for as long a text as the last event's.
                let mut text = Vec::with_capacity(texts.last().map_or(0, String::len));
                columns.write_json(self.shape(shapes.value(row))?, row, timestamps.value(row), &mut text)?;
                texts.push(String::from_utf8(text).map_err(io::Error::other)?);
            }
            Ok(texts)
        };
        let runs = picked.chunks(picked.len().div_ceil(sets.len()).max(1)).collect::<Vec<_>>();
        let mut texts = Vec::with_capacity(rows.len());
        for run in on_threads(&runs, |run| write(run)) {
            texts.extend(run?);
        }
        Ok(texts)
    }

    /// The part's columns in at most `threads` sets of about equal bytes to read for `runs`
    /// (row groups, each with the rows read from it): a column's dictionary page whole, and of
    /// its other pages the share of the group's rows read. Columns go, the largest first, to
    /// the set with the fewest bytes so far; the first set starts with the timestamps and the
    /// shapes. One set when there is less than `SPLIT_BYTES` to read. Each set is in file
    /// order.
    fn column_sets(&self, runs: &[(usize, usize)], threads: usize) -> Vec<Vec<usize>> {
        let metadata = self.metadata.metadata();
        let bytes = |column: usize| -> u64 {
            let each = runs.iter().map(|&(group, rows)| {
                let group = metadata.row_group(group);
                let chunk = group.column(column);
                let whole = u64::try_from(chunk.compressed_size()).unwrap_or_default();
                let dictionary = chunk.dictionary_page_offset().map_or(0, |at| {
                    u64::try_from(chunk.data_page_offset() - at).unwrap_or_default().min(whole)
                });
                let group_rows = u64::try_from(group.num_rows()).unwrap_or_default().max(1);
                dictionary + (whole - dictionary) * rows as u64 / group_rows
            });
            each.sum()
        };
        let mut columns: Vec<(u64, usize)> =
            (0..self.kinds.len()).map(|column| (bytes(column), column)).collect();
        let total: u64 = columns.iter().map(|(bytes, _)| bytes).sum();
        let threads = if total < SPLIT_BYTES { 1 } else { threads.clamp(1, columns.len().max(1)) };
        let mut sets = vec![(0, Vec::new()); threads];
        for fixed in [TIMESTAMP, SHAPE] {
            sets[0].0 += columns[fixed].0;
            sets[0].1.push(fixed);
        }
        columns.retain(|&(_, column)| column != TIMESTAMP && column != SHAPE);
        columns.sort_unstable_by(|a, b| b.cmp(a));
        for (bytes, column) in columns {
            let lightest = sets.iter_mut().min_by_key(|(bytes, _)| *bytes).expect("at least one set");
            lightest.0 += bytes;
            lightest.1.push(column);
        }
        sets.into_iter()
            .filter(|(_, columns)| !columns.is_empty())
            .map(|(_, mut columns)| {
                columns.sort_unstable();
                columns
            })
            .collect()
    }

    /// The `limit` newest events (by timestamp), newest first; reads only the last rows.
    pub(crate) fn latest(&self, limit: usize) -> io::Result<Vec<(i64, Value)>> {
        let total = usize::try_from(self.metadata.metadata().file_metadata().num_rows()).unwrap_or_default();
        let skip = total.saturating_sub(limit);
        let selection = RowSelection::from(vec![RowSelector::skip(skip), RowSelector::select(total - skip)]);
        let footer = self.footer_for(Strings::Plain, &selection)?;
        let reader = self.reader_with(footer, self.row_groups(None), None, Some(selection))?;
        let mut events = PartEvents { part: self, reader, range: None, buffer: VecDeque::new() }
            .collect::<io::Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }
}

/// A scan over a part's events: see `PartFile::events`.
pub(crate) struct PartEvents<'a> {
    part: &'a PartFile,
    reader: ParquetRecordBatchReader,
    range: Option<TimeRange>,
    buffer: VecDeque<(i64, Value)>,
}

impl PartEvents<'_> {
    /// Decodes the next batch into the buffer; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(batch) = self.reader.next() else { return Ok(false) };
        let batch = batch.map_err(io::Error::other)?;
        let columns = ColumnsView::new(&batch, &self.part.kinds);
        let timestamps = batch.column(TIMESTAMP).as_primitive::<TimestampMillisecondType>();
        let shapes = batch.column(SHAPE).as_primitive::<UInt32Type>();
        for row in 0..batch.num_rows() {
            let timestamp_ms = timestamps.value(row);
            if self.range.is_some_and(|r| !r.contains(timestamp_ms)) {
                continue;
            }
            let shape = self.part.shape(shapes.value(row))?;
            self.buffer.push_back((timestamp_ms, columns.rebuild(shape, row, timestamp_ms)?));
        }
        Ok(true)
    }
}

impl Iterator for PartEvents<'_> {
    type Item = io::Result<(i64, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffer.is_empty() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => return Some(Err(error)),
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}
