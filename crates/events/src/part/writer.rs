//! Writing a part: `PartBuilder` learns each event's structure once (its shape and the column
//! of each leaf), fills the columns, and writes them as one Parquet file with the layout
//! (columns and shapes) in its footer.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde_json::{Number, Value};

use super::{
    EXACT_INTEGER, FIXED, Kind, LAYOUT_KEY, MAX_COLUMNS, PartInfo, RAW, RAW_SHAPE, ROW_GROUP_ROWS, SHAPE,
    TIMESTAMP,
};

/// The column of `keen.id`, unique to each event (when it holds strings, as Keen's do).
pub(super) const KEEN_ID: &str = "keen.id";

enum Builder {
    Timestamp(TimestampMillisecondBuilder),
    Str(StringBuilder),
    Num(Float64Builder),
    Bool(BooleanBuilder),
}

struct Column {
    name: String,
    path: String,
    kind: Kind,
    builder: Builder,
    /// Rows filled so far (values or nulls); the rest are filled with nulls on demand.
    len: usize,
}

impl Column {
    fn new(name: String, path: String, kind: Kind) -> Column {
        let builder = match kind {
            Kind::Timestamp => Builder::Timestamp(TimestampMillisecondBuilder::new().with_timezone("UTC")),
            Kind::Num => Builder::Num(Float64Builder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::Str | Kind::Json | Kind::Shape => Builder::Str(StringBuilder::new()),
        };
        Column { name, path, kind, builder, len: 0 }
    }

    /// Fills the rows before `row` with nulls.
    fn pad(&mut self, row: usize) {
        let missing = row - self.len;
        match &mut self.builder {
            Builder::Timestamp(b) => b.append_nulls(missing),
            Builder::Num(b) => b.append_nulls(missing),
            Builder::Bool(b) => b.append_nulls(missing),
            Builder::Str(b) => (0..missing).for_each(|_| b.append_null()),
        }
        self.len = row;
    }

    fn append(&mut self, row: usize, value: &Leaf<'_>) {
        self.pad(row);
        match (&mut self.builder, value) {
            (Builder::Timestamp(b), Leaf::Timestamp(ms)) => b.append_value(*ms),
            (Builder::Num(b), Leaf::Num(n)) => b.append_value(*n),
            (Builder::Bool(b), Leaf::Bool(v)) => b.append_value(*v),
            (Builder::Str(b), Leaf::Str(text)) => b.append_value(text),
            (Builder::Str(b), Leaf::Json(text)) => b.append_value(text),
            _ => unreachable!("a leaf always goes to a column of its kind"),
        }
        self.len = row + 1;
    }

    fn finish(mut self, rows: usize) -> ArrayRef {
        self.pad(rows);
        match self.builder {
            Builder::Timestamp(mut b) => Arc::new(b.finish()),
            Builder::Num(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Str(mut b) => Arc::new(b.finish()),
        }
    }
}

/// A leaf value on its way into a column.
enum Leaf<'a> {
    Timestamp(i64),
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Json(String),
}

impl Leaf<'_> {
    fn kind(&self) -> Kind {
        match self {
            Leaf::Timestamp(_) => Kind::Timestamp,
            Leaf::Str(_) => Kind::Str,
            Leaf::Num(_) => Kind::Num,
            Leaf::Bool(_) => Kind::Bool,
            Leaf::Json(_) => Kind::Json,
        }
    }
}

/// Builds one part in memory (columnar, so about the size of the compressed data times a
/// few), then writes it. Events must be pushed in timestamp order.
pub(crate) struct PartBuilder {
    timestamps: Vec<i64>,
    shape_ids: Vec<u32>,
    raw: Column,
    columns: Vec<Column>,
    /// Dot path → column index per kind (`Kind::slot`).
    by_path: HashMap<String, [Option<usize>; 5]>,
    shapes: Vec<String>,
    shape_index: HashMap<String, u32>,
    /// Structure (`write_structure`) → index in `learnt`.
    structures: HashMap<Vec<u8>, usize>,
    /// Bytes of string values pushed so far.
    string_bytes: usize,
    /// The buffer `push` writes structures into.
    scratch: Vec<u8>,
    learnt: Vec<Structure>,
    max_created_ms: i64,
    /// Rows per row group written.
    row_group_rows: usize,
}

impl PartBuilder {
    pub(crate) fn new() -> PartBuilder {
        let (name, kind) = FIXED[RAW];
        PartBuilder {
            timestamps: Vec::new(),
            shape_ids: Vec::new(),
            raw: Column::new(name.into(), String::new(), kind),
            columns: Vec::new(),
            by_path: HashMap::new(),
            shapes: Vec::new(),
            shape_index: HashMap::new(),
            structures: HashMap::new(),
            string_bytes: 0,
            scratch: Vec::new(),
            learnt: Vec::new(),
            max_created_ms: i64::MIN,
            row_group_rows: ROW_GROUP_ROWS,
        }
    }

