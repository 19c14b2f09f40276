//! An analysis's result as the engine gives it and caches it: the JSON value, shared, and its
//! text, written at most once, inside the response body `{"result":…}` that the HTTP layer
//! sends as it is. An answer served again from the cache is neither copied nor serialised
//! again (1,000 extracted events took about 4.5 ms to copy and write out, and copying their
//! 337 KB of text into a new body was a quarter of the server's time for a repeated one). An
//! extraction's answer is written as text straight from the columns, and its value is read
//! from that text only if something asks for it.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

/// What the text is written between, as a response body.
const BEFORE: &str = "{\"result\":";
const AFTER: &str = "}";

/// A result, shared by the cache and every query that reads it.
#[derive(Clone, Debug)]
pub struct Answer(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    /// At least one of the two is set from the start.
    value: OnceLock<Value>,
    /// The text between `BEFORE` and `AFTER`.
    body: OnceLock<String>,
}

impl Answer {
    pub fn new(value: Value) -> Answer {
        Answer(Arc::new(Shared { value: OnceLock::from(value), body: OnceLock::new() }))
    }

    /// The answer whose JSON text is `text`, which this crate wrote (so it is JSON).
    pub(crate) fn from_text(text: &str) -> Answer {
        Answer(Arc::new(Shared { value: OnceLock::new(), body: OnceLock::from(result_body(text)) }))
    }

    /// The value, copied when another holder shares it (the cache holds every answer it
    /// keeps, so those are copied).
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(own) => own.value.into_inner().unwrap_or_else(|| read(own.body.get())),
            Err(shared) => Answer(shared).deref().clone(),
        }
    }

    /// The value as JSON text, written the first time it is asked for.
    pub fn text(&self) -> &str {
        let body = self.body();
        &body[BEFORE.len()..body.len() - AFTER.len()]
    }

    /// `{"result":…}` with the value as JSON text, as a response body sharing the answer's
    /// memory (not copied).
    pub fn result_body(&self) -> Bytes {
        Bytes::from_owner(Body(self.clone()))
    }

    /// The value's JSON text as `Bytes` sharing the answer's memory: a response body for an
    /// answer that is a whole body itself.
    pub fn text_bytes(&self) -> Bytes {
        let body = self.result_body();
        body.slice(BEFORE.len()..body.len() - AFTER.len())
    }

    fn body(&self) -> &str {
        self.0.body.get_or_init(|| result_body(&self.0.value.get().map(Value::to_string).unwrap_or_default()))
    }

    /// The value, if it was made (an answer made from its text makes it only when asked).
    pub(crate) fn made_value(&self) -> Option<&Value> {
        self.0.value.get()
    }
}

/// `text` as the result of a response body.
fn result_body(text: &str) -> String {
    let mut body = String::with_capacity(BEFORE.len() + text.len() + AFTER.len());
    body.push_str(BEFORE);
    body.push_str(text);
    body.push_str(AFTER);
    body
}

/// The value of an answer's body, which this crate wrote.
fn read(body: Option<&String>) -> Value {
    let body = body.expect("an answer has its value or its text");
    serde_json::from_str(&body[BEFORE.len()..body.len() - AFTER.len()])
        .expect("an answer's text is JSON this crate wrote")
}

/// An answer as the owner of its response body's bytes (`Answer::result_body`): the body is
/// written once and never changes, so the bytes stay where they are while the answer lives.
struct Body(Answer);

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.0.body().as_bytes()
    }
}

impl Deref for Answer {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.0.value.get_or_init(|| read(self.0.body.get()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_text_is_the_values_json_and_shared_copies_keep_the_value() {
        let answer = Answer::new(json!([{"a": 1, "b": "x\"y"}, 2.5]));
        let again = answer.clone();
        assert_eq!(serde_json::from_str::<Value>(answer.text()).unwrap(), *again);
        assert!(std::ptr::eq(answer.text(), again.text()), "written once, for every holder");
        assert_eq!(again.into_value(), json!([{"a": 1, "b": "x\"y"}, 2.5]));
        assert_eq!(answer.into_value(), json!([{"a": 1, "b": "x\"y"}, 2.5]), "the last holder's value");
    }

    #[test]
    fn response_bodies_share_the_answers_text_and_outlive_it() {
        let answer = Answer::new(json!({"steps": [1], "result": [3, 2]}));
        let (body, text) = (answer.result_body(), answer.text_bytes());
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"result": *answer}));
        assert_eq!(text, answer.text().as_bytes());
        assert!(std::ptr::eq(text.as_ptr(), answer.text().as_ptr()), "the text, not a copy");
        assert!(std::ptr::eq(body[BEFORE.len()..].as_ptr(), answer.text().as_ptr()), "the text, not a copy");
        drop(answer);
        assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), json!({"steps": [1], "result": [3, 2]}));
        assert_eq!(&body[..], br#"{"result":{"steps":[1],"result":[3,2]}}"#);
    }

    #[test]
    fn an_answer_made_from_its_text_reads_its_value_when_asked() {
        let text = r#"[{"b":"x\"y","a":1},2.5]"#;
        let answer = Answer::from_text(text);
        let again = answer.clone();
        assert_eq!(answer.text(), text);
        assert!(answer.made_value().is_none(), "not read until asked for");
        assert_eq!(*again, json!([{"b": "x\"y", "a": 1}, 2.5]));
        assert!(answer.made_value().is_some(), "read once, for every holder");
        assert_eq!(again.into_value(), json!([{"b": "x\"y", "a": 1}, 2.5]));
        assert_eq!(Answer::from_text(text).into_value(), json!([{"b": "x\"y", "a": 1}, 2.5]));
    }
}
