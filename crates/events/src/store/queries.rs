//! The Keen analyses over a store's events: counts, analyses, funnels and extractions, each as
//! far as its `Reach` lets it go, with whole answers cached under the data's version.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::{EventStore, Part, StoredEvent, unreadable};
use crate::collection::CollectionName;
use crate::query::analysis::Analysis;
use crate::query::answer::Answer;
use crate::query::engine::{self, AnalyzeError, Reach};
use crate::query::extraction::Extraction;
use crate::query::filter::Filter;
use crate::query::funnel::{ActorSet, Funnel, FunnelStep};
use crate::query::multi;
use crate::query::timeframe::{TimeRange, Timezone};

impl EventStore {
    /// What a query of `collection` over `range` reads: its `snapshot`, and its version (the
    /// collection and its `Collection::version`, which every cached answer is kept under);
    /// with `Reach::CachedOnly`, which reads nothing, only the version.
    fn reading(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        reach: Reach<'_>,
    ) -> (Vec<Arc<Part>>, Vec<StoredEvent>, String) {
        let (parts, tail, version) = match reach {
            Reach::Compute(_) => self.versioned_snapshot(collection, range).unwrap_or_default(),
            Reach::CachedOnly => {
                let version = self.shared.read().collections.get(collection).map(|c| c.version);
                (Vec::new(), Vec::new(), version.unwrap_or_default())
            }
        };
        (parts, tail, format!("{collection}#{version}"))
    }

    /// How many events of `collection` fall in `range`, as an answer: from the parts' row-group
    /// statistics where a row group lies inside it, else from timestamps; cached under the
    /// collection's version. With `Reach::Compute`, CPU-bound: call it off the async reactor.
    pub fn count(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        reach: Reach<'_>,
    ) -> Result<Answer, AnalyzeError> {
        let (parts, tail, version) = self.reading(collection, range, reach);
        engine::cached_answer(&self.partials, (version, format!("count|{range:?}")), reach, || {
            let mut total = tail.len() as u64;
            for part in parts {
                if reach.stop().load(Ordering::Relaxed) {
                    return Err(AnalyzeError::Stopped);
                }
                total += part.file.count(range).map_err(unreadable)?;
            }
            Ok(Answer::new(Value::from(total)))
        })
    }

    /// The `result` of `analysis` over the events of `collection` in `range` that pass every
    /// filter, by the query engine (`query::engine`), as far as `reach` lets it go. With
    /// `Reach::Compute`, CPU-bound: call it off the async reactor.
    pub fn analyze(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        timezone: Timezone,
        filters: &[Filter],
        analysis: &Analysis,
        reach: Reach<'_>,
    ) -> Result<Answer, AnalyzeError> {
        let mut answers = self.analyze_all(collection, range, timezone, filters, &[analysis], reach)?;
        Ok(answers.pop().unwrap_or_else(|| Answer::new(Value::Null)))
    }

    /// As `analyze`, for several analyses over the same events (a multi_analysis): each part
    /// is read once for all of them. The answers come in the order of `analyses`.
    pub fn analyze_all(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        timezone: Timezone,
        filters: &[Filter],
        analyses: &[&Analysis],
        reach: Reach<'_>,
    ) -> Result<Vec<Answer>, AnalyzeError> {
        let (parts, tail, version) = self.reading(collection, range, reach);
        let query = engine::Query { filters, range, timezone, reach, version: &version };
        engine::analyze(&parts, &tail, &self.partials, analyses, &query)
    }

    /// A multi_analysis's result: `analyses` (labelled, each with the query's group_by and
    /// interval) as `analyze_all` answers them, merged into one shape (`multi::merge`). The
    /// merged answer is cached whole under the collection's version too, so that a repeated
    /// multi_analysis is one lookup, not a merge and a serialisation of its sub-answers.
    #[allow(clippy::too_many_arguments)]
    pub fn analyze_multi(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        timezone: Timezone,
        filters: &[Filter],
        analyses: &[(String, Analysis)],
        (grouped, series): (bool, bool),
        reach: Reach<'_>,
    ) -> Result<Answer, AnalyzeError> {
        let (parts, tail, version) = self.reading(collection, range, reach);
        let key = format!("multi|{range:?}|{timezone:?}|{filters:?}|{analyses:?}|{grouped}|{series}");
        // The sub-answers may be cached where the merged one is not (other labels).
        engine::remembered_answer(&self.partials, (version.clone(), key), || {
            let query = engine::Query { filters, range, timezone, reach, version: &version };
            let each: Vec<&Analysis> = analyses.iter().map(|(_, analysis)| analysis).collect();
            let answers = engine::analyze(&parts, &tail, &self.partials, &each, &query)?;
            let results: Vec<(&str, &Value)> =
                analyses.iter().map(|(label, _)| label.as_str()).zip(answers.iter().map(|a| &**a)).collect();
            Ok(Answer::new(multi::merge(&results, grouped, series)))
        })
    }

    /// A funnel's response body: `Funnel::count` over each step's actors as a set, or
    /// `Funnel::evaluate` over each step's `select_unique` when a step lists its actors. Cached
    /// whole under the versions of the steps' collections, so a repeated funnel costs a lookup
    /// while nothing changed (and can be asked for with `Reach::CachedOnly`). With
    /// `Reach::Compute`, CPU-bound: call it off the async reactor.
    pub fn funnel(&self, funnel: &Funnel, reach: Reach<'_>) -> Result<Answer, AnalyzeError> {
        let versions: Vec<String> = {
            let state = self.shared.read();
            let version = |step: &FunnelStep| state.collections.get(&step.collection).map(|c| c.version);
            funnel.steps.iter().map(|step| format!("{}#{:?}", step.collection, version(step))).collect()
        };
        let key = (versions.join(" "), format!("funnel|{funnel:?}"));
        engine::cached_answer(&self.partials, key, reach, || {
            let body = match funnel.lists_actors() {
                true => funnel.evaluate(|step| {
                    let (range, filters, analysis) = (step.range, &step.filters, step.actor_analysis());
                    self.analyze(&step.collection, range, Timezone::default(), filters, &analysis, reach)
                })?,
                false => funnel.count(|step| self.funnel_actors(step, reach))?,
            };
            Ok(Answer::new(Value::Object(body)))
        })
    }

    /// The actors of a funnel step (`Funnel::count`): the distinct values of its actor
    /// property among the events of its collection in its timeframe that pass its filters, as
    /// a set; or `AnalyzeError::Stopped` once the stop flag of `reach` is raised.
    fn funnel_actors(&self, step: &FunnelStep, reach: Reach<'_>) -> Result<ActorSet, AnalyzeError> {
        let (parts, tail, version) = self.reading(&step.collection, step.range, reach);
        let query = engine::Query {
            filters: &step.filters,
            range: step.range,
            timezone: Timezone::default(),
            reach,
            version: &version,
        };
        engine::actor_set(&parts, &tail, &self.partials, &step.actor_count(), &query)
    }

    /// The `result` of `extraction` over the events of `collection` in `range` that pass every
    /// filter (`query::engine::extract`), as far as `reach` lets it go. With `Reach::Compute`,
    /// CPU-bound: call it off the async reactor.
    pub fn extract(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        filters: &[Filter],
        extraction: &Extraction,
        reach: Reach<'_>,
    ) -> Result<Answer, AnalyzeError> {
        let (parts, tail, version) = self.reading(collection, range, reach);
        let query = engine::Query { filters, range, timezone: Timezone::default(), reach, version: &version };
        engine::extract(&parts, &tail, &self.partials, extraction, &query)
    }
}
