//! Read-only SQL for analysts over a workspace's collections, on Apache DataFusion.
//!
//! Each collection is a table named like the collection (names that are not lower-case
//! identifiers are quoted: `SELECT count(*) FROM "Page Views"`). Its columns are the events'
//! property paths (quoted because of the dots: `"user.plan"`), typed from the stored columns:
//! text, 64-bit floats, booleans, timestamps (`keen.timestamp`, `keen.created_at`) and, for
//! lists and integers beyond 2^53, their JSON text. A path seen with several JSON types has one
//! column per type, named `path.$str`, `path.$num`, `path.$bool`, `path.$json`, `path.$ts`.
//! Events too wide for a part's column budget (kept whole) show only `keen.timestamp`.
//!
//! Only the tables a query names are read, and of them only the columns it uses (Parquet
//! projection); the tail is included, so an acknowledged event is visible at once. Statements
//! other than queries (DDL, DML, `COPY`, `SET`) are refused, and DataFusion's own memory (sorts,
//! aggregates, joins) is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use serde_json::Value;

use crate::part::{Kind, PartBuilder};
use crate::store::{Part, StoredEvent};
use crate::timestamp::format_keen_timestamp;
use crate::{CollectionName, EventStore, EventStoreError};

/// Most rows a SQL answer holds; a query that would return more is refused (add `LIMIT`).
pub const MAX_SQL_ROWS: usize = 100_000;
/// Memory DataFusion may use for one query's sorts, aggregates and joins.
const MEMORY_LIMIT: usize = 1024 * 1024 * 1024;

/// A query's answer: column names and rows of JSON values (timestamps as Keen's text).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlAnswer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The query is not valid, not allowed, or too big to answer.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] EventStoreError),
}

fn invalid(error: DataFusionError) -> SqlError {
    match error {
        DataFusionError::External(inner) => match inner.downcast::<EventStoreError>() {
            Ok(store) => SqlError::Store(*store),
            Err(other) => SqlError::Invalid(other.to_string()),
        },
        DataFusionError::Context(_, inner) => invalid(*inner),
        other => SqlError::Invalid(other.strip_backtrace()),
    }
}

/// Runs a read-only SQL query over `store`'s collections.
pub async fn run_sql(store: Arc<EventStore>, query: &str) -> Result<SqlAnswer, SqlError> {
    let config = SessionConfig::new().with_target_partitions(1).with_information_schema(false);
    let runtime =
        RuntimeEnvBuilder::new().with_memory_limit(MEMORY_LIMIT, 1.0).build_arc().map_err(invalid)?;
    let context = SessionContext::new_with_config_rt(config, runtime);
    let catalog =
        context.catalog("datafusion").ok_or_else(|| SqlError::Invalid("no default catalog".into()))?;
    catalog.register_schema("public", Arc::new(Collections { store })).map_err(invalid)?;
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let frame = context.sql_with_options(query, options).await.map_err(invalid)?;
    let frame = frame.limit(0, Some(MAX_SQL_ROWS + 1)).map_err(invalid)?;
    let columns: Vec<String> = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
    let batches = frame.collect().await.map_err(invalid)?;
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if total > MAX_SQL_ROWS {
        return Err(SqlError::Invalid(format!(
            "the query returns more than {MAX_SQL_ROWS} rows; add a LIMIT or aggregate"
        )));
    }
    let mut rows = Vec::with_capacity(total);
    for batch in &batches {
        let values: Vec<Vec<Value>> = batch.columns().iter().map(json_values).collect();
        for row in 0..batch.num_rows() {
            rows.push(values.iter().map(|column| column[row].clone()).collect());
        }
    }
    Ok(SqlAnswer { columns, rows })
}

/// An array's values as JSON: numbers, text, booleans, timestamps as Keen's text, and anything
/// else as DataFusion displays it.
fn json_values(array: &ArrayRef) -> Vec<Value> {
    let each = |value: &dyn Fn(usize) -> Value| {
        (0..array.len()).map(|i| if array.is_null(i) { Value::Null } else { value(i) }).collect()
    };
    match array.data_type() {
        DataType::Null => vec![Value::Null; array.len()],
        DataType::Boolean => each(&|i| Value::Bool(array.as_boolean().value(i))),
        DataType::Int64 => each(&|i| Value::from(array.as_primitive::<Int64Type>().value(i))),
        DataType::Int32 => each(&|i| Value::from(array.as_primitive::<Int32Type>().value(i))),
        DataType::UInt64 => {
            each(&|i| Value::from(array.as_primitive::<arrow_array::types::UInt64Type>().value(i)))
        }
        DataType::Float64 => each(&|i| Value::from(array.as_primitive::<Float64Type>().value(i))),
        DataType::Float32 => each(&|i| Value::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Utf8 => each(&|i| Value::from(array.as_string::<i32>().value(i))),
        DataType::LargeUtf8 => each(&|i| Value::from(array.as_string::<i64>().value(i))),
        DataType::Utf8View => each(&|i| Value::from(array.as_string_view().value(i))),
        DataType::Timestamp(TimeUnit::Millisecond, _) => each(&|i| {
            Value::from(format_keen_timestamp(array.as_primitive::<TimestampMillisecondType>().value(i)))
        }),
        _ => {
            let options = datafusion::arrow::util::display::FormatOptions::default();
            match datafusion::arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &options) {
                Ok(formatter) => each(&|i| Value::from(formatter.value(i).to_string())),
                Err(_) => vec![Value::Null; array.len()],
            }
        }
    }
}

