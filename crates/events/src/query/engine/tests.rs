//! The engine against the reference evaluator (`Analysis::evaluate` over parsed events): random
//! events with drifting types spread over parts and the tail, random analyses, filters,
//! groups, intervals and timeframes; every answer must be the same, cached or not.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{PartialCache, Query, Reach, actor_set, analyze, extract};
use crate::manifest::PartEntry;
use crate::part::{PartBuilder, PartFile, ROW_GROUP_ROWS};
use crate::query::analysis::{Analysis, AnalysisType};
use crate::query::answer::Answer;
use crate::query::extraction::Extraction;
use crate::query::filter::{Filter, parse_filters};
use crate::query::funnel::Funnel;
use crate::query::timeframe::{TimeRange, Timezone};
use crate::store::{Part, StoredEvent};

mod cases;

const DAY_MS: i64 = 86_400_000;
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;

/// A value whose JSON type drifts between events.
fn drifting() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => (-4i64..5).prop_map(|n| Some(json!(n))),
        2 => (-4i64..5).prop_map(|n| Some(json!(n as f64 + 0.5))),
        1 => Just(Some(json!(2.0))),
        2 => prop::sample::select(vec!["x", "y", "z", "10"]).prop_map(|s| Some(json!(s))),
        1 => any::<bool>().prop_map(|b| Some(json!(b))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!([1, "x"]))),
        1 => Just(Some(json!({"b": 1}))),
        1 => Just(Some(json!({}))),
        1 => Just(Some(json!(9_007_199_254_740_993_i64))),
        2 => Just(None),
    ]
}

fn event() -> impl Strategy<Value = (i64, Value)> {
    (
        0..10 * DAY_MS,
        drifting(),
        prop_oneof![3 => (-3i64..8).prop_map(|n| Some(json!(n))), 1 => Just(Some(json!(1.25))), 1 => drifting()],
        prop_oneof![4 => prop::sample::select(vec!["red", "blue", "green"]).prop_map(|s| Some(json!(s))), 1 => drifting()],
        prop_oneof![2 => drifting().prop_map(|p| p.map(|p| json!({"p": p}))), 1 => drifting()],
    )
        .prop_map(|(offset, a, n, g, o)| {
            let mut body = Map::new();
            for (name, value) in [("a", a), ("n", n), ("g", g), ("o", o)] {
                if let Some(value) = value {
                    body.insert(name.to_owned(), value);
                }
            }
            (START_MS + offset, Value::Object(body))
        })
}

/// An event whose properties keep one JSON type each (or are left out), as most collections'
/// do: parts of these are read by the columnar scan.
fn tidy_event() -> impl Strategy<Value = (i64, Value)> {
    (
        0..10 * DAY_MS,
        prop::option::of(-4i64..5),
        prop::option::of(-3i64..8),
        prop::option::of(prop::sample::select(vec!["red", "blue", "green"])),
        prop::option::of(prop::option::of(prop::sample::select(vec!["x", "y", "z", "10"]))),
    )
        .prop_map(|(offset, a, n, g, o)| {
            let mut body = Map::new();
            let a = a.map(|a| Value::from(a as f64 / 2.0));
            for (name, value) in [("a", a), ("n", n.map(Value::from)), ("g", g.map(Value::from))] {
                if let Some(value) = value {
                    body.insert(name.to_owned(), value);
                }
            }
            if let Some(o) = o {
                body.insert("o".to_owned(), o.map_or_else(|| json!({}), |p| json!({"p": p})));
            }
            (START_MS + offset, Value::Object(body))
        })
}

/// Filters of every kind the scans test differently.
fn filters() -> Vec<Value> {
    vec![
        json!(null),
        json!([{"property_name": "n", "operator": "gt", "property_value": 1}]),
        json!([{"property_name": "n", "operator": "lt", "property_value": 4}]),
        json!([{"property_name": "n", "operator": "lte", "property_value": 3},
               {"property_name": "n", "operator": "ne", "property_value": 2}]),
        json!([{"property_name": "g", "operator": "eq", "property_value": "red"}]),
        json!([{"property_name": "a", "operator": "exists", "property_value": true}]),
        json!([{"property_name": "a", "operator": "eq", "property_value": 1}]),
        json!([{"property_name": "o.p", "operator": "in", "property_value": ["x", 2, null]}]),
        json!([{"property_name": "a", "operator": "ne", "property_value": null}]),
        json!([{"operator": "or", "operands": [
            {"property_name": "g", "operator": "eq", "property_value": "blue"},
            {"property_name": "n", "operator": "lt", "property_value": 0}]}]),
        json!([{"property_name": "g", "operator": "regex", "property_value": "^(r|g)"},
               {"property_name": "n", "operator": "gte", "property_value": 0}]),
    ]
}

