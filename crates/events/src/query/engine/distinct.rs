//! Distinct values (`Distinct`), which count_unique and select_unique keep per cell, and a
//! funnel step's actors as a set of them (`ActorSet`).

use std::sync::Arc;

use serde_json::Value;

use super::FastSet;
use super::values::{INLINE_KEY, Key};

/// Distinct values by key; with `first`, the values in first-seen order (select_unique).
/// Boxed in `State`, which stays small for the other analyses' many cells.
///
/// Strings of at most 15 bytes (most distinct values: ids, names) are `packed` into one
/// integer and kept in `PARTS` small tables chosen by the integer's bits. Without `first`
/// (count_unique, where order does not matter), they are gathered in `pending` first and
/// added a table at a time (`flush`), so that each table is in the CPU's cache while it is
/// filled: one large table takes a cache miss per insert.
#[derive(Debug, Clone, Default)]
pub(super) struct Distinct {
    /// Packed strings, by `part`; empty until the first one.
    short: Vec<FastSet<u128>>,
    /// Packed strings not yet in `short` (count_unique only; empty once sealed).
    pending: Vec<u128>,
    /// Every other value, by key.
    seen: FastSet<Key>,
    pub(super) first: Option<Vec<(Key, Value)>>,
    pub(super) bytes: usize,
}

/// What a packed string counts for in `Distinct::bytes`, once in a table and while pending.
const PACKED_BYTES: usize = 48;
const PENDING_BYTES: usize = 16;
/// The tables packed strings are spread over.
const PARTS: usize = 256;
/// Packed strings gathered before they are added to the tables.
const FLUSH_AT: usize = 1 << 16;