/// The workspace's collections as DataFusion tables, opened only when a query names them.
struct Collections {
    store: Arc<EventStore>,
}

impl fmt::Debug for Collections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Collections")
    }
}

#[async_trait::async_trait]
impl SchemaProvider for Collections {
    fn table_names(&self) -> Vec<String> {
        self.store.collections().into_iter().map(|(name, _)| name.as_str().to_owned()).collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Ok(collection) = CollectionName::parse(name) else { return Ok(None) };
        let Some((parts, tail)) = self.store.table_snapshot(&collection) else { return Ok(None) };
        Ok(Some(Arc::new(CollectionTable::new(parts, &tail)?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|n| n == name)
    }
}

/// Where a table's rows come from: a part on disk, or the tail, built in memory.
enum Source {
    Part(Arc<Part>),
    Tail { columns: Vec<(String, Kind)>, batch: RecordBatch },
}

impl Source {
    fn columns(&self) -> Vec<(String, Kind)> {
        match self {
            Source::Part(part) => part.file.columns().map(|(p, k)| (p.to_owned(), k)).collect(),
            Source::Tail { columns, .. } => columns.clone(),
        }
    }
}

/// One collection: the union of its parts' and tail's columns.
struct CollectionTable {
    sources: Vec<Source>,
    /// Per table column: its property path and kind.
    columns: Vec<(String, Kind)>,
    schema: SchemaRef,
}

impl fmt::Debug for CollectionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionTable").field("columns", &self.columns).finish_non_exhaustive()
    }
}

fn external(error: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(EventStoreError::Unavailable(format!(
        "cannot read an event part: {error}"
    ))))
}

impl CollectionTable {
    fn new(parts: Vec<Arc<Part>>, tail: &[StoredEvent]) -> DfResult<CollectionTable> {
        let mut sources: Vec<Source> = parts.into_iter().map(Source::Part).collect();
        if !tail.is_empty() {
            let mut builder = PartBuilder::new();
            for event in tail {
                builder.push(event.timestamp_ms, &event.body());
            }
            let (columns, batch) = builder.finish().map_err(external)?;
            sources.push(Source::Tail { columns, batch });
        }
        let mut kinds: BTreeMap<String, BTreeSet<Kind>> = BTreeMap::new();
        for source in &sources {
            for (path, kind) in source.columns() {
                if !path.starts_with('$') {
                    kinds.entry(path).or_default().insert(kind);
                }
            }
        }
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for (path, path_kinds) in kinds {
            for kind in &path_kinds {
                let name =
                    if path_kinds.len() == 1 { path.clone() } else { format!("{path}.${}", kind.tag()) };
                fields.push(Field::new(name, kind.data_type(), true));
                columns.push((path.clone(), *kind));
            }
        }
        Ok(CollectionTable { sources, columns, schema: Arc::new(Schema::new(fields)) })
    }