    /// A builder writing row groups of `rows` rows, so that tests can make parts of several
    /// row groups from a few events.
    #[cfg(test)]
    pub(crate) fn with_row_groups_of(rows: usize) -> PartBuilder {
        PartBuilder { row_group_rows: rows, ..PartBuilder::new() }
    }

    /// Adds an event whose `keen.timestamp` is `timestamp_ms`.
    ///
    /// Most events repeat a structure already seen: those are recognised by their structure (see
    /// `write_structure`) and their leaves go straight to the columns learnt the first time.
    pub(crate) fn push(&mut self, timestamp_ms: i64, event: &Value) {
        let row = self.timestamps.len();
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        write_structure(&mut key, event, timestamp_ms, 0);
        let known = match self.structures.get(key.as_slice()) {
            Some(known) => *known,
            None => self.learn(event, timestamp_ms, key.clone()),
        };
        self.scratch = key;
        let structure = &self.learnt[known];
        match &structure.columns {
            Some(columns) => {
                let mut leaves = Vec::with_capacity(columns.len());
                each_leaf(event, &mut leaves);
                for (value, &column) in leaves.into_iter().zip(columns) {
                    if column == SKIP {
                        continue;
                    }
                    let column = &mut self.columns[column];
                    let leaf = leaf_for(value, column.kind);
                    if let Leaf::Str(text) = &leaf {
                        self.string_bytes += text.len();
                    } else if let Leaf::Json(text) = &leaf {
                        self.string_bytes += text.len();
                    }
                    if let (Leaf::Timestamp(ms), "keen.created_at") = (&leaf, column.path.as_str()) {
                        self.max_created_ms = self.max_created_ms.max(*ms);
                    }
                    column.append(row, &leaf);
                }
            }
            None => {
                let created = event["keen"]["created_at"].as_str().and_then(canonical_millis);
                if let Some(created) = created {
                    self.max_created_ms = self.max_created_ms.max(created);
                }
                let text = serde_json::to_string(event).expect("JSON values serialise");
                self.string_bytes += text.len();
                self.raw.append(row, &Leaf::Json(text));
            }
        }
        self.timestamps.push(timestamp_ms);
        self.shape_ids.push(structure.shape);
    }

    /// Walks an event of a structure not seen before: adds its columns (or finds that they do
    /// not fit) and its shape.
    fn learn(&mut self, event: &Value, timestamp_ms: i64, key: Vec<u8>) -> usize {
        let mut shape = String::with_capacity(128);
        let mut leaves = Vec::new();
        let mut path = String::with_capacity(64);
        let columns = if self.walk(event, timestamp_ms, &mut path, &mut shape, &mut leaves) {
            Some(leaves.into_iter().map(|(column, _)| column).collect())
        } else {
            shape.clear();
            shape.push_str(RAW_SHAPE);
            None
        };
        let id = match self.shape_index.get(&shape) {
            Some(id) => *id,
            None => {
                let id = u32::try_from(self.shapes.len()).expect("fewer shapes than rows");
                self.shapes.push(shape.clone());
                self.shape_index.insert(shape, id);
                id
            }
        };
        self.learnt.push(Structure { shape: id, columns });
        self.structures.insert(key, self.learnt.len() - 1);
        self.learnt.len() - 1
    }

    /// Walks `value`, writing its shape and collecting its leaves with their columns; false
    /// when a new column would exceed the budget.
    fn walk<'a>(
        &mut self,
        value: &'a Value,
        timestamp_ms: i64,
        path: &mut String,
        shape: &mut String,
        leaves: &mut Vec<(usize, Leaf<'a>)>,
    ) -> bool {
        let (leaf, mode) = match value {
            Value::Object(object) => {
                shape.push('{');
                for (i, (name, inner)) in object.iter().enumerate() {
                    if i > 0 {
                        shape.push(',');
                    }
                    push_json_string(shape, name);
                    shape.push(':');
                    let restore = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                    let fits = self.walk(inner, timestamp_ms, path, shape, leaves);
                    path.truncate(restore);
                    if !fits {
                        return false;
                    }
                }
                shape.push('}');
                return true;
            }
            Value::Null => {
                shape.push_str("null");
                return true;
            }
            Value::String(text) if path == "keen.timestamp" && is_event_timestamp(text, timestamp_ms) => {
                shape.push_str("\"0t\"");
                leaves.push((SKIP, Leaf::Timestamp(timestamp_ms)));
                return true;
            }
            Value::String(text) if path == "keen.created_at" && is_canonical_timestamp(text) => {
                (Leaf::Timestamp(canonical_millis(text).unwrap_or_default()), "t")
            }
            Value::String(text) => (Leaf::Str(text), ""),
            Value::Bool(v) => (Leaf::Bool(*v), ""),
            Value::Number(n) => number_leaf(n),
            Value::Array(_) => (Leaf::Json(value.to_string()), ""),
        };
        let Some(column) = self.column(path, leaf.kind()) else { return false };
        shape.push('"');
        shape.push_str(&(FIXED.len() + column).to_string());
        shape.push_str(mode);
        shape.push('"');
        leaves.push((column, leaf));
        true
    }

