//! Reading the parts a query's cached partials do not cover, in parallel, and merging every
//! part's partial (cached or read) and then the tail's, in scan order (`scan`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::aggregate::Partial;
use super::cache::{Cached, lock};
use super::pieces::{Abandon, Budget, part_partials, within_memory};
use super::{AnalyzeError, Builder, MEMORY_CHECK_ROWS, PIECE_ROWS, PartialCache, Plan, Query, look_up};
use crate::part::GroupRows;
use crate::query::timeframe::TimeRange;
use crate::store::{Part, StoredEvent};

/// The threads a scan reads with: one per core, looked up once (the lookup reads the process's
/// cgroup files: about 0.15 ms a query on the 2-core machine, bench/README.md).
pub(super) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The merged partials of the `open` plans (positions in `plans`, whose properties are at
/// `paths`) over `parts` and then `tail`: each part's from the cache, or read (in parallel, in
/// one scan for all the open plans it is missing for) and cached. Where a single partial has
/// rows, the merged one is that partial, shared with the cache.
pub(super) fn scan(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &std::sync::Mutex<PartialCache>,
    plans: &[Plan<'_>],
    open: &[usize],
    paths: &[Vec<String>],
    query: &Query<'_>,
) -> Result<Vec<Arc<Partial>>, AnalyzeError> {
    let range = query.range;
    // Each part's span within the timeframe, and per open analysis its buckets there, its
    // cache key and its cached partial.
    let mut jobs = Vec::with_capacity(parts.len());
    for part in parts {
        let info = &part.entry.info;
        let span = TimeRange { start_ms: info.min_ts, end_ms: info.max_ts.saturating_add(1) };
        let clip = match range {
            None => span,
            Some(r) => {
                TimeRange { start_ms: r.start_ms.max(span.start_ms), end_ms: r.end_ms.min(span.end_ms) }
            }
        };
        if clip.start_ms >= clip.end_ms {
            continue;
        }
        let mut each = Vec::with_capacity(open.len());
        for &i in open {
            let plan = &plans[i];
            let local: Vec<TimeRange> = plan
                .buckets
                .iter()
                .flatten()
                .filter(|b| b.start_ms < clip.end_ms && b.end_ms > clip.start_ms)
                .map(|b| TimeRange {
                    start_ms: b.start_ms.max(clip.start_ms),
                    end_ms: b.end_ms.min(clip.end_ms),
                })
                .collect();
            let key_of = |identity: &str| (part.entry.file.clone(), format!("{identity}|{clip:?}|{local:?}"));
            let find = |key: &(String, String)| match lock(cache).get(key) {
                Some(Cached::Partial(partial)) => Some(partial),
                _ => None,
            };
            // Else the groups that pass those filters, out of the partial of the query without
            // the filters also tested per group.
            let (key, unfiltered) = (key_of(&plan.identity), plan.unfiltered.as_deref().map(key_of));
            let cached = find(&key).or_else(|| {
                let broad = find(unfiltered.as_ref()?)?;
                Some(Arc::new(broad.select(plan.analysis.kind, |values| plan.passes_group(values))))
            });
            each.push((local, key, cached));
        }
        jobs.push((part, clip, each));
    }
    // The parts some open analysis has no partial of are read in parallel, one thread per core,
    // each in one scan for all those analyses. With fewer parts than twice the threads, each
    // row group is read in pieces of about `PIECE_ROWS` rows, at most one per thread and all
    // alike in size (the first builds every group it sees; the others, where they add per word
    // of a dictionary, leave their words for the merge to find in the first's groups), and its
    // partial is its pieces' merged in order.
    let missing: Vec<usize> =
        (0..jobs.len()).filter(|&j| jobs[j].2.iter().any(|(_, _, cached)| cached.is_none())).collect();
    let cores = cores();
    let mut pieces: Vec<(usize, Vec<GroupRows>)> = Vec::new();
    for &job in &missing {
        let (part, clip, _) = &jobs[job];
        let groups =
            part.file.row_groups(Some(*clip)).into_iter().map(|group| (group, part.file.group_rows(group)));
        let before = pieces.len();
        if missing.len() < 2 * cores {
            for (group, rows) in groups {
                // Cut to the range first, so that the pieces share the rows in it.
                let rows = part.file.rows_in(group, 0..rows, *clip)?;
                let (start, len) = (rows.start, rows.len());
                let count = len.div_ceil(PIECE_ROWS).min(cores);
                pieces.extend(
                    (0..count).map(|i| {
                        (job, vec![(group, start + i * len / count..start + (i + 1) * len / count)])
                    }),
                );
            }
        }
        if pieces.len() == before {
            // One piece for the whole part, even with no rows to read: every part missing a
            // partial gets one.
            let groups = part.file.row_groups(Some(*clip)).into_iter();
            pieces.push((job, groups.map(|group| (group, 0..part.file.group_rows(group))).collect()));
        }
    }
    // Workers send each piece's partials as they finish; this thread merges them meanwhile,
    // in scan order, waiting for the next one it needs.
    let (sender, receiver) = std::sync::mpsc::channel::<(usize, Result<Vec<Partial>, AnalyzeError>)>();
    let (next, abandoned, budget) = (AtomicUsize::new(0), AtomicBool::new(false), Budget::default());
    let work = |sender: std::sync::mpsc::Sender<_>| {
        let _panicking = Abandon::on_panic(&abandoned);
        while !abandoned.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((job, piece)) = pieces.get(i) else { break };
            let (part, clip, each) = &jobs[*job];
            // A piece after the first of its row group is merged into the first piece's
            // partial, so its words need no groups of their own.
            let later = i.checked_sub(1).and_then(|before| pieces.get(before)).is_some_and(|(of, before)| {
                *of == *job && before.first().map(|(group, _)| group) == piece.first().map(|(group, _)| group)
            });
            let builders = open
                .iter()
                .zip(each)
                .filter(|(_, (_, _, cached))| cached.is_none())
                .map(|(&plan, (local, _, _))| {
                    let mut builder = Builder::new(&plans[plan], local.clone(), query.reach.stop());
                    builder.by_key = later;
                    builder
                })
                .collect();
            let partials = part_partials(builders, paths, &part.file, *clip, piece.clone(), &budget);
            if sender.send((i, partials)).is_err() {
                break;
            }
        }
    };
    let mut totals: Vec<Arc<Partial>> =
        open.iter().map(|&i| Arc::new(Partial::new(plans[i].buckets.clone().unwrap_or_default()))).collect();
    let mut arrived: Vec<Option<Result<Vec<Partial>, AnalyzeError>>> = pieces.iter().map(|_| None).collect();
    let mut merge = || -> Result<(), AnalyzeError> {
        let mut piece = 0;
        // What the merge holds, in the query's budget: the totals and the part's pieces so far.
        let mut holding = 0;
        for (job, (_, _, each)) in jobs.iter().enumerate() {
            // The part's pieces, merged in order, one partial per open analysis it was read for.
            let mut fresh: Vec<Partial> = Vec::new();
            while pieces.get(piece).is_some_and(|(of, _)| *of == job) {
                while arrived[piece].is_none() {
                    let (i, partials) = receiver.recv().expect("every piece taken is sent");
                    arrived[i] = Some(partials);
                }
                let partials = arrived[piece].take().expect("the piece arrived")?;
                piece += 1;
                let read: usize = partials.iter().map(|partial| partial.bytes).sum();
                if fresh.is_empty() {
                    fresh = partials;
                } else {
                    let scanned = open.iter().zip(each).filter(|(_, (_, _, cached))| cached.is_none());
                    for ((partial, more), (&i, _)) in fresh.iter_mut().zip(&partials).zip(scanned) {
                        partial.absorb(more, plans[i].analysis)?;
                    }
                }
                let now = totals
                    .iter()
                    .map(|total| total.bytes)
                    .chain(fresh.iter().map(|partial| partial.bytes))
                    .sum();
                budget.change(holding + read, now)?;
                holding = now;
            }
            let mut fresh = fresh.into_iter();
            for ((total, &i), (_, key, cached)) in totals.iter_mut().zip(open).zip(each) {
                let partial = match cached {
                    Some(partial) => partial.clone(),
                    None => {
                        let mut partial = fresh.next().expect("a partial per analysis scanned");
                        // The words served the merge of the part's pieces.
                        partial.words = None;
                        let partial = Arc::new(partial);
                        lock(cache).put(key.clone(), Cached::Partial(partial.clone()));
                        partial
                    }
                };
                Partial::absorb_shared(total, &partial, plans[i].analysis)?;
            }
            // The part's partials are the cache's now.
            let now = totals.iter().map(|total| total.bytes).sum();
            budget.change(holding, now)?;
            holding = now;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        for _ in 0..cores.min(pieces.len()) {
            let sender = sender.clone();
            scope.spawn(|| work(sender));
        }
        drop(sender);
        // Once the merge ends (an error, a panic), the workers stop after the piece they read.
        let _ended = Abandon::always(&abandoned);
        merge()
    })?;
    let mut builders: Vec<Builder<'_, '_>> = open
        .iter()
        .map(|&i| Builder::new(&plans[i], plans[i].buckets.clone().unwrap_or_default(), query.reach.stop()))
        .collect();
    let mut found = Vec::with_capacity(paths.len());
    for (row, event) in tail.iter().enumerate() {
        look_up(&event.body(), paths, &mut found);
        for builder in &mut builders {
            builder.add(event.timestamp_ms, &found)?;
        }
        if row.is_multiple_of(MEMORY_CHECK_ROWS) {
            let partials =
                totals.iter().map(|total| total.bytes).chain(builders.iter().map(|b| b.partial.bytes));
            within_memory(partials)?;
        }
    }
    for ((total, builder), &i) in totals.iter_mut().zip(builders).zip(open) {
        Partial::absorb_shared(total, &Arc::new(builder.finish()), plans[i].analysis)?;
    }
    within_memory(totals.iter().map(|total| total.bytes))?;
    Ok(totals)
}
