//! The query engine: Keen analyses computed part by part from the Parquet parts' columns, plus
//! the not-yet-compacted tail, with each part's partial aggregates cached.
//!
//! A part is immutable, so what a query computes from it (its *partial*: the groups it saw,
//! in order, and per interval bucket and group a mergeable aggregate) depends only on the part
//! and on the query's shape within the part's time span. Partials are cached under that key:
//! repeating a query (a dashboard refresh, a relative timeframe that moved on) reads only the
//! parts it has not seen and the tail, and stays exact as events arrive, since new events are
//! in the tail or in new parts. The tail is never cached.
//!
//! The analyses of one query (a multi-analysis) read each part in one scan, and those whose
//! partials would be equal (a median and percentiles of one target) share them.
//!
//! A scan reads only the columns the query's properties lead to (`PartFile::scan`); filters are
//! tested once per distinct value in a part, so a filter on a low-cardinality property costs
//! a hash lookup per row. Partials are merged in scan order (parts as the store lists them, then
//! the tail), which keeps every order-dependent answer (groups and `select_unique` values in
//! first-seen order, ties in minimum, maximum and percentiles) equal to the reference
//! evaluator's (`Analysis::evaluate` over parsed events); the property test in `tests` checks
//! this. Sums of floats, averages and standard deviations are added in another order, so they
//! can differ from the reference's in the last bits.
//!
//! Memory is bounded: a query whose aggregates (distinct values, ranked values for medians,
//! groups) would pass `MEMORY_LIMIT` fails with `QueryMemoryLimitError` instead of taking the
//! server down.

#[cfg(test)]
mod tests;
mod values;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;

use super::analysis::{Analysis, AnalysisError, AnalysisType};
use super::extraction::{Extraction, ExtractionError};
use super::filter::{Filter, FilterNode};
use super::timeframe::{TimeRange, Timezone};
use crate::EventStoreError;
use crate::part::{Found, PartFile};
use crate::store::{Part, StoredEvent};
use values::{INLINE_KEY, Key, Run, Stored, group_key, holds_object, memo_key, number, ranked, to_json};

/// The most memory one query's aggregates may take.
pub(crate) const MEMORY_LIMIT: usize = 1 << 30;
/// The most memory the cache of partials may take.
const CACHE_BYTES: usize = 512 << 20;
/// Rows between checks of a query's memory over all its analyses.
const MEMORY_CHECK_ROWS: usize = 4096;
/// Distinct values remembered per filter and part; past it, values are tested every time.
const MEMO_ENTRIES: usize = 65_536;

/// Maps and sets keyed by values, hashed per row: a fast hash (keys are never attacker-chosen
/// beyond a query's own data, and the maps live only as long as a query or a cached partial).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Extraction(#[from] ExtractionError),
    #[error(transparent)]
    Store(#[from] EventStoreError),
    /// The caller raised the stop flag (the query's deadline passed).
    #[error("the query was stopped")]
    Stopped,
}

/// What every query has: its filters, timeframe and timezone, the flag that stops it, and
/// the version of the data it reads (the collection and its `Collection::version`).
pub(crate) struct Query<'q> {
    pub filters: &'q [Filter],
    pub range: Option<TimeRange>,
    pub timezone: Timezone,
    pub stop: &'q AtomicBool,
    pub version: &'q str,
}

impl From<io::Error> for AnalyzeError {
    fn from(error: io::Error) -> AnalyzeError {
        AnalyzeError::Store(EventStoreError::Unavailable(format!("cannot read an event part: {error}")))
    }
}

/// Recently used partials, by part file and query shape, and answers, by the collection's
/// version and query shape, within `CACHE_BYTES`.
#[derive(Default)]
pub(crate) struct PartialCache {
    entries: HashMap<(String, String), (Cached, u64)>,
    bytes: usize,
    clock: u64,
}

/// What the cache holds.
#[derive(Clone)]
enum Cached {
    Partial(Arc<Partial>),
    Answer(Arc<Value>, usize),
}

impl Cached {
    fn bytes(&self) -> usize {
        match self {
            Cached::Partial(partial) => partial.bytes,
            Cached::Answer(_, bytes) => *bytes,
        }
    }
}

impl PartialCache {
    fn get(&mut self, key: &(String, String)) -> Option<Cached> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(cached, used)| {
            *used = clock;
            cached.clone()
        })
    }

    fn put(&mut self, key: (String, String), cached: Cached) {
        if cached.bytes() > CACHE_BYTES / 4 {
            return;
        }
        self.clock += 1;
        self.bytes += cached.bytes();
        if let Some((old, _)) = self.entries.insert(key, (cached, self.clock)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > CACHE_BYTES {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.bytes -= old.bytes();
            }
        }
    }
}

