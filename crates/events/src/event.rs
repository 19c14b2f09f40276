//! Turning a posted JSON event into a stored one: Keen's validation rules, the `keen`
//! namespace (timestamp, created_at, id, uniqueness token), and the `${keen.ip}` and
//! `${keen.user_agent}` placeholders. Pure: no IO.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::timestamp::{format_keen_timestamp, parse_keen_timestamp};

/// Longest property name, in characters (Java and iOS clients' limit).
pub const MAX_PROPERTY_NAME: usize = 256;
/// Longest string value, in characters (the clients' limit).
pub const MAX_STRING_VALUE: usize = 10_000;
/// Deepest nesting of objects and lists.
pub const MAX_DEPTH: usize = 100;
/// Most leaf values (strings, numbers, booleans, nulls, list items) in one event.
pub const MAX_PROPERTIES: usize = 10_000;
/// Largest event, serialised, in bytes.
pub const MAX_EVENT_BYTES: usize = 1_000_000;
/// The earliest `keen.timestamp` stored, 0000-01-01T00:00:00.000Z: the stored form has four
/// year digits.
pub const FIRST_TIMESTAMP_MS: i64 = -62_167_219_200_000;
/// The latest `keen.timestamp` stored, 9999-12-31T23:59:59.999Z.
pub const LAST_TIMESTAMP_MS: i64 = 253_402_300_799_999;
/// Longest `keen.uniqueness_token`, in characters.
pub const MAX_UNIQUENESS_TOKEN: usize = 64;

/// Keys a client may set in the `keen` object. `id` and `created_at` are accepted (clients
/// that re-send extracted events include them) and replaced by the server's values.
const CLIENT_KEEN_KEYS: &[&str] =
    &["timestamp", "addons", "location", "uniqueness_token", "id", "created_at"];

/// Request facts that placeholders and defaults draw on.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub ip: String,
    pub user_agent: String,
    /// The receive time, Unix milliseconds.
    pub now_ms: i64,
    /// The receive time as `keen.created_at` text, formatted once per request.
    created_at: String,
}

impl EventContext {
    pub fn new(ip: String, user_agent: String, now_ms: i64) -> EventContext {
        EventContext { ip, user_agent, now_ms, created_at: format_keen_timestamp(now_ms) }
    }
}

/// An event ready to store, serialised once here (in the request's task) so the single
/// writer thread only concatenates.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub timestamp_ms: i64,
    /// When the server received it (its `keen.created_at`), Unix milliseconds.
    pub received_ms: i64,
    pub uniqueness_token: Option<String>,
    /// The stored event as JSON text.
    pub json: Arc<str>,
    /// Its shape hash, for the collection's schema.
    pub(crate) shape: u64,
}

/// Why an event was refused: a Keen error name and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub name: &'static str,
    pub description: String,
}

fn reject(name: &'static str, description: impl Into<String>) -> Rejection {
    Rejection { name, description: description.into() }
}

/// Validates `raw` and builds the stored event: `keen.timestamp` normalised (or set to the
/// receive time), `keen.created_at` and `keen.id` set, `keen.addons` removed, placeholders
/// replaced.
pub fn prepare(raw: Value, ctx: &EventContext) -> Result<PreparedEvent, Rejection> {
    let Value::Object(mut event) = raw else {
        return Err(reject("InvalidEventError", "an event must be a JSON object"));
    };
    // The `keen` object is taken out in place (an empty object holds its slot) and put back,
    // so the event keeps the property order the client sent.
    let keen = match event.get_mut("keen") {
        None => Map::new(),
        Some(Value::Object(keen)) => std::mem::take(keen),
        Some(_) => return Err(reject("NamespaceTypeError", "the `keen` property must be an object")),
    };
    let mut leaves = 0;
    check_object(&mut event, ctx, 1, &mut leaves, None)?;
    let KeenFields { keen, timestamp_ms, uniqueness_token } = prepare_keen(keen, ctx, &mut leaves)?;
    event.insert("keen".into(), Value::Object(keen));
    let body = Value::Object(event);
    let json = serde_json::to_string(&body).expect("JSON values serialise");
    if json.len() > MAX_EVENT_BYTES {
        let size = json.len();
        return Err(reject(
            "InvalidEventError",
            format!("event is {size} bytes; the limit is {MAX_EVENT_BYTES}"),
        ));
    }
    let shape = crate::schema::shape(&body);
    Ok(PreparedEvent { timestamp_ms, received_ms: ctx.now_ms, uniqueness_token, json: json.into(), shape })
}

/// The checked `keen` object and what was read from it.
struct KeenFields {
    keen: Map<String, Value>,
    timestamp_ms: i64,
    uniqueness_token: Option<String>,
}