    /// The column for `path` and `kind`, added if new and within the budget.
    fn column(&mut self, path: &str, kind: Kind) -> Option<usize> {
        let slots = self.by_path.get(path);
        if let Some(index) = slots.and_then(|slots| slots[kind.slot()]) {
            return Some(index);
        }
        if FIXED.len() + self.columns.len() >= MAX_COLUMNS {
            return None;
        }
        let taken = slots.is_some_and(|s| s.iter().any(Option::is_some)) || path == FIXED[TIMESTAMP].0;
        let name = if taken { format!("{path}.${}", kind.tag()) } else { path.to_owned() };
        let index = self.columns.len();
        self.columns.push(Column::new(name, path.to_owned(), kind));
        self.by_path.entry(path.to_owned()).or_default()[kind.slot()] = Some(index);
        Some(index)
    }

    /// Writes the part to `path` (which must not exist) and syncs it to disk; on failure the
    /// file is removed.
    pub(crate) fn write(self, path: &Path) -> io::Result<PartInfo> {
        self.write_file(path).inspect_err(|_| {
            let _ = std::fs::remove_file(path);
        })
    }

    /// The part as one record batch, without writing it: each column's property path and
    /// kind, and the batch (columns in the same order).
    pub(crate) fn finish(self) -> io::Result<(Vec<(String, Kind)>, RecordBatch)> {
        let columns = FIXED
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), *kind))
            .chain(self.columns.iter().map(|c| (c.path.clone(), c.kind)))
            .collect();
        let (batch, _) = self.batch()?;
        Ok((columns, batch))
    }

    /// The record batch and the footer layout.
    fn batch(self) -> io::Result<(RecordBatch, Value)> {
        let rows = self.timestamps.len();
        let mut fields = vec![
            Field::new(FIXED[TIMESTAMP].0, Kind::Timestamp.data_type(), false),
            Field::new(FIXED[SHAPE].0, Kind::Shape.data_type(), false),
            Field::new(FIXED[RAW].0, Kind::Json.data_type(), true),
        ];
        let mut layout_columns = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            fields.push(Field::new(&column.name, column.kind.data_type(), true));
            layout_columns.push(Value::from(vec![
                column.name.clone(),
                column.path.clone(),
                column.kind.tag().into(),
            ]));
        }
        let mut timestamps = TimestampMillisecondBuilder::new().with_timezone("UTC");
        timestamps.append_slice(&self.timestamps);
        let mut shapes = UInt32Builder::new();
        shapes.append_slice(&self.shape_ids);
        let mut arrays: Vec<ArrayRef> =
            vec![Arc::new(timestamps.finish()), Arc::new(shapes.finish()), self.raw.finish(rows)];
        arrays.extend(self.columns.into_iter().map(|c| c.finish(rows)));
        let layout = serde_json::json!({"version": 1, "columns": layout_columns, "shapes": self.shapes});
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema, arrays).map_err(io::Error::other)?;
        Ok((batch, layout))
    }

    fn write_file(self, path: &Path) -> io::Result<PartInfo> {
        let rows = self.timestamps.len();
        let min_ts = self.timestamps.first().copied().unwrap_or_default();
        let max_ts = self.timestamps.last().copied().unwrap_or_default();
        let (max_created_ms, string_bytes) = (self.max_created_ms, self.string_bytes as u64);
        let row_group_rows = self.row_group_rows;
        let (batch, layout) = self.batch()?;
        let schema = batch.schema();
        let properties = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_dictionary_page_size_limit(4 * 1024 * 1024)
            .set_column_encoding(ColumnPath::from(FIXED[TIMESTAMP].0), Encoding::DELTA_BINARY_PACKED)
            .set_column_dictionary_enabled(ColumnPath::from(FIXED[TIMESTAMP].0), false)
            // Every event has its own `keen.id`: a dictionary would hold them all (up to the
            // limit above), and reading any row of the column would decode it whole.
            .set_column_dictionary_enabled(ColumnPath::from(KEEN_ID), false)
            .set_key_value_metadata(Some(vec![KeyValue::new(LAYOUT_KEY.into(), layout.to_string())]))
            .build();
        let file = File::options().write(true).create_new(true).open(path)?;
        let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(io::Error::other)?;
        writer.write(&batch).map_err(io::Error::other)?;
        let file = writer.into_inner().map_err(io::Error::other)?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        Ok(PartInfo { rows: rows as u64, min_ts, max_ts, max_created_ms, bytes, string_bytes })
    }
}

