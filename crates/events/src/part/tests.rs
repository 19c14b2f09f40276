//! Tests of `part.rs`: event parts: writing, reading back and the typed columns of a batch.

use serde_json::{Map, json};

use crate::timestamp::format_keen_timestamp;

use super::*;
use crate::timestamp::parse_keen_timestamp;
use crate::{EventContext, prepare};

/// Prepares `raw` as the server would, received at `now_ms`.
fn stored(raw: Value, now_ms: i64) -> (i64, String) {
    let event = prepare(raw, &EventContext::new("203.0.113.7".into(), "ua".into(), now_ms)).unwrap();
    (event.timestamp_ms, event.json.to_string())
}

fn write(events: &[(i64, String)]) -> (tempfile::TempDir, PartFile, PartInfo) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part.parquet");
    let mut builder = PartBuilder::new();
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|(ts, _)| *ts);
    for (ts, text) in &sorted {
        builder.push(*ts, &serde_json::from_str(text).unwrap());
    }
    let info = builder.write(&path).unwrap();
    (dir, PartFile::open(&path).unwrap(), info)
}

fn read_all(part: &PartFile, range: Option<TimeRange>) -> Vec<String> {
    part.events(range).unwrap().map(|e| serde_json::to_string(&e.unwrap().1).unwrap()).collect()
}

/// Requires `rows_json` to write every row, and every other row (odd numbers, then even),
/// as `expected` (all rows' texts in order) has them, with its columns read on one to three
/// threads (in tests, a byte to read is enough to read on as many threads as asked).
fn check_rows_json(part: &PartFile, expected: &[String]) {
    let all: Vec<usize> = (0..expected.len()).collect();
    for threads in 1..=3 {
        assert_eq!(part.rows_json(&all, threads).unwrap(), expected, "{threads} threads");
        for parity in [1, 0] {
            let some: Vec<usize> = all.iter().copied().filter(|row| row % 2 == parity).collect();
            let texts: Vec<&String> = some.iter().map(|&row| &expected[row]).collect();
            assert_eq!(part.rows_json(&some, threads).unwrap().iter().collect::<Vec<_>>(), texts);
        }
    }
}

#[test]
fn gives_back_exactly_the_stored_text_through_schema_drift() {
    let wide: Map<String, Value> = (0..1000).map(|i| (format!("p{i}"), json!(i))).collect();
    let mut deep = json!("bottom");
    for i in 0..90 {
        deep = json!({ format!("l{i}"): deep });
    }
    let raws = [
        json!({"n": 1, "s": "a", "b": true, "z": null, "o": {}, "l": [1, "two", {"x": null}]}),
        json!({"n": "now a string", "s": 2.5, "b": {"nested": false}, "l": []}),
        json!({"n": 1.0, "neg": -0.0, "big": 18446744073709551615u64, "small": -9007199254740993i64}),
        json!({"n": 9007199254740992u64, "exp": 1e300, "tiny": 5e-324, "unicode ключ": "värde ✓"}),
        json!({"keen": {"timestamp": "2024-03-01T10:00:00.123Z", "uniqueness_token": "tok",
            "location": {"coordinates": [-88.5, 41.25]}}, "n": -17}),
        Value::Object(wide),
        json!({"deep": deep}),
        json!({"a": {"b": {"c": 1}}, "x": {"y": [[1, 2], [3]]}}),
    ];
    let events: Vec<(i64, String)> =
        raws.iter().enumerate().map(|(i, raw)| stored(raw.clone(), 1_700_000_000_000 + i as i64)).collect();
    let (_dir, part, info) = write(&events);
    let mut expected = events.clone();
    expected.sort_by_key(|(ts, _)| *ts);
    let expected: Vec<String> = expected.into_iter().map(|(_, text)| text).collect();
    assert_eq!(read_all(&part, None), expected);
    check_rows_json(&part, &expected);
    assert_eq!(info.rows, events.len() as u64);
    assert_eq!(info.max_created_ms, 1_700_000_000_007);
}

