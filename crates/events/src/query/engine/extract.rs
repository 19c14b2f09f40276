//! Extraction over parts and the tail: the matching rows are found by their filter columns
//! only (a chunk of many rows in one run per core, tested column by column where the part's
//! shapes allow it), then just the events returned are rebuilt (their columns read in one set
//! per core, `PartFile::rows_json`).

use std::collections::BinaryHeap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::columnar::select;
use super::{
    AnalyzeError, Memo, PIECE_ROWS, PartialCache, Plan, Query, cached_answer, look_up, passes, scan,
};
use crate::query::analysis::{Analysis, AnalysisType};
use crate::query::answer::Answer;
use crate::query::extraction::Extraction;
use crate::store::{Part, StoredEvent};
use crate::threads::on_threads;

/// Rows in a row group's first chunk per event wanted: enough when a thirty-second of the
/// events match the filters (fewer in tests, so that chunks grow within their small parts).
#[cfg(not(test))]
const FIRST_CHUNK: usize = 32;
#[cfg(test)]
const FIRST_CHUNK: usize = 1;

/// Rows of a chunk per thread, at least, before its scan is cut among threads: starting a
/// thread takes tens of microseconds, about as long as scanning a few thousand rows. One in
/// tests, so that their small chunks are cut too.
#[cfg(not(test))]
const SPLIT_ROWS: usize = 8 * 1024;
#[cfg(test)]
const SPLIT_ROWS: usize = 1;

/// Runs `extraction` over `parts` and `tail` (as for `analyze`, answers cached alike): finds
/// the matching rows by their filter columns only, then rebuilds just the events returned.
/// For the `latest` N, rows are read newest first, a chunk at a time, and reading stops once
/// N matches are newer than any event left unread.
pub(crate) fn extract(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &std::sync::Mutex<PartialCache>,
    extraction: &Extraction,
    query: &Query<'_>,
) -> Result<Answer, AnalyzeError> {
    let range = query.range;
    let count = Analysis::parse(AnalysisType::Count, &serde_json::Map::new())?;
    let mut paths = Vec::new();
    let plan = Plan::new(&count, query.filters, range, query.timezone, &mut paths)?;
    let answer_key = (query.version.to_owned(), format!("{}|{range:?}|{extraction:?}", plan.identity));
    cached_answer(cache, answer_key, query.reach, || {
        Ok(Answer::from_text(&find_and_rebuild(parts, tail, extraction, query, &plan, &paths)?))
    })
}

