//! `ColumnsView`: a record batch's columns typed once by their kind, with the word numbers of
//! dictionary-read string columns, and the values and events read back from them.

use std::io;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use serde_json::{Map, Number, Value};

use super::batches::Values;
use super::{Found, Kind, Mode, RAW, Shape, TIMESTAMP};
use crate::timestamp::{format_keen_timestamp, keen_timestamp_text};

/// A record batch's columns, typed once.
pub(super) struct ColumnsView<'a> {
    columns: Vec<Option<Typed<'a>>>,
    /// For dictionary columns with word numbers, the number of the dictionary's first string.
    bases: Vec<Option<u32>>,
}

/// The most word numbers one scan hands out (past it, strings come without one).
pub(super) const MAX_WORDS: u32 = 1 << 22;

enum Typed<'a> {
    Timestamp(&'a arrow_array::TimestampMillisecondArray),
    Str(&'a arrow_array::StringArray),
    /// A string column read as a dictionary: each row's key, and the distinct strings.
    Words(&'a arrow_array::DictionaryArray<Int32Type>, &'a arrow_array::StringArray),
    Json(&'a arrow_array::StringArray),
    Num(&'a arrow_array::Float64Array),
    Bool(&'a arrow_array::BooleanArray),
}

impl<'a> ColumnsView<'a> {
    pub(super) fn new(batch: &'a RecordBatch, kinds: &[Kind]) -> ColumnsView<'a> {
        let columns =
            kinds.iter().zip(batch.columns()).map(|(kind, array)| Self::typed(*kind, array)).collect();
        ColumnsView { bases: vec![None; kinds.len()], columns }
    }

    /// The view of a batch read with a projection: `columns` are the file columns it holds,
    /// in order; the others are absent.
    pub(super) fn projected(batch: &'a RecordBatch, kinds: &[Kind], columns: &[usize]) -> ColumnsView<'a> {
        Self::joined(&[(batch, columns)], kinds)
    }

    /// The view of batches of the same rows, each read with a projection and given with the
    /// file columns it holds, in order; the columns none of them holds are absent.
    pub(super) fn joined(batches: &[(&'a RecordBatch, &[usize])], kinds: &[Kind]) -> ColumnsView<'a> {
        let mut view =
            ColumnsView { columns: (0..kinds.len()).map(|_| None).collect(), bases: vec![None; kinds.len()] };
        for (batch, columns) in batches {
            for (position, &column) in columns.iter().enumerate() {
                view.columns[column] = Self::typed(kinds[column], batch.column(position));
            }
        }
        view
    }

    fn typed(kind: Kind, array: &'a ArrayRef) -> Option<Typed<'a>> {
        match kind {
            Kind::Timestamp => array.as_primitive_opt::<TimestampMillisecondType>().map(Typed::Timestamp),
            Kind::Str => match array.as_dictionary_opt::<Int32Type>() {
                Some(words) => {
                    words.values().as_string_opt::<i32>().map(|values| Typed::Words(words, values))
                }
                None => array.as_string_opt::<i32>().map(Typed::Str),
            },
            Kind::Json => array.as_string_opt::<i32>().map(Typed::Json),
            Kind::Num => array.as_primitive_opt::<Float64Type>().map(Typed::Num),
            Kind::Bool => array.as_boolean_opt().map(Typed::Bool),
            Kind::Shape => None,
        }
    }

    /// Numbers the strings of this batch's dictionary columns: a dictionary seen in the
    /// previous batch of its column (the same strings, `same_words`) keeps its numbers, a new one takes the
    /// next ones (`dictionaries` holds each column's last, so it is not freed and reused).
    pub(super) fn number_words(&mut self, dictionaries: &mut [Option<(ArrayRef, u32)>], next: &mut u32) {
        for (column, typed) in self.columns.iter().enumerate() {
            let Some(Typed::Words(words, _)) = typed else { continue };
            let values = words.values();
            self.bases[column] = match &dictionaries[column] {
                Some((seen, base)) if same_words(seen, values) => Some(*base),
                _ => match u32::try_from(values.len()).ok().and_then(|len| next.checked_add(len)) {
                    Some(end) if end <= MAX_WORDS => {
                        dictionaries[column] = Some((values.clone(), *next));
                        Some(std::mem::replace(next, end))
                    }
                    _ => {
                        dictionaries[column] = None;
                        None
                    }
                },
            };
        }
    }

    /// A leaf column's values for a columnar scan (`Values::Other` when absent).
    pub(super) fn column(&self, column: usize, mode: Mode) -> Values<'a> {
        match self.columns.get(column) {
            Some(Some(Typed::Words(keys, words))) => Values::Words { keys, words, base: self.bases[column] },
            Some(Some(Typed::Num(values))) => Values::Nums { values, integer: matches!(mode, Mode::Integer) },
            _ => Values::Other,
        }
    }

    /// The value of a leaf column in `row`; None when the column is absent or the row null there.
    pub(super) fn found(&self, column: usize, mode: Mode, row: usize) -> Option<Found<'a>> {
        Some(match self.columns.get(column)?.as_ref()? {
            Typed::Timestamp(a) if a.is_valid(row) => Found::Time(a.value(row)),
            Typed::Num(a) if a.is_valid(row) => Found::Num(a.value(row), matches!(mode, Mode::Integer)),
            Typed::Bool(a) if a.is_valid(row) => Found::Bool(a.value(row)),
            Typed::Str(a) if a.is_valid(row) => Found::Str(a.value(row)),
            Typed::Words(words, values) if words.is_valid(row) => {
                let key = words.keys().value(row);
                let text = values.value(usize::try_from(key).ok()?);
                match self.bases[column] {
                    Some(base) => Found::Word(text, base + key as u32),
                    None => Found::Str(text),
                }
            }
            Typed::Json(a) if a.is_valid(row) => Found::Json(a.value(row)),
            _ => return None,
        })
    }

    /// The event of `row`, whose shape is `shape`, as a JSON value.
    pub(super) fn rebuild(&self, shape: &Shape, row: usize, timestamp_ms: i64) -> io::Result<Value> {
        Ok(match shape {
            Shape::Null => Value::Null,
            Shape::Object(fields) => {
                let mut object = Map::with_capacity(fields.len());
                for (name, inner) in fields {
                    object.insert(name.clone(), self.rebuild(inner, row, timestamp_ms)?);
                }
                Value::Object(object)
            }
            Shape::Raw => self.leaf(RAW, Mode::Plain, row, timestamp_ms)?.value()?,
            Shape::Leaf { column, mode } => self.leaf(*column, *mode, row, timestamp_ms)?.value()?,
        })
    }

    /// The event of `row`, whose shape is `shape`, written as JSON text to `out`: the text of
    /// `rebuild`'s value, without making the value.
    pub(super) fn write_json(
        &self,
        shape: &Shape,
        row: usize,
        timestamp_ms: i64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        match shape {
            Shape::Null => out.extend_from_slice(b"null"),
            Shape::Object(fields) => {
                out.push(b'{');
                for (i, (name, inner)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, name)?;
                    out.push(b':');
                    self.write_json(inner, row, timestamp_ms, out)?;
                }
                out.push(b'}');
            }
            Shape::Raw => self.leaf(RAW, Mode::Plain, row, timestamp_ms)?.write(out)?,
            Shape::Leaf { column, mode } => self.leaf(*column, *mode, row, timestamp_ms)?.write(out)?,
        }
        Ok(())
    }

    /// The value of leaf column `column` in `row`, read as `mode` says (the timestamp column
    /// is `timestamp_ms`); an error when the row has none there.
    fn leaf(&self, column: usize, mode: Mode, row: usize, timestamp_ms: i64) -> io::Result<Leaf<'a>> {
        if column == TIMESTAMP {
            return Ok(Leaf::Time(timestamp_ms));
        }
        Ok(match self.columns.get(column).and_then(Option::as_ref).ok_or_else(empty)? {
            Typed::Timestamp(a) if a.is_valid(row) => Leaf::Time(a.value(row)),
            Typed::Num(a) if a.is_valid(row) => {
                let n = a.value(row);
                match mode {
                    Mode::Integer if n < 0.0 => Leaf::Number(Number::from(n as i64)),
                    Mode::Integer => Leaf::Number(Number::from(n as u64)),
                    _ => Leaf::Number(Number::from_f64(n).ok_or_else(empty)?),
                }
            }
            Typed::Bool(a) if a.is_valid(row) => Leaf::Bool(a.value(row)),
            Typed::Str(a) if a.is_valid(row) => Leaf::Str(a.value(row)),
            Typed::Words(words, values) if words.is_valid(row) => {
                let key = usize::try_from(words.keys().value(row)).map_err(|_| empty())?;
                Leaf::Str(values.value(key))
            }
            Typed::Json(a) if a.is_valid(row) => Leaf::Json(a.value(row)),
            _ => return Err(empty()),
        })
    }
}

fn empty() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "event part: a shape points at an empty value")
}

/// One leaf of an event as its column holds it.
enum Leaf<'a> {
    /// Unix milliseconds, written as a Keen timestamp.
    Time(i64),
    Number(Number),
    Bool(bool),
    Str(&'a str),
    /// JSON text kept whole.
    Json(&'a str),
}

impl Leaf<'_> {
    fn value(self) -> io::Result<Value> {
        Ok(match self {
            Leaf::Time(ms) => Value::String(format_keen_timestamp(ms)),
            Leaf::Number(n) => Value::Number(n),
            Leaf::Bool(b) => Value::Bool(b),
            Leaf::Str(text) => Value::String(text.to_owned()),
            Leaf::Json(text) => serde_json::from_str(text).map_err(|_| empty())?,
        })
    }

    fn write(self, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Leaf::Time(ms) => match keen_timestamp_text(ms) {
                Some(text) => write_plain(out, &text),
                None => serde_json::to_writer(out, &format_keen_timestamp(ms))?,
            },
            Leaf::Number(n) => serde_json::to_writer(out, &n)?,
            Leaf::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            Leaf::Str(text) => write_str(out, text)?,
            // Read and written again, as `rebuild`'s value would be.
            Leaf::Json(_) => serde_json::to_writer(out, &self.value()?)?,
        }
        Ok(())
    }
}

/// Writes `text` as a JSON string, as serde_json writes it: between quotes as it is when it
/// holds nothing to escape (a quote, a backslash or a control character), through serde_json
/// otherwise.
fn write_str(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    if text.bytes().any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\') {
        serde_json::to_writer(out, text)?;
    } else {
        write_plain(out, text.as_bytes());
    }
    Ok(())
}

/// Writes `text`, which holds nothing to escape, between quotes.
fn write_plain(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// Whether two dictionaries are the same strings in the same memory: the reader hands each
/// batch of a row group a new array over the row group's one dictionary. (`dictionaries` keeps
/// the last one alive, so its memory cannot be reused by another.)
fn same_words(seen: &ArrayRef, values: &ArrayRef) -> bool {
    if Arc::ptr_eq(seen, values) {
        return true;
    }
    match (seen.as_string_opt::<i32>(), values.as_string_opt::<i32>()) {
        (Some(seen), Some(values)) => {
            seen.len() == values.len()
                && std::ptr::eq(seen.values().as_ptr(), values.values().as_ptr())
                && std::ptr::eq(seen.value_offsets().as_ptr(), values.value_offsets().as_ptr())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::write_str;

    /// `write_str` writes every string as serde_json does, those it must escape among them.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let texts = [
            "",
            "plain",
            "ünïcödé ✓",
            "a \"quote\"",
            "back\\slash",
            "tab\there",
            "nul \u{0}",
            "\u{1f}",
            "\u{7f}",
            "</p>",
        ];
        for text in texts {
            let mut out = Vec::new();
            write_str(&mut out, text).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }
}