/// A query ready to run: the analysis with its filters, and the filters compiled against the
/// property paths it reads (positions in a list of paths that analyses scanning together share).
struct Plan<'q> {
    analysis: &'q Analysis,
    range: Option<TimeRange>,
    buckets: Option<Vec<TimeRange>>,
    target: Option<usize>,
    groups: Vec<usize>,
    checks: Vec<Check<'q>>,
    leaves: usize,
    /// What the partials depend on besides the part and its span (not the percentile).
    identity: String,
}

/// A filter compiled against the plan's paths; `leaf` numbers the property tests for memos.
enum Check<'q> {
    Property { path: usize, leaf: usize, filter: &'q Filter },
    AnyOf(Vec<Vec<Check<'q>>>),
}

impl<'q> Plan<'q> {
    /// The plan of `analysis`, adding the paths it reads to `paths`.
    fn new(
        analysis: &'q Analysis,
        filters: &'q [Filter],
        range: Option<TimeRange>,
        timezone: Timezone,
        paths: &mut Vec<Vec<String>>,
    ) -> Result<Plan<'q>, AnalysisError> {
        let mut plan = Plan {
            analysis,
            range,
            buckets: analysis.buckets(range, timezone)?,
            target: None,
            groups: Vec::new(),
            checks: Vec::new(),
            leaves: 0,
            // Median and percentile keep the same values: one partial serves both.
            identity: format!(
                "{}|{:?}|{:?}|{:?}",
                match analysis.kind {
                    AnalysisType::Median | AnalysisType::Percentile => "Ranked".to_owned(),
                    kind => format!("{kind:?}"),
                },
                analysis.target.as_ref().map(|t| &t.name),
                analysis.group_by.iter().map(|g| &g.name).collect::<Vec<_>>(),
                filters
            ),
        };
        plan.target = analysis.target.as_ref().map(|target| path(paths, &target.segments));
        plan.groups = analysis.group_by.iter().map(|group| path(paths, &group.segments)).collect();
        plan.checks = filters.iter().map(|filter| plan.compile(filter, paths)).collect();
        Ok(plan)
    }

    fn compile(&mut self, filter: &'q Filter, paths: &mut Vec<Vec<String>>) -> Check<'q> {
        match filter.node() {
            FilterNode::Property(segments) => {
                self.leaves += 1;
                Check::Property { path: path(paths, segments), leaf: self.leaves - 1, filter }
            }
            FilterNode::AnyOf(groups) => Check::AnyOf(
                groups
                    .iter()
                    .map(|group| group.iter().map(|filter| self.compile(filter, paths)).collect())
                    .collect(),
            ),
        }
    }
}

/// The position of `segments` in `paths`, added if new.
fn path(paths: &mut Vec<Vec<String>>, segments: &[String]) -> usize {
    match paths.iter().position(|path| path == segments) {
        Some(index) => index,
        None => {
            paths.push(segments.to_vec());
            paths.len() - 1
        }
    }
}

/// Runs `analyses` over `parts` (in the store's order) and then `tail`, both already limited
/// to parts and events that may fall in `range`; one answer per analysis, in order. The
/// analyses whose answer or a part's partial is not cached read each part in one scan.
pub(crate) fn analyze(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &std::sync::Mutex<PartialCache>,
    analyses: &[&Analysis],
    query: &Query<'_>,
) -> Result<Vec<Value>, AnalyzeError> {
    let range = query.range;
    let mut paths = Vec::new();
    let plans = analyses
        .iter()
        .map(|analysis| Plan::new(analysis, query.filters, range, query.timezone, &mut paths))
        .collect::<Result<Vec<_>, _>>()?;
    // Whole answers are kept under the data's version: any new event or part changes it.
    let mut answers: Vec<Option<Value>> = Vec::with_capacity(plans.len());
    let mut answer_keys = Vec::with_capacity(plans.len());
    for plan in &plans {
        // The whole analysis: its percentile, order_by and limit shape the answer too.
        let key = (
            query.version.to_owned(),
            format!("{}|{:?}|{range:?}|{:?}", plan.identity, plan.analysis, plan.buckets),
        );
        answers.push(match lock(cache).get(&key) {
            Some(Cached::Answer(answer, _)) => Some(Value::clone(&answer)),
            _ => None,
        });
        answer_keys.push(key);
    }
    // The analyses left to compute, by position in `plans`, each with the position in `open`
    // of the first one whose partials it shares (a median beside a percentile of one target).
    let mut open: Vec<usize> = Vec::new();
    let mut owners: Vec<(usize, usize)> = Vec::new();
    for i in (0..plans.len()).filter(|&i| answers[i].is_none()) {
        let same =
            |&j: &usize| plans[j].identity == plans[i].identity && plans[j].buckets == plans[i].buckets;
        match open.iter().position(same) {
            Some(owner) => owners.push((i, owner)),
            None => {
                owners.push((i, open.len()));
                open.push(i);
            }
        }
    }
    if open.is_empty() {
        return Ok(answers.into_iter().flatten().collect());
    }
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
        for &i in &open {
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
            let key = (part.entry.file.clone(), format!("{}|{clip:?}|{local:?}", plan.identity));
            let cached = match lock(cache).get(&key) {
                Some(Cached::Partial(partial)) => Some(partial),
                _ => None,
            };
            each.push((local, key, cached));
        }
        jobs.push((part, clip, each));
    }
    // The parts some open analysis has no partial of are read in parallel, one thread per core,
    // each in one scan for all those analyses.
    let missing: Vec<usize> =
        (0..jobs.len()).filter(|&j| jobs[j].2.iter().any(|(_, _, cached)| cached.is_none())).collect();
    type Computed = std::sync::Mutex<Option<Result<Vec<Partial>, AnalyzeError>>>;
    let computed: Vec<Computed> = missing.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&job) = missing.get(i) else { break };
            let (part, clip, each) = &jobs[job];
            let builders = open
                .iter()
                .zip(each)
                .filter(|(_, (_, _, cached))| cached.is_none())
                .map(|(&plan, (local, _, _))| Builder::new(&plans[plan], local.clone(), query.stop))
                .collect();
            let partials = part_partials(builders, &paths, &part.file, *clip);
            *computed[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(partials);
        }
    };
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(missing.len());
    if workers > 1 {
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(work);
            }
        });
    } else {
        work();
    }
    let mut computed = computed.into_iter();
    let mut totals: Vec<Partial> =
        open.iter().map(|&i| Partial::new(plans[i].buckets.clone().unwrap_or_default())).collect();
    for (_, _, each) in jobs {
        let mut fresh = if each.iter().any(|(_, _, cached)| cached.is_none()) {
            let slot = computed.next().and_then(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()));
            slot.expect("every missing part was computed")?.into_iter()
        } else {
            Vec::new().into_iter()
        };
        for ((total, &i), (_, key, cached)) in totals.iter_mut().zip(&open).zip(each) {
            let partial = match cached {
                Some(partial) => partial,
                None => {
                    let partial = Arc::new(fresh.next().expect("a partial per analysis scanned"));
                    lock(cache).put(key, Cached::Partial(partial.clone()));
                    partial
                }
            };
            total.absorb(&partial, plans[i].analysis)?;
        }
        within_memory(totals.iter().map(|total| total.bytes))?;
    }
    let mut builders: Vec<Builder<'_, '_>> = open
        .iter()
        .map(|&i| Builder::new(&plans[i], plans[i].buckets.clone().unwrap_or_default(), query.stop))
        .collect();
    let mut found = Vec::with_capacity(paths.len());
    for (row, event) in tail.iter().enumerate() {
        look_up(&event.body(), &paths, &mut found);
        for builder in &mut builders {
            builder.add(event.timestamp_ms, &found)?;
        }
        if row.is_multiple_of(MEMORY_CHECK_ROWS) {
            within_memory(totals.iter().chain(builders.iter().map(|b| &b.partial)).map(|p| p.bytes))?;
        }
    }
    for ((total, builder), &i) in totals.iter_mut().zip(builders).zip(&open) {
        total.absorb(&builder.finish(), plans[i].analysis)?;
    }
    within_memory(totals.iter().map(|total| total.bytes))?;
    for (i, owner) in owners {
        let (plan, analysis, total) = (&plans[i], plans[i].analysis, &totals[owner]);
        let groups: Vec<Vec<Value>> = total.groups.iter().map(|(_, values)| values.clone()).collect();
        let empty = Acc::new(analysis.kind);
        let answer = analysis.present(plan.buckets.as_deref(), &groups, |bucket, group| {
            total.cells.get(bucket).and_then(|row| row.get(group)).unwrap_or(&empty).result(analysis)
        });
        let key = answer_keys[i].clone();
        lock(cache).put(key, Cached::Answer(Arc::new(answer.clone()), json_bytes(&answer)));
        answers[i] = Some(answer);
    }
    Ok(answers.into_iter().flatten().collect())
}