fn query() -> impl Strategy<Value = (Value, Option<TimeRange>)> {
    let kinds = vec![
        "count",
        "count_unique",
        "minimum",
        "maximum",
        "sum",
        "average",
        "median",
        "percentile",
        "standard_deviation",
        "select_unique",
    ];
    let filters = filters();
    (
        prop::sample::select(kinds),
        prop::sample::select(vec!["n", "a", "o.p", "g", "o", "none"]),
        prop::sample::select(vec![json!(null), json!("g"), json!("a"), json!(["g", "o.p"]), json!("n")]),
        prop::sample::select(vec![json!(null), json!("daily"), json!("every_3_days")]),
        prop::sample::select(filters),
        prop::option::of((0..12 * DAY_MS, 1..12 * DAY_MS)),
        prop::sample::select(vec![json!(null), json!({"property_name": "result", "direction": "DESC"})]),
    )
        .prop_map(|(kind, target, group_by, interval, filters, window, order_by)| {
            let range = window.map(|(start, length)| TimeRange {
                start_ms: START_MS - DAY_MS + start,
                end_ms: START_MS - DAY_MS + start + length,
            });
            let mut params = json!({
                "kind": kind, "target_property": target, "group_by": group_by, "filters": filters,
                "percentile": 37.5,
            });
            if range.is_some() {
                params["interval"] = interval;
            }
            if !params["group_by"].is_null() {
                params["order_by"] = order_by;
            }
            (params, range)
        })
}

/// Writes events into parts at the `cuts` (indexes into the sorted events); the rest is the tail.
fn store(
    dir: &std::path::Path,
    events: &[(i64, Value)],
    cuts: &[usize],
) -> (Vec<Arc<Part>>, Vec<StoredEvent>) {
    let mut parts = Vec::new();
    let mut start = 0;
    for (n, &cut) in cuts.iter().enumerate() {
        let cut = cut.clamp(start, events.len());
        if cut == start {
            continue;
        }
        let mut chunk = events[start..cut].to_vec();
        chunk.sort_by_key(|(ts, _)| *ts);
        // Parts of one row group, and of several: read in pieces (about `PIECE_ROWS` rows, at
        // most one per core) when there are fewer parts than twice the cores, otherwise whole
        // (a row selection over several row groups); up to six parts, so that both happen.
        let mut builder = PartBuilder::with_row_groups_of([ROW_GROUP_ROWS, 7, 40][n % 3]);
        for (ts, body) in &chunk {
            builder.push(*ts, body);
        }
        let file = format!("part-{n}.parquet");
        let info = builder.write(&dir.join(&file)).unwrap();
        let part = PartFile::open(&dir.join(&file)).unwrap();
        parts.push(Arc::new(Part { entry: PartEntry { file, info }, file: part }));
        start = cut;
    }
    let tail = events[start..].iter().map(|(ts, body)| StoredEvent::from_value(*ts, body)).collect();
    (parts, tail)
}

/// The reference answer: every event parsed back in scan order, then `Analysis::evaluate`.
fn reference(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    analysis: &Analysis,
    filters: &[Filter],
    range: Option<TimeRange>,
) -> Result<Value, String> {
    let mut events = Vec::new();
    for part in parts {
        for event in part.file.events(range).unwrap() {
            events.push(event.unwrap());
        }
    }
    events.extend(
        tail.iter()
            .filter(|e| range.is_none_or(|r| r.contains(e.timestamp_ms)))
            .map(|e| (e.timestamp_ms, e.body())),
    );
    let selected = events.iter().filter(|(_, body)| filters.iter().all(|f| f.matches(body)));
    analysis
        .evaluate(selected.map(|(ts, body)| (*ts, body)), range, Timezone::Offset(0))
        .map_err(|e| e.to_string())
}