/// The extraction's result as JSON text: the rows that pass `plan`'s filters (whose
/// properties are at `paths`), found by their filter columns only, then just the events
/// returned written out.
fn find_and_rebuild(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    extraction: &Extraction,
    query: &Query<'_>,
    plan: &Plan<'_>,
    paths: &[Vec<String>],
) -> Result<String, AnalyzeError> {
    let range = query.range;
    let mut memos = (0..plan.leaves).map(|_| Memo::default()).collect::<Vec<_>>();
    let mut key = Vec::new();
    // (timestamp, source, row): the source numbers the parts, and `parts.len()` is the tail.
    // Sorted, these are the matches in the order the extraction returns them (by timestamp,
    // ties in scan order).
    let mut matched: Vec<(i64, usize, usize)> = Vec::new();
    let mut found = Vec::with_capacity(paths.len());
    for (row, event) in tail.iter().enumerate() {
        if query.reach.stop().load(Ordering::Relaxed) {
            return Err(AnalyzeError::Stopped);
        }
        if range.is_some_and(|r| !r.contains(event.timestamp_ms)) {
            continue;
        }
        look_up(&event.body(), paths, &mut found);
        if plan.checks.iter().all(|check| passes(check, &found, &mut memos, &mut key)) {
            matched.push((event.timestamp_ms, parts.len(), row));
        }
    }
    // The rows to read: each row group in chunks from its end when the `latest` are wanted
    // (whole otherwise), taken newest first from a heap of (no event is later, source, group,
    // end of the chunk, its rows). A chunk's events are no later than the earliest event read
    // in the chunk after it. A group's first chunk holds `FIRST_CHUNK` rows per event wanted,
    // and each next one four times the rows of the last, up to `PIECE_ROWS` (each chunk is a
    // scan of its own, which decodes the filter columns' dictionaries again).
    let wanted = extraction.latest();
    let first = wanted.map_or(PIECE_ROWS, |wanted| wanted.saturating_mul(FIRST_CHUNK).clamp(1, PIECE_ROWS));
    let mut chunks: BinaryHeap<(i64, usize, usize, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(source, part)| {
            let groups = part.file.groups(range).into_iter();
            groups.map(move |(group, latest)| (latest, source, group, part.file.group_rows(group), first))
        })
        .collect();
    while let Some((latest, source, group, end, rows)) = chunks.pop() {
        if let Some(wanted) = wanted
            && matched.len() >= wanted
        {
            // Keep the newest `wanted`; a chunk whose events are all older cannot displace them.
            matched.sort_unstable_by(|a, b| b.cmp(a));
            matched.truncate(wanted);
            if matched.last().is_some_and(|oldest| oldest.0 > latest) {
                break;
            }
        }
        let start = if wanted.is_some() { end.saturating_sub(rows) } else { 0 };
        // The rows matched in `rows` of the chunk's group, and the earliest timestamp read:
        // column by column where the part's shapes allow it (`PartFile::scan_batches`), row
        // by row otherwise.
        let scan_rows = |rows: Range<usize>| {
            let (mut found_here, mut earliest) = (Vec::new(), latest);
            let (mut memos, mut key): (Vec<Memo>, _) =
                ((0..plan.leaves).map(|_| Memo::default()).collect(), Vec::new());
            let file = &parts[source].file;
            if let Some(range) = range {
                let rows = file.rows_in(group, rows.clone(), range)?;
                let (mut number, mut selection) = (file.group_start(group) + rows.start, Vec::new());
                let columnar = file.scan_batches(vec![(group, rows)], range, paths, true, |batch| {
                    if query.reach.stop().load(Ordering::Relaxed) {
                        return Err(AnalyzeError::Stopped);
                    }
                    select(&plan.checks, batch, &mut selection, &mut memos, &mut key);
                    if let Some(&first) = batch.timestamps.get(batch.rows.start) {
                        earliest = earliest.min(first);
                    }
                    let at = |row: u32| (batch.timestamps[row as usize], source, number + row as usize);
                    found_here.extend(selection.iter().map(|&row| at(row)));
                    number += batch.rows.len();
                    Ok::<_, AnalyzeError>(())
                })?;
                if columnar {
                    return Ok((found_here, earliest));
                }
            }
            file.scan_groups(vec![(group, rows)], range, paths, |row, timestamp_ms, found| {
                if query.reach.stop().load(Ordering::Relaxed) {
                    return Err(AnalyzeError::Stopped);
                }
                earliest = earliest.min(timestamp_ms);
                if plan.checks.iter().all(|check| passes(check, found, &mut memos, &mut key)) {
                    found_here.push((timestamp_ms, source, row));
                }
                Ok::<_, AnalyzeError>(())
            })?;
            Ok::<_, AnalyzeError>((found_here, earliest))
        };
        // A chunk of many rows is cut into one run per core, each scanned on a thread of its
        // own with memos of its own (word numbers are per scan).
        let threads = scan::cores().min((end - start) / SPLIT_ROWS).max(1);
        let runs: Vec<Range<usize>> = (0..threads)
            .map(|i| start + (end - start) * i / threads..start + (end - start) * (i + 1) / threads)
            .collect();
        let scanned = on_threads(&runs, |rows| scan_rows(rows.clone()));
        let mut earliest = latest;
        for run in scanned {
            let (found_here, earliest_here) = run?;
            matched.extend(found_here);
            earliest = earliest.min(earliest_here);
        }
        if start > 0 {
            chunks.push((earliest, source, group, start, (4 * rows).min(PIECE_ROWS)));
        }
    }
    matched.sort_unstable();
    let chosen = &matched[extraction.window(matched.len())?];
    let mut events: Vec<Option<String>> = vec![None; chosen.len()];
    for (source, part) in parts.iter().enumerate() {
        let mut picks: Vec<(usize, usize)> = chosen
            .iter()
            .enumerate()
            .filter(|(_, (_, from, _))| *from == source)
            .map(|(position, (_, _, row))| (*row, position))
            .collect();
        if picks.is_empty() {
            continue;
        }
        picks.sort_unstable();
        let rows: Vec<usize> = picks.iter().map(|(row, _)| *row).collect();
        for ((_, position), body) in picks.iter().zip(part.file.rows_json(&rows, scan::cores())?) {
            events[*position] = Some(body);
        }
    }
    for (position, (_, source, row)) in chosen.iter().enumerate() {
        if *source == parts.len() {
            events[position] = Some(tail[*row].body().to_string());
        }
    }
    Ok(extraction.present_json(events.into_iter().flatten()).map_err(std::io::Error::other)?)
}