    /// `source`'s rows with the table columns `wanted`, as batches of the projected schema.
    fn read(&self, source: &Source, wanted: &[usize], schema: &SchemaRef) -> DfResult<Vec<RecordBatch>> {
        let own = source.columns();
        let mapped: Vec<Option<usize>> =
            wanted.iter().map(|&w| own.iter().position(|c| *c == self.columns[w])).collect();
        let mut needed: Vec<usize> = mapped.iter().flatten().copied().collect();
        needed.sort_unstable();
        needed.dedup();
        let batches = match source {
            Source::Part(part) => part.file.read_columns(&needed).map_err(external)?,
            Source::Tail { batch, .. } => {
                let projected = if needed.is_empty() { vec![0] } else { needed.clone() };
                vec![batch.project(&projected)?]
            }
        };
        batches
            .into_iter()
            .map(|batch| {
                let rows = batch.num_rows();
                let arrays: Vec<ArrayRef> = mapped
                    .iter()
                    .zip(schema.fields())
                    .map(|(column, field)| match column.and_then(|c| needed.iter().position(|n| *n == c)) {
                        Some(at) => batch.column(at).clone(),
                        None => new_null_array(field.data_type(), rows),
                    })
                    .collect();
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                Ok(RecordBatch::try_new_with_options(schema.clone(), arrays, &options)?)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl TableProvider for CollectionTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..self.columns.len()).collect());
        let schema = Arc::new(self.schema.project(&wanted)?);
        let mut batches = Vec::new();
        for source in &self.sources {
            batches.extend(self.read(source, &wanted, &schema)?);
        }
        Ok(MemorySourceConfig::try_new_exec(&[batches], schema, None)?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::{EventContext, EventStoreOptions, prepare};

    fn event(value: Value) -> crate::PreparedEvent {
        prepare(value, &EventContext::new(String::new(), String::new(), 1_700_000_000_000)).unwrap()
    }

    fn purchases() -> CollectionName {
        CollectionName::parse("purchases").unwrap()
    }

    /// A store with purchases in parts (compacted) and in the tail, with a property that is
    /// a number in some events and a string in others.
    async fn store() -> (tempfile::TempDir, Arc<EventStore>) {
        let dir = tempfile::tempdir().unwrap();
        let eager = EventStoreOptions { tail_bytes: 1, tail_age: Duration::ZERO };
        let store = EventStore::open(dir.path(), eager).unwrap();
        let first: Vec<_> = (0..6)
            .map(|i| {
                event(json!({"user": {"plan": if i % 3 == 0 { "pro" } else { "free" }}, "price": i, "n": i}))
            })
            .collect();
        store.write(vec![(purchases(), first)], 0).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while store.storage()[0].1 == 0 {
            assert!(std::time::Instant::now() < deadline, "compaction did not run");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store.close();
        drop(store);
        let store = EventStore::open(dir.path(), EventStoreOptions::default()).unwrap();
        let more = vec![event(json!({"user": {"plan": "pro"}, "price": 10, "n": "ten"}))];
        store.write(vec![(purchases(), more)], 0).await.unwrap();
        (dir, Arc::new(store))
    }

    async fn rows(store: &Arc<EventStore>, query: &str) -> Vec<Vec<Value>> {
        run_sql(store.clone(), query).await.unwrap_or_else(|e| panic!("{query}: {e}")).rows
    }

    #[tokio::test]
    async fn queries_see_parts_and_tail_with_flattened_typed_columns() {
        let (_dir, store) = store().await;
        assert_eq!(rows(&store, "SELECT count(*) FROM purchases").await, [[json!(7)]]);
        assert_eq!(
            rows(&store, r#"SELECT "user.plan", sum(price) FROM purchases GROUP BY 1 ORDER BY 1"#).await,
            [[json!("free"), json!(12.0)], [json!("pro"), json!(13.0)]]
        );
        let drift =
            rows(&store, r#"SELECT "n.$num", "n.$str" FROM purchases WHERE price >= 5 ORDER BY price"#).await;
        assert_eq!(drift, [[json!(5.0), Value::Null], [Value::Null, json!("ten")]]);
        let recent = r#"SELECT count(*) FROM purchases WHERE "keen.timestamp" >= now() - INTERVAL '7 days'"#;
        assert_eq!(rows(&store, recent).await, [[json!(0)]], "the events are from 2023");
        let since =
            r#"SELECT count(*) FROM purchases WHERE "keen.timestamp" >= TIMESTAMP '2023-11-14T00:00:00Z'"#;
        assert_eq!(rows(&store, since).await, [[json!(7)]]);
        let answer =
            run_sql(store.clone(), r#"SELECT "keen.timestamp" FROM purchases LIMIT 1"#).await.unwrap();
        assert_eq!(answer.columns, ["keen.timestamp"]);
        assert_eq!(answer.rows, [[json!("2023-11-14T22:13:20.000Z")]]);
    }

    #[tokio::test]
    async fn writes_ddl_file_access_and_settings_are_refused() {
        let (_dir, store) = store().await;
        for query in [
            "CREATE TABLE copy AS SELECT * FROM purchases",
            "INSERT INTO purchases (price) VALUES (1)",
            "DELETE FROM purchases",
            "COPY (SELECT 1) TO '/tmp/switchboard-sql-test.csv'",
            "CREATE EXTERNAL TABLE f STORED AS CSV LOCATION '/etc/passwd'",
            "SET datafusion.execution.batch_size = 1",
            "DROP TABLE purchases",
        ] {
            let error = run_sql(store.clone(), query).await.unwrap_err();
            assert!(matches!(error, SqlError::Invalid(_)), "{query}: {error:?}");
        }
        assert!(!std::path::Path::new("/tmp/switchboard-sql-test.csv").exists());
        assert_eq!(rows(&store, "SELECT count(*) FROM purchases").await, [[json!(7)]], "nothing changed");
    }

    #[tokio::test]
    async fn bad_queries_are_explained() {
        let (_dir, store) = store().await;
        for (query, fragment) in [
            ("SELECT * FROM nowhere", "nowhere"),
            ("SELEC 1", "SELEC"),
            (r#"SELECT "no.such" FROM purchases"#, "no.such"),
            ("SELECT * FROM generate_series(1, 200000)", "100000 rows"),
        ] {
            let error = run_sql(store.clone(), query).await.unwrap_err().to_string();
            assert!(error.contains(fragment), "{query}: {error}");
        }
    }
}