/// Equal JSON, floats within a relative 1e-9 (sums added in another order). Groups sorted by
/// `order_by` may trade places where their results are equal within that tolerance.
fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) if l.is_f64() || r.is_f64() => {
            let (l, r) = (l.as_f64().unwrap(), r.as_f64().unwrap());
            (l - r).abs() <= 1e-9 * l.abs().max(r.abs()).max(1.0)
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            let mut r = r.clone();
            for i in 0..l.len() {
                if same(&l[i], &r[i]) {
                    continue;
                }
                // A later row equal to this one, whose result is within rounding of the result of
                // the row in its place, and not exactly equal to it on both sides (exact ties
                // keep their order).
                let Some(j) = (i + 1..r.len()).find(|&j| {
                    let (ri, rj) = (&r[i]["result"], &r[j]["result"]);
                    let (li, lj) = (&l[i]["result"], &l[j]["result"]);
                    let close = ri.is_f64() && rj.is_f64() && same(ri, rj);
                    same(&l[i], &r[j]) && r[i].is_object() && close && (ri != rj || li != lj)
                }) else {
                    return false;
                };
                r.swap(i, j);
            }
            true
        }
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len() && l.iter().zip(r).all(|((lk, lv), (rk, rv))| lk == rk && same(lv, rv))
        }
        _ => left == right,
    }
}

/// A query with `filters` over `range` (in UTC) of the data's `version`, stopped by `stop`.
fn asking<'a>(
    filters: &'a [Filter],
    range: Option<TimeRange>,
    version: &'a str,
    stop: &'a AtomicBool,
) -> Query<'a> {
    Query { filters, range, timezone: Timezone::Offset(0), reach: Reach::Compute(stop), version }
}

/// Whether the engine's answer (or error) is the reference's.
fn agrees(got: &Result<Value, String>, expected: &Result<Value, String>) -> bool {
    match (got, expected) {
        (Ok(got), Ok(expected)) => same(got, expected),
        (got, expected) => got == expected,
    }
}

fn run(
    parts: &[Arc<Part>],
    tail: &[StoredEvent],
    cache: &Mutex<PartialCache>,
    analysis: &Analysis,
    filters: &[Filter],
    range: Option<TimeRange>,
    version: &str,
) -> Result<Value, String> {
    let stop = AtomicBool::new(false);
    let query = asking(filters, range, version, &stop);
    analyze(parts, tail, cache, &[analysis], &query)
        .map(|mut answers| answers.remove(0).into_value())
        .map_err(|e| e.to_string())
}

