//! The engine on worked examples: caching as events arrive, partials shared between
//! analyses and with filters on a group_by property, the stop flag, the latest events of parts
//! that overlap in time, dictionary words, events kept whole, and the memory budget.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use serde_json::{Map, Value, json};

use super::{DAY_MS, START_MS, asking, reference, run, same, store};
use crate::query::analysis::{Analysis, AnalysisType};
use crate::query::answer::Answer;
use crate::query::engine::pieces::Budget;
use crate::query::engine::{AnalyzeError, MEMORY_LIMIT, PartialCache, analyze, extract};
use crate::query::extraction::Extraction;
use crate::query::filter::parse_filters;
use crate::query::timeframe::TimeRange;
use crate::store::StoredEvent;

#[test]
fn a_cached_query_stays_exact_as_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let colours = ["red", "blue"];
    let events: Vec<(i64, Value)> =
        (0..50).map(|i| (START_MS + i * 3_600_000, json!({"n": i, "g": colours[i as usize % 2]}))).collect();
    let (parts, mut tail) = store(dir.path(), &events, &[20, 40]);
    let params = json!({"target_property": "n", "group_by": "g"}).as_object().unwrap().clone();
    let analysis = Analysis::parse(AnalysisType::Sum, &params).unwrap();
    let cache = Mutex::new(PartialCache::default());
    let before = run(&parts, &tail, &cache, &analysis, &[], None, "v1").unwrap();
    assert_eq!(before, json!([{"g": "red", "result": 600}, {"g": "blue", "result": 625}]));
    tail.push(StoredEvent::from_value(START_MS, &json!({"n": 1000, "g": "green"})));
    let after = run(&parts, &tail, &cache, &analysis, &[], None, "v2").unwrap();
    assert_eq!(after, reference(&parts, &tail, &analysis, &[], None).unwrap());
    assert_eq!(after[2], json!({"g": "green", "result": 1000}));
}

/// A part whose row groups are read in pieces in parallel (on a machine with more than one
/// core), from a timeframe that takes a few rows of its first row group and from one that
/// takes none: the groups come in the order of their first rows in the part.
#[test]
fn a_part_read_in_pieces_keeps_its_rows_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let colours = ["c", "b", "a"];
    let events: Vec<(i64, Value)> = (0..120)
        .map(|i| {
            let colour = if i < 40 { colours[i as usize % 3] } else { colours[2 - i as usize % 3] };
            (START_MS + i * 60_000, json!({"g": colour}))
        })
        .collect();
    // One part (the third cut: row groups of 40 events). The first timeframe takes the last
    // three events of the first row group (b, a, c) and all of the others (b, c, a, …); the
    // second starts at the second row group, whose second half begins a, b, c.
    let (parts, tail) = store(dir.path(), &events, &[0, 0, 120]);
    assert_eq!((parts.len(), parts[0].file.row_groups(None).len()), (1, 3));
    let analysis =
        Analysis::parse(AnalysisType::Count, json!({"group_by": "g"}).as_object().unwrap()).unwrap();
    let cache = Mutex::new(PartialCache::default());
    for (first, expected) in [
        (37, json!([{"g": "b", "result": 28}, {"g": "a", "result": 27}, {"g": "c", "result": 28}])),
        (40, json!([{"g": "b", "result": 27}, {"g": "c", "result": 27}, {"g": "a", "result": 26}])),
    ] {
        let range = Some(TimeRange { start_ms: START_MS + first * 60_000, end_ms: START_MS + DAY_MS });
        let answer = run(&parts, &tail, &cache, &analysis, &[], range, "v1").unwrap();
        assert_eq!(answer, reference(&parts, &tail, &analysis, &[], range).unwrap());
        assert_eq!(answer, expected, "from event {first}");
    }
}