/// Whether `text` is a timestamp exactly as `format_keen_timestamp` writes it
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`), so that it can be stored as a number and printed back.
fn is_canonical_timestamp(text: &str) -> bool {
    canonical_millis(text).is_some()
}

fn is_event_timestamp(text: &str, timestamp_ms: i64) -> bool {
    canonical_millis(text) == Some(timestamp_ms)
}

/// The instant of a timestamp in exactly the form `format_keen_timestamp` writes; a fast path
/// (two per event) that needs no general parser.
pub(super) fn canonical_millis(text: &str) -> Option<i64> {
    const PATTERN: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    let bytes = text.as_bytes();
    let matches = bytes.len() == PATTERN.len()
        && bytes.iter().zip(PATTERN).all(|(b, p)| if *p == b'0' { b.is_ascii_digit() } else { b == p });
    if !matches {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().fold(0i64, |n, digit| n * 10 + i64::from(digit - b'0'))
    };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second, millis) = (number(11..13), number(14..16), number(17..19), number(20..23));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month)
        && (1..=month_days[(month - 1).clamp(0, 11) as usize]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| {
        (days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + millis
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Marks a leaf that has no column of its own (`keen.timestamp`, which is column 0).
const SKIP: usize = usize::MAX;

/// What `push` learnt about a structure: its shape and the column of each leaf, in the order
/// `each_leaf` visits them (`None`: events of this structure are kept whole).
struct Structure {
    shape: u32,
    columns: Option<Vec<usize>>,
}

/// Writes `event`'s structure into `out`: key names and nesting, and per leaf everything
/// that decides its column and shape (JSON type, integer or not, canonical timestamps).
fn write_structure(out: &mut Vec<u8>, value: &Value, timestamp_ms: i64, keen: u8) {
    let tag: u8 = match value {
        Value::Object(object) => {
            out.push(b'{');
            for (name, inner) in object {
                out.extend_from_slice(&(name.len() as u32).to_le_bytes());
                out.extend_from_slice(name.as_bytes());
                // 1: inside the root's `keen` object; 2: `keen.timestamp`; 3: `keen.created_at`.
                let inner_keen = match (keen, name.as_str()) {
                    (0, "keen") => 1,
                    (1, "timestamp") => 2,
                    (1, "created_at") => 3,
                    _ => 4,
                };
                write_structure(out, inner, timestamp_ms, inner_keen);
            }
            b'}'
        }
        Value::Null => b'n',
        Value::Bool(_) => b'b',
        Value::Array(_) => b'a',
        Value::String(text) if keen == 2 && is_event_timestamp(text, timestamp_ms) => b'T',
        Value::String(text) if keen == 3 && is_canonical_timestamp(text) => b'C',
        Value::String(_) => b's',
        Value::Number(n) => match number_leaf(n) {
            (Leaf::Num(_), "i") => b'i',
            (Leaf::Num(_), _) => b'f',
            _ => b'j',
        },
    };
    out.push(tag);
}

/// The leaves of `event` that `walk` gives a column or `SKIP`: all but nulls, in document
/// order.
fn each_leaf<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(object) => object.values().for_each(|inner| each_leaf(inner, out)),
        Value::Null => {}
        _ => out.push(value),
    }
}

/// A leaf value converted for a column of `kind` (the kind its structure was learnt with).
fn leaf_for(value: &Value, kind: Kind) -> Leaf<'_> {
    match (kind, value) {
        (Kind::Timestamp, Value::String(text)) => Leaf::Timestamp(canonical_millis(text).unwrap_or_default()),
        (Kind::Str, Value::String(text)) => Leaf::Str(text),
        (Kind::Bool, Value::Bool(v)) => Leaf::Bool(*v),
        (Kind::Num, Value::Number(n)) => Leaf::Num(n.as_f64().unwrap_or_default()),
        _ => Leaf::Json(value.to_string()),
    }
}

/// A number as a float column value, marked `i` when it was written as an integer; integers
/// a float cannot hold exactly are kept as JSON text.
fn number_leaf(n: &Number) -> (Leaf<'static>, &'static str) {
    if n.is_f64() {
        return (Leaf::Num(n.as_f64().unwrap_or_default()), "");
    }
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) if i.unsigned_abs() <= EXACT_INTEGER => (Leaf::Num(i as f64), "i"),
        (_, Some(u)) if u <= EXACT_INTEGER => (Leaf::Num(u as f64), "i"),
        _ => (Leaf::Json(n.to_string()), ""),
    }
}

fn push_json_string(out: &mut String, text: &str) {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).expect("strings serialise"));
    }
}
