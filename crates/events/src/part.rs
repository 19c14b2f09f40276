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
mod events;
mod keys;
mod shape;
mod time;
mod writer;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
    RowSelection,
};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use serde_json::Value;

use crate::query::timeframe::TimeRange;
pub(crate) use batches::{Batch, GroupRows, Values};
use columns::ColumnsView;
pub(crate) use keys::WordCounts;
pub(crate) use shape::Found;
use shape::{Mode, Shape, Slot};
use time::time_bounds;
pub(crate) use writer::PartBuilder;
use writer::{KEEN_ID, canonical_millis};

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
/// Rows per row group: at least a part's (`compaction::PART_ROWS`), so that a part has one
/// row group and each string column one dictionary, which distinct counts and group lookups
/// go by. Scans cut a row group to a time range or a piece by rows (`scan_batches`).
pub(crate) const ROW_GROUP_ROWS: usize = 1024 * 1024;
/// Rows decoded at a time when reading whole events.
const BATCH_ROWS: usize = 1024;
/// Rows decoded at a time when reading some columns only (scans); few in tests, so that their
/// small parts are scanned in several batches too.
#[cfg(not(test))]
const PROJECTED_BATCH_ROWS: usize = 32 * 1024;
#[cfg(test)]
const PROJECTED_BATCH_ROWS: usize = 8;
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
        // Read into the buffer's spare room, which the read initialises: every page read comes
        // here, and zeroing it first cost as much as a tenth of an extraction.
        let mut buffer = Vec::with_capacity(length);
        while buffer.len() < length {
            let at = start + buffer.len() as u64;
            match rustix::io::pread(&*self.file, rustix::buffer::spare_capacity(&mut buffer), at) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(io::Error::from(error).into()),
            }
        }
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

/// A part's footer with the page index, as each kind of read takes its strings.
struct Indexed {
    /// As `PartFile::metadata`: strings as strings.
    plain: ArrowReaderMetadata,
    /// As `PartFile::words`: strings as dictionaries.
    words: ArrowReaderMetadata,
    /// For the rows picked out (`rows_json`): strings as dictionaries, except keen.id.
    picked: ArrowReaderMetadata,
}

/// How a read takes the part's string columns.
#[derive(Clone, Copy)]
enum Strings {
    /// As strings.
    Plain,
    /// As dictionaries, whose words a scan numbers.
    Words,
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
    /// The footer with the page index, loaded the first time a range is cut, rows are picked
    /// out or a read skips rows (`time_rows`, `rows_json`, `footer_for`), by one thread while
    /// the others wait (`loading`).
    indexed: std::sync::OnceLock<Indexed>,
    loading: std::sync::Mutex<()>,
    /// What `first_row_at` found by reading timestamps, by its arguments (a part never
    /// changes), so that a timeframe's edges are read once: repeated and dashboard queries
    /// share them.
    first_rows: std::sync::Mutex<std::collections::HashMap<FirstRowAsked, usize>>,
}