fn lock(cache: &std::sync::Mutex<PartialCache>) -> std::sync::MutexGuard<'_, PartialCache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// About how much memory a JSON value takes.
fn json_bytes(value: &Value) -> usize {
    32 + match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(json_bytes).sum(),
        Value::Object(fields) => fields.iter().map(|(name, value)| 48 + name.len() + json_bytes(value)).sum(),
        _ => 0,
    }
}

/// The values at `paths` in a parsed event.
fn look_up(body: &Value, paths: &[Vec<String>], found: &mut Vec<Found<'static>>) {
    found.clear();
    found.extend(paths.iter().map(|path| {
        match path.iter().try_fold(body, |value, segment| value.as_object()?.get(segment)) {
            None => Found::Missing,
            Some(Value::Null) => Found::Null,
            Some(value) => Found::Value(value.clone()),
        }
    }));
}

/// Runs `extraction` over `parts` and `tail` (as for `analyze`, answers cached alike): finds
/// the matching rows by their filter columns only, then rebuilds just the events returned. For the `latest` N, row
/// groups are read newest first and reading stops once N matches are newer than any event
/// left unread.
pub(crate) fn extract(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &std::sync::Mutex<PartialCache>,
    extraction: &Extraction,
    query: &Query<'_>,
) -> Result<Value, AnalyzeError> {
    let range = query.range;
    let count = Analysis::parse(AnalysisType::Count, &serde_json::Map::new())?;
    let mut paths = Vec::new();
    let plan = Plan::new(&count, query.filters, range, query.timezone, &mut paths)?;
    let answer_key = (query.version.to_owned(), format!("{}|{range:?}|{extraction:?}", plan.identity));
    if let Some(Cached::Answer(answer, _)) = lock(cache).get(&answer_key) {
        return Ok(Value::clone(&answer));
    }
    let mut memos = (0..plan.leaves).map(|_| Memo::default()).collect::<Vec<_>>();
    let mut key = Vec::new();
    // (timestamp, source, row): the source numbers the parts, and `parts.len()` is the tail.
    // Sorted, these are the matches in the order the extraction returns them (by timestamp,
    // ties in scan order).
    let mut matched: Vec<(i64, usize, usize)> = Vec::new();
    let mut found = Vec::with_capacity(paths.len());
    for (row, event) in tail.iter().enumerate() {
        if query.stop.load(Ordering::Relaxed) {
            return Err(AnalyzeError::Stopped);
        }
        if range.is_some_and(|r| !r.contains(event.timestamp_ms)) {
            continue;
        }
        look_up(&event.body(), &paths, &mut found);
        if plan.checks.iter().all(|check| passes(check, &found, &mut memos, &mut key)) {
            matched.push((event.timestamp_ms, parts.len(), row));
        }
    }
    // Every row group to read, as (latest timestamp in it, source, group), newest first.
    let mut groups: Vec<(i64, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(source, part)| {
            part.file.groups(range).into_iter().map(move |(group, latest)| (latest, source, group))
        })
        .collect();
    groups.sort_unstable_by(|a, b| b.cmp(a));
    let wanted = extraction.latest();
    for (latest, source, group) in groups {
        if let Some(wanted) = wanted
            && matched.len() >= wanted
        {
            // Keep the newest `wanted`; a group whose events are all older cannot displace them.
            matched.sort_unstable_by(|a, b| b.cmp(a));
            matched.truncate(wanted);
            if matched.last().is_some_and(|oldest| oldest.0 > latest) {
                break;
            }
        }
        // Word numbers are per scan.
        memos.iter_mut().for_each(|memo| memo.words.clear());
        parts[source].file.scan_groups(vec![group], range, &paths, |row, timestamp_ms, found| {
            if query.stop.load(Ordering::Relaxed) {
                return Err(AnalyzeError::Stopped);
            }
            if plan.checks.iter().all(|check| passes(check, found, &mut memos, &mut key)) {
                matched.push((timestamp_ms, source, row));
            }
            Ok::<_, AnalyzeError>(())
        })?;
    }
    matched.sort_unstable();
    let chosen = &matched[extraction.window(matched.len())?];
    let mut events: Vec<Option<Value>> = vec![None; chosen.len()];
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
        for ((_, position), (_, body)) in picks.iter().zip(part.file.rows(&rows)?) {
            events[*position] = Some(body);
        }
    }
    for (position, (_, source, row)) in chosen.iter().enumerate() {
        if *source == parts.len() {
            events[position] = Some(tail[*row].body());
        }
    }
    let answer = extraction.present(events.into_iter().flatten());
    lock(cache).put(answer_key, Cached::Answer(Arc::new(answer.clone()), json_bytes(&answer)));
    Ok(answer)
}

