//! Parquet parts: immutable files holding a collection's compacted events, sorted by
//! `keen.timestamp`.
//!
//! Every leaf property becomes a column named by its dot path (`user.plan`). A path seen with
//! several JSON types in one part gets one column per type; the later ones are named
//! `path.$num`, `path.$str`, … (a property name cannot start with `$`, so these never clash
//! with a property). Strings are UTF-8 columns, numbers 64-bit floats, booleans booleans,
//! lists and integers beyond 2^53 their JSON text, `keen.timestamp` and `keen.created_at`
//! millisecond timestamps. Parquet keeps per-column statistics, which scans use to skip row
//! groups outside a time range.
//!
//! Each event also records its *shape* (column `$shape`): the order and nesting of its keys,
//! where its nulls and empty objects are, and whether a number was written as an integer. The
//! part's shapes are kept in its footer. Columns and shape together give back exactly the
//! JSON text that was stored, so extraction returns what was sent while scans read only the
//! columns they need. An event that would take the part past its column budget is kept whole
//! in `$json`.

mod batches;
mod columns;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
    RowSelection, RowSelector,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, PageIndexPolicy};
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;
use serde_json::{Number, Value};

use crate::query::timeframe::TimeRange;
pub(crate) use batches::{Batch, Values};
use columns::ColumnsView;

/// Column 0: `keen.timestamp`, never null; the sort key.
const TIMESTAMP: usize = 0;
/// Column 1: the event's shape, an index into the footer's shape list.
const SHAPE: usize = 1;
/// Column 2: the whole event's JSON text, for events kept whole.
const RAW: usize = 2;
const FIXED: [(&str, Kind); 3] =
    [("keen.timestamp", Kind::Timestamp), ("$shape", Kind::Shape), ("$json", Kind::Json)];
/// Most columns in one part; wider events are kept whole in `$json`.
const MAX_COLUMNS: usize = 4096;
/// Rows per row group: the unit that time-range pruning skips.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows decoded at a time when reading whole events.
const BATCH_ROWS: usize = 1024;
/// Rows decoded at a time when reading some columns only (scans).
const PROJECTED_BATCH_ROWS: usize = 8192;
/// Footer key of the part's columns and shapes.
const LAYOUT_KEY: &str = "switchboard.layout";
/// The shape of an event kept whole.
const RAW_SHAPE: &str = "\"$json\"";
/// Integers up to this magnitude are exact in a 64-bit float.
const EXACT_INTEGER: u64 = 1 << 53;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Timestamp,
    Shape,
    Str,
    Num,
    Bool,
    Json,
}

impl Kind {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Kind::Timestamp => "ts",
            Kind::Shape => "shape",
            Kind::Str => "str",
            Kind::Num => "num",
            Kind::Bool => "bool",
            Kind::Json => "json",
        }
    }

    fn from_tag(tag: &str) -> Option<Kind> {
        [Kind::Timestamp, Kind::Shape, Kind::Str, Kind::Num, Kind::Bool, Kind::Json]
            .into_iter()
            .find(|kind| kind.tag() == tag)
    }

    /// The slot of a property kind in `PartBuilder::by_path`.
    fn slot(self) -> usize {
        match self {
            Kind::Timestamp | Kind::Shape => 0,
            Kind::Str => 1,
            Kind::Num => 2,
            Kind::Bool => 3,
            Kind::Json => 4,
        }
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            Kind::Shape => DataType::UInt32,
            Kind::Str | Kind::Json => DataType::Utf8,
            Kind::Num => DataType::Float64,
            Kind::Bool => DataType::Boolean,
        }
    }
}

