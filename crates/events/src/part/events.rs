//! Reading whole events back out of a part: all of them in a time range (`PartFile::events`),
//! the rows a scan picked out as JSON text (`rows_json`), and the newest (`latest`).

use std::collections::VecDeque;
use std::io;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection, RowSelector};
use serde_json::Value;

use super::columns::ColumnsView;
use super::{PartFile, SHAPE, TIMESTAMP};
use crate::query::timeframe::TimeRange;

impl PartFile {
    /// The events in `range` (all when `None`) in timestamp order, as (timestamp, event),
    /// decoded a batch of rows at a time.
    pub(crate) fn events(&self, range: Option<TimeRange>) -> io::Result<PartEvents<'_>> {
        let reader = self.reader(self.row_groups(range), None, None)?;
        Ok(PartEvents { part: self, reader, range, buffer: VecDeque::new() })
    }

    /// The events at row numbers `rows` (ascending, as `scan_groups` numbers them) as JSON
    /// text, in that order.
    pub(crate) fn rows_json(&self, rows: &[usize]) -> io::Result<Vec<String>> {
        // Only the row groups holding those rows are read, and in each one the run from the
        // first of them to the last (the page index skips the pages before and after): a
        // selector per row would skip and read each column a row at a time. `keep` numbers
        // the rows asked for among the rows read.
        let metadata = self.metadata.metadata();
        let (mut groups, mut selectors, mut keep) = (Vec::new(), Vec::new(), Vec::with_capacity(rows.len()));
        let (mut first, mut read, mut wanted) = (0, 0, rows.iter().peekable());
        for group in 0..metadata.num_row_groups() {
            let end = first + metadata.row_group(group).num_rows() as usize;
            if let Some(&&start) = wanted.peek().filter(|&&&row| row < end) {
                let mut last = start;
                while let Some(&row) = wanted.next_if(|&&row| row < end) {
                    keep.push(read + row - start);
                    last = row;
                }
                groups.push(group);
                selectors.extend([
                    RowSelector::skip(start - first),
                    RowSelector::select(last + 1 - start),
                    RowSelector::skip(end - last - 1),
                ]);
                read += last + 1 - start;
            }
            first = end;
        }
        let reader = self.reader_with(self.indexed()?, groups, None, Some(RowSelection::from(selectors)))?;
        let (mut texts, mut keep, mut read) =
            (Vec::with_capacity(rows.len()), keep.into_iter().peekable(), 0);
        for batch in reader {
            let batch = batch.map_err(io::Error::other)?;
            let columns = ColumnsView::new(&batch, &self.kinds);
            let timestamps = batch.column(TIMESTAMP).as_primitive::<TimestampMillisecondType>();
            let shapes = batch.column(SHAPE).as_primitive::<UInt32Type>();
            while let Some(row) = keep.next_if(|&at| at < read + batch.num_rows()).map(|at| at - read) {
                let mut text = Vec::new();
                columns.write_json(self.shape(shapes.value(row))?, row, timestamps.value(row), &mut text)?;
                texts.push(String::from_utf8(text).map_err(io::Error::other)?);
            }
            read += batch.num_rows();
        }
        Ok(texts)
    }

    /// The `limit` newest events (by timestamp), newest first; reads only the last rows.
    pub(crate) fn latest(&self, limit: usize) -> io::Result<Vec<(i64, Value)>> {
        let total = usize::try_from(self.metadata.metadata().file_metadata().num_rows()).unwrap_or_default();
        let skip = total.saturating_sub(limit);
        let selection = RowSelection::from(vec![RowSelector::skip(skip), RowSelector::select(total - skip)]);
        let reader = self.reader(self.row_groups(None), None, Some(selection))?;
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