/// The table of `packed`: the top bits of a multiplicative hash of both halves.
fn part(packed: u128) -> usize {
    let folded = (packed as u64) ^ ((packed >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % PARTS
}

impl Distinct {
    /// An empty set that keeps its values in first-seen order (select_unique).
    pub(super) fn ordered() -> Distinct {
        Distinct { first: Some(Vec::new()), ..Distinct::default() }
    }

    /// Adds the value whose key (`group_key`) is `key` at once; true when it is new.
    pub(super) fn insert(&mut self, key: &[u8]) -> bool {
        let (new, bytes) = match packed(key) {
            Some(packed) => (self.tables()[part(packed)].insert(packed), PACKED_BYTES),
            // One probe for keys kept inline (built without allocating); longer ones are built
            // only when new.
            None if key.len() <= INLINE_KEY => (self.seen.insert(Key::new(key)), 2 * key.len() + 32),
            None => (!self.seen.contains(key) && self.seen.insert(Key::new(key)), 2 * key.len() + 32),
        };
        if new {
            self.bytes += bytes;
        }
        new
    }

    /// Adds a row's value: without `first`, a packed string waits in `pending` (false: whether
    /// it is new is not known yet); otherwise as `insert`.
    pub(super) fn add(&mut self, key: &[u8]) -> bool {
        match packed(key) {
            Some(packed) if self.first.is_none() => {
                self.pending.push(packed);
                self.bytes += PENDING_BYTES;
                if self.pending.len() >= FLUSH_AT {
                    self.flush();
                }
                false
            }
            _ => self.insert(key),
        }
    }

    fn tables(&mut self) -> &mut [FastSet<u128>] {
        if self.short.is_empty() {
            self.short = (0..PARTS).map(|_| FastSet::default()).collect();
        }
        &mut self.short
    }

    /// Adds the pending packed strings to their tables, a table at a time.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut starts = [0usize; PARTS + 1];
        for &packed in &self.pending {
            starts[part(packed) + 1] += 1;
        }
        for index in 1..=PARTS {
            starts[index] += starts[index - 1];
        }
        let mut next = starts;
        let mut sorted = vec![0u128; self.pending.len()];
        for &packed in &self.pending {
            let slot = &mut next[part(packed)];
            sorted[*slot] = packed;
            *slot += 1;
        }
        let mut added = 0;
        let tables = self.tables();
        for (index, table) in tables.iter_mut().enumerate() {
            for &packed in &sorted[starts[index]..starts[index + 1]] {
                added += usize::from(table.insert(packed));
            }
        }
        self.bytes = self.bytes.saturating_sub(self.pending.len() * PENDING_BYTES) + added * PACKED_BYTES;
        self.pending = Vec::new();
    }

    pub(super) fn len(&self) -> usize {
        debug_assert!(self.pending.is_empty(), "a distinct set is sealed before it is read");
        self.short.iter().map(|table| table.len()).sum::<usize>() + self.seen.len()
    }

    /// Adds the distinct values of a later, sealed partial (not kept in first-seen order).
    pub(super) fn absorb(&mut self, more: &Distinct) {
        if self.len() == 0 {
            // The first partial: its tables as they are, without hashing each key again.
            self.short.clone_from(&more.short);
            self.seen.clone_from(&more.seen);
            self.bytes = more.bytes;
            return;
        }
        if !more.short.is_empty() {
            let mut added = 0;
            for (table, more) in self.tables().iter_mut().zip(&more.short) {
                added += more.iter().filter(|&&packed| table.insert(packed)).count();
            }
            self.bytes += added * PACKED_BYTES;
        }
        for key in &more.seen {
            if self.seen.insert(key.clone()) {
                self.bytes += 2 * key.len() + 32;
            }
        }
    }

    /// The values of this sealed set that are in `other` (with `inverted`, that are not), as a
    /// set without order.
    fn narrowed(&self, other: &Distinct, inverted: bool) -> Distinct {
        debug_assert!(self.pending.is_empty() && other.pending.is_empty(), "both sets are sealed");
        if !inverted && other.len() < self.len() {
            // An intersection: walk the smaller set.
            return other.narrowed(self, false);
        }
        let short: Vec<FastSet<u128>> = match self.short.is_empty() {
            true => Vec::new(),
            false => self
                .short
                .iter()
                .enumerate()
                .map(|(index, table)| {
                    let theirs = other.short.get(index);
                    let kept = |packed: &&u128| theirs.is_some_and(|t| t.contains(*packed)) != inverted;
                    table.iter().filter(kept).copied().collect()
                })
                .collect(),
        };
        let seen: FastSet<Key> =
            self.seen.iter().filter(|key| other.seen.contains(*key) != inverted).cloned().collect();
        let bytes = short.iter().map(|table| table.len()).sum::<usize>() * PACKED_BYTES
            + seen.iter().map(|key| 2 * key.len() + 32).sum::<usize>();
        Distinct { short, pending: Vec::new(), seen, first: None, bytes }
    }
}

/// A funnel step's actors: the distinct values of its actor property among its events, as a
/// set (equal as count_unique counts them: numbers by value, missing and null left out).
/// Cheap to clone: shared with the cache.
#[derive(Debug, Clone)]
pub struct ActorSet(Arc<Distinct>);

impl ActorSet {
    pub(super) fn new(distinct: Distinct) -> ActorSet {
        debug_assert!(distinct.first.is_none() && distinct.pending.is_empty(), "a sealed, unordered set");
        ActorSet(Arc::new(distinct))
    }

    /// How many actors the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The actors of this set who are in `did` (with `inverted`, who are not).
    pub fn narrowed(&self, did: &ActorSet, inverted: bool) -> ActorSet {
        ActorSet(Arc::new(self.0.narrowed(&did.0, inverted)))
    }

    /// About how much memory the set holds.
    pub(super) fn bytes(&self) -> usize {
        self.0.bytes
    }
}

/// A string's key (`text_key`: tag 4, length, bytes) packed into one integer when the string
/// has at most 15 bytes: its bytes, then zeros, and its length in the last byte.
fn packed(key: &[u8]) -> Option<u128> {
    let text = key.strip_prefix(&[4])?.get(4..)?;
    if text.len() > 15 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..text.len()].copy_from_slice(text);
    bytes[15] = text.len() as u8;
    Some(u128::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::super::aggregate::{Acc, State};
    use super::super::values::{float_key, text_key};
    use super::*;
    use crate::part::Found;
    use crate::query::analysis::{Analysis, AnalysisType};

    /// Strings of at most 15 bytes are kept packed, other values by key: each distinct value
    /// counts once, whichever partial brings it, and a string differs from itself followed by
    /// a zero byte.
    #[test]
    fn distinct_values_count_once_packed_or_not() {
        let key = |text: &str| {
            let mut key = Vec::new();
            text_key(4, text, &mut key);
            key
        };
        let mut left = Distinct::default();
        for text in ["a", "a\0", "exactly15bytes!", "sixteen bytes!!!", ""] {
            assert!(left.insert(&key(text)), "{text:?} is new");
        }
        let mut one = Vec::new();
        float_key(1.0, &mut one);
        assert!(left.insert(&one));
        assert!(!left.insert(&key("a")));
        assert!(!left.insert(&key("sixteen bytes!!!")));
        assert_eq!((left.short.iter().map(|table| table.len()).sum::<usize>(), left.seen.len()), (4, 2));
        let mut right = Distinct::default();
        for text in ["a", "b", "sixteen bytes!!!", "a string longer than a packed one"] {
            right.insert(&key(text));
        }
        let mut total = Distinct::default();
        total.absorb(&left);
        total.absorb(&right);
        assert_eq!(total.len(), 8);
    }

    /// count_unique gathers packed strings and adds them a table at a time, past `FLUSH_AT`
    /// and when sealed: the count is the same as adding each at once, and so is a merge.
    #[test]
    fn gathered_strings_count_as_those_added_at_once() {
        let key = |n: u64| {
            let mut key = Vec::new();
            text_key(4, &format!("user-{:x}", n % 50_000), &mut key);
            key
        };
        let (mut gathered, mut at_once) = (Acc::new(AnalysisType::CountUnique), Distinct::default());
        let mut scratch = Vec::new();
        for n in (0..3 * FLUSH_AT as u64 + 100).map(|n| n.wrapping_mul(2_654_435_761)) {
            let text = std::str::from_utf8(&key(n)[5..]).unwrap().to_owned();
            gathered.add(Some(&Found::Str(&text)), &mut scratch);
            at_once.insert(&key(n));
        }
        let State::Unique(distinct) = &gathered.state else { unreachable!() };
        assert!(!distinct.pending.is_empty() && distinct.short.iter().any(|table| !table.is_empty()));
        gathered.seal();
        let State::Unique(distinct) = &gathered.state else { unreachable!() };
        assert_eq!(distinct.len(), at_once.len());
        let mut total = Acc::new(AnalysisType::CountUnique);
        total.absorb(&gathered);
        total.absorb(&gathered);
        let target = serde_json::json!({"target_property": "user"});
        let analysis = Analysis::parse(AnalysisType::CountUnique, target.as_object().unwrap()).unwrap();
        assert_eq!(total.result(&analysis), Value::from(at_once.len()));
    }
}
