//! Reading one piece of a part (some of its row groups) into partials, and the memory budget
//! the threads reading a query's pieces share with the thread merging them.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::aggregate::Partial;
use super::columnar::add_batch;
use super::{AnalyzeError, Builder, MEMORY_CHECK_ROWS, MEMORY_LIMIT};
use crate::part::{GroupRows, PartFile, WordCounts};
use crate::query::analysis::{AnalysisError, AnalysisType};
use crate::query::timeframe::TimeRange;

/// The bytes one query's aggregates hold across threads: the partials being built, those
/// read and not merged yet, and the merged totals. Each holder reports its changes.
#[derive(Default)]
pub(super) struct Budget(AtomicUsize);

impl Budget {
    /// Notes that a holder's bytes went from `before` to `after`; fails once the query's
    /// aggregates together pass `MEMORY_LIMIT`.
    pub(super) fn change(&self, before: usize, after: usize) -> Result<(), AnalysisError> {
        let held = if after >= before {
            self.0.fetch_add(after - before, Ordering::Relaxed).saturating_add(after - before)
        } else {
            self.0.fetch_sub(before - after, Ordering::Relaxed).saturating_sub(before - after)
        };
        match held > MEMORY_LIMIT {
            true => Err(AnalysisError::MemoryLimit),
            false => Ok(()),
        }
    }
}

/// Raises a flag when dropped: always, or only while the thread panics.
pub(super) struct Abandon<'a> {
    flag: &'a AtomicBool,
    only_on_panic: bool,
}

impl<'a> Abandon<'a> {
    pub(super) fn always(flag: &'a AtomicBool) -> Abandon<'a> {
        Abandon { flag, only_on_panic: false }
    }

    pub(super) fn on_panic(flag: &'a AtomicBool) -> Abandon<'a> {
        Abandon { flag, only_on_panic: true }
    }
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if !self.only_on_panic || std::thread::panicking() {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// The partials of `pieces` of one part (each a row group and rows within it) within `clip`,
/// one per builder, from one scan of `paths` (or, for counts per word of one property, from
/// the pages of its column: `word_counts`); their bytes stay in `budget` (the merge takes them
/// over).
pub(super) fn part_partials(
    mut builders: Vec<Builder<'_, '_>>,
    paths: &[Vec<String>],
    file: &PartFile,
    clip: TimeRange,
    pieces: Vec<GroupRows>,
    budget: &Budget,
) -> Result<Vec<Partial>, AnalyzeError> {
    let mut held = 0;
    let mut report = |builders: &[Builder<'_, '_>]| {
        let now = builders.iter().map(|builder| builder.partial.bytes).sum();
        budget.change(std::mem::replace(&mut held, now), now)
    };
    if let Some(counted) = word_counts(&builders, paths, file, clip, &pieces)? {
        for (builder, counted) in builders.iter_mut().zip(&counted) {
            builder.add_word_counts(counted)?;
        }
    } else {
        // Interval buckets are cut out of a batch by its rows' timestamps.
        let times = builders.iter().any(|builder| builder.plan.buckets.is_some());
        let mut selection = Vec::new();
        let columnar = file.scan_batches(pieces.clone(), clip, paths, times, |batch| {
            add_batch(&mut builders, batch, &mut selection)?;
            report(&builders)?;
            Ok::<_, AnalyzeError>(())
        })?;
        if !columnar {
            let mut rows = 0usize;
            file.scan_groups(pieces, Some(clip), paths, |_, timestamp_ms, found| {
                builders.iter_mut().try_for_each(|builder| builder.add(timestamp_ms, found))?;
                rows += 1;
                if rows.is_multiple_of(MEMORY_CHECK_ROWS) {
                    report(&builders)?;
                }
                Ok::<_, AnalyzeError>(())
            })?;
        }
    }
    let partials: Vec<Partial> = builders.into_iter().map(Builder::finish).collect();
    budget.change(held, partials.iter().map(|partial| partial.bytes).sum())?;
    Ok(partials)
}

/// Where every builder counts the rows per value of one property, without filters or an
/// interval, and the pieces are whole row groups inside `clip`: per builder, the rows of each
/// row group per word of the property's dictionary, read from the column's pages without a
/// scan (`PartFile::count_words`); else None.
fn word_counts(
    builders: &[Builder<'_, '_>],
    paths: &[Vec<String>],
    file: &PartFile,
    clip: TimeRange,
    pieces: &[GroupRows],
) -> io::Result<Option<Vec<Vec<WordCounts>>>> {
    let mut counted = Vec::with_capacity(builders.len());
    for builder in builders {
        let plan = builder.plan;
        let [group] = plan.groups[..] else { return Ok(None) };
        if plan.analysis.kind != AnalysisType::Count
            || !plan.checks.is_empty()
            || plan.buckets.is_some()
            || builder.by_key
        {
            return Ok(None);
        }
        match file.count_words(pieces, clip, &paths[group])? {
            Some(counts) => counted.push(counts),
            None => return Ok(None),
        }
    }
    Ok((!counted.is_empty()).then_some(counted))
}

/// Fails once the aggregates of one query's analyses together pass `MEMORY_LIMIT` (each
/// analysis also checks its own as it grows).
pub(super) fn within_memory(bytes: impl Iterator<Item = usize>) -> Result<(), AnalysisError> {
    match bytes.sum::<usize>() > MEMORY_LIMIT {
        true => Err(AnalysisError::MemoryLimit),
        false => Ok(()),
    }
}