/// A filter on the group_by property is also tested per group, so an average filtered to
/// some groups is answered from the partials of the unfiltered sum (sum and average keep the
/// same ones): with the stop flag raised, it reads no part. So is one with an interval, whose
/// groups have aggregates in several buckets. A filter that tells a missing property from a
/// null is not.
#[test]
fn a_filter_on_the_group_by_property_reads_the_unfiltered_partials() {
    let dir = tempfile::tempdir().unwrap();
    let colours = [json!("red"), json!("blue"), json!(null), json!("green")];
    let events: Vec<(i64, Value)> = (0..60)
        .map(|i| {
            let mut body = json!({"n": i});
            if i % 5 != 4 {
                body["g"] = colours[i as usize % 4].clone();
            }
            (START_MS + i * 60_000, body)
        })
        .collect();
    let (parts, tail) = store(dir.path(), &events, &[25, 60]);
    assert!(tail.is_empty());
    let hour = TimeRange { start_ms: START_MS, end_ms: START_MS + 3_600_000 };
    for (interval, range) in [(json!(null), None), (json!("every_10_minutes"), Some(hour))] {
        let parse = |kind, params: Value| Analysis::parse(kind, params.as_object().unwrap()).unwrap();
        let params = json!({"target_property": "n", "group_by": "g", "interval": interval});
        let (sum, average) = (parse(AnalysisType::Sum, params.clone()), parse(AnalysisType::Average, params));
        let cache = Mutex::new(PartialCache::default());
        let expected = reference(&parts, &tail, &sum, &[], range).unwrap();
        assert_eq!(run(&parts, &tail, &cache, &sum, &[], range, "v1").unwrap(), expected);
        let stop = AtomicBool::new(true);
        let answer = |filters: &Value| {
            let filters = parse_filters(Some(filters)).unwrap();
            let got = analyze(&parts, &tail, &cache, &[&average], &asking(&filters, range, "v1", &stop))
                .map(|mut answers| answers.remove(0).into_value());
            (got, reference(&parts, &tail, &average, &filters, range).unwrap())
        };
        for filters in [
            json!([{"property_name": "g", "operator": "in", "property_value": ["blue", "green"]}]),
            json!([{"property_name": "g", "operator": "ne", "property_value": "red"}]),
        ] {
            let (got, expected) = answer(&filters);
            assert_eq!(got.unwrap(), expected, "{filters} {interval}");
        }
        // `exists` tells the rows without `g` from those where it is null, which share a group.
        let (got, _) = answer(&json!([{"property_name": "g", "operator": "exists", "property_value": true}]));
        assert!(matches!(got, Err(AnalyzeError::Stopped)), "{got:?}");
    }
}

/// Answers and partials are cached under keys made of the filters' text. An `in` filter
/// (whose string operands are also kept in a set, in no fixed order) parsed anew for a query
/// asked again must find them: with the stop flag raised, reading a part fails.
#[test]
fn a_query_with_an_in_filter_asked_again_is_answered_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let colours = ["red", "blue", "green", "cyan", "black", "white", "pink", "grey"];
    let events: Vec<(i64, Value)> =
        (0..40).map(|i| (START_MS + i * 60_000, json!({"n": i, "g": colours[i as usize % 8]}))).collect();
    let (parts, tail) = store(dir.path(), &events, &[20, 40]);
    let sum =
        Analysis::parse(AnalysisType::Sum, json!({"target_property": "n"}).as_object().unwrap()).unwrap();
    let filter = json!([{"property_name": "g", "operator": "in", "property_value": colours[1..]}]);
    let cache = Mutex::new(PartialCache::default());
    let ask = |stopped: bool, version: &str| {
        let filters = parse_filters(Some(&filter)).unwrap();
        let stop = AtomicBool::new(stopped);
        let query = asking(&filters, None, version, &stop);
        analyze(&parts, &tail, &cache, &[&sum], &query).map(|mut answers| answers.remove(0).into_value())
    };
    let expected = json!((0..40).filter(|i| i % 8 != 0).sum::<i64>());
    assert_eq!(ask(false, "v1").unwrap(), expected);
    assert_eq!(ask(true, "v1").unwrap(), expected, "the cached answer");
    assert_eq!(ask(true, "v2").unwrap(), expected, "the cached partials");
}