fn prepare_keen(
    mut keen: Map<String, Value>,
    ctx: &EventContext,
    leaves: &mut usize,
) -> Result<KeenFields, Rejection> {
    if let Some(unknown) = keen.keys().find(|k| !CLIENT_KEEN_KEYS.contains(&k.as_str())) {
        return Err(reject(
            "InvalidKeenNamespaceProperty",
            format!("`keen.{unknown}` is not a property clients may set"),
        ));
    }
    keen.remove("addons");
    let timestamp_ms = match keen.get("timestamp") {
        None | Some(Value::Null) => ctx.now_ms,
        Some(Value::String(text)) => match parse_keen_timestamp(text) {
            Some(ms) if (FIRST_TIMESTAMP_MS..=LAST_TIMESTAMP_MS).contains(&ms) => ms,
            Some(_) => {
                return Err(reject(
                    "InvalidPropertyValueError",
                    format!("keen.timestamp {text:?} is outside the years 0000 to 9999 (UTC)"),
                ));
            }
            None => {
                return Err(reject(
                    "InvalidPropertyValueError",
                    format!("keen.timestamp {text:?} is not an ISO-8601 timestamp"),
                ));
            }
        },
        Some(_) => {
            return Err(reject("InvalidPropertyValueError", "keen.timestamp must be an ISO-8601 string"));
        }
    };
    let uniqueness_token = match keen.get("uniqueness_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) if token.chars().count() <= MAX_UNIQUENESS_TOKEN => Some(token.clone()),
        Some(_) => {
            return Err(reject(
                "InvalidPropertyValueError",
                format!(
                    "keen.uniqueness_token must be a string of at most {MAX_UNIQUENESS_TOKEN} characters"
                ),
            ));
        }
    };
    if let Some(Value::Object(location)) = keen.get_mut("location") {
        let keen_path = Path { parent: None, name: "keen" };
        let location_path = Path { parent: Some(&keen_path), name: "location" };
        check_object(location, ctx, 3, leaves, Some(&location_path))?;
    }
    keen.insert("timestamp".into(), Value::String(format_keen_timestamp(timestamp_ms)));
    keen.insert("created_at".into(), Value::String(ctx.created_at.clone()));
    keen.insert("id".into(), Value::String(sb_types::EventId::generate().to_string()));
    Ok(KeenFields { keen, timestamp_ms, uniqueness_token })
}

/// Where a value sits in the event, built without allocating; formatted only for errors.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)
    }
}

fn check_object(
    object: &mut Map<String, Value>,
    ctx: &EventContext,
    depth: usize,
    leaves: &mut usize,
    parent: Option<&Path<'_>>,
) -> Result<(), Rejection> {
    for (name, value) in object.iter_mut() {
        let path = Path { parent, name };
        let problem = if name.is_empty() {
            Some("must not be empty")
        } else if name.contains('.') {
            Some("must not contain `.`")
        } else if name.starts_with('$') {
            Some("must not start with `$`")
        } else if name.chars().count() > MAX_PROPERTY_NAME {
            Some("is longer than 256 characters")
        } else {
            None
        };
        if let Some(problem) = problem {
            let shown = path.to_string();
            return Err(reject("InvalidPropertyNameError", format!("property name {shown:?} {problem}")));
        }
        check_value(value, ctx, depth, leaves, &path)?;
    }
    Ok(())
}

