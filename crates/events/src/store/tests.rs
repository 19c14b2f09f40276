//! Tests of `store.rs`: the event store: writes, replay after a crash, compaction, merges and the
//! folder's leftovers.

use std::sync::atomic::AtomicBool;

use serde_json::json;

use super::writer::commit;
use super::*;
use crate::query::analysis::Analysis;
use crate::query::answer::Answer;
use crate::query::engine::{AnalyzeError, Reach};
use crate::query::extraction::Extraction;
use crate::query::funnel::Funnel;
use crate::query::timeframe::Timezone;
use crate::{EventContext, prepare};

fn event(value: Value) -> PreparedEvent {
    prepare(value, &EventContext::new(String::new(), String::new(), 1_700_000_000_000)).unwrap()
}

/// How many purchases `store` holds in `range`, computed (or cached) as a query would.
fn purchases_in(store: &EventStore, range: Option<TimeRange>) -> u64 {
    let answer = store.count(&purchases(), range, Reach::Compute(&AtomicBool::new(false))).unwrap();
    answer.as_u64().expect("a count is a whole number")
}

fn purchases() -> CollectionName {
    CollectionName::parse("purchases").unwrap()
}

/// Options that compact whatever is in the tail at the next look.
fn eager() -> EventStoreOptions {
    EventStoreOptions { tail_bytes: 1, tail_age: Duration::ZERO }
}

/// Waits (up to 20 s) until the store has no tail and `parts` parts in `purchases`.
fn wait_for_parts(store: &EventStore, parts: impl Fn(usize) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let storage = store.storage();
        let settled = storage.iter().all(|(_, n, _, tail, _)| *tail == 0 && parts(*n));
        if settled && !storage.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "compaction did not settle: {storage:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn texts(events: &[StoredEvent]) -> Vec<String> {
    let mut texts: Vec<String> = events.iter().map(|e| e.json.to_string()).collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn writes_are_visible_at_once_and_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let stored =
        store.write(vec![(purchases(), vec![event(json!({"n": 1})), event(json!({"n": 2}))])], 0).await;
    assert_eq!(stored.unwrap(), vec![vec![true, true]]);
    assert_eq!(purchases_in(&store, None), 2);
    store.close();
    let reopened = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let ns: Vec<_> = reopened.events(&purchases()).unwrap().iter().map(|e| e.body()["n"].clone()).collect();
    assert_eq!(ns, [json!(1), json!(2)]);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let _store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let error = EventStore::open(dir.path(), EventStoreOptions::default()).err().unwrap();
    assert!(error.to_string().contains("in use"), "{error}");
}

#[tokio::test]
async fn compaction_moves_the_tail_into_parts_and_every_event_stays_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), eager()).unwrap();
    let odd = crate::query::filter::parse_filters(Some(&json!([
        {"property_name": "odd", "operator": "eq", "property_value": true}
    ])))
    .unwrap();
    let count =
        Analysis::parse(crate::query::analysis::AnalysisType::Count, &serde_json::Map::new()).unwrap();
    let no_stop = AtomicBool::new(false);
    // Asked again and again, so that a stale cached answer would show.
    let odd_count = || {
        store
            .analyze(&purchases(), None, Timezone::default(), &odd, &count, Reach::Compute(&no_stop))
            .unwrap()
            .into_value()
    };
    let everything = Extraction::parse(&serde_json::Map::new()).unwrap();
    let odd_events = || {
        let events = store.extract(&purchases(), None, &odd, &everything, Reach::Compute(&no_stop)).unwrap();
        events.as_array().map_or(0, Vec::len)
    };
    let mut written = Vec::new();
    for round in 0..3 {
        let events: Vec<PreparedEvent> = (0..50)
            .map(|i| {
                let ts = format!("2024-01-{:02}T00:00:{:02}.000Z", 10 - round, i % 60);
                event(json!({"keen": {"timestamp": ts}, "round": round, "i": i, "odd": i % 2 == 1}))
            })
            .collect();
        written.extend(events.iter().map(|e| e.json.to_string()));
        store.write(vec![(purchases(), events)], 0).await.unwrap();
        assert_eq!(odd_count(), 25 * (round + 1), "counted as soon as written");
        assert_eq!(odd_events(), 25 * (round + 1), "extracted as soon as written");
        wait_for_parts(&store, |n| n == round + 1);
        assert_eq!(odd_count(), 25 * (round + 1), "and once in a part");
        assert_eq!(odd_events(), 25 * (round + 1), "and once in a part");
    }
    written.sort();
    assert_eq!(texts(&store.events(&purchases()).unwrap()), written);
    assert_eq!(odd_count(), 75);
    let day = TimeRange { start_ms: 1_704_758_400_000, end_ms: 1_704_844_800_000 };
    assert_eq!(purchases_in(&store, Some(day)), 50, "2024-01-09 only");
    let extracted = store
        .extract(&purchases(), Some(day), &odd, &everything, Reach::Compute(&AtomicBool::new(false)))
        .unwrap();
    assert_eq!(extracted.as_array().unwrap().len(), 25);
    let latest = store.latest(&purchases(), 3).unwrap();
    assert!(latest.iter().all(|e| e.body()["round"] == 0), "round 0 has the newest timestamps");
    assert_eq!(store.collections(), [(purchases(), 150)]);
    let schema = store.schema(&purchases()).unwrap();
    store.close();
    let generations = wal_generations(dir.path()).unwrap();
    assert_eq!(generations.len(), 1, "compacted log generations are removed: {generations:?}");
    let reopened = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    assert_eq!(texts(&reopened.events(&purchases()).unwrap()), written);
    assert_eq!(reopened.schema(&purchases()).unwrap(), schema);
}