/// A distinct set's bytes shrink when the strings it gathered are added to its tables and most
/// were already there: a count_unique over many repeats of one value (here in the tail, read
/// row by row) once underflowed the partial's byte count.
#[test]
fn distinct_values_gathered_and_found_again_shrink_the_bytes_counted() {
    let events: Vec<(i64, Value)> =
        (0..70_000).map(|i| (START_MS + i, json!({"u": if i % 1000 == 0 { "b" } else { "a" }}))).collect();
    let tail: Vec<StoredEvent> = events.iter().map(|(ts, body)| StoredEvent::from_value(*ts, body)).collect();
    let params = json!({"target_property": "u"}).as_object().unwrap().clone();
    let analysis = Analysis::parse(AnalysisType::CountUnique, &params).unwrap();
    let cache = Mutex::new(PartialCache::default());
    assert_eq!(run(&[], &tail, &cache, &analysis, &[], None, "v1").unwrap(), json!(2));
}

#[test]
fn a_median_and_percentiles_read_together_rank_each_their_own() {
    let dir = tempfile::tempdir().unwrap();
    // 1..=2000 in a scrambled order, over three parts and the tail.
    let events: Vec<(i64, Value)> =
        (0..2000).map(|i| (START_MS + i, json!({"n": (i * 7919) % 2000 + 1}))).collect();
    let (parts, tail) = store(dir.path(), &events, &[500, 1200, 1900]);
    let target = json!({"target_property": "n"}).as_object().unwrap().clone();
    let median = Analysis::parse(AnalysisType::Median, &target).unwrap();
    let with = |percentile: f64| {
        let mut params = target.clone();
        params.insert("percentile".into(), json!(percentile));
        Analysis::parse(AnalysisType::Percentile, &params).unwrap()
    };
    let (p95, p10) = (with(95.0), with(10.0));
    let stop = AtomicBool::new(false);
    let query = asking(&[], None, "v1", &stop);
    let cache = Mutex::new(PartialCache::default());
    let answers = analyze(&parts, &tail, &cache, &[&median, &p95, &p10], &query).unwrap();
    let answers: Vec<Value> = answers.into_iter().map(Answer::into_value).collect();
    assert_eq!(answers, vec![json!(1000), json!(1900), json!(200)]);
    // Each alone, from the partials the first query left.
    for (analysis, expected) in [(&p95, 1900), (&median, 1000), (&p10, 200)] {
        assert_eq!(run(&parts, &tail, &cache, analysis, &[], None, "v2").unwrap(), json!(expected));
    }
}

#[test]
fn answers_cached_under_one_version_keep_their_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let groups = ["a", "b", "b", "c", "c", "c"];
    let events: Vec<(i64, Value)> =
        (0..30).map(|i| (START_MS + i, json!({"g": groups[i as usize % 6]}))).collect();
    let (parts, tail) = store(dir.path(), &events, &[10]);
    let cache = Mutex::new(PartialCache::default());
    let parse = |params: Value| Analysis::parse(AnalysisType::Count, params.as_object().unwrap()).unwrap();
    let top = parse(
        json!({"group_by": "g", "order_by": {"property_name": "result", "direction": "DESC"}, "limit": 1}),
    );
    let all = parse(json!({"group_by": "g"}));
    assert_eq!(run(&parts, &tail, &cache, &top, &[], None, "v1").unwrap(), json!([{"g": "c", "result": 15}]));
    assert_eq!(
        run(&parts, &tail, &cache, &all, &[], None, "v1").unwrap(),
        json!([{"g": "a", "result": 5}, {"g": "b", "result": 10}, {"g": "c", "result": 15}])
    );
}