/// Facts about a written part, kept in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PartInfo {
    pub rows: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    /// The latest `keen.created_at` (receive time) in the part, Unix ms.
    pub max_created_ms: i64,
    pub bytes: u64,
    /// Bytes of string values (text and JSON columns) in the part.
    #[serde(default)]
    pub string_bytes: u64,
}

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
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(io::Error::other)?))
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_dictionary_page_size_limit(4 * 1024 * 1024)
            .set_column_encoding(ColumnPath::from(FIXED[TIMESTAMP].0), Encoding::DELTA_BINARY_PACKED)
            .set_column_dictionary_enabled(ColumnPath::from(FIXED[TIMESTAMP].0), false)
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
fn canonical_millis(text: &str) -> Option<i64> {
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

/// A shape read back from a footer.
#[derive(Debug)]
enum Shape {
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
enum Mode {
    Plain,
    Integer,
    Timestamp,
}

impl Shape {
    fn parse(value: &Value, columns: usize) -> Option<Shape> {
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
enum Slot {
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
    fn resolve(&self, path: &[String]) -> Slot {
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

/// An open part file read by position (`pread`), so that concurrent scans of one part never
/// disturb each other (handles from `File::try_clone` share one file offset).
#[derive(Clone)]
struct SharedFile {
    file: Arc<File>,
    len: u64,
}

impl parquet::file::reader::Length for SharedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl parquet::file::reader::ChunkReader for SharedFile {
    type T = io::BufReader<PositionedReader>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(io::BufReader::new(PositionedReader { file: self.file.clone(), position: start }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut buffer = vec![0; length];
        self.file.read_exact_at(&mut buffer, start)?;
        Ok(buffer.into())
    }
}

/// A reader over a `SharedFile` from a position of its own.
struct PositionedReader {
    file: Arc<File>,
    position: u64,
}

impl io::Read for PositionedReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read_at(buffer, self.position)?;
        self.position += read as u64;
        Ok(read)
    }
}

/// An open part: its file (kept open, so a part merged away and deleted stays readable by the
/// scans that started before) and its decoded footer.
pub(crate) struct PartFile {
    file: SharedFile,
    metadata: ArrowReaderMetadata,
    /// The same footer with the string columns read as dictionaries (`scan_groups`).
    words: ArrowReaderMetadata,
    kinds: Vec<Kind>,
    paths: Vec<String>,
    shapes: Vec<Shape>,
    /// The footer with the page index, loaded when rows are first picked out (`rows`).
    indexed: std::sync::OnceLock<ArrowReaderMetadata>,
}

fn corrupt(path: &Path, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("event part {}: {what}", path.display()))
}

impl PartFile {
    pub(crate) fn open(path: &Path) -> io::Result<PartFile> {
        let file = File::open(path)?;
        let file = SharedFile { len: file.metadata()?.len(), file: Arc::new(file) };
        let metadata =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(io::Error::other)?;
        let layout = metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|pairs| pairs.iter().find(|kv| kv.key == LAYOUT_KEY))
            .and_then(|kv| kv.value.as_deref())
            .ok_or_else(|| corrupt(path, "no layout in the footer"))?;
        let layout: Value = serde_json::from_str(layout).map_err(|_| corrupt(path, "unreadable layout"))?;
        let mut kinds: Vec<Kind> = FIXED.iter().map(|(_, kind)| *kind).collect();
        let mut paths: Vec<String> = FIXED.iter().map(|(name, _)| (*name).to_owned()).collect();
        for column in layout["columns"].as_array().into_iter().flatten() {
            let kind = column[2]
                .as_str()
                .and_then(Kind::from_tag)
                .ok_or_else(|| corrupt(path, "bad column kind"))?;
            kinds.push(kind);
            paths.push(column[1].as_str().unwrap_or_default().to_owned());
        }
        let fields = metadata.schema().fields();
        if fields.len() != kinds.len()
            || fields.iter().zip(&kinds).any(|(f, k)| *f.data_type() != k.data_type())
        {
            return Err(corrupt(path, "layout and schema disagree"));
        }
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let word_fields: Vec<Field> = fields
            .iter()
            .zip(&kinds)
            .map(|(field, kind)| match kind {
                Kind::Str => Field::new(field.name(), dictionary.clone(), field.is_nullable()),
                _ => Field::clone(field),
            })
            .collect();
        let hint = Arc::new(Schema::new_with_metadata(word_fields, metadata.schema().metadata().clone()));
        let words = ArrowReaderMetadata::try_new(
            metadata.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        )
        .map_err(io::Error::other)?;
        let dynamic = kinds.len() - FIXED.len();
        let shapes = layout["shapes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|text| {
                let parsed: Value = serde_json::from_str(text.as_str().unwrap_or_default()).ok()?;
                Shape::parse(&parsed, FIXED.len() + dynamic)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt(path, "bad shape"))?;
        Ok(PartFile { file, metadata, words, kinds, paths, shapes, indexed: std::sync::OnceLock::new() })
    }

    /// Each column's property path and kind, in file order.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (&str, Kind)> {
        self.paths.iter().map(String::as_str).zip(self.kinds.iter().copied())
    }

    /// The columns numbered `columns` (ascending, as `columns` numbers them) of every row, as
    /// record batches; with no columns, batches of the timestamp column only (for row counts).
    pub(crate) fn read_columns(&self, columns: &[usize]) -> io::Result<Vec<RecordBatch>> {
        let projection = if columns.is_empty() { vec![TIMESTAMP] } else { columns.to_vec() };
        self.reader(self.row_groups(None), Some(projection), None)?
            .map(|batch| batch.map_err(io::Error::other))
            .collect()
    }

    /// The row groups that may hold events in `range`.
    pub(crate) fn row_groups(&self, range: Option<TimeRange>) -> Vec<usize> {
        let metadata = self.metadata.metadata();
        (0..metadata.num_row_groups())
            .filter(|&i| {
                let Some(range) = range else { return true };
                match time_bounds(metadata.row_group(i).column(TIMESTAMP).statistics()) {
                    Some((min, max)) => min < range.end_ms && max >= range.start_ms,
                    None => true,
                }
            })
            .collect()
    }

    fn reader(
        &self,
        row_groups: Vec<usize>,
        columns: Option<Vec<usize>>,
        selection: Option<RowSelection>,
    ) -> io::Result<ParquetRecordBatchReader> {
        self.reader_with(&self.metadata, row_groups, columns, selection)
    }

    fn reader_with(
        &self,
        metadata: &ArrowReaderMetadata,
        row_groups: Vec<usize>,
        columns: Option<Vec<usize>>,
        selection: Option<RowSelection>,
    ) -> io::Result<ParquetRecordBatchReader> {
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(self.file.clone(), metadata.clone())
                .with_row_groups(row_groups)
                .with_batch_size(if columns.is_some() { PROJECTED_BATCH_ROWS } else { BATCH_ROWS });
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        if let Some(columns) = columns {
            let mask = parquet::arrow::ProjectionMask::roots(
                self.metadata.metadata().file_metadata().schema_descr(),
                columns,
            );
            builder = builder.with_projection(mask);
        }
        builder.build().map_err(io::Error::other)
    }

    /// The events in `range` (all when `None`) in timestamp order, as (timestamp, event),
    /// decoded a batch of rows at a time.
    pub(crate) fn events(&self, range: Option<TimeRange>) -> io::Result<PartEvents<'_>> {
        let reader = self.reader(self.row_groups(range), None, None)?;
        Ok(PartEvents { part: self, reader, range, buffer: std::collections::VecDeque::new() })
    }

    /// The row groups that may hold events in `range`, each with the latest timestamp in it
    /// (`i64::MAX` when its statistics do not say), in file order.
    pub(crate) fn groups(&self, range: Option<TimeRange>) -> Vec<(usize, i64)> {
        let metadata = self.metadata.metadata();
        self.row_groups(range)
            .into_iter()
            .map(|g| {
                let bounds = time_bounds(metadata.row_group(g).column(TIMESTAMP).statistics());
                (g, bounds.map_or(i64::MAX, |(_, max)| max))
            })
            .collect()
    }

    /// Calls `each` with the row number, the timestamp and the values at `paths` of every row
    /// in `range` in the row groups `groups` (ascending), in timestamp order, reading only the
    /// columns those paths lead to (every column only when a path leads into an object or an
    /// event kept whole, and then only those rows are rebuilt).
    pub(crate) fn scan_groups<E: From<io::Error>>(
        &self,
        groups: Vec<usize>,
        range: Option<TimeRange>,
        paths: &[Vec<String>],
        mut each: impl FnMut(usize, i64, &[Found<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let slots: Vec<Vec<Slot>> =
            self.shapes.iter().map(|shape| paths.iter().map(|path| shape.resolve(path)).collect()).collect();
        let whole = slots.iter().flatten().any(|slot| matches!(slot, Slot::Whole));
        let mut columns = vec![TIMESTAMP, SHAPE];
        if whole {
            columns = (0..self.kinds.len()).collect();
        } else {
            columns.extend(slots.iter().flatten().filter_map(|slot| match slot {
                Slot::Leaf { column, .. } => Some(*column),
                _ => None,
            }));
            columns.sort_unstable();
            columns.dedup();
        }
        let bad =
            || io::Error::new(io::ErrorKind::InvalidData, "event part: a shape points at an empty value");
        let metadata = self.metadata.metadata();
        // (first row, rows) of each row group read, to number the rows.
        let spans: Vec<(usize, usize)> = groups
            .iter()
            .map(|&g| {
                let first = (0..g).map(|i| metadata.row_group(i).num_rows() as usize).sum();
                (first, metadata.row_group(g).num_rows() as usize)
            })
            .collect();
        let (mut span, mut within) = (0, 0);
        // Word numbers: each dictionary met gets the next `len` numbers, while they last.
        let mut dictionaries: Vec<Option<(ArrayRef, u32)>> = vec![None; self.kinds.len()];
        let mut next_word = 0u32;
        let words_read = if whole { &self.metadata } else { &self.words };
        for batch in self.reader_with(words_read, groups, Some(columns.clone()), None)? {
            let batch = batch.map_err(io::Error::other)?;
            let mut view = ColumnsView::projected(&batch, &self.kinds, &columns);
            view.number_words(&mut dictionaries, &mut next_word);
            let timestamps = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let shapes = batch.column(1).as_primitive::<UInt32Type>();
            let mut found: Vec<Found<'_>> = Vec::with_capacity(paths.len());
            for row in 0..batch.num_rows() {
                while spans.get(span).is_some_and(|(_, rows)| within == *rows) {
                    (span, within) = (span + 1, 0);
                }
                let number = spans.get(span).map_or(0, |(first, _)| first + within);
                within += 1;
                let timestamp_ms = timestamps.value(row);
                if range.is_some_and(|r| !r.contains(timestamp_ms)) {
                    continue;
                }
                let shape = shapes.value(row) as usize;
                let row_slots = slots.get(shape).ok_or_else(bad)?;
                let mut event: Option<Value> = None;
                found.clear();
                for (slot, path) in row_slots.iter().zip(paths) {
                    found.push(match *slot {
                        Slot::Missing => Found::Missing,
                        Slot::Null => Found::Null,
                        Slot::Leaf { column: TIMESTAMP, .. } => Found::Time(timestamp_ms),
                        Slot::Leaf { column, mode } => view.found(column, mode, row).ok_or_else(bad)?,
                        Slot::Whole => {
                            if event.is_none() {
                                event = Some(view.rebuild(&self.shapes[shape], row, timestamp_ms)?);
                            }
                            let value = path
                                .iter()
                                .try_fold(event.as_ref().unwrap_or(&Value::Null), |value, segment| {
                                    value.as_object()?.get(segment)
                                });
                            match value {
                                None => Found::Missing,
                                Some(Value::Null) => Found::Null,
                                Some(value) => Found::Value(value.clone()),
                            }
                        }
                    });
                }
                each(number, timestamp_ms, &found)?;
            }
        }
        Ok(())
    }

    /// The events at row numbers `rows` (ascending, as `scan_groups` numbers them), in that order.
    pub(crate) fn rows(&self, rows: &[usize]) -> io::Result<Vec<(i64, Value)>> {
        // Only the row groups holding those rows are read, and with the page index only the
        // pages holding them.
        let metadata = self.metadata.metadata();
        let mut groups = Vec::new();
        let mut selectors = Vec::new();
        let (mut first, mut wanted) = (0, rows.iter().peekable());
        for group in 0..metadata.num_row_groups() {
            let end = first + metadata.row_group(group).num_rows() as usize;
            let mut next = first;
            while let Some(row) = wanted.next_if(|&&row| row < end) {
                if *row > next {
                    selectors.push(RowSelector::skip(row - next));
                }
                selectors.push(RowSelector::select(1));
                next = row + 1;
            }
            if next > first {
                groups.push(group);
                if end > next {
                    selectors.push(RowSelector::skip(end - next));
                }
            }
            first = end;
        }
        let indexed = match self.indexed.get() {
            Some(indexed) => indexed,
            None => {
                let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
                let loaded = ArrowReaderMetadata::load(&self.file, options).map_err(io::Error::other)?;
                self.indexed.get_or_init(|| loaded)
            }
        };
        let reader = self.reader_with(indexed, groups, None, Some(RowSelection::from(selectors)))?;
        PartEvents { part: self, reader, range: None, buffer: std::collections::VecDeque::new() }.collect()
    }

    /// The `limit` newest events (by timestamp), newest first; reads only the last rows.
    pub(crate) fn latest(&self, limit: usize) -> io::Result<Vec<(i64, Value)>> {
        let total = usize::try_from(self.metadata.metadata().file_metadata().num_rows()).unwrap_or_default();
        let skip = total.saturating_sub(limit);
        let selection = RowSelection::from(vec![RowSelector::skip(skip), RowSelector::select(total - skip)]);
        let reader = self.reader(self.row_groups(None), None, Some(selection))?;
        let mut events =
            PartEvents { part: self, reader, range: None, buffer: std::collections::VecDeque::new() }
                .collect::<io::Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    /// How many events fall in `range`, read from the statistics where a row group lies
    /// wholly inside it and from the timestamp column otherwise.
    pub(crate) fn count(&self, range: Option<TimeRange>) -> io::Result<u64> {
        let metadata = self.metadata.metadata();
        let mut total = 0u64;
        let mut partial = Vec::new();
        for i in self.row_groups(range) {
            let group = metadata.row_group(i);
            let inside = match (range, time_bounds(group.column(TIMESTAMP).statistics())) {
                (None, _) => true,
                (Some(r), Some((min, max))) => r.contains(min) && r.contains(max),
                (Some(_), None) => false,
            };
            if inside {
                total += group.num_rows() as u64;
            } else {
                partial.push(i);
            }
        }
        if !partial.is_empty() {
            for batch in self.reader(partial, Some(vec![TIMESTAMP]), None)? {
                let batch = batch.map_err(io::Error::other)?;
                let timestamps = batch.column(0).as_primitive::<TimestampMillisecondType>();
                total +=
                    timestamps.values().iter().filter(|ms| range.is_none_or(|r| r.contains(**ms))).count()
                        as u64;
            }
        }
        Ok(total)
    }

    /// The `keen.uniqueness_token`s in the part with their events' `keen.created_at`.
    /// Events kept whole are read from their JSON.
    pub(crate) fn uniqueness_tokens(&self) -> io::Result<Vec<(String, i64)>> {
        let find = |path: &str, kind: Kind| {
            (0..self.kinds.len()).find(|&i| self.paths[i] == path && self.kinds[i] == kind)
        };
        let token = find("keen.uniqueness_token", Kind::Str);
        let created = find("keen.created_at", Kind::Timestamp);
        let mut columns = vec![RAW];
        columns.extend(token.into_iter().chain(created));
        // A projection yields the columns in file order.
        columns.sort_unstable();
        let position = |column: Option<usize>| column.and_then(|c| columns.iter().position(|&i| i == c));
        let (token_at, created_at, raw_at) = (position(token), position(created), position(Some(RAW)));
        let mut found = Vec::new();
        for batch in self.reader(self.row_groups(None), Some(columns.clone()), None)? {
            let batch = batch.map_err(io::Error::other)?;
            let tokens = token_at.map(|i| batch.column(i).as_string::<i32>());
            let created = created_at.map(|i| batch.column(i).as_primitive::<TimestampMillisecondType>());
            let raw = raw_at.map(|i| batch.column(i).as_string::<i32>());
            for row in 0..batch.num_rows() {
                if let (Some(tokens), Some(created)) = (tokens, created)
                    && tokens.is_valid(row)
                    && created.is_valid(row)
                {
                    found.push((tokens.value(row).to_owned(), created.value(row)));
                }
                if let Some(raw) = raw.filter(|raw| raw.is_valid(row)) {
                    let event: Value = serde_json::from_str(raw.value(row)).map_err(io::Error::other)?;
                    let keen = &event["keen"];
                    if let (Some(token), Some(at)) = (
                        keen["uniqueness_token"].as_str(),
                        keen["created_at"].as_str().and_then(canonical_millis),
                    ) {
                        found.push((token.to_owned(), at));
                    }
                }
            }
        }
        Ok(found)
    }
}

fn time_bounds(statistics: Option<&Statistics>) -> Option<(i64, i64)> {
    match statistics? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// A scan over a part's events: see `PartFile::events`.
pub(crate) struct PartEvents<'a> {
    part: &'a PartFile,
    reader: ParquetRecordBatchReader,
    range: Option<TimeRange>,
    buffer: std::collections::VecDeque<(i64, Value)>,
}

impl PartEvents<'_> {
    /// Decodes the next batch into the buffer; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(batch) = self.reader.next() else { return Ok(false) };
        let batch = batch.map_err(io::Error::other)?;
        let columns = ColumnsView::new(&batch, &self.part.kinds);
        let timestamps = batch.column(TIMESTAMP).as_primitive::<TimestampMillisecondType>();
        let shapes = batch.column(SHAPE).as_primitive::<UInt32Type>();
        for row in 0..batch.num_rows() {
            let timestamp_ms = timestamps.value(row);
            if self.range.is_some_and(|r| !r.contains(timestamp_ms)) {
                continue;
            }
            let shape = self
                .part
                .shapes
                .get(shapes.value(row) as usize)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "event part: unknown shape"))?;
            self.buffer.push_back((timestamp_ms, columns.rebuild(shape, row, timestamp_ms)?));
        }
        Ok(true)
    }
}

impl Iterator for PartEvents<'_> {
    type Item = io::Result<(i64, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffer.is_empty() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => return Some(Err(error)),
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

#[cfg(test)]
mod tests;
