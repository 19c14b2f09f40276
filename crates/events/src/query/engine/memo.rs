//! Filters tested in a scan: `passes` tests a row's values against a compiled filter, and
//! each property test remembers what it answered (`Memo`), by value and by dictionary word, so
//! a value is tested once per scan.

use serde_json::Value;

use super::values::{Key, memo_key, to_json};
use super::{Check, FastMap, MEMO_ENTRIES};
use crate::part::Found;
use crate::query::filter::Filter;

/// What one property test already answered in a scan: by value, and by word number.
#[derive(Default)]
pub(super) struct Memo {
    pub(super) values: FastMap<Key, bool>,
    /// By word number: 0 not yet tested, 1 failed, 2 passed.
    pub(super) words: Vec<u8>,
    /// The word number of the first word of the last dictionary tested whole (`test_words`).
    tested: Option<u32>,
}

impl Memo {
    /// Tests with `filter` each word of a dictionary whose first word is numbered `base`, if
    /// not tested yet.
    pub(super) fn test_words(&mut self, filter: &Filter, words: &arrow_array::StringArray, base: u32) {
        let range = base as usize..base as usize + arrow_array::Array::len(words);
        if self.tested == Some(base) && self.words.len() >= range.end {
            return;
        }
        if self.words.len() < range.end {
            self.words.resize(range.end, 0);
        }
        for (key, known) in self.words[range].iter_mut().enumerate() {
            if *known == 0 {
                let passed = filter.passes(Some(&Value::String(words.value(key).to_owned())));
                *known = 1 + u8::from(passed);
            }
        }
        self.tested = Some(base);
    }
}

pub(super) fn passes(check: &Check<'_>, found: &[Found<'_>], memos: &mut [Memo], key: &mut Vec<u8>) -> bool {
    match check {
        Check::AnyOf(groups) => {
            groups.iter().any(|group| group.iter().all(|check| passes(check, found, memos, key)))
        }
        Check::Property { path, leaf, filter } => {
            let value = &found[*path];
            let memo = &mut memos[*leaf];
            match value {
                Found::Value(value) => return filter.passes(Some(value)),
                Found::Num(number, _) => {
                    if let Some(passed) = filter.passes_number(*number) {
                        return passed;
                    }
                }
                Found::Word(_, word) => {
                    let word = *word as usize;
                    if let Some(&known @ 1..) = memo.words.get(word) {
                        return known == 2;
                    }
                    let passed = filter.passes(to_json(value).as_ref());
                    if memo.words.len() <= word {
                        memo.words.resize(word + 1, 0);
                    }
                    memo.words[word] = 1 + u8::from(passed);
                    return passed;
                }
                _ => {}
            }
            key.clear();
            memo_key(value, key);
            if let Some(known) = memo.values.get(key.as_slice()) {
                return *known;
            }
            let passed = filter.passes(to_json(value).as_ref());
            if memo.values.len() < MEMO_ENTRIES {
                memo.values.insert(Key::new(key), passed);
            }
            passed
        }
    }
}
