//! Inferred collection schemas: every property as a dot path with its Keen type name
//! (`string`, `num`, `bool`, `datetime`, `list`, `null`, `geo`). When events disagree about a
//! property's type, the most recent event wins, as a schema listing describes the data now.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::timestamp::parse_keen_timestamp;

/// Adds `event`'s properties to `schema`.
pub(crate) fn learn(schema: &mut BTreeMap<String, &'static str>, event: &Value) {
    if let Value::Object(object) = event {
        for (name, value) in object {
            learn_value(schema, name.clone(), value);
        }
    }
}

fn learn_value(schema: &mut BTreeMap<String, &'static str>, path: String, value: &Value) {
    let kind = match value {
        Value::Object(object) => {
            for (name, inner) in object {
                learn_value(schema, format!("{path}.{name}"), inner);
            }
            return;
        }
        Value::Array(_) if path == "keen.location.coordinates" => "geo",
        Value::Array(_) => "list",
        Value::String(text) if parse_keen_timestamp(text).is_some() => "datetime",
        Value::String(_) => "string",
        Value::Number(_) => "num",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    };
    schema.insert(path, kind);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn flattens_with_keen_type_names_and_the_latest_type_wins() {
        let mut schema = BTreeMap::new();
        learn(
            &mut schema,
            &json!({"item": {"id": 5, "tags": ["a"]}, "ok": true, "n": null,
            "keen": {"timestamp": "2024-01-01T00:00:00.000Z", "location": {"coordinates": [1.0, 2.0]}}}),
        );
        learn(&mut schema, &json!({"item": {"id": "abc"}, "name": "x"}));
        let expected = [
            ("item.id", "string"),
            ("item.tags", "list"),
            ("keen.location.coordinates", "geo"),
            ("keen.timestamp", "datetime"),
            ("n", "null"),
            ("name", "string"),
            ("ok", "bool"),
        ];
        let got: Vec<(&str, &str)> = schema.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(got, expected);
    }
}