#[tokio::test]
async fn small_parts_are_merged_in_timestamp_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), eager()).unwrap();
    let mut written = Vec::new();
    for round in 0..5 {
        let events: Vec<PreparedEvent> = (0..20)
            .map(|i| {
                let ts = format!("2024-01-01T00:{i:02}:{round:02}.000Z");
                event(json!({"keen": {"timestamp": ts}, "v": round * 100 + i}))
            })
            .collect();
        written.extend(events.iter().map(|e| e.json.to_string()));
        store.write(vec![(purchases(), events)], 0).await.unwrap();
        wait_for_parts(&store, |n| n <= round + 1);
    }
    wait_for_parts(&store, |n| n < 4);
    let events = store.events(&purchases()).unwrap();
    written.sort();
    assert_eq!(texts(&events), written);
    let part_files = std::fs::read_dir(dir.path().join(PARTS)).unwrap().count();
    assert_eq!(part_files, store.storage()[0].1, "merged parts' files are removed");
}

#[tokio::test]
async fn uniqueness_tokens_outlive_compaction_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), eager()).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let token = || {
        let ctx = EventContext::new(String::new(), String::new(), now);
        prepare(json!({"keen": {"uniqueness_token": "once"}}), &ctx).unwrap()
    };
    store.write(vec![(purchases(), vec![token()])], now).await.unwrap();
    wait_for_parts(&store, |n| n == 1);
    assert_eq!(store.write(vec![(purchases(), vec![token()])], now).await.unwrap(), vec![vec![false]]);
    store.close();
    let reopened = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    assert_eq!(reopened.write(vec![(purchases(), vec![token()])], now).await.unwrap(), vec![vec![false]]);
    let expired = now + UNIQUENESS_WINDOW_MS;
    assert_eq!(reopened.write(vec![(purchases(), vec![token()])], expired).await.unwrap(), vec![vec![true]]);
}

#[tokio::test]
async fn leftovers_of_an_interrupted_compaction_are_removed_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), eager()).unwrap();
    store.write(vec![(purchases(), vec![event(json!({"n": 1}))])], 0).await.unwrap();
    wait_for_parts(&store, |n| n == 1);
    store.close();
    drop(store);
    // A part written but never named (crash before the manifest switch), a half-written
    // next manifest, and a log generation older than the manifest's start.
    std::fs::write(dir.path().join(PARTS).join("0000000099.parquet"), b"half a part").unwrap();
    std::fs::write(dir.path().join("manifest.json.next"), b"{\"version\"").unwrap();
    std::fs::write(wal_path(dir.path(), 0), b"old").unwrap();
    let reopened = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    assert_eq!(purchases_in(&reopened, None), 1);
    assert!(!dir.path().join(PARTS).join("0000000099.parquet").exists());
    assert!(!dir.path().join("manifest.json.next").exists());
    assert!(!wal_path(dir.path(), 0).exists());
}

#[tokio::test]
async fn parts_of_a_first_compaction_cut_short_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    store.write(vec![(purchases(), vec![event(json!({"n": 1}))])], 0).await.unwrap();
    store.close();
    drop(store);
    // The first compaction wrote a part and was killed before its manifest: the log still
    // starts at its first generation and holds the event.
    std::fs::write(dir.path().join(PARTS).join("0000000001.parquet"), b"half a part").unwrap();
    assert!(!dir.path().join("manifest.json").exists());
    let reopened = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    assert_eq!(purchases_in(&reopened, None), 1);
    assert!(!dir.path().join(PARTS).join("0000000001.parquet").exists());
}