#[test]
fn events_kept_whole_are_read_through_their_json() {
    let dir = tempfile::tempdir().unwrap();
    let wide: Map<String, Value> = (0..5000).map(|i| (format!("p{i}"), json!(i))).collect();
    let mut events = vec![(START_MS, json!({"n": 5, "g": "red"}))];
    let mut wide = Value::Object(wide);
    wide["n"] = json!(7);
    wide["g"] = json!("red");
    events.push((START_MS + 1, wide));
    let (parts, tail) = store(dir.path(), &events, &[2]);
    let params = json!({"target_property": "n", "group_by": "g"}).as_object().unwrap().clone();
    let analysis = Analysis::parse(AnalysisType::Sum, &params).unwrap();
    let cache = Mutex::new(PartialCache::default());
    let got = run(&parts, &tail, &cache, &analysis, &[], None, "v1").unwrap();
    assert_eq!(got, json!([{"g": "red", "result": 12}]));
}

#[test]
fn a_raised_stop_flag_stops_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<(i64, Value)> = (0..10).map(|i| (START_MS + i, json!({"n": i}))).collect();
    let (parts, tail) = store(dir.path(), &events, &[5]);
    let analysis = Analysis::parse(AnalysisType::Count, &Map::new()).unwrap();
    let stop = AtomicBool::new(true);
    let query = asking(&[], None, "v1", &stop);
    let cache = Mutex::new(PartialCache::default());
    assert!(matches!(analyze(&parts, &tail, &cache, &[&analysis], &query), Err(AnalyzeError::Stopped)));
    let extraction = Extraction::parse(&Map::new()).unwrap();
    assert!(matches!(extract(&parts, &tail, &cache, &extraction, &query), Err(AnalyzeError::Stopped)));
}

/// The latest events come from parts that overlap in time. The rows of a part are read in
/// chunks from its end, and what is left of it is bounded by the earliest timestamp read: the
/// reading stops once the newest matches are newer than every bound left. Here the newest
/// match is the row before the first chunk of the first part, a millisecond under its bound,
/// and the second part holds an older match; a bound understated by more than two
/// milliseconds would stop before the newer. Asked of the columnar scan (one shape per
/// property) and of the row scan (a property of two types).
#[test]
fn the_latest_are_found_in_parts_that_overlap_in_time() {
    for two_types in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let at = |ms: i64, id: &str, g: Value| (START_MS + ms, json!({"id": id, "g": g}));
        let mut first = vec![at(1_000, "newest match", json!("red")), at(1_001, "newest", json!("blue"))];
        let mut second = vec![at(999, "older match", json!("red"))];
        if two_types {
            first.insert(0, at(1, "a number", json!(5)));
            second.insert(0, at(2, "another number", json!(5)));
        }
        let events = [first.clone(), second].concat();
        let (parts, tail) = store(dir.path(), &events, &[first.len(), events.len()]);
        assert_eq!((parts.len(), tail.len()), (2, 0));
        let red = json!([{"property_name": "g", "operator": "eq", "property_value": "red"}]);
        let filters = parse_filters(Some(&red)).unwrap();
        let range = Some(TimeRange { start_ms: START_MS, end_ms: START_MS + DAY_MS });
        let extraction = Extraction::parse(json!({"latest": 1}).as_object().unwrap()).unwrap();
        let stop = AtomicBool::new(false);
        let cache = Mutex::new(PartialCache::default());
        let got = extract(&parts, &tail, &cache, &extraction, &asking(&filters, range, "v1", &stop)).unwrap();
        assert_eq!(got.into_value(), json!([{"id": "newest match", "g": "red"}]), "two types: {two_types}");
    }
}