/// What `first_row_at` is asked: the row group, the rows of the page it reads, the time.
type FirstRowAsked = (usize, std::ops::Range<usize>, i64);

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
        Ok(PartFile {
            file,
            metadata,
            words,
            kinds,
            paths,
            shapes,
            indexed: Default::default(),
            loading: Default::default(),
            first_rows: Default::default(),
        })
    }

    /// How many rows row group `group` holds.
    pub(crate) fn group_rows(&self, group: usize) -> usize {
        self.metadata.metadata().row_group(group).num_rows() as usize
    }

    /// The number (in the part, as `scan_groups` numbers rows) of row group `group`'s first row.
    pub(crate) fn group_start(&self, group: usize) -> usize {
        (0..group).map(|g| self.group_rows(g)).sum()
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

    /// Calls `each` with the row number (in the part), the timestamp and the values at `paths`
    /// of every row in `range` among `pieces` (each a row group and rows within it, in ascending
    /// order), in timestamp order, reading only the
    /// columns those paths lead to (every column only when a path leads into an object or an
    /// event kept whole, and then only those rows are rebuilt).
    pub(crate) fn scan_groups<E: From<io::Error>>(
        &self,
        pieces: Vec<GroupRows>,
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
        // (first row in the part, rows) of each piece read, to number the rows.
        let spans: Vec<(usize, usize)> =
            pieces.iter().map(|(g, rows)| (self.group_start(*g) + rows.start, rows.len())).collect();
        let selection = self.selection(&pieces);
        let groups = pieces.into_iter().map(|(group, _)| group).collect();
        let (mut span, mut within) = (0, 0);
        // Word numbers: each dictionary met gets the next `len` numbers, while they last.
        let mut dictionaries: Vec<Option<(ArrayRef, u32)>> = vec![None; self.kinds.len()];
        let mut next_word = 0u32;
        let footer = self.footer_for(if whole { Strings::Plain } else { Strings::Words }, &selection)?;
        for batch in self.reader_with(footer, groups, Some(columns.clone()), Some(selection))? {
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

    /// The shape numbered `number`.
    fn shape(&self, number: u32) -> io::Result<&Shape> {
        (self.shapes.get(number as usize))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "event part: unknown shape"))
    }

    /// The footer with the page index, loaded the first time it is needed.
    fn indexed(&self) -> io::Result<&Indexed> {
        if let Some(indexed) = self.indexed.get() {
            return Ok(indexed);
        }
        let _loading = self.loading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(indexed) = self.indexed.get() {
            return Ok(indexed);
        }
        // The footer is decoded already: only the page index is read.
        let mut reader =
            ParquetMetaDataReader::new_with_metadata(ParquetMetaData::clone(self.metadata.metadata()))
                .with_page_index_policy(PageIndexPolicy::Optional);
        reader.read_page_indexes(&self.file).map_err(io::Error::other)?;
        let footer = Arc::new(reader.finish().map_err(io::Error::other)?);
        let with = |schema: SchemaRef| {
            ArrowReaderMetadata::try_new(footer.clone(), ArrowReaderOptions::new().with_schema(schema))
                .map_err(io::Error::other)
        };
        // Strings are read as dictionaries (the rows picked out are written from their words,
        // not copied out of them first), except keen.id, which has no dictionary.
        let fields: Vec<Field> = (self.words.schema().fields().iter())
            .zip(self.metadata.schema().fields())
            .zip(&self.paths)
            .map(|((word, plain), path)| Field::clone(if path == KEEN_ID { plain } else { word }))
            .collect();
        let picked = Arc::new(Schema::new_with_metadata(fields, self.metadata.schema().metadata().clone()));
        let loaded = Indexed {
            plain: with(self.metadata.schema().clone())?,
            words: with(self.words.schema().clone())?,
            picked: with(picked)?,
        };
        Ok(self.indexed.get_or_init(|| loaded))
    }

    /// The footer to read `selection` with, its strings read as `strings` says: `metadata` or
    /// `words`, or the same with the page index when the selection skips rows before rows it
    /// selects. The page index lets the reader pass whole pages by unread; without it, every
    /// page up to the first row selected is decoded (a piece at the end of a large row group
    /// read the whole group).
    fn footer_for(&self, strings: Strings, selection: &RowSelection) -> io::Result<&ArrowReaderMetadata> {
        let mut skipped = false;
        let skips = selection.iter().any(|selector| {
            skipped |= selector.skip && selector.row_count > 0;
            skipped && !selector.skip && selector.row_count > 0
        });
        Ok(match (skips, strings) {
            (false, Strings::Plain) => &self.metadata,
            (false, Strings::Words) => &self.words,
            (true, Strings::Plain) => &self.indexed()?.plain,
            (true, Strings::Words) => &self.indexed()?.words,
        })
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

#[cfg(test)]
mod tests;
