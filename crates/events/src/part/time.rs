//! Time ranges over a part: the row groups that may hold a range's events (by their
//! timestamp statistics), and counts of the events in a range, from the statistics and the
//! page index where they tell, from the timestamps where they do not.

use std::io;
use std::ops::Range;
use std::sync::PoisonError;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;

use super::{PartFile, TIMESTAMP};
use crate::query::timeframe::TimeRange;

/// The most rows `first_row_at` remembers per part (it forgets them all past it).
const FIRST_ROWS_KEPT: usize = 1024;

impl PartFile {
    /// The row groups that may hold events in `range`.
    pub(crate) fn row_groups(&self, range: Option<TimeRange>) -> Vec<usize> {
        let metadata = self.metadata.metadata();
        (0..metadata.num_row_groups())
            .filter(|&i| {
                let Some(range) = range else { return true };
                match time_bounds(metadata.row_group(i).column(TIMESTAMP).statistics()) {
                    Some((min, max)) => min < range.end_ms && max >= range.start_ms,
                    None => true,
                }
            })
            .collect()
    }

    /// The row groups that may hold events in `range`, each with the latest timestamp in it
    /// (`i64::MAX` when its statistics do not say), in file order.
    pub(crate) fn groups(&self, range: Option<TimeRange>) -> Vec<(usize, i64)> {
        let metadata = self.metadata.metadata();
        self.row_groups(range)
            .into_iter()
            .map(|g| {
                let bounds = time_bounds(metadata.row_group(g).column(TIMESTAMP).statistics());
                (g, bounds.map_or(i64::MAX, |(_, max)| max))
            })
            .collect()
    }

    /// How many events fall in `range`, read from the statistics where a row group lies
    /// wholly inside it, and from the page index and the pages at the range's edges otherwise.
    pub(crate) fn count(&self, range: Option<TimeRange>) -> io::Result<u64> {
        let metadata = self.metadata.metadata();
        let mut total = 0u64;
        let mut partial = Vec::new();
        for i in self.row_groups(range) {
            let group = metadata.row_group(i);
            let inside = match (range, time_bounds(group.column(TIMESTAMP).statistics())) {
                (None, _) => true,
                (Some(r), Some((min, max))) => r.contains(min) && r.contains(max),
                (Some(_), None) => false,
            };
            if inside {
                total += group.num_rows() as u64;
            } else {
                partial.push(i);
            }
        }
        if let Some(range) = range {
            for group in partial {
                total += self.time_rows(group, 0..self.group_rows(group), range)?.len() as u64;
            }
        }
        Ok(total)
    }

    /// The rows among `rows` of row group `group` whose timestamps are in `range` (the part is
    /// in timestamp order, so they follow each other).
    pub(super) fn time_rows(
        &self,
        group: usize,
        rows: Range<usize>,
        range: TimeRange,
    ) -> io::Result<Range<usize>> {
        let start = self.first_row_at(group, rows.clone(), range.start_ms)?;
        let end = self.first_row_at(group, start..rows.end, range.end_ms)?;
        Ok(start..end)
    }

    /// The first row among `rows` of row group `group` whose timestamp is at least `ms`
    /// (`rows.end` when there is none): found in the page index down to the page holding it,
    /// whose timestamps alone are then read.
    fn first_row_at(&self, group: usize, rows: Range<usize>, ms: i64) -> io::Result<usize> {
        let indexed = &self.indexed()?.picked;
        let page = page_holding(indexed.metadata(), group, rows, ms, self.group_rows(group));
        if page.is_empty() {
            return Ok(page.start);
        }
        let key = (group, page.clone(), ms);
        if let Some(&row) = self.first_rows.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(row);
        }
        let mut before = 0;
        let selection = self.selection(&[(group, page.clone())]);
        for batch in self.reader_with(indexed, vec![group], Some(vec![TIMESTAMP]), Some(selection))? {
            let batch = batch.map_err(io::Error::other)?;
            before += batch
                .column(0)
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .partition_point(|&t| t < ms);
        }
        let mut memo = self.first_rows.lock().unwrap_or_else(PoisonError::into_inner);
        if memo.len() >= FIRST_ROWS_KEPT {
            memo.clear();
        }
        memo.insert(key, page.start + before);
        Ok(page.start + before)
    }
}

/// The rows among `rows` of row group `group` (of `group_rows` rows) that hold the first
/// timestamp of at least `ms`, as far as the page index tells: every row before them is
/// earlier, every row from their end on is not. All of `rows` without a page index; empty
/// (at the answer) when a page boundary is the answer.
pub(super) fn page_holding(
    metadata: &ParquetMetaData,
    group: usize,
    rows: Range<usize>,
    ms: i64,
    group_rows: usize,
) -> Range<usize> {
    let index = metadata.column_index().and_then(|index| index.get(group)?.get(TIMESTAMP));
    let offsets = metadata.offset_index().and_then(|offsets| offsets.get(group)?.get(TIMESTAMP));
    let (Some(ColumnIndexMetaData::INT64(index)), Some(offsets)) = (index, offsets) else { return rows };
    let pages = offsets.page_locations();
    let (mut low, mut high) = (rows.start, rows.end);
    for (page, location) in pages.iter().enumerate() {
        let start = (location.first_row_index as usize).max(low);
        let end = pages.get(page + 1).map_or(group_rows, |next| next.first_row_index as usize).min(high);
        if start >= end {
            continue;
        }
        match (index.min_value(page), index.max_value(page)) {
            (_, Some(&max)) if max < ms => low = end,
            (Some(&min), _) if min >= ms => {
                high = start;
                break;
            }
            _ => {}
        }
    }
    low..high
}

pub(super) fn time_bounds(statistics: Option<&Statistics>) -> Option<(i64, i64)> {
    match statistics? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}
