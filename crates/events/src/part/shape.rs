//! The shapes of a part's events, read back from its footer: how each event's properties map
//! to columns (`Shape`, `Slot`, `Mode`), and the values a scan finds there (`Found`).

use serde_json::Value;

/// A shape read back from a footer.
#[derive(Debug)]
pub(super) enum Shape {
    Object(Vec<(String, Shape)>),
    Null,
    /// A value from a column; `integer` and `timestamp` say how to print it.
    Leaf {
        column: usize,
        mode: Mode,
    },
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Plain,
    Integer,
    Timestamp,
}

impl Shape {
    pub(super) fn parse(value: &Value, columns: usize) -> Option<Shape> {
        Some(match value {
            Value::Null => Shape::Null,
            Value::Object(object) => Shape::Object(
                object
                    .iter()
                    .map(|(k, v)| Some((k.clone(), Shape::parse(v, columns)?)))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::String(text) if text == "$json" => Shape::Raw,
            Value::String(text) => {
                let (digits, mode) = match text.as_bytes().last() {
                    Some(b'i') => (&text[..text.len() - 1], Mode::Integer),
                    Some(b't') => (&text[..text.len() - 1], Mode::Timestamp),
                    _ => (text.as_str(), Mode::Plain),
                };
                let column: usize = digits.parse().ok()?;
                (column < columns).then_some(Shape::Leaf { column, mode })?
            }
            _ => return None,
        })
    }
}

/// A property's value in one row of a part, read from its column without building JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found<'a> {
    Missing,
    Null,
    Str(&'a str),
    /// A string read from a column's dictionary, and its word number: within one scan, rows
    /// with the same word number hold the same string (the converse need not hold).
    Word(&'a str, u32),
    /// A number, and whether it was written as an integer.
    Num(f64, bool),
    Bool(bool),
    /// A list, or an integer a float cannot hold, as its JSON text.
    Json(&'a str),
    /// A timestamp string stored as Unix milliseconds (`keen.timestamp`, `keen.created_at`).
    Time(i64),
    /// An object, or any value of an event kept whole.
    Value(Value),
}

/// Where a property path leads in one shape.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Missing,
    Null,
    Leaf {
        column: usize,
        mode: Mode,
    },
    /// An object or an event kept whole: the event is rebuilt to look the path up.
    Whole,
}

impl Shape {
    /// Follows `path` through nested objects, as a JSON lookup would (lists are not walked into).
    pub(super) fn resolve(&self, path: &[String]) -> Slot {
        let mut shape = self;
        for segment in path {
            shape = match shape {
                Shape::Object(fields) => match fields.iter().find(|(name, _)| name == segment) {
                    Some((_, inner)) => inner,
                    None => return Slot::Missing,
                },
                Shape::Raw => return Slot::Whole,
                Shape::Null | Shape::Leaf { .. } => return Slot::Missing,
            };
        }
        match shape {
            Shape::Null => Slot::Null,
            Shape::Leaf { column, mode } => Slot::Leaf { column: *column, mode: *mode },
            Shape::Object(_) | Shape::Raw => Slot::Whole,
        }
    }
}