#[tokio::test]
async fn parts_without_a_manifest_are_refused_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), eager()).unwrap();
    store.write(vec![(purchases(), vec![event(json!({"n": 1}))])], 0).await.unwrap();
    wait_for_parts(&store, |n| n == 1);
    store.close();
    drop(store);
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let error = EventStore::open(dir.path(), EventStoreOptions::default()).err().unwrap();
    assert!(error.to_string().contains("no manifest.json"), "{error}");
    assert_eq!(std::fs::read_dir(dir.path().join(PARTS)).unwrap().count(), 1, "the part is kept");
}

#[tokio::test]
async fn a_store_with_a_single_file_log_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(&dir.path().join("events.wal")).unwrap();
    let frame = format!("{{\"purchases\":[{}]}}", event(json!({"n": 7})).json);
    wal.append(&[frame.into_bytes()]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    assert_eq!(store.events(&purchases()).unwrap()[0].body()["n"], 7);
}

#[tokio::test]
async fn concurrent_duplicates_of_a_uniqueness_token_store_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EventStore::open(dir.path(), EventStoreOptions::default()).unwrap());
    let writes = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let token = event(json!({"keen": {"uniqueness_token": "t"}}));
            store.write(vec![(purchases(), vec![token])], 1_700_000_000_000).await.unwrap()
        })
    });
    let mut stored = 0;
    for write in writes {
        stored += write.await.unwrap()[0].iter().filter(|kept| **kept).count();
    }
    assert_eq!(stored, 1);
    assert_eq!(purchases_in(&store, None), 1);
    let later = 1_700_000_000_000 + UNIQUENESS_WINDOW_MS;
    let again =
        store.write(vec![(purchases(), vec![event(json!({"keen": {"uniqueness_token": "t"}}))])], later);
    assert_eq!(again.await.unwrap(), vec![vec![true]], "a token expires after 31 days");
}

#[tokio::test]
async fn one_group_with_two_requests_for_one_token_stores_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(&wal_path(dir.path(), 1)).unwrap();
    let shared = Shared {
        dir: dir.path().to_owned(),
        options: EventStoreOptions::default(),
        state: RwLock::new(State { collections: BTreeMap::new(), manifest: Manifest::default() }),
        tail_bytes: AtomicUsize::new(0),
    };
    let (jobs, answers): (Vec<Job>, Vec<_>) = (0..2)
        .map(|_| {
            let (reply, answer) = oneshot::channel();
            let batch = vec![(purchases(), vec![event(json!({"keen": {"uniqueness_token": "t"}}))])];
            (Job { batch, now_ms: 0, reply }, answer)
        })
        .unzip();
    assert!(commit(&mut wal, jobs, &shared));
    let mut kept = Vec::new();
    for answer in answers {
        kept.push(answer.await.unwrap().unwrap()[0][0]);
    }
    assert_eq!(kept, [true, false], "the second request in the same group is the duplicate");
    assert_eq!(shared.read().collections[&purchases()].events.len(), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_refuses_the_write_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Writes to /dev/full fail with ENOSPC, exactly as on a full disk.
    std::os::unix::fs::symlink("/dev/full", wal_path(dir.path(), 1)).unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let error = store.write(vec![(purchases(), vec![event(json!({"n": 1}))])], 0).await.unwrap_err();
    assert!(error.to_string().contains("cannot write the event log"), "{error}");
    assert_eq!(purchases_in(&store, None), 0, "nothing unacknowledged is visible");
}

/// A funnel's answer is cached under its collections' versions: asked again it is the same,
/// and an event stored in any step's collection changes it (counted from sets, and listed).
#[tokio::test]
async fn a_cached_funnel_stays_exact_as_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let signups = CollectionName::parse("signups").unwrap();
    let user = |id: &str| event(json!({"user": id}));
    let written =
        vec![(signups, vec![user("ann"), user("bob"), user("cy")]), (purchases(), vec![user("bob")])];
    store.write(written, 0).await.unwrap();
    let funnel = |with_actors: bool| {
        let params = json!({"steps": [
            {"event_collection": "signups", "actor_property": "user"},
            {"event_collection": "purchases", "actor_property": "user", "with_actors": with_actors},
        ]});
        Funnel::parse(params.as_object().unwrap(), 0).unwrap()
    };
    let (sets, listed) = (funnel(false), funnel(true));
    let no_stop = AtomicBool::new(false);
    let ask = |funnel: &Funnel| Value::clone(&store.funnel(funnel, Reach::Compute(&no_stop)).unwrap());
    for _ in 0..2 {
        assert_eq!(ask(&sets)["result"], json!([3, 1]));
        assert_eq!(ask(&listed)["actors"], json!([null, ["bob"]]));
    }
    store.write(vec![(purchases(), vec![user("cy"), user("zed")])], 0).await.unwrap();
    assert_eq!(ask(&sets)["result"], json!([3, 2]));
    assert_eq!(ask(&listed)["actors"], json!([null, ["bob", "cy"]]));
}

