//! Inferred collection schemas: every property as a dot path with its Keen type name
//! (`string`, `num`, `bool`, `datetime`, `list`, `null`, `geo`). When events disagree about a
//! property's type, the most recently seen event shape wins, as a schema listing describes
//! the data now. Most events repeat a shape already seen, so each event is reduced to a
//! shape hash (no allocation) and only new shapes are walked for their paths.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;

use crate::timestamp::parse_keen_timestamp;

/// A hash of `event`'s property names, nesting and Keen types.
pub(crate) fn shape(event: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_shape(&mut hasher, event);
    hasher.finish()
}

fn hash_shape(hasher: &mut DefaultHasher, value: &Value) {
    let tag: u8 = match value {
        Value::Object(object) => {
            0u8.hash(hasher);
            for (name, inner) in object {
                name.hash(hasher);
                hash_shape(hasher, inner);
            }
            7
        }
        Value::Array(_) => 1,
        Value::String(text) if parse_keen_timestamp(text).is_some() => 2,
        Value::String(_) => 3,
        Value::Number(_) => 4,
        Value::Bool(_) => 5,
        Value::Null => 6,
    };
    tag.hash(hasher);
}

/// `event`'s properties as (dot path, Keen type name), in document order.
pub(crate) fn properties(event: &Value) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    if let Value::Object(object) = event {
        for (name, value) in object {
            collect(&mut found, name.clone(), value);
        }
    }
    found
}

/// The static Keen type name equal to `name`, for a schema read back from the manifest.
pub(crate) fn kind_name(name: &str) -> Option<&'static str> {
    ["string", "num", "bool", "datetime", "list", "null", "geo"].into_iter().find(|known| *known == name)
}

/// Adds properties to `schema`; a later type replaces an earlier one.
pub(crate) fn learn(schema: &mut BTreeMap<String, &'static str>, properties: &[(String, &'static str)]) {
    for (path, kind) in properties {
        match schema.get_mut(path) {
            Some(known) => *known = kind,
            None => {
                schema.insert(path.clone(), kind);
            }
        }
    }
}

fn collect(found: &mut Vec<(String, &'static str)>, path: String, value: &Value) {
    let kind = match value {
        Value::Object(object) => {
            for (name, inner) in object {
                collect(found, format!("{path}.{name}"), inner);
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
    found.push((path, kind));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shapes_differ_by_names_nesting_and_types_only() {
        let base = shape(&json!({"a": 1, "b": {"c": "x"}}));
        assert_eq!(base, shape(&json!({"a": 2, "b": {"c": "y"}})));
        for other in [
            json!({"a": "1", "b": {"c": "x"}}),
            json!({"a": 1, "b": {"d": "x"}}),
            json!({"a": 1, "b": {"c": "2024-01-01T00:00:00Z"}}),
            json!({"a": 1, "b": {}, "c": "x"}),
            json!({"a": 1}),
        ] {
            assert_ne!(base, shape(&other), "{other}");
        }
    }

    #[test]
    fn flattens_with_keen_type_names_and_the_latest_type_wins() {
        let mut schema = BTreeMap::new();
        let first = json!({"item": {"id": 5, "tags": ["a"]}, "ok": true, "n": null,
            "keen": {"timestamp": "2024-01-01T00:00:00.000Z", "location": {"coordinates": [1.0, 2.0]}}});
        learn(&mut schema, &properties(&first));
        learn(&mut schema, &properties(&json!({"item": {"id": "abc"}, "name": "x"})));
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
