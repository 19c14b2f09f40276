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
use crate::timestamp::format_keen_timestamp;

/// A record batch's columns, typed once.
pub(super) struct ColumnsView<'a> {
    columns: Vec<Option<Typed<'a>>>,
    /// For dictionary columns with word numbers, the number of the dictionary's first string.
    bases: Vec<Option<u32>>,
}

/// The most word numbers one scan hands out (past it, strings come without one).
const MAX_WORDS: u32 = 1 << 22;

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
        let mut view =
            ColumnsView { columns: (0..kinds.len()).map(|_| None).collect(), bases: vec![None; kinds.len()] };
        for (position, &column) in columns.iter().enumerate() {
            view.columns[column] = Self::typed(kinds[column], batch.column(position));
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

    pub(super) fn rebuild(&self, shape: &Shape, row: usize, timestamp_ms: i64) -> io::Result<Value> {
        let bad =
            || io::Error::new(io::ErrorKind::InvalidData, "event part: a shape points at an empty value");
        Ok(match shape {
            Shape::Null => Value::Null,
            Shape::Object(fields) => {
                let mut object = Map::with_capacity(fields.len());
                for (name, inner) in fields {
                    object.insert(name.clone(), self.rebuild(inner, row, timestamp_ms)?);
                }
                Value::Object(object)
            }
            Shape::Raw => match self.columns.get(RAW) {
                Some(Some(Typed::Json(a))) if a.is_valid(row) => {
                    serde_json::from_str(a.value(row)).map_err(|_| bad())?
                }
                _ => return Err(bad()),
            },
            Shape::Leaf { column: TIMESTAMP, .. } => Value::String(format_keen_timestamp(timestamp_ms)),
            Shape::Leaf { column, mode } => {
                let typed = self.columns.get(*column).and_then(Option::as_ref).ok_or_else(bad)?;
                match typed {
                    Typed::Timestamp(a) if a.is_valid(row) => {
                        Value::String(format_keen_timestamp(a.value(row)))
                    }
                    Typed::Num(a) if a.is_valid(row) => {
                        let n = a.value(row);
                        match mode {
                            Mode::Integer if n < 0.0 => Value::from(n as i64),
                            Mode::Integer => Value::from(n as u64),
                            _ => Number::from_f64(n).map(Value::Number).ok_or_else(bad)?,
                        }
                    }
                    Typed::Bool(a) if a.is_valid(row) => Value::Bool(a.value(row)),
                    Typed::Str(a) if a.is_valid(row) => Value::String(a.value(row).to_owned()),
                    Typed::Words(words, values) if words.is_valid(row) => {
                        let key = usize::try_from(words.keys().value(row)).map_err(|_| bad())?;
                        Value::String(values.value(key).to_owned())
                    }
                    Typed::Json(a) if a.is_valid(row) => {
                        serde_json::from_str(a.value(row)).map_err(|_| bad())?
                    }
                    _ => return Err(bad()),
                }
            }
        })
    }
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
