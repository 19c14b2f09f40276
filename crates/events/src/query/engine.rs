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
//! partials would be equal (a median and percentiles of one target, a sum and an average)
//! share them. A filter on a group_by property can also be tested per group, so the partials
//! of the query without it serve where cached, with the groups that pass it picked out before
//! they are merged (an average over the top groups of a sum reads the sum's).
//!
//! A scan reads only the columns the query's properties lead to. Where every shape in a part
//! keeps each of those properties in one column (most collections), the part is read a batch of
//! columns at a time (`PartFile::scan_batches`, `columnar`); otherwise row by row
//! (`PartFile::scan_groups`). Filters are tested once per distinct value in a part (per
//! dictionary word for strings), so a filter on a low-cardinality property costs a lookup per
//! row. Parts are read in parallel, one thread per core (each row group in pieces when there
//! are few parts; the pieces of a row group read the same dictionaries, so their groups of one
//! property are matched by word number, `Partial::words`), while this thread merges their
//! partials in scan order (parts as the store lists them, then the tail), which keeps every
//! order-dependent answer (groups and `select_unique` values in first-seen order, ties in
//! minimum, maximum and percentiles) equal to the reference evaluator's (`Analysis::evaluate`
//! over parsed events); the property tests in `tests` check this. Sums of floats, averages and
//! standard deviations are added in another order, so they can differ from the reference's in
//! the last bits.
//!
//! Memory is bounded: a query whose aggregates (distinct values, ranked values for medians,
//! groups) would pass `MEMORY_LIMIT` fails with `QueryMemoryLimitError` instead of taking the
//! server down.

mod aggregate;
mod cache;
mod columnar;
mod distinct;
mod extract;
mod memo;
mod pieces;
mod scan;
#[cfg(test)]
mod tests;
mod values;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{Array, StringArray};
use serde_json::Value;

use super::analysis::{Analysis, AnalysisError, AnalysisType};
use super::answer::Answer;
use super::extraction::ExtractionError;
use super::filter::{Filter, FilterNode};
use super::timeframe::{TimeRange, Timezone};
use crate::EventStoreError;
use crate::part::Found;
use crate::store::{Part, StoredEvent};
use aggregate::{Acc, GroupWords, Partial};
pub(crate) use cache::PartialCache;
use cache::{Cached, answer_bytes, lock};
use columnar::PendingWords;
pub use distinct::ActorSet;
pub(crate) use extract::extract;
use memo::{Memo, passes};
use scan::scan;
use values::{group_key, holds_object, to_json};

/// The most memory one query's aggregates may take.
pub(crate) const MEMORY_LIMIT: usize = 1 << 30;
/// Rows between checks of a query's memory over all its analyses.
const MEMORY_CHECK_ROWS: usize = 4096;
/// About the rows per piece when a query reads few parts, each row group in pieces read in
/// parallel, at most one per core (fewer rows in tests, so that their small parts are split
/// too). Also the largest chunk extraction reads at a time.
#[cfg(not(test))]
const PIECE_ROWS: usize = 128 * 1024;
#[cfg(test)]
const PIECE_ROWS: usize = 16;
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
    /// Only a cached answer was asked for (`Reach::CachedOnly`), and none is cached.
    #[error("the answer is not cached")]
    NotCached,
}

/// How far a query may go to answer.
#[derive(Clone, Copy)]
pub enum Reach<'a> {
    /// Reads the events the cache does not cover (CPU and disk: off the async reactor), and
    /// gives up with `AnalyzeError::Stopped` once the flag is raised.
    Compute(&'a AtomicBool),
    /// Answers only with a whole answer cached for the data as it is now, else
    /// `AnalyzeError::NotCached`: it never reads a part or the tail, so a repeated query can be
    /// answered on the thread that received it.
    CachedOnly,
}