/// Any JSON value Keen accepts below the root: every JSON type, numbers at the edges of
/// what a float holds, strings and keys with quotes, backslashes, control characters and
/// non-ASCII, nesting, and few distinct keys so that events drift across types.
fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["a", "b", "ключ", "q\"t", "back\\slash", "ctl\u{1}", "sp ace"]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        prop_oneof![Just(0.0), Just(-0.0), Just(1.0), Just(9007199254740993.0), Just(5e-324)]
            .prop_map(Value::from),
        "[a-z\"\\\u{0}-\u{1f}é✓]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn any_accepted_events_come_back_as_the_exact_text_stored(
        bodies in proptest::collection::vec(proptest::collection::vec(("[a-c]", json_value()), 0..5), 1..30)
    ) {
        let events: Vec<(i64, String)> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, pairs)| {
                let body: Map<String, Value> = pairs.into_iter().collect();
                stored(Value::Object(body), 1_700_000_000_000 + (i as i64 % 3))
            })
            .collect();
        let (_dir, part, _) = write(&events);
        let mut expected = events;
        expected.sort_by_key(|(ts, _)| *ts);
        let expected: Vec<String> = expected.into_iter().map(|(_, text)| text).collect();
        proptest::prop_assert_eq!(read_all(&part, None), expected.clone());
        check_rows_json(&part, &expected);
    }
}

#[test]
fn events_past_the_column_budget_are_kept_whole() {
    let events: Vec<(i64, String)> = (0..3)
        .map(|e| {
            let props: Map<String, Value> = (0..2000).map(|i| (format!("e{e}_p{i}"), json!(i))).collect();
            stored(Value::Object(props), 1_700_000_000_000 + e)
        })
        .collect();
    let (_dir, part, _) = write(&events);
    let texts: Vec<String> = events.into_iter().map(|(_, text)| text).collect();
    assert_eq!(read_all(&part, None), texts);
    assert!(part.kinds.len() <= MAX_COLUMNS);
    assert!(part.shapes.iter().any(|s| matches!(s, Shape::Raw)), "the third event is kept whole");
}

#[test]
fn time_ranges_skip_row_groups_and_count_from_statistics() {
    const ROW_GROUP_ROWS: usize = 1000;
    let rows = ROW_GROUP_ROWS * 2 + 10;
    let start = 1_700_000_000_000i64;
    let mut builder = PartBuilder::with_row_groups_of(ROW_GROUP_ROWS);
    let event = json!({"keen": {"timestamp": "x"}, "v": 1});
    for i in 0..rows {
        builder.push(start + i as i64, &event);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    builder.write(&path).unwrap();
    let part = PartFile::open(&path).unwrap();
    let range = TimeRange { start_ms: start + 5, end_ms: start + ROW_GROUP_ROWS as i64 + 7 };
    assert_eq!(part.row_groups(Some(range)), [0, 1]);
    assert_eq!(part.count(Some(range)).unwrap(), ROW_GROUP_ROWS as u64 + 2);
    assert_eq!(part.count(None).unwrap(), rows as u64);
    let late = TimeRange { start_ms: start + 2 * ROW_GROUP_ROWS as i64, end_ms: i64::MAX };
    assert_eq!(part.row_groups(Some(late)), [2]);
    let seen: Vec<i64> = part.events(Some(late)).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|ts| late.contains(*ts)));
    let newest: Vec<i64> = part.latest(3).unwrap().into_iter().map(|(ts, _)| ts).collect();
    let last = start + rows as i64 - 1;
    assert_eq!(newest, [last, last - 1, last - 2]);
    assert_eq!(part.latest(rows + 5).unwrap().len(), rows);
}

