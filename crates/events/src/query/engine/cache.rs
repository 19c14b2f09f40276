//! The cache of partials and whole answers (`PartialCache`), within `CACHE_BYTES`, least
//! recently used first out.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::ActorSet;
use super::aggregate::Partial;
use crate::query::answer::Answer;

/// The most memory the cache of partials may take.
const CACHE_BYTES: usize = 512 << 20;

/// Recently used partials, by part file and query shape, and answers and funnel steps' actors,
/// by the collection's version and query shape, within `CACHE_BYTES`.
#[derive(Default)]
pub(crate) struct PartialCache {
    entries: HashMap<(String, String), (Cached, u64)>,
    bytes: usize,
    clock: u64,
}

/// What the cache holds.
#[derive(Clone)]
pub(super) enum Cached {
    Partial(Arc<Partial>),
    Answer(Answer, usize),
    Actors(ActorSet),
}

impl Cached {
    fn bytes(&self) -> usize {
        match self {
            Cached::Partial(partial) => partial.bytes,
            Cached::Answer(_, bytes) => *bytes,
            Cached::Actors(set) => set.bytes(),
        }
    }
}

impl PartialCache {
    pub(super) fn get(&mut self, key: &(String, String)) -> Option<Cached> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(cached, used)| {
            *used = clock;
            cached.clone()
        })
    }

    pub(super) fn put(&mut self, key: (String, String), cached: Cached) {
        if cached.bytes() > CACHE_BYTES / 4 {
            return;
        }
        self.clock += 1;
        self.bytes += cached.bytes();
        if let Some((old, _)) = self.entries.insert(key, (cached, self.clock)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > CACHE_BYTES {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.bytes -= old.bytes();
            }
        }
    }
}

pub(super) fn lock(cache: &std::sync::Mutex<PartialCache>) -> std::sync::MutexGuard<'_, PartialCache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// About how much memory a cached answer takes: the value, and its text once written (no
/// longer than the value's estimate, short of strings full of escapes); for an answer made
/// from its text, the text and the value it may be read into.
pub(super) fn answer_bytes(answer: &Answer) -> usize {
    match answer.made_value() {
        Some(value) => 2 * json_bytes(value),
        None => 3 * answer.text().len(),
    }
}

/// About how much memory a JSON value takes.
fn json_bytes(value: &Value) -> usize {
    32 + match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(json_bytes).sum(),
        Value::Object(fields) => fields.iter().map(|(name, value)| 48 + name.len() + json_bytes(value)).sum(),
        _ => 0,
    }
}