/// The partials of one part within `clip`, one per builder, from one scan of `paths`.
fn part_partials(
    mut builders: Vec<Builder<'_, '_>>,
    paths: &[Vec<String>],
    file: &PartFile,
    clip: TimeRange,
) -> Result<Vec<Partial>, AnalyzeError> {
    let mut rows = 0usize;
    file.scan(Some(clip), paths, |_, timestamp_ms, found| {
        builders.iter_mut().try_for_each(|builder| builder.add(timestamp_ms, found))?;
        rows += 1;
        if rows.is_multiple_of(MEMORY_CHECK_ROWS) {
            within_memory(builders.iter().map(|builder| builder.partial.bytes))?;
        }
        Ok::<_, AnalyzeError>(())
    })?;
    Ok(builders.into_iter().map(Builder::finish).collect())
}

/// Fails once the aggregates of one query's analyses together pass `MEMORY_LIMIT` (each
/// analysis also checks its own as it grows).
fn within_memory(bytes: impl Iterator<Item = usize>) -> Result<(), AnalysisError> {
    match bytes.sum::<usize>() > MEMORY_LIMIT {
        true => Err(AnalysisError::MemoryLimit),
        false => Ok(()),
    }
}

/// What one part (or the tail) contributes: its groups in first-seen order, and per bucket
/// (one when there is no interval) and group an aggregate.
pub(crate) struct Partial {
    /// The buckets this partial covers, clipped to its span; empty without an interval.
    buckets: Vec<TimeRange>,
    /// Each group's canonical key and values.
    groups: Vec<(Key, Vec<Value>)>,
    positions: FastMap<Key, usize>,
    cells: Vec<Vec<Acc>>,
    /// About how much memory the partial holds.
    bytes: usize,
}