#[test]
fn the_canonical_fast_path_agrees_with_the_general_parser() {
    let mut ms = -62_135_596_800_000i64; // 0001-01-01
    while ms < 253_402_300_799_000 {
        let text = format_keen_timestamp(ms);
        assert_eq!(canonical_millis(&text), Some(ms), "{text}");
        ms += 7_919_993_337;
    }
    for text in ["2024-02-29T23:59:59.999Z", "2023-12-31T00:00:00.000Z", "0000-03-01T00:00:00.000Z"] {
        assert_eq!(canonical_millis(text), parse_keen_timestamp(text), "{text}");
    }
    for text in [
        "2023-02-29T00:00:00.000Z",
        "2024-13-01T00:00:00.000Z",
        "2024-01-01T24:00:00.000Z",
        "2024-01-01T00:00:60.000Z",
        "2024-01-01T00:00:00.000+00:00",
        "2024-01-01T00:00:00Z",
        "2024-00-10T00:00:00.000Z",
    ] {
        assert_eq!(canonical_millis(text), None, "{text}");
    }
}

#[test]
fn concurrent_scans_of_one_part_do_not_disturb_each_other() {
    let events: Vec<(i64, String)> = (0..20_000)
        .map(|i| stored(json!({"i": i, "s": format!("value {i}")}), 1_700_000_000_000 + i))
        .collect();
    let (_dir, part, _) = write(&events);
    let expected = read_all(&part, None);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..3 {
                    assert_eq!(read_all(&part, None), expected);
                }
            });
        }
    });
}

#[test]
fn events_kept_whole_keep_their_receive_time_and_uniqueness_token() {
    let wide: Map<String, Value> = (0..MAX_COLUMNS).map(|i| (format!("p{i}"), json!(i))).collect();
    let mut raw = Value::Object(wide);
    raw["keen"] = json!({"uniqueness_token": "wide"});
    let (_dir, part, info) = write(&[stored(raw, 1_700_000_000_123)]);
    assert!(matches!(part.shapes[0], Shape::Raw));
    assert_eq!(info.max_created_ms, 1_700_000_000_123);
    assert_eq!(part.uniqueness_tokens().unwrap(), [("wide".to_owned(), 1_700_000_000_123)]);
}

#[test]
fn uniqueness_tokens_come_back_with_their_receive_times() {
    let events = vec![
        stored(json!({"keen": {"uniqueness_token": "a"}}), 1_700_000_000_000),
        stored(json!({"x": 1}), 1_700_000_000_001),
        stored(json!({"keen": {"uniqueness_token": "b"}}), 1_700_000_000_002),
    ];
    let (_dir, part, _) = write(&events);
    let mut tokens = part.uniqueness_tokens().unwrap();
    tokens.sort();
    assert_eq!(tokens, [("a".to_owned(), 1_700_000_000_000), ("b".to_owned(), 1_700_000_000_002)]);
}

#[test]
fn a_columnar_scan_reads_a_part_whose_paths_keep_one_column() {
    let start = 1_700_000_000_000;
    let events: Vec<(i64, String)> = (0..20)
        .map(|i| {
            let mut raw = json!({"keen": {"timestamp": format_keen_timestamp(start + i * 1000)}, "n": i});
            if i % 3 != 0 {
                raw["plan"] = json!(["free", "pro"][i as usize % 2]);
            }
            stored(raw, start + 100_000)
        })
        .collect();
    let (_dir, part, _) = write(&events);
    let paths: Vec<Vec<String>> = ["plan", "n", "absent", "keen.timestamp"]
        .iter()
        .map(|path| path.split('.').map(str::to_owned).collect())
        .collect();
    let range = TimeRange { start_ms: start + 2000, end_ms: start + 15_000 };
    // Each row's values as the columnar scan finds them, then as the row scan does.
    let mut columnar: Vec<Vec<String>> = Vec::new();
    let read = part
        .scan_batches(whole_groups(&part, Some(range)), range, &paths, false, |batch| {
            assert!(matches!(batch.columns[0], Values::Words { .. }));
            assert!(matches!(batch.columns[1], Values::Nums { integer: true, .. }));
            assert!(matches!(batch.columns[2], Values::Missing));
            for row in batch.rows.clone() {
                columnar.push((0..paths.len()).map(|path| format!("{:?}", batch.found(path, row))).collect());
            }
            Ok::<_, io::Error>(())
        })
        .unwrap();
    assert!(read);
    let mut by_rows: Vec<Vec<String>> = Vec::new();
    part.scan_groups(whole_groups(&part, Some(range)), Some(range), &paths, |_, _, found| {
        by_rows.push(found.iter().map(|found| format!("{found:?}")).collect());
        Ok::<_, io::Error>(())
    })
    .unwrap();
    assert_eq!(by_rows.len(), 13);
    assert_eq!(columnar, by_rows);

    // A property that is a string in one event and a number in another has two columns: the
    // part is read row by row.
    let drifting = vec![stored(json!({"plan": "free"}), start), stored(json!({"plan": 3}), start + 1)];
    let (_dir, part, _) = write(&drifting);
    let whole = TimeRange { start_ms: 0, end_ms: i64::MAX };
    assert!(
        !part
            .scan_batches(whole_groups(&part, None), whole, &paths[..1], false, |_| Ok::<_, io::Error>(()))
            .unwrap()
    );
}