impl<'a> Reach<'a> {
    /// The flag that stops the work (raised for `CachedOnly`, which starts none).
    pub(crate) fn stop(self) -> &'a AtomicBool {
        static RAISED: AtomicBool = AtomicBool::new(true);
        match self {
            Reach::Compute(stop) => stop,
            Reach::CachedOnly => &RAISED,
        }
    }

    /// Whether events may be read: `NotCached` for `CachedOnly`. Called where a query would
    /// start reading them.
    fn may_read(self) -> Result<(), AnalyzeError> {
        match self {
            Reach::Compute(_) => Ok(()),
            Reach::CachedOnly => Err(AnalyzeError::NotCached),
        }
    }
}

/// What every query has: its filters, timeframe and timezone, how far it may go, and the
/// version of the data it reads (the collection and its `Collection::version`).
pub(crate) struct Query<'q> {
    pub filters: &'q [Filter],
    pub range: Option<TimeRange>,
    pub timezone: Timezone,
    pub reach: Reach<'q>,
    pub version: &'q str,
}

impl From<io::Error> for AnalyzeError {
    fn from(error: io::Error) -> AnalyzeError {
        AnalyzeError::Store(EventStoreError::Unavailable(format!("cannot read an event part: {error}")))
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
    /// The filters on a group_by property that can also be tested per group, on the partials
    /// of the query without them: (position in `groups`, filter).
    group_checks: Vec<(usize, &'q Filter)>,
    leaves: usize,
    /// What the partials depend on besides the part and its span (not the percentile).
    identity: String,
    /// With `group_checks`, the identity of the partials of the query without them, which
    /// serve this query too (with the groups that pass them picked out, `Partial::select`).
    unfiltered: Option<String>,
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
        // A filter on a group_by property gives every row of a group the same answer (their
        // values share the group's key), except that a missing property and a null share one
        // group. Such a filter that does not tell those apart is also tested per group, so
        // that the partials of the query without it serve too.
        let group_checks: Vec<(usize, &Filter)> = filters
            .iter()
            .filter_map(|filter| match filter.node() {
                FilterNode::Property(segments)
                    if filter.passes(None) == filter.passes(Some(&Value::Null)) =>
                {
                    Some((analysis.group_by.iter().position(|group| group.segments == segments)?, filter))
                }
                _ => None,
            })
            .collect();
        let identity = |filters: Vec<&Filter>| {
            format!(
                "{}|{:?}|{:?}|{:?}",
                // Median and percentile keep the same values, and so do sum and average: one
                // partial serves both.
                match analysis.kind {
                    AnalysisType::Median | AnalysisType::Percentile => "Ranked".to_owned(),
                    AnalysisType::Sum | AnalysisType::Average => "Moments".to_owned(),
                    kind => format!("{kind:?}"),
                },
                analysis.target.as_ref().map(|t| &t.name),
                analysis.group_by.iter().map(|g| &g.name).collect::<Vec<_>>(),
                filters
            )
        };
        let unfiltered = (!group_checks.is_empty()).then(|| {
            identity(
                filters
                    .iter()
                    .filter(|filter| !group_checks.iter().any(|(_, tested)| std::ptr::eq(*tested, *filter)))
                    .collect(),
            )
        });
        let mut plan = Plan {
            analysis,
            range,
            buckets: analysis.buckets(range, timezone)?,
            target: None,
            groups: Vec::new(),
            checks: Vec::new(),
            identity: identity(filters.iter().collect()),
            unfiltered,
            group_checks,
            leaves: 0,
        };
        plan.target = analysis.target.as_ref().map(|target| path(paths, &target.segments));
        plan.groups = analysis.group_by.iter().map(|group| path(paths, &group.segments)).collect();
        plan.checks = filters.iter().map(|filter| plan.compile(filter, paths)).collect();
        Ok(plan)
    }

    /// Whether a group with `values` passes the filters tested per group.
    fn passes_group(&self, values: &[Value]) -> bool {
        self.group_checks.iter().all(|(group, filter)| filter.passes(values.get(*group)))
    }

    /// The answer from the merged partial `total`. Its groups all pass the filters: the
    /// partials of the query without those tested per group had the others picked out.
    fn present(&self, total: &Partial) -> Value {
        let analysis = self.analysis;
        let groups: Vec<&[Value]> = total.groups.iter().map(|(_, values)| values.as_slice()).collect();
        let empty = Acc::new(analysis.kind);
        // Without group_by, the one cell is the partial's group 0, which `present` asks for.
        analysis.present(self.buckets.as_deref(), &groups, |bucket, group| {
            total.cells.get(bucket).and_then(|row| row.get(group)).unwrap_or(&empty).result(analysis)
        })
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
) -> Result<Vec<Answer>, AnalyzeError> {
    let range = query.range;
    let mut paths = Vec::new();
    let plans = analyses
        .iter()
        .map(|analysis| Plan::new(analysis, query.filters, range, query.timezone, &mut paths))
        .collect::<Result<Vec<_>, _>>()?;
    // Whole answers are kept under the data's version: any new event or part changes it.
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(plans.len());
    let mut answer_keys = Vec::with_capacity(plans.len());
    for plan in &plans {
        // The whole analysis: its percentile, order_by and limit shape the answer too.
        let key = (
            query.version.to_owned(),
            format!("{}|{:?}|{range:?}|{:?}", plan.identity, plan.analysis, plan.buckets),
        );
        answers.push(match lock(cache).get(&key) {
            Some(Cached::Answer(answer, _)) => Some(answer),
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
    query.reach.may_read()?;
    let totals = scan(parts, tail, cache, &plans, &open, &paths, query)?;
    for (i, owner) in owners {
        let answer = Answer::new(plans[i].present(&totals[owner]));
        let bytes = answer_bytes(&answer);
        lock(cache).put(answer_keys[i].clone(), Cached::Answer(answer.clone(), bytes));
        answers[i] = Some(answer);
    }
    Ok(answers.into_iter().flatten().collect())
}

/// The answer cached under `key` (the versions of the data it reads, and what it asks), or
/// the one `compute` gives, then cached (where `reach` lets it read events).
pub(crate) fn cached_answer(
    cache: &std::sync::Mutex<PartialCache>,
    key: (String, String),
    reach: Reach<'_>,
    compute: impl FnOnce() -> Result<Answer, AnalyzeError>,
) -> Result<Answer, AnalyzeError> {
    remembered_answer(cache, key, || {
        reach.may_read()?;
        compute()
    })
}

/// As `cached_answer`, for a `compute` that keeps to its reach itself (it may answer from
/// cached parts of the answer where it may not read events).
pub(crate) fn remembered_answer(
    cache: &std::sync::Mutex<PartialCache>,
    key: (String, String),
    compute: impl FnOnce() -> Result<Answer, AnalyzeError>,
) -> Result<Answer, AnalyzeError> {
    if let Some(Cached::Answer(answer, _)) = lock(cache).get(&key) {
        return Ok(answer);
    }
    let answer = compute()?;
    lock(cache).put(key, Cached::Answer(answer.clone(), answer_bytes(&answer)));
    Ok(answer)
}

/// The distinct values of the target of `analysis` (a count_unique) over `parts` and then
/// `tail`, as a set: a funnel step's actors. Parts' partials are those of the count_unique
/// (and shared with it); the whole set is cached under the data's version.
pub(crate) fn actor_set(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &std::sync::Mutex<PartialCache>,
    analysis: &Analysis,
    query: &Query<'_>,
) -> Result<ActorSet, AnalyzeError> {
    debug_assert_eq!(analysis.kind, AnalysisType::CountUnique, "actors are counted as count_unique counts");
    let mut paths = Vec::new();
    let plan = Plan::new(analysis, query.filters, query.range, query.timezone, &mut paths)?;
    let key = (query.version.to_owned(), format!("actors|{}|{:?}", plan.identity, query.range));
    if let Some(Cached::Actors(set)) = lock(cache).get(&key) {
        return Ok(set);
    }
    let total = scan(parts, tail, cache, std::slice::from_ref(&plan), &[0], &paths, query)?.pop();
    let cell =
        total.and_then(|total| Arc::unwrap_or_clone(total).cells.into_iter().next()?.into_iter().next());
    let set = ActorSet::new(cell.and_then(Acc::into_distinct).unwrap_or_default());
    lock(cache).put(key, Cached::Actors(set.clone()));
    Ok(set)
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

/// Builds a partial row by row.
struct Builder<'p, 'q> {
    plan: &'p Plan<'q>,
    stop: &'p AtomicBool,
    partial: Partial,
    memos: Vec<Memo>,
    key: Vec<u8>,
    /// With one group_by property, each word number's group once known (`u32::MAX`: not yet).
    word_groups: Vec<u32>,
    /// For count_unique and select_unique, per word number the last cell it was added to (its
    /// bucket in the high 12 bits, its group in the low 20, plus one; 0: none yet).
    last_cells: Vec<u32>,
    /// Per key of a group's dictionary, the rows counted in a bucket (`add_by_words`).
    key_counts: Vec<u32>,
    /// Per word of a group's dictionaries, the aggregate of a bucket's rows (`add_by_words`).
    pending: PendingWords,
    /// The first dictionary the one group_by property was read from, and its word number
    /// for key 0 (`note_group_words`).
    group_words: Option<(StringArray, usize)>,
    /// Whether the partial may leave the aggregates of its words by key, without groups
    /// (`Partial::keyed`): for a piece after the first of its row group, whose partial is
    /// merged into the first piece's.
    by_key: bool,
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
            last_cells: Vec::new(),
            key_counts: Vec::new(),
            pending: PendingWords::default(),
            group_words: None,
            by_key: false,
        }
    }

    /// Remembers that the rows of word number `word` are in group `group`.
    fn set_word_group(&mut self, word: usize, group: usize) {
        if self.word_groups.len() <= word {
            self.word_groups.resize(word + 1, u32::MAX);
        }
        self.word_groups[word] = group as u32;
    }

    /// The partial, its ranked values sorted, and its pending words in their groups or, where
    /// the builder may, kept by key (`keep_by_key`).
    fn finish(mut self) -> Partial {
        if !self.keep_by_key() {
            self.flush_words();
        }
        if let Some((dictionary, base)) = self.group_words.take() {
            let groups = (base..base + dictionary.len())
                .map(|word| self.word_groups.get(word).copied().unwrap_or(u32::MAX))
                .collect();
            self.partial.words = Some(GroupWords { dictionary, groups });
        }
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
            let position = self.group_of(found)?;
            if let Some(word) = word {
                self.set_word_group(word, position);
            }
            position
        };
        let kind = plan.analysis.kind;
        let target = plan.target.map(|path| &found[path]);
        if let Some(Found::Word(_, word)) = target
            && matches!(kind, AnalysisType::CountUnique | AnalysisType::SelectUnique)
            && self.already_added(*word as usize, bucket, group)
        {
            self.partial.cell(bucket, group, kind).count += 1;
            return Ok(());
        }
        let cell = self.partial.cell(bucket, group, kind);
        let before = cell.bytes();
        cell.add(target, &mut self.key);
        let after = cell.bytes();
        self.partial.bytes = (self.partial.bytes + after).saturating_sub(before);
        if self.partial.bytes > MEMORY_LIMIT {
            return Err(AnalysisError::MemoryLimit.into());
        }
        Ok(())
    }

    /// Whether the value of word number `word` was added to the distinct values of the cell of
    /// `bucket` and `group` last (so is already in its set); notes that it now is. Rows are
    /// scanned in time order, so a value's rows in one bucket and group mostly follow each other.
    /// Cells past what the mark holds (over a million groups) are never marked.
    fn already_added(&mut self, word: usize, bucket: usize, group: usize) -> bool {
        let Some(cell) = cell_mark(bucket, group) else { return false };
        if self.last_cells.len() <= word {
            self.last_cells.resize(word + 1, 0);
        }
        std::mem::replace(&mut self.last_cells[word], cell) == cell
    }

    /// The position of the group of the row whose values are `found`, added if new.
    fn group_of(&mut self, found: &[Found<'_>]) -> Result<usize, AnalyzeError> {
        let plan = self.plan;
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
        Ok(position)
    }
}

/// The mark of the cell of `bucket` and `group` in `Builder::last_cells`, when it has one.
fn cell_mark(bucket: usize, group: usize) -> Option<u32> {
    (bucket < 1 << 12 && group < (1 << 20) - 1).then(|| ((bucket as u32) << 20 | group as u32) + 1)
}