impl Partial {
    fn new(buckets: Vec<TimeRange>) -> Partial {
        let rows = buckets.len().max(1);
        Partial {
            buckets,
            groups: Vec::new(),
            positions: FastMap::default(),
            cells: (0..rows).map(|_| Vec::new()).collect(),
            bytes: 512,
        }
    }

    /// The position of the group with `key`, added with `values` (made on demand) if new.
    fn group(&mut self, key: &[u8], values: impl FnOnce() -> Vec<Value>) -> usize {
        if let Some(position) = self.positions.get(key) {
            return *position;
        }
        let position = self.groups.len();
        self.bytes += 2 * key.len() + 96;
        self.groups.push((Key::new(key), values()));
        self.positions.insert(Key::new(key), position);
        position
    }

    fn cell(&mut self, bucket: usize, group: usize, kind: AnalysisType) -> &mut Acc {
        let row = &mut self.cells[bucket];
        if row.len() <= group {
            self.bytes += (group + 1 - row.len()) * 64;
            row.resize_with(group + 1, || Acc::new(kind));
        }
        &mut row[group]
    }

    /// Merges a later partial into this one (whose buckets are the query's). Its groups come
    /// after the groups already seen, in its own first-seen order.
    fn absorb(&mut self, other: &Partial, analysis: &Analysis) -> Result<(), AnalysisError> {
        let positions: Vec<usize> =
            other.groups.iter().map(|(key, values)| self.group(key.as_bytes(), || values.clone())).collect();
        for (local, row) in other.cells.iter().enumerate() {
            let bucket = match other.buckets.get(local) {
                None => 0,
                Some(b) => match self.buckets.partition_point(|g| g.start_ms <= b.start_ms).checked_sub(1) {
                    Some(index) => index,
                    None => continue,
                },
            };
            for (group, acc) in row.iter().enumerate() {
                if acc.count == 0 {
                    continue;
                }
                let position = positions.get(group).copied().unwrap_or(0);
                let cell = self.cell(bucket, position, analysis.kind);
                let before = cell.bytes();
                cell.absorb(acc);
                let grown = cell.bytes().saturating_sub(before);
                self.bytes += grown;
                if self.bytes > MEMORY_LIMIT {
                    return Err(AnalysisError::MemoryLimit);
                }
            }
        }
        Ok(())
    }
}