fn check_value(
    value: &mut Value,
    ctx: &EventContext,
    depth: usize,
    leaves: &mut usize,
    path: &Path<'_>,
) -> Result<(), Rejection> {
    if depth > MAX_DEPTH {
        return Err(reject(
            "InvalidEventError",
            format!("\"{path}\" is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    match value {
        Value::Object(object) => return check_object(object, ctx, depth + 1, leaves, Some(path)),
        Value::Array(items) => {
            for item in items {
                check_value(item, ctx, depth + 1, leaves, path)?;
            }
            return Ok(());
        }
        Value::String(text) if text == "${keen.ip}" => *text = ctx.ip.clone(),
        Value::String(text) if text == "${keen.user_agent}" => *text = ctx.user_agent.clone(),
        Value::String(text) if text.len() > MAX_STRING_VALUE && text.chars().count() > MAX_STRING_VALUE => {
            return Err(reject(
                "InvalidPropertyValueError",
                format!("\"{path}\" is longer than {MAX_STRING_VALUE} characters"),
            ));
        }
        _ => {}
    }
    *leaves += 1;
    if *leaves > MAX_PROPERTIES {
        return Err(reject("InvalidEventError", format!("event has more than {MAX_PROPERTIES} values")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> EventContext {
        EventContext::new("203.0.113.7".into(), "curl/8".into(), 1_700_000_000_000)
    }

    fn body(event: &PreparedEvent) -> Value {
        serde_json::from_str(&event.json).unwrap()
    }

    fn check_rejected(event: Value, name: &str, fragment: &str) {
        let err = prepare(event.clone(), &ctx()).unwrap_err();
        assert_eq!(err.name, name, "{event}");
        assert!(err.description.contains(fragment), "{event}: {}", err.description);
    }

    #[test]
    fn timestamps_outside_four_digit_years_are_refused() {
        for text in ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"] {
            check_rejected(json!({"keen": {"timestamp": text}}), "InvalidPropertyValueError", "0000 to 9999");
        }
        for text in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"] {
            assert!(prepare(json!({"keen": {"timestamp": text}}), &ctx()).is_ok(), "{text}");
        }
    }

    #[test]
    fn adds_the_keen_namespace() {
        let event = prepare(json!({"item": {"price": 5}}), &ctx()).unwrap();
        assert_eq!(event.timestamp_ms, 1_700_000_000_000);
        let stored = body(&event);
        let keen = &stored["keen"];
        assert_eq!(keen["timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(keen["created_at"], "2023-11-14T22:13:20.000Z");
        assert_eq!(keen["id"].as_str().unwrap().len(), 24);
        assert_eq!(stored["item"]["price"], 5);
    }

    #[test]
    fn keeps_a_client_timestamp_and_drops_addons() {
        let raw = json!({"keen": {"timestamp": "2012-07-06T02:09:10.141000", "addons": [], "id": "x", "uniqueness_token": "t1"}});
        let event = prepare(raw, &ctx()).unwrap();
        let stored = body(&event);
        assert_eq!(stored["keen"]["timestamp"], "2012-07-06T02:09:10.141Z");
        assert!(stored["keen"].get("addons").is_none());
        assert_ne!(stored["keen"]["id"], "x");
        assert_eq!(event.uniqueness_token.as_deref(), Some("t1"));
    }

    #[test]
    fn keeps_the_property_order_the_client_sent() {
        let stored = body(
            &prepare(json!({"z": 1, "keen": {"timestamp": "2024-01-01T00:00:00Z"}, "a": 2}), &ctx()).unwrap(),
        );
        let names: Vec<&String> = stored.as_object().unwrap().keys().collect();
        assert_eq!(names, ["z", "keen", "a"]);
        let plain = body(&prepare(json!({"z": 1, "a": 2}), &ctx()).unwrap());
        assert_eq!(plain.as_object().unwrap().keys().collect::<Vec<_>>(), ["z", "a", "keen"]);
    }

    #[test]
    fn replaces_placeholders() {
        let raw = json!({"ip": "${keen.ip}", "agent": {"ua": "${keen.user_agent}"}, "other": "x${keen.ip}"});
        let stored = body(&prepare(raw, &ctx()).unwrap());
        assert_eq!(stored["ip"], "203.0.113.7");
        assert_eq!(stored["agent"]["ua"], "curl/8");
        assert_eq!(stored["other"], "x${keen.ip}");
    }

    #[test]
    fn accepts_schema_variety() {
        let mut wide = Map::new();
        for i in 0..1000 {
            wide.insert(format!("p{i}"), json!(i));
        }
        prepare(Value::Object(wide), &ctx()).unwrap();
        prepare(json!({}), &ctx()).unwrap();
        prepare(
            json!({"l": [1, "a", null, {"o": [true]}], "n": null, "deep": {"a": {"b": {"c": 1}}}}),
            &ctx(),
        )
        .unwrap();
    }

    #[test]
    fn rejects_what_keen_rejects() {
        check_rejected(json!([1]), "InvalidEventError", "JSON object");
        check_rejected(json!({"a.b": 1}), "InvalidPropertyNameError", "`.`");
        check_rejected(json!({"o": {"$x": 1}}), "InvalidPropertyNameError", "o.$x");
        check_rejected(json!({"": 1}), "InvalidPropertyNameError", "must not be empty");
        check_rejected(
            json!({"keen": {"location": {"a.b": 1}}}),
            "InvalidPropertyNameError",
            "keen.location.a.b",
        );
        check_rejected(json!({"x".repeat(257): 1}), "InvalidPropertyNameError", "longer than 256");
        check_rejected(json!({"s": "y".repeat(10_001)}), "InvalidPropertyValueError", "longer than 10000");
        check_rejected(json!({"keen": 5}), "NamespaceTypeError", "must be an object");
        check_rejected(json!({"keen": {"color": 1}}), "InvalidKeenNamespaceProperty", "keen.color");
        check_rejected(json!({"keen": {"timestamp": "soon"}}), "InvalidPropertyValueError", "soon");
        check_rejected(
            json!({"keen": {"uniqueness_token": "t".repeat(65)}}),
            "InvalidPropertyValueError",
            "64",
        );
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 1 {
            deep = json!({ "d": deep });
        }
        check_rejected(deep, "InvalidEventError", "nested deeper");
        check_rejected(
            json!({"l": vec![0; MAX_PROPERTIES + 1]}),
            "InvalidEventError",
            "more than 10000 values",
        );
    }
}
