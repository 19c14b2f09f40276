//! Extraction: the events themselves (keen-api.md §5.9), oldest first, optionally only the
//! `latest` N and only some `property_names`. Synchronous, up to `MAX_EXTRACTION` events.

use serde_json::{Map, Value};

/// The most events one synchronous extraction returns.
pub const MAX_EXTRACTION: usize = 100_000;

/// A parsed extraction request.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    latest: Option<usize>,
    property_names: Option<Vec<Vec<String>>>,
}

/// Why an extraction cannot be answered; `keen_error_code` names it for the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractionError {
    #[error("latest must be a positive integer, got {0}")]
    InvalidLatest(String),
    #[error("property_names must be a property name or a list of them")]
    InvalidPropertyNames,
    #[error("email extractions are not supported; extract at most {MAX_EXTRACTION} events synchronously")]
    EmailUnsupported,
    #[error(
        "{0} events match, more than the {MAX_EXTRACTION} a synchronous extraction returns; narrow the timeframe or filters, or set latest"
    )]
    TooMany(usize),
}

impl ExtractionError {
    /// The Keen error name for this error.
    pub fn keen_error_code(&self) -> &'static str {
        match self {
            ExtractionError::InvalidLatest(_) => "InvalidLatestError",
            ExtractionError::InvalidPropertyNames => "InvalidPropertyNameError",
            ExtractionError::EmailUnsupported => "UnsupportedAnalysisError",
            ExtractionError::TooMany(_) => "ExtractionTooLargeError",
        }
    }
}

impl Extraction {
    /// Reads `latest` (a number, or a string of one, as query strings send it),
    /// `property_names` (a list, or one bare name as Ruby sends it) and refuses `email`.
    pub fn parse(params: &Map<String, Value>) -> Result<Extraction, ExtractionError> {
        let present = |key: &str| params.get(key).filter(|v| !v.is_null() && *v != "");
        if present("email").is_some() {
            return Err(ExtractionError::EmailUnsupported);
        }
        let latest = match present("latest") {
            None => None,
            Some(value) => {
                let number = match value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(text) => text.trim().parse().ok(),
                    _ => None,
                };
                let count = number.filter(|n| *n > 0).and_then(|n| usize::try_from(n).ok());
                Some(count.ok_or_else(|| ExtractionError::InvalidLatest(value.to_string()))?)
            }
        };
        let property_names = match present("property_names") {
            None => None,
            Some(Value::String(name)) => Some(vec![split(name)?]),
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|n| n.as_str().ok_or(ExtractionError::InvalidPropertyNames).and_then(split))
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(ExtractionError::InvalidPropertyNames),
        };
        Ok(Extraction { latest, property_names })
    }

    /// The `result`: `events` (timestamp, event) sorted oldest first, the latest N if asked,
    /// projected to the property names if given (then `keen` only if named, §5.9).
    pub fn evaluate(&self, mut events: Vec<(i64, Value)>) -> Result<Value, ExtractionError> {
        events.sort_by_key(|(at, _)| *at);
        let window = self.window(events.len())?;
        Ok(self.present(events.drain(window).map(|(_, event)| event)))
    }

    /// How many of the newest matching events it returns, if it asks for the `latest` only.
    pub fn latest(&self) -> Option<usize> {
        self.latest.map(|latest| latest.min(MAX_EXTRACTION))
    }

    /// Which of `matched` events, sorted oldest first, the extraction returns: the `latest`
    /// ones, or all; an error when that is more than `MAX_EXTRACTION`.
    pub fn window(&self, matched: usize) -> Result<std::ops::Range<usize>, ExtractionError> {
        let start = self.latest().map_or(0, |latest| matched.saturating_sub(latest));
        if matched - start > MAX_EXTRACTION {
            return Err(ExtractionError::TooMany(matched - start));
        }
        Ok(start..matched)
    }

    /// `present` for events given as JSON text, as JSON text; an error when an event's text
    /// is not JSON.
    pub(crate) fn present_json(&self, events: impl Iterator<Item = String>) -> serde_json::Result<String> {
        let mut out = String::from("[");
        for (i, event) in events.enumerate() {
            if i > 0 {
                out.push(',');
            }
            match &self.property_names {
                None => out.push_str(&event),
                Some(paths) => {
                    out.push_str(&project(&serde_json::from_str(&event)?, paths).to_string());
                }
            }
        }
        out.push(']');
        Ok(out)
    }

    /// The `result`: the events, or only their `property_names`.
    pub fn present(&self, events: impl Iterator<Item = Value>) -> Value {
        let rows = events.map(|event| match &self.property_names {
            None => event,
            Some(paths) => project(&event, paths),
        });
        Value::Array(rows.collect())
    }
}