/// Builds a partial row by row.
struct Builder<'p, 'q> {
    plan: &'p Plan<'q>,
    stop: &'p AtomicBool,
    partial: Partial,
    memos: Vec<Memo>,
    key: Vec<u8>,
    /// With one group_by property, each word number's group once known (`u32::MAX`: not yet).
    word_groups: Vec<u32>,
    /// For count_unique and select_unique without interval or group_by, a bit per word number
    /// already counted.
    unique_words: Vec<u64>,
}

impl<'p, 'q> Builder<'p, 'q> {
    fn new(plan: &'p Plan<'q>, buckets: Vec<TimeRange>, stop: &'p AtomicBool) -> Builder<'p, 'q> {
        Builder {
            plan,
            stop,
            partial: Partial::new(buckets),
            memos: (0..plan.leaves).map(|_| Memo::default()).collect(),
            key: Vec::new(),
            word_groups: Vec::new(),
            unique_words: Vec::new(),
        }
    }

    /// The partial, its ranked values sorted.
    fn finish(mut self) -> Partial {
        for cell in self.partial.cells.iter_mut().flatten() {
            let before = cell.bytes();
            cell.seal();
            self.partial.bytes = self.partial.bytes.saturating_sub(before) + cell.bytes();
        }
        self.partial
    }

    fn add(&mut self, timestamp_ms: i64, found: &[Found<'_>]) -> Result<(), AnalyzeError> {
        let plan = self.plan;
        if self.stop.load(Ordering::Relaxed) {
            return Err(AnalyzeError::Stopped);
        }
        if plan.range.is_some_and(|r| !r.contains(timestamp_ms)) {
            return Ok(());
        }
        if !plan.checks.iter().all(|check| passes(check, found, &mut self.memos, &mut self.key)) {
            return Ok(());
        }
        let buckets = &self.partial.buckets;
        let bucket = if plan.buckets.is_none() {
            0
        } else {
            match buckets.partition_point(|b| b.start_ms <= timestamp_ms).checked_sub(1) {
                Some(index) if buckets[index].contains(timestamp_ms) => index,
                _ => return Ok(()),
            }
        };
        let word = match plan.groups.as_slice() {
            [path] => match found[*path] {
                Found::Word(_, word) => Some(word as usize),
                _ => None,
            },
            _ => None,
        };
        let known = word.and_then(|word| self.word_groups.get(word)).filter(|&&group| group != u32::MAX);
        let group = if plan.groups.is_empty() {
            0
        } else if let Some(&group) = known {
            group as usize
        } else {
            self.key.clear();
            for (&path, segments) in plan.groups.iter().zip(&plan.analysis.group_by) {
                if holds_object(&found[path]) {
                    return Err(AnalysisError::GroupByObject { property: segments.name.clone() }.into());
                }
                group_key(&found[path], &mut self.key);
            }
            let key = std::mem::take(&mut self.key);
            let position = self.partial.group(&key, || {
                plan.groups.iter().map(|&path| to_json(&found[path]).unwrap_or(Value::Null)).collect()
            });
            self.key = key;
            if let Some(word) = word {
                if self.word_groups.len() <= word {
                    self.word_groups.resize(word + 1, u32::MAX);
                }
                self.word_groups[word] = position as u32;
            }
            position
        };
        let kind = plan.analysis.kind;
        let target = plan.target.map(|path| &found[path]);
        let cell = self.partial.cell(bucket, group, kind);
        if let Some(Found::Word(_, word)) = target
            && matches!(cell.state, State::Unique { .. })
            && plan.buckets.is_none()
            && plan.groups.is_empty()
        {
            // A word already counted holds a value already in the set.
            let (slot, bit) = (*word as usize / 64, 1u64 << (word % 64));
            if self.unique_words.len() <= slot {
                self.unique_words.resize(slot + 1, 0);
            }
            if self.unique_words[slot] & bit != 0 {
                cell.count += 1;
                return Ok(());
            }
            self.unique_words[slot] |= bit;
        }
        let before = cell.bytes();
        cell.add(target, &mut self.key);
        let after = cell.bytes();
        self.partial.bytes += after - before;
        if self.partial.bytes > MEMORY_LIMIT {
            return Err(AnalysisError::MemoryLimit.into());
        }
        Ok(())
    }
}

/// What one property test already answered in a scan: by value, and by word number.
#[derive(Default)]
struct Memo {
    values: FastMap<Key, bool>,
    /// By word number: 0 not yet tested, 1 failed, 2 passed.
    words: Vec<u8>,
}

fn passes(check: &Check<'_>, found: &[Found<'_>], memos: &mut [Memo], key: &mut Vec<u8>) -> bool {
    match check {
        Check::AnyOf(groups) => {
            groups.iter().any(|group| group.iter().all(|check| passes(check, found, memos, key)))
        }
        Check::Property { path, leaf, filter } => {
            let value = &found[*path];
            let memo = &mut memos[*leaf];
            match value {
                Found::Value(value) => return filter.passes(Some(value)),
                Found::Num(number, _) => {
                    if let Some(passed) = filter.passes_number(*number) {
                        return passed;
                    }
                }
                Found::Word(_, word) => {
                    let word = *word as usize;
                    if let Some(&known @ 1..) = memo.words.get(word) {
                        return known == 2;
                    }
                    let passed = filter.passes(to_json(value).as_ref());
                    if memo.words.len() <= word {
                        memo.words.resize(word + 1, 0);
                    }
                    memo.words[word] = 1 + u8::from(passed);
                    return passed;
                }
                _ => {}
            }
            key.clear();
            memo_key(value, key);
            if let Some(known) = memo.values.get(key.as_slice()) {
                return *known;
            }
            let passed = filter.passes(to_json(value).as_ref());
            if memo.values.len() < MEMO_ENTRIES {
                memo.values.insert(Key::new(key), passed);
            }
            passed
        }
    }
}