/// Issue 4 (event queries as fast as DuckDB): the reader hands each batch of a row group a new
/// array over the same dictionary, which once gave every batch new word numbers, so every memo
/// and group lookup by word missed.
#[test]
fn words_keep_their_numbers_across_the_batches_of_a_row_group() {
    let start = 1_700_000_000_000;
    let events: Vec<(i64, String)> = (0..3 * PROJECTED_BATCH_ROWS as i64)
        .map(|i| {
            let (ts, plan) = (format_keen_timestamp(start + i), ["free", "pro"][i as usize % 2]);
            stored(json!({"keen": {"timestamp": ts}, "plan": plan}), start)
        })
        .collect();
    let (_dir, part, _) = write(&events);
    let paths = vec![vec!["plan".to_owned()]];
    let mut bases = Vec::new();
    part.scan_batches(
        whole_groups(&part, None),
        TimeRange { start_ms: 0, end_ms: i64::MAX },
        &paths,
        false,
        |batch| {
            if let Values::Words { base, .. } = batch.columns[0] {
                bases.push(base);
            }
            Ok::<_, io::Error>(())
        },
    )
    .unwrap();
    assert_eq!(bases, vec![Some(0); 3]);
    let mut words = std::collections::BTreeSet::new();
    part.scan_groups(whole_groups(&part, None), None, &paths, |_, _, found| {
        if let Found::Word(text, word) = found[0] {
            words.insert((text.to_owned(), word));
        }
        Ok::<_, io::Error>(())
    })
    .unwrap();
    assert_eq!(words.len(), 2, "{words:?}");
}

/// Every row of each row group that may hold events in `range`, as `scan_batches` takes them.
fn whole_groups(part: &PartFile, range: Option<TimeRange>) -> Vec<GroupRows> {
    part.row_groups(range).into_iter().map(|group| (group, 0..part.group_rows(group))).collect()
}