/// A multi_analysis's merged answer is cached whole under its collection's version: asked
/// again it is answered from the cache alone, other labels or filters are other answers, and
/// a new event changes it.
#[tokio::test]
async fn a_cached_multi_analysis_stays_exact_as_events_arrive() {
    use crate::query::analysis::AnalysisType::{Count, Sum};
    use crate::query::filter::{Filter, parse_filters};
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let write =
        |events: Vec<Value>| store.write(vec![(purchases(), events.into_iter().map(event).collect())], 0);
    write(vec![json!({"n": 1, "plan": "pro"}), json!({"n": 2, "plan": "free"})]).await.unwrap();
    let parameters = json!({"target_property": "n", "group_by": "plan"});
    let analysis = |kind| Analysis::parse(kind, parameters.as_object().unwrap()).unwrap();
    let labelled = |sum: &str| vec![(sum.to_owned(), analysis(Sum)), ("buyers".to_owned(), analysis(Count))];
    let (totals, sums) = (labelled("total"), labelled("sum"));
    let pro =
        parse_filters(Some(&json!([{"property_name": "plan", "operator": "eq", "property_value": "pro"}])));
    let pro = pro.unwrap();
    let no_stop = AtomicBool::new(false);
    let ask = |analyses: &[(String, Analysis)], filters: &[Filter], reach| {
        let answer = store.analyze_multi(
            &purchases(),
            None,
            Timezone::default(),
            filters,
            analyses,
            (true, false),
            reach,
        );
        answer.map(|answer| Value::clone(&answer))
    };
    let both = json!([{"plan": "pro", "total": 1, "buyers": 1}, {"plan": "free", "total": 2, "buyers": 1}]);
    assert!(matches!(ask(&totals, &[], Reach::CachedOnly), Err(AnalyzeError::NotCached)));
    assert_eq!(ask(&totals, &[], Reach::Compute(&no_stop)).unwrap(), both);
    assert_eq!(ask(&totals, &[], Reach::CachedOnly).unwrap(), both, "the same data: cached whole");
    let renamed = json!([{"plan": "pro", "sum": 1, "buyers": 1}, {"plan": "free", "sum": 2, "buyers": 1}]);
    assert_eq!(
        ask(&sums, &[], Reach::CachedOnly).unwrap(),
        renamed,
        "its sub-answers are cached, not its labels"
    );
    assert_eq!(
        ask(&totals, &pro, Reach::Compute(&no_stop)).unwrap(),
        json!([{"plan": "pro", "total": 1, "buyers": 1}])
    );
    write(vec![json!({"n": 4, "plan": "pro"})]).await.unwrap();
    assert!(matches!(ask(&totals, &[], Reach::CachedOnly), Err(AnalyzeError::NotCached)), "a new event");
    let after = json!([{"plan": "pro", "total": 5, "buyers": 2}, {"plan": "free", "total": 2, "buyers": 1}]);
    assert_eq!(ask(&totals, &[], Reach::Compute(&no_stop)).unwrap(), after);
}

#[tokio::test]
async fn cached_only_answers_what_is_cached_for_the_data_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
    let write = |n: i64| store.write(vec![(purchases(), vec![event(json!({"n": n}))])], 0);
    write(1).await.unwrap();
    write(2).await.unwrap();
    let parameters = json!({"target_property": "n"});
    let sum = Analysis::parse(crate::query::analysis::AnalysisType::Sum, parameters.as_object().unwrap());
    let sum = sum.unwrap();
    let no_stop = AtomicBool::new(false);
    let total = |reach| store.analyze(&purchases(), None, Timezone::default(), &[], &sum, reach);
    let count = |reach| store.count(&purchases(), None, reach);
    let not_cached = |answer: Result<Answer, AnalyzeError>| matches!(answer, Err(AnalyzeError::NotCached));
    assert!(not_cached(total(Reach::CachedOnly)), "nothing asked yet");
    assert!(not_cached(count(Reach::CachedOnly)), "nothing asked yet");
    assert_eq!(total(Reach::Compute(&no_stop)).unwrap().as_f64(), Some(3.0));
    assert_eq!(*count(Reach::Compute(&no_stop)).unwrap(), json!(2));
    assert_eq!(total(Reach::CachedOnly).unwrap().as_f64(), Some(3.0), "the same data: cached");
    assert_eq!(*count(Reach::CachedOnly).unwrap(), json!(2), "the same data: cached");
    write(4).await.unwrap();
    assert!(not_cached(total(Reach::CachedOnly)), "a new event: the cached answer no longer serves");
    assert!(not_cached(count(Reach::CachedOnly)), "a new event: the cached answer no longer serves");
    assert_eq!(total(Reach::Compute(&no_stop)).unwrap().as_f64(), Some(7.0));
    assert_eq!(purchases_in(&store, None), 3);
}