fn split(name: &str) -> Result<Vec<String>, ExtractionError> {
    let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err(ExtractionError::InvalidPropertyNames);
    }
    Ok(segments)
}

/// The event reduced to `paths`, nested paths as nested objects; missing paths are left out.
fn project(event: &Value, paths: &[Vec<String>]) -> Value {
    let mut out = Map::new();
    for path in paths {
        let Some(value) = path.iter().try_fold(event, |v, segment| v.as_object()?.get(segment)) else {
            continue;
        };
        let (last, parents) = path.split_last().expect("paths are not empty");
        let mut target = &mut out;
        for segment in parents {
            let slot = target.entry(segment.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            target = slot.as_object_mut().expect("made an object above");
        }
        target.insert(last.clone(), value.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn events() -> Vec<(i64, Value)> {
        vec![
            (3, json!({"n": 3, "user": {"id": "c", "plan": "pro"}, "keen": {"id": "k3"}})),
            (1, json!({"n": 1, "user": {"id": "a"}, "keen": {"id": "k1"}})),
            (2, json!({"n": 2, "user": {"id": "b"}, "keen": {"id": "k2"}})),
        ]
    }

    fn check(params: Value, expected: Value) {
        let params = params.as_object().unwrap().clone();
        let got = Extraction::parse(&params).unwrap().evaluate(events()).unwrap();
        assert_eq!(got, expected, "{params:?}");
    }

    #[test]
    fn oldest_first_latest_and_projection() {
        let ns = |v: Value| Value::Array(v.as_array().unwrap().iter().map(|e| e["n"].clone()).collect());
        let params = Map::new();
        assert_eq!(ns(Extraction::parse(&params).unwrap().evaluate(events()).unwrap()), json!([1, 2, 3]));
        check(json!({"latest": 2, "property_names": ["n"]}), json!([{"n": 2}, {"n": 3}]));
        check(json!({"latest": "1", "property_names": "user.id"}), json!([{"user": {"id": "c"}}]));
        check(
            json!({"latest": 1, "property_names": ["user.id", "user.plan", "keen.id", "missing"]}),
            json!([{"user": {"id": "c", "plan": "pro"}, "keen": {"id": "k3"}}]),
        );
        check(json!({"latest": 10, "property_names": ["n"]}), json!([{"n": 1}, {"n": 2}, {"n": 3}]));
        check(
            json!({"latest": null, "email": "", "property_names": ["n"]}),
            json!([{"n": 1}, {"n": 2}, {"n": 3}]),
        );
    }

    #[test]
    fn refusals() {
        for (params, code) in [
            (json!({"latest": 0}), "InvalidLatestError"),
            (json!({"latest": "many"}), "InvalidLatestError"),
            (json!({"latest": -3}), "InvalidLatestError"),
            (json!({"property_names": 5}), "InvalidPropertyNameError"),
            (json!({"property_names": ["a..b"]}), "InvalidPropertyNameError"),
            (json!({"email": "ana@acme.example"}), "UnsupportedAnalysisError"),
        ] {
            let err = Extraction::parse(params.as_object().unwrap()).unwrap_err();
            assert_eq!(err.keen_error_code(), code, "{params}");
        }
        let many: Vec<(i64, Value)> = (0..=MAX_EXTRACTION as i64).map(|i| (i, json!({}))).collect();
        let all = Extraction::parse(&Map::new()).unwrap();
        assert_eq!(all.evaluate(many.clone()).unwrap_err().keen_error_code(), "ExtractionTooLargeError");
        let latest = Extraction::parse(json!({"latest": 5}).as_object().unwrap()).unwrap();
        assert_eq!(latest.evaluate(many).unwrap().as_array().unwrap().len(), 5);
    }
}
