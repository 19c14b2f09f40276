//! Multi-analysis (keen-api.md §5.11): several labelled analyses over the same events, their
//! results merged into one shape. Each sub-analysis runs with the query's own `group_by` and
//! `interval` (a sub-analysis's own `group_by` is ignored, as the hosted API did), so their
//! rows line up and are merged by position.

use serde_json::{Map, Value};

/// Merges labelled results: plain → `{label: value}`; grouped → each group's keys beside
/// `label: value` (no `result` key); series → each bucket's `value` merged the same way.
pub fn merge(results: &[(&str, &Value)], grouped: bool, series: bool) -> Value {
    if series {
        let buckets = results.first().and_then(|(_, r)| r.as_array()).map_or(0, Vec::len);
        let merged = (0..buckets).map(|i| {
            let values: Vec<(&str, &Value)> =
                results.iter().map(|(label, r)| (*label, &r[i]["value"])).collect();
            let mut bucket = Map::new();
            bucket.insert("timeframe".into(), results[0].1[i]["timeframe"].clone());
            bucket.insert("value".into(), merge(&values, grouped, false));
            Value::Object(bucket)
        });
        return Value::Array(merged.collect());
    }
    if grouped {
        let rows = results.first().and_then(|(_, r)| r.as_array()).map_or(0, Vec::len);
        let merged = (0..rows).map(|i| {
            let mut row = results[0].1[i].as_object().cloned().unwrap_or_default();
            row.remove("result");
            for (label, result) in results {
                row.insert((*label).to_owned(), result[i]["result"].clone());
            }
            Value::Object(row)
        });
        return Value::Array(merged.collect());
    }
    Value::Object(results.iter().map(|(label, result)| ((*label).to_owned(), (*result).clone())).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn merged(results: &[(&str, Value)], grouped: bool, series: bool) -> Value {
        let results: Vec<(&str, &Value)> = results.iter().map(|(label, result)| (*label, result)).collect();
        merge(&results, grouped, series)
    }

    #[test]
    fn plain_grouped_series_and_both() {
        let plain = [("total", json!(30)), ("n", json!(2))];
        assert_eq!(merged(&plain, false, false), json!({"total": 30, "n": 2}));

        let grouped = [
            ("total", json!([{"plan": "pro", "result": 10}, {"plan": "free", "result": 20}])),
            ("n", json!([{"plan": "pro", "result": 1}, {"plan": "free", "result": 1}])),
        ];
        assert_eq!(
            merged(&grouped, true, false),
            json!([{"plan": "pro", "total": 10, "n": 1}, {"plan": "free", "total": 20, "n": 1}])
        );

        let tf = json!({"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-02T00:00:00.000Z"});
        let series = [
            ("total", json!([{"timeframe": tf, "value": 30}])),
            ("n", json!([{"timeframe": tf, "value": 2}])),
        ];
        assert_eq!(merged(&series, false, true), json!([{"timeframe": tf, "value": {"total": 30, "n": 2}}]));

        let both = [
            ("total", json!([{"timeframe": tf, "value": [{"plan": "pro", "result": 10}]}])),
            ("n", json!([{"timeframe": tf, "value": [{"plan": "pro", "result": 1}]}])),
        ];
        assert_eq!(
            merged(&both, true, true),
            json!([{"timeframe": tf, "value": [{"plan": "pro", "total": 10, "n": 1}]}])
        );
    }
}