/// A count finds the range's edges in the page index, and reads the timestamps of the pages
/// that hold them only.
#[test]
fn counts_read_only_the_pages_that_hold_the_range_edges() {
    let rows = 60_000usize;
    let start = 1_700_000_000_000i64;
    let mut builder = PartBuilder::new();
    let event = json!({"keen": {"timestamp": "x"}, "v": 1});
    for i in 0..rows {
        builder.push(start + 2 * i as i64, &event);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    builder.write(&path).unwrap();
    let part = PartFile::open(&path).unwrap();
    let metadata = part.indexed().unwrap().picked.metadata();
    let pages = metadata.offset_index().unwrap()[0][TIMESTAMP].page_locations().len();
    assert!(pages > 2, "the test needs a row group of several pages, not {pages}");
    // The first event at or after the middle one is found within one page of it.
    let page = time::page_holding(metadata, 0, 0..rows, start + rows as i64, rows);
    assert!(page.contains(&(rows / 2)) && page.len() < rows / 2, "{page:?}");
    for (from, to) in
        [(3, 70_001), (0, 2 * rows as i64), (25_000, 25_002), (39_999, 100_001), (-5, 1), (-9, -1)]
    {
        let range = TimeRange { start_ms: start + from, end_ms: start + to };
        let expected = (0..rows).filter(|i| range.contains(start + 2 * *i as i64)).count() as u64;
        // Again, from the rows remembered.
        for attempt in ["read", "remembered"] {
            assert_eq!(part.count(Some(range)).unwrap(), expected, "{attempt}: {range:?}");
        }
    }
    // Edges on the first and last timestamps either side of each page boundary, and between
    // them, over rows that start and end mid-page: the rows in the range are those whose timestamps it contains.
    let boundaries: Vec<i64> = metadata.offset_index().unwrap()[0][TIMESTAMP]
        .page_locations()
        .iter()
        .map(|page| page.first_row_index)
        .collect();
    let edges: Vec<i64> =
        boundaries.iter().flat_map(|&row| [2 * row - 2, 2 * row - 1, 2 * row, 2 * row + 1]).collect();
    for &from in &edges {
        for &to in edges.iter().filter(|&&to| to >= from) {
            let range = TimeRange { start_ms: start + from, end_ms: start + to };
            for rows in [0..rows, 7..rows - 5, rows / 3..rows / 2] {
                let inside: Vec<usize> =
                    rows.clone().filter(|&i| range.contains(start + 2 * i as i64)).collect();
                let cut = part.rows_in(0, rows.clone(), range).unwrap();
                match inside.first() {
                    Some(&first) => {
                        assert_eq!(cut, first..inside[inside.len() - 1] + 1, "{range:?} {rows:?}");
                    }
                    None => assert!(cut.is_empty(), "{range:?} {rows:?}: {cut:?}"),
                }
            }
        }
    }
}

#[test]
fn keen_ids_are_written_without_a_dictionary_and_read_back() {
    let events: Vec<(i64, String)> = (0..500)
        .map(|i| {
            stored(json!({"keen": {"timestamp": format_keen_timestamp(1_700_000_000_000 + i)}, "n": i}), 0)
        })
        .collect();
    let (_dir, part, _) = write(&events);
    let metadata = part.metadata.metadata();
    let columns = metadata.row_group(0).columns();
    let column = |name: &str| columns.iter().find(|c| c.column_path().string() == name).unwrap();
    assert_eq!(column("keen.id").dictionary_page_offset(), None);
    assert!(column("keen.created_at").dictionary_page_offset().is_some());
    let mut expected: Vec<Value> =
        events.iter().map(|(_, text)| serde_json::from_str(text).unwrap()).collect();
    expected.sort_by_key(|event| event["keen"]["timestamp"].as_str().unwrap().to_owned());
    let read: Vec<Value> = part.events(None).unwrap().map(|e| e.unwrap().1).collect();
    assert_eq!(read, expected);
    assert!(expected.iter().all(|event| event["keen"]["id"].is_string()));
}

/// Parts are written with LZ4; a part that an earlier version wrote with zstd reads the same.
#[test]
fn parts_are_lz4_and_zstd_parts_still_read() {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;

    let events: Vec<(i64, String)> = (0..50)
        .map(|i| stored(json!({"user": format!("u{}", i % 7), "n": i, "l": [i]}), 1_700_000_000_000 + i))
        .collect();
    let (dir, part, _) = write(&events);
    let reader = |path: &Path| ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let codecs = |path: &Path| -> Vec<Compression> {
        reader(path).metadata().row_group(0).columns().iter().map(|column| column.compression()).collect()
    };
    let path = dir.path().join("part.parquet");
    assert!(codecs(&path).iter().all(|codec| *codec == Compression::LZ4_RAW), "{:?}", codecs(&path));
    // The same columns and footer, written with zstd as earlier versions did.
    let original = reader(&path);
    let kept: Vec<KeyValue> = original
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter(|pair| pair.key != "ARROW:schema")
        .cloned()
        .collect();
    let old = dir.path().join("old.parquet");
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .set_key_value_metadata(Some(kept))
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(&old).unwrap(), original.schema().clone(), Some(properties))
            .unwrap();
    for batch in original.build().unwrap() {
        writer.write(&batch.unwrap()).unwrap();
    }
    writer.close().unwrap();
    assert!(codecs(&old).iter().all(|codec| matches!(codec, Compression::ZSTD(_))), "{:?}", codecs(&old));
    assert_eq!(read_all(&PartFile::open(&old).unwrap(), None), read_all(&part, None));
}