/// Requires the engine's answers to `params` over `events` (in parts cut at `cuts`, the rest in
/// the tail) to be the reference's: first, from cached partials, from the cached answer, and
/// scanned beside other analyses.
fn answers_as_the_reference(
    events: &[(i64, Value)],
    cuts: &[usize],
    params: &Value,
    range: Option<TimeRange>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    let (parts, tail) = store(dir.path(), events, &cuts);
    let params = params.as_object().unwrap().clone();
    let kind = AnalysisType::parse(params["kind"].as_str().unwrap()).unwrap();
    let analysis = Analysis::parse(kind, &params).unwrap();
    let filters = parse_filters(params.get("filters")).unwrap();
    let cache = Mutex::new(PartialCache::default());
    let expected = reference(&parts, &tail, &analysis, &filters, range);
    // A new version misses the cached answer and reads the cached partials; the same
    // version again is answered from the cached answer.
    for (attempt, version) in [("first run", "v1"), ("cached partials", "v2"), ("cached answer", "v2")] {
        let got = run(&parts, &tail, &cache, &analysis, &filters, range, version);
        assert!(
            agrees(&got, &expected),
            "{attempt}: engine {got:?} reference {expected:?} for {params:?} over {range:?}"
        );
    }
    // Scanned beside another analysis and beside itself (as in a multi_analysis, where
    // the second shares the first's partials), on a fresh cache.
    let count = Analysis::parse(AnalysisType::Count, &Map::new()).unwrap();
    let stop = AtomicBool::new(false);
    let query = asking(&filters, range, "v1", &stop);
    let fresh = Mutex::new(PartialCache::default());
    let together = analyze(&parts, &tail, &fresh, &[&count, &analysis, &analysis], &query);
    for position in [1, 2] {
        let got =
            together.as_ref().map(|answers| Value::clone(&answers[position])).map_err(|e| e.to_string());
        assert!(
            agrees(&got, &expected),
            "together, {position}: engine {got:?} reference {expected:?} for {params:?} over {range:?}"
        );
    }
    // After the same analysis without filters, whose partials serve where the filters are on
    // group_by properties.
    let unfiltered = Mutex::new(PartialCache::default());
    if run(&parts, &tail, &unfiltered, &analysis, &[], range, "v1").is_ok() {
        let got = run(&parts, &tail, &unfiltered, &analysis, &filters, range, "v1");
        assert!(
            agrees(&got, &expected),
            "after the unfiltered query: engine {got:?} reference {expected:?} for {params:?} over {range:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_answers_as_the_reference_does(
        events in prop::collection::vec(event(), 0..120),
        cuts in prop::collection::vec(0usize..120, 0..7),
        (params, range) in query(),
    ) {
        answers_as_the_reference(&events, &cuts, &params, range);
    }

    #[test]
    fn the_columnar_scan_answers_as_the_reference_does(
        events in prop::collection::vec(tidy_event(), 0..300),
        cuts in prop::collection::vec(0usize..300, 0..7),
        (params, range) in query(),
    ) {
        answers_as_the_reference(&events, &cuts, &params, range);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn extraction_returns_what_the_reference_returns(
        events in prop::collection::vec(event(), 0..120),
        cuts in prop::collection::vec(0usize..120, 0..7),
        (params, range) in query(),
        latest in prop::option::of(1usize..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (parts, tail) = store(dir.path(), &events, &cuts);
        let filters = parse_filters(params.get("filters")).unwrap();
        let mut request = Map::new();
        if let Some(latest) = latest {
            request.insert("latest".into(), json!(latest));
        }
        let extraction = Extraction::parse(&request).unwrap();
        let mut matched = Vec::new();
        for part in &parts {
            matched.extend(part.file.events(range).unwrap().map(Result::unwrap));
        }
        matched.extend(tail.iter().filter(|e| range.is_none_or(|r| r.contains(e.timestamp_ms))).map(|e| (e.timestamp_ms, e.body())));
        matched.retain(|(_, body)| filters.iter().all(|f| f.matches(body)));
        let expected = extraction.evaluate(matched).unwrap();
        let stop = AtomicBool::new(false);
        let query = asking(&filters, range, "v1", &stop);
        let cache = Mutex::new(PartialCache::default());
        let got = extract(&parts, &tail, &cache, &extraction, &query).unwrap();
        prop_assert_eq!(&*got, &expected);
        let cached = extract(&parts, &tail, &cache, &extraction, &query).unwrap();
        prop_assert_eq!(cached.into_value(), expected, "answered from the cache");
    }
}

/// A funnel step: its actor property, filters, flags and timeframe.
fn funnel_step() -> impl Strategy<Value = (Value, Option<TimeRange>)> {
    (
        prop::sample::select(vec!["g", "a", "o.p", "n", "o"]),
        prop::sample::select(filters()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of((0..12 * DAY_MS, 1..12 * DAY_MS)),
    )
        .prop_map(|(actor, filters, optional, inverted, window)| {
            let step = json!({"event_collection": "events", "actor_property": actor, "filters": filters,
                              "optional": optional, "inverted": inverted});
            let range = window.map(|(start, length)| TimeRange {
                start_ms: START_MS - DAY_MS + start,
                end_ms: START_MS - DAY_MS + start + length,
            });
            (step, range)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A funnel counted from its steps' actors as sets (`Funnel::count` over `actor_set`) gives
    /// the reference's counts (`Funnel::evaluate` over each step's select_unique of parsed
    /// events), first, from cached partials and from the cached sets.
    #[test]
    fn funnel_counts_from_actor_sets_are_the_references(
        events in prop_oneof![prop::collection::vec(event(), 0..120), prop::collection::vec(tidy_event(), 0..300)],
        cuts in prop::collection::vec(0usize..300, 0..7),
        steps in prop::collection::vec(funnel_step(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (parts, tail) = store(dir.path(), &events, &cuts);
        let mut params = json!({"steps": steps.iter().map(|(step, _)| step.clone()).collect::<Vec<_>>()});
        params["steps"][0]["optional"] = json!(false);
        params["steps"][0]["inverted"] = json!(false);
        let mut funnel = Funnel::parse(params.as_object().unwrap(), 0).unwrap();
        for (step, (_, range)) in funnel.steps.iter_mut().zip(&steps) {
            step.range = *range;
        }
        let expected = funnel.evaluate(|step| {
            reference(&parts, &tail, &step.actor_analysis(), &step.filters, step.range).map(Answer::new)
        });
        let cache = Mutex::new(PartialCache::default());
        let stop = AtomicBool::new(false);
        for (attempt, version) in [("first run", "v1"), ("cached partials", "v2"), ("cached sets", "v2")] {
            let got = funnel.count(|step| {
                let query = asking(&step.filters, step.range, version, &stop);
                actor_set(&parts, &tail, &cache, &step.actor_count(), &query).map_err(|e| e.to_string())
            });
            prop_assert_eq!(&got, &expected, "{}", attempt);
        }
    }
}