/// One bucket's and group's aggregate: the row count and the analysis's state.
#[derive(Debug, Clone)]
struct Acc {
    count: u64,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Count,
    Sum {
        integer: Option<i64>,
        float: f64,
    },
    Minimum(Option<(f64, Stored)>),
    Maximum(Option<(f64, Stored)>),
    Mean {
        n: u64,
        sum: f64,
    },
    /// Welford's running mean and sum of squared deviations.
    Deviation {
        n: u64,
        mean: f64,
        m2: f64,
    },
    /// For median and percentile: values in scan order (`pending`), and sealed runs, each
    /// sorted stably (ties in scan order) and shared with the cached partial it came from.
    Ranked {
        pending: Run,
        runs: Vec<Arc<Run>>,
    },
    /// Distinct values by key; with `first`, the values in first-seen order (select_unique).
    Unique {
        seen: FastSet<Key>,
        first: Option<Vec<(Key, Value)>>,
        bytes: usize,
    },
}

impl Acc {
    fn new(kind: AnalysisType) -> Acc {
        let state = match kind {
            AnalysisType::Count => State::Count,
            AnalysisType::Sum => State::Sum { integer: Some(0), float: 0.0 },
            AnalysisType::Minimum => State::Minimum(None),
            AnalysisType::Maximum => State::Maximum(None),
            AnalysisType::Average => State::Mean { n: 0, sum: 0.0 },
            AnalysisType::StandardDeviation => State::Deviation { n: 0, mean: 0.0, m2: 0.0 },
            AnalysisType::Median | AnalysisType::Percentile => {
                State::Ranked { pending: Run::default(), runs: Vec::new() }
            }
            AnalysisType::CountUnique => State::Unique { seen: FastSet::default(), first: None, bytes: 0 },
            AnalysisType::SelectUnique => {
                State::Unique { seen: FastSet::default(), first: Some(Vec::new()), bytes: 0 }
            }
        };
        Acc { count: 0, state }
    }