/// Issue 4 (event queries as fast as DuckDB): a count grouped by one string property reads
/// the rows per word straight from the column's pages (`PartFile::count_words`). Over several
/// pages, with dictionaries of one word (keys of no bits), two and 300 (keys wider than a
/// byte), long runs of one word, a word first seen in the last page, and rows without the
/// property first met among the first rows of other words or in a later page: the counts,
/// and the order of first rows, are the events'.
#[test]
fn words_are_counted_from_the_pages_as_the_events_hold_them() {
    let (start, rows) = (1_700_000_000_000i64, 45_000usize);
    // The first 300 rows hold each of the 300 words once.
    let country = |i: usize| match i {
        _ if i % 997 == 5 => None,
        10_000..10_200 => Some("steady".to_owned()),
        _ if i == 40_000 => Some("late".to_owned()),
        _ => Some(format!("c{}", i * 7919 % 300)),
    };
    let one = |i: usize| (i % 4_001 != 2_000).then(|| "x".to_owned());
    let tier = |i: usize| match i {
        _ if i >= 25_013 && i % 5_000 == 13 => None,
        _ => Some(if i >= 10_000 && i.is_multiple_of(3) { "b" } else { "a" }.to_owned()),
    };
    let events: Vec<(i64, String)> = (0..rows)
        .map(|i| {
            let mut event = json!({"keen": {"timestamp": format_keen_timestamp(start + i as i64)}, "n": i});
            for (name, value) in [("country", country(i)), ("one", one(i)), ("tier", tier(i))] {
                if let Some(value) = value {
                    event[name] = json!(value);
                }
            }
            stored(event, start)
        })
        .collect();
    let (_dir, part, _) = write(&events);
    let pages = part.indexed().unwrap().picked.metadata().offset_index().unwrap()[0][TIMESTAMP]
        .page_locations()
        .len();
    assert!(pages >= 3, "the test needs a row group of several pages, not {pages}");
    let everything = TimeRange { start_ms: 0, end_ms: i64::MAX };
    type Property<'a> = (&'a str, &'a dyn Fn(usize) -> Option<String>);
    let properties: [Property<'_>; 3] = [("country", &country), ("one", &one), ("tier", &tier)];
    for (name, value) in properties {
        let mut expected: Vec<(Option<String>, u32)> = Vec::new();
        for value in (0..rows).map(value) {
            match expected.iter_mut().find(|(seen, _)| *seen == value) {
                Some((_, count)) => *count += 1,
                None => expected.push((value, 1)),
            }
        }
        let counted = part.count_words(&whole_groups(&part, None), everything, &[name.to_owned()]).unwrap();
        let [counted] = &counted.expect("a dictionary column read from its pages")[..] else {
            panic!("one row group")
        };
        let word =
            |key: usize| (key < counted.dictionary.len()).then(|| counted.dictionary.value(key).to_owned());
        let found: Vec<(Option<String>, u32)> =
            counted.firsts.iter().map(|&key| (word(key), counted.counts[key])).collect();
        assert_eq!(found, expected, "{name}");
        assert_eq!(counted.counts.iter().filter(|&&count| count > 0).count(), expected.len(), "{name}");
    }
    // What a scan reads instead: part of a row group, a row group cut by the range, numbers.
    let path = ["country".to_owned()];
    assert!(part.count_words(&[(0, 1..rows)], everything, &path).unwrap().is_none());
    let cut = TimeRange { start_ms: start + 1, end_ms: i64::MAX };
    assert!(part.count_words(&whole_groups(&part, None), cut, &path).unwrap().is_none());
    assert!(part.count_words(&whole_groups(&part, None), everything, &["n".to_owned()]).unwrap().is_none());
}