#[test]
fn string_columns_read_as_numbered_words_answer_as_the_reference_does() {
    let dir = tempfile::tempdir().unwrap();
    let users = ["ana", "bo", "cy", "di", "ed", "flo", "gus"];
    let plans = ["free", "pro"];
    let events: Vec<(i64, Value)> = (0..400)
        .map(|i: usize| {
            let ts = START_MS + i as i64 * 1_800_000;
            let mut event =
                json!({"user": users[i * 7 % 11 % users.len()], "plan": plans[i / 3 % 2], "n": i % 5});
            // A team on most events: the column holds nulls, and their rows group apart.
            if !i.is_multiple_of(7) {
                event["team"] = json!(["red", "blue", "green"][i % 3]);
            }
            // A price (not an integer) on most events: that column holds nulls too.
            if !i.is_multiple_of(4) {
                event["price"] = json!((i % 9) as f64 + 0.25);
            }
            // A shop on every event, two of them first seen late in each part: in the second
            // piece of a row group read in two, in the order of their first rows.
            event["shop"] = json!(["north", "south", "west", "east"][i % 2 + usize::from(i % 100 >= 60) * 2]);
            (ts, event)
        })
        .collect();
    let (parts, tail) = store(dir.path(), &events, &[100, 250, 390]);
    let range = Some(TimeRange { start_ms: START_MS, end_ms: START_MS + 9 * DAY_MS });
    let pro =
        parse_filters(Some(&json!([{"property_name": "plan", "operator": "eq", "property_value": "pro"}])))
            .unwrap();
    for params in [
        json!({"kind": "count_unique", "target_property": "user"}),
        json!({"kind": "count_unique", "target_property": "user", "group_by": "plan", "interval": "daily"}),
        json!({"kind": "select_unique", "target_property": "user", "group_by": "n"}),
        json!({"kind": "count", "group_by": "user", "interval": "daily"}),
        json!({"kind": "count", "group_by": "team"}),
        json!({"kind": "count", "group_by": "team", "interval": "daily"}),
        json!({"kind": "sum", "target_property": "n", "group_by": "team"}),
        json!({"kind": "average", "target_property": "price", "group_by": "user", "interval": "daily"}),
        json!({"kind": "minimum", "target_property": "price", "group_by": "team"}),
        json!({"kind": "maximum", "target_property": "n", "group_by": "plan", "interval": "daily"}),
        json!({"kind": "standard_deviation", "target_property": "price", "group_by": "user"}),
        json!({"kind": "sum", "target_property": "n", "group_by": "shop"}),
        json!({"kind": "average", "target_property": "price", "group_by": "shop"}),
    ] {
        let params = params.as_object().unwrap().clone();
        let analysis =
            Analysis::parse(AnalysisType::parse(params["kind"].as_str().unwrap()).unwrap(), &params).unwrap();
        for filters in [&[][..], &pro[..]] {
            let cache = Mutex::new(PartialCache::default());
            let got = run(&parts, &tail, &cache, &analysis, filters, range, "v1").unwrap();
            let expected = reference(&parts, &tail, &analysis, filters, range).unwrap();
            // Standard deviations are merged in another order than the reference adds them;
            // every other answer here (prices are quarters) is exact.
            match params["kind"] == "standard_deviation" {
                true => assert!(same(&got, &expected), "{params:?}: {got} against {expected}"),
                false => assert_eq!(got, expected, "{params:?}"),
            }
        }
    }
}

#[test]
fn a_budget_counts_every_holder_and_what_they_give_back() {
    let budget = Budget::default();
    let half = MEMORY_LIMIT / 2;
    // Two readers each under the limit, and the merge taking over one reader's bytes.
    assert!(budget.change(0, half).is_ok());
    assert!(budget.change(0, half).is_ok());
    assert!(budget.change(0, 1).is_err(), "together they pass the limit");
    assert!(budget.change(half + 1, 10).is_ok(), "a merged piece gives its bytes back");
    assert!(budget.change(0, half - 20).is_ok());
    assert!(budget.change(0, 20).is_err());
}