    /// About how much memory the state holds beyond its fixed size.
    fn bytes(&self) -> usize {
        match &self.state {
            State::Ranked { pending, runs } => {
                pending.bytes() + runs.iter().map(|run| run.bytes()).sum::<usize>()
            }
            State::Unique { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    /// Adds a row whose target value is `target` (None for count).
    fn add(&mut self, target: Option<&Found<'_>>, key: &mut Vec<u8>) {
        self.count += 1;
        let Some(target) = target else { return };
        if let State::Unique { seen, first, bytes } = &mut self.state {
            if matches!(target, Found::Missing | Found::Null) {
                return;
            }
            key.clear();
            group_key(target, key);
            // One probe for short keys (built without allocating); long ones are built only
            // when new.
            let new = if key.len() <= INLINE_KEY {
                seen.insert(Key::new(key))
            } else {
                !seen.contains(key.as_slice()) && seen.insert(Key::new(key))
            };
            if new {
                *bytes += 2 * key.len() + 32;
                if let Some(first) = first {
                    first.push((Key::new(key), to_json(target).unwrap_or(Value::Null)));
                }
            }
            return;
        }
        let Some((value, stored)) = number(target) else { return };
        match &mut self.state {
            State::Count | State::Unique { .. } => {}
            State::Sum { integer, float } => {
                *integer = integer.and_then(|total| total.checked_add(stored.as_i64(value)?));
                *float += value;
            }
            State::Minimum(best) => {
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_lt()) {
                    *best = Some((value, stored));
                }
            }
            State::Maximum(best) => {
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_ge()) {
                    *best = Some((value, stored));
                }
            }
            State::Mean { n, sum } => {
                *n += 1;
                *sum += value;
            }
            State::Deviation { n, mean, m2 } => {
                *n += 1;
                let delta = value - *mean;
                *mean += delta / *n as f64;
                *m2 += delta * (value - *mean);
            }
            State::Ranked { pending, .. } => pending.push(value, stored),
        }
    }

    /// Sorts the values added row by row into a run (stably: ties stay in scan order).
    fn seal(&mut self) {
        if let State::Ranked { pending, runs } = &mut self.state
            && !pending.values.is_empty()
        {
            runs.push(Arc::new(std::mem::take(pending).sealed()));
        }
    }

    /// Merges the aggregate of later rows.
    fn absorb(&mut self, other: &Acc) {
        self.count += other.count;
        match (&mut self.state, &other.state) {
            (State::Sum { integer, float }, State::Sum { integer: more, float: more_float }) => {
                *integer = integer.zip(*more).and_then(|(a, b)| a.checked_add(b));
                *float += more_float;
            }
            (State::Minimum(best), State::Minimum(Some((value, stored))))
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_lt()) =>
            {
                *best = Some((*value, stored.clone()));
            }
            (State::Maximum(best), State::Maximum(Some((value, stored))))
                if best.as_ref().is_none_or(|(b, _)| value.total_cmp(b).is_ge()) =>
            {
                *best = Some((*value, stored.clone()));
            }
            (State::Mean { n, sum }, State::Mean { n: more, sum: more_sum }) => {
                *n += more;
                *sum += more_sum;
            }
            (State::Deviation { n, mean, m2 }, State::Deviation { n: nb, mean: mb, m2: m2b }) if *nb > 0 => {
                let total = *n + nb;
                let delta = mb - *mean;
                *mean += delta * *nb as f64 / total as f64;
                *m2 += m2b + delta * delta * (*n as f64) * (*nb as f64) / total as f64;
                *n = total;
            }
            (State::Ranked { runs, .. }, State::Ranked { runs: more, .. }) => {
                runs.extend(more.iter().cloned());
            }
            (State::Unique { seen, first, bytes }, State::Unique { seen: more, first: more_first, .. }) => {
                match (first, more_first) {
                    (Some(first), Some(more_first)) => {
                        for (key, value) in more_first {
                            if seen.insert(key.clone()) {
                                *bytes += 2 * key.len() + 32;
                                first.push((key.clone(), value.clone()));
                            }
                        }
                    }
                    _ if seen.is_empty() => {
                        // The first partial: its table as it is, without hashing each key again.
                        seen.clone_from(more);
                        *bytes = more.iter().map(|key| key.len() + 32).sum();
                    }
                    _ => {
                        for key in more {
                            if seen.insert(key.clone()) {
                                *bytes += key.len() + 32;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The analysis's answer for this cell, as the reference evaluator gives it.
    fn result(&self, analysis: &Analysis) -> Value {
        match &self.state {
            State::Count => self.count.into(),
            State::Sum { integer: Some(total), .. } => (*total).into(),
            State::Sum { float, .. } => Value::from(*float),
            State::Minimum(best) | State::Maximum(best) => {
                best.as_ref().map_or(Value::Null, |(value, stored)| stored.value(*value))
            }
            State::Mean { n: 0, .. } | State::Deviation { n: 0, .. } => Value::Null,
            State::Mean { n, sum } => Value::from(sum / *n as f64),
            State::Deviation { n, m2, .. } => Value::from((m2.max(0.0) / *n as f64).sqrt()),
            State::Ranked { runs, .. } => {
                let total: usize = runs.iter().map(|run| run.len()).sum();
                if total == 0 {
                    return Value::Null;
                }
                let rank = (analysis.percentile_hundredths * total as u64).div_ceil(10_000).max(1);
                ranked(runs, rank as usize)
            }
            State::Unique { seen, first: None, .. } => seen.len().into(),
            State::Unique { first: Some(first), .. } => {
                Value::Array(first.iter().map(|(_, value)| value.clone()).collect())
            }
        }
    }
}
