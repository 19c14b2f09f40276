//! Keen queries on a workspace's events: every analysis type, with the parameters as the client
//! sent them. The common parameters (collection, timeframe, timezone, filters) are read here;
//! each analysis's own parameters by its module in `sb_events::query`.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sb_events::query::analysis::{Analysis, AnalysisType};
use sb_events::query::answer::Answer;
use sb_events::query::extraction::Extraction;
use sb_events::query::filter::{Filter, parse_filters};
use sb_events::query::funnel::Funnel;
use sb_events::query::timeframe::{TimeRange, Timezone, resolve};
use sb_events::{AnalyzeError, CollectionName, EventStore, Reach};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::{Access, CoreError, Permission, Switchboard};

/// Bounds on queries: at most one running per core, so queries cannot crowd out request
/// handling and ingestion, and a deadline after which the client is told to narrow the query.
pub(crate) struct QueryLimits {
    slots: Arc<Semaphore>,
    timeout_ms: AtomicU64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        QueryLimits {
            slots: Arc::new(Semaphore::new(cores)),
            timeout_ms: AtomicU64::new(sb_config::DEFAULT_QUERY_TIMEOUT_SECONDS * 1000),
        }
    }
}

/// A query's response body: `{"result": …}`, or for funnels the engine's whole body (`result`,
/// `steps`, and `actors` when asked for). Either is shared with the engine's cache, and its text
/// is written once for every request it answers.
#[derive(Debug)]
pub struct QueryResponse(Body);

#[derive(Debug)]
enum Body {
    /// The result alone.
    Result(Answer),
    /// An object holding `result` and the keys beside it.
    Whole(Answer),
}

impl QueryResponse {
    /// The result as JSON text.
    pub fn result_text(&self) -> Cow<'_, str> {
        match &self.0 {
            Body::Result(result) => Cow::Borrowed(result.text()),
            Body::Whole(body) => Cow::Owned(body["result"].to_string()),
        }
    }

    /// The body as JSON text, sharing the cached answer's memory (not copied).
    pub fn to_json(&self) -> Bytes {
        match &self.0 {
            Body::Result(result) => result.result_body(),
            Body::Whole(body) => body.text_bytes(),
        }
    }

    /// The body as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        match self.0 {
            Body::Result(result) => Map::from_iter([("result".to_owned(), result.into_value())]),
            Body::Whole(body) => match body.into_value() {
                Value::Object(body) => body,
                other => Map::from_iter([("result".to_owned(), other)]),
            },
        }
    }
}

/// What a query computes.
enum Plan {
    /// A count without groups or series: without filters, from row-group statistics and
    /// timestamps; with filters, by the engine.
    PlainCount(Analysis),
    /// Anything else: computed by the engine.
    Scan(Scan),
}

/// A computation over the selected events.
enum Scan {
    Single(Analysis),
    Extraction(Extraction),
    /// Labelled analyses, and whether the results are grouped and a series.
    Multi {
        analyses: Vec<(String, Analysis)>,
        grouped: bool,
        series: bool,
    },
}

fn query(code: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Query { code, message: message.into() }
}

fn engine_error(error: AnalyzeError) -> CoreError {
    match error {
        AnalyzeError::Analysis(e) => query(e.keen_error_code(), e.to_string()),
        AnalyzeError::Extraction(e) => query(e.keen_error_code(), e.to_string()),
        AnalyzeError::Stopped => query("QueryTimeoutError", "the query was stopped at its deadline"),
        AnalyzeError::Store(e) => CoreError::Events(e),
        AnalyzeError::NotCached => {
            CoreError::Secret("a query that may read events asked the cache only".into())
        }
    }
}

/// A sub-analysis of a multi-analysis: the query's parameters with the sub-analysis's own
/// `analysis_type`, `target_property` and `percentile` (its `group_by` is ignored, §5.11).
fn sub_analysis(label: &str, spec: &Value, parameters: &Map<String, Value>) -> Result<Analysis, CoreError> {
    let spec = spec
        .as_object()
        .ok_or_else(|| query("InvalidAnalysesError", format!("analysis {label:?} must be an object")))?;
    let kind =
        spec.get("analysis_type").and_then(Value::as_str).and_then(AnalysisType::parse).ok_or_else(|| {
            query(
                "InvalidAnalysesError",
                format!("analysis {label:?} needs an analysis_type such as \"count\" or \"sum\""),
            )
        })?;
    let mut merged: Map<String, Value> = parameters
        .iter()
        .filter(|(key, _)| !["order_by", "limit"].contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for key in ["target_property", "percentile"] {
        match spec.get(key) {
            Some(value) => merged.insert(key.into(), value.clone()),
            None => merged.remove(key),
        };
    }
    Analysis::parse(kind, &merged).map_err(|e| query(e.keen_error_code(), format!("analysis {label:?}: {e}")))
}

fn plan(analysis: &str, parameters: &Map<String, Value>, has_timeframe: bool) -> Result<Plan, CoreError> {
    let present = |key: &str| parameters.get(key).filter(|v| !v.is_null() && *v != "");
    let grouped = present("group_by").is_some();
    let series = present("interval").is_some();
    if series && !has_timeframe {
        return Err(query("TimeframeDefinitionError", "an interval needs a timeframe"));
    }
    if let Some(kind) = AnalysisType::parse(analysis) {
        let parsed =
            Analysis::parse(kind, parameters).map_err(|e| query(e.keen_error_code(), e.to_string()))?;
        return Ok(if kind == AnalysisType::Count && !grouped && !series {
            Plan::PlainCount(parsed)
        } else {
            Plan::Scan(Scan::Single(parsed))
        });
    }
    match analysis {
        "extraction" => {
            if grouped || series {
                return Err(query("InvalidExtractionError", "an extraction takes no group_by or interval"));
            }
            let extraction =
                Extraction::parse(parameters).map_err(|e| query(e.keen_error_code(), e.to_string()))?;
            Ok(Plan::Scan(Scan::Extraction(extraction)))
        }
        "multi_analysis" => {
            let specs =
                present("analyses").and_then(Value::as_object).filter(|specs| !specs.is_empty()).ok_or_else(
                    || query("InvalidAnalysesError", "analyses must be an object of labels to analyses"),
                )?;
            let analyses = specs
                .iter()
                .map(|(label, spec)| Ok((label.clone(), sub_analysis(label, spec, parameters)?)))
                .collect::<Result<_, CoreError>>()?;
            Ok(Plan::Scan(Scan::Multi { analyses, grouped, series }))
        }
        _ => Err(CoreError::NotFound("analysis type")),
    }
}

impl Switchboard {
    /// Sets the query deadline (for the configuration, and for tests).
    pub fn set_query_timeout(&self, timeout: Duration) {
        self.inner.queries.timeout_ms.store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Runs CPU-bound query work on the blocking pool, in one of the query slots, within the
    /// deadline. Past the deadline the client gets `QueryTimeoutError` and the flag given to
    /// `work` is raised, so that the engine stops; until it has, the work keeps its slot, so
    /// abandoned queries cannot pile up.
    async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AtomicBool) -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let limits = &self.inner.queries;
        let timeout = Duration::from_millis(limits.timeout_ms.load(Ordering::Relaxed));
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = || {
            let seconds = timeout.as_secs_f64();
            query(
                "QueryTimeoutError",
                format!("the query took longer than {seconds} s; narrow its timeframe or filters"),
            )
        };
        let permit = tokio::time::timeout_at(deadline, limits.slots.clone().acquire_owned())
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| CoreError::Secret("the query slots are closed".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let raised = stop.clone();
        let running = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            work(&raised)
        });
        match tokio::time::timeout_at(deadline, running).await {
            Ok(done) => done.map_err(|_| CoreError::Secret("the query was interrupted".into())),
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                Err(timed_out())
            }
        }
    }

    /// Runs a read-only SQL query over the workspace's collections (see `sb_events::run_sql`),
    /// in a query slot and within the deadline, off the async reactor.
    pub async fn run_sql(&self, access: &Access, sql: String) -> Result<sb_events::SqlAnswer, CoreError> {
        access.require(Permission::Read)?;
        if sql.trim().is_empty() {
            return Err(CoreError::Invalid("the body must hold a SQL query".into()));
        }
        let store = self.event_store(access.workspace()).await?;
        let answer = self
            .run_bounded(move |_| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
                let runtime =
                    runtime.map_err(|e| CoreError::Secret(format!("cannot start a SQL runtime: {e}")))?;
                runtime.block_on(sb_events::run_sql(store, &sql)).map_err(|error| match error {
                    sb_events::SqlError::Invalid(message) => {
                        CoreError::Query { code: "InvalidSqlError", message }
                    }
                    sb_events::SqlError::Store(error) => CoreError::Events(error),
                })
            })
            .await??;
        Ok(answer)
    }

    /// Runs a Keen query (`count`, `sum`, `percentile`, `extraction`, `multi_analysis`,
    /// `funnel`, …) with its parameters as the client sent them; returns the response body.
    pub async fn run_analysis(
        &self,
        access: &Access,
        analysis: &str,
        parameters: Map<String, Value>,
        now_ms: i64,
    ) -> Result<QueryResponse, CoreError> {
        access.require(Permission::Read)?;
        let forced = parse_filters(Some(&Value::Array(access.forced_filters().to_vec())))
            .map_err(|e| query(e.keen_error_code(), format!("the key's filters: {e}")))?;
        let prepared = prepare(analysis, &parameters, forced, now_ms)?;
        let store = self.event_store(access.workspace()).await?;
        match prepared {
            Prepared::Funnel(funnel) => {
                let body = self.cached_or_bounded(move |reach| store.funnel(&funnel, reach)).await?;
                Ok(QueryResponse(Body::Whole(body)))
            }
            Prepared::Scan(scan) => {
                let result = self.cached_or_bounded(move |reach| scan.answer(&store, reach)).await?;
                Ok(QueryResponse(Body::Result(result)))
            }
        }
    }

    /// What `ask` answers from the cache alone, on this thread: a repeated query is answered
    /// without a hop to the blocking pool or a query slot. Else `ask` runs there, within the
    /// query bounds (`run_bounded`).
    async fn cached_or_bounded<T: Send + 'static>(
        &self,
        ask: impl Fn(Reach<'_>) -> Result<T, AnalyzeError> + Send + 'static,
    ) -> Result<T, CoreError> {
        match ask(Reach::CachedOnly) {
            Err(AnalyzeError::NotCached) => {
                self.run_bounded(move |stop| ask(Reach::Compute(stop))).await?.map_err(engine_error)
            }
            answered => answered.map_err(engine_error),
        }
    }
}

/// Checks that a query could run: the same parsing as `run_analysis`, without the events.
/// An unknown analysis type is an invalid query here, not a missing route.
pub(crate) fn check_query(
    analysis: &str,
    parameters: &Map<String, Value>,
    now_ms: i64,
) -> Result<(), CoreError> {
    match prepare(analysis, parameters, Vec::new(), now_ms) {
        Err(CoreError::NotFound(_)) => Err(query(
            "InvalidAnalysisTypeError",
            format!("unknown analysis_type {analysis:?}; expected count, sum, funnel, …"),
        )),
        other => other.map(drop),
    }
}

/// A parsed query, ready to run over the events.
enum Prepared {
    Funnel(Funnel),
    Scan(Box<PreparedScan>),
}

/// Every query but funnels: one collection, one timeframe, one set of filters.
struct PreparedScan {
    collection: CollectionName,
    range: Option<TimeRange>,
    timezone: Timezone,
    filters: Vec<Filter>,
    plan: Plan,
}

/// Parses a query; `forced` filters (a scoped key's) are ANDed into it.
fn prepare(
    analysis: &str,
    parameters: &Map<String, Value>,
    forced: Vec<Filter>,
    now_ms: i64,
) -> Result<Prepared, CoreError> {
    if analysis == "funnel" {
        let mut funnel = Funnel::parse(parameters, now_ms).map_err(|e| query(e.code, e.message))?;
        for step in &mut funnel.steps {
            step.filters.extend(forced.iter().cloned());
        }
        return Ok(Prepared::Funnel(funnel));
    }
    let collection = match parameters.get("event_collection") {
        Some(Value::String(name)) => {
            CollectionName::parse(name).map_err(|m| query("InvalidCollectionNameError", m))?
        }
        _ => return Err(query("MissingRequiredPropertyError", "event_collection is required")),
    };
    let present = |key: &str| parameters.get(key).filter(|v| !v.is_null());
    let timezone =
        Timezone::parse(present("timezone")).map_err(|e| query(e.keen_error_code(), e.to_string()))?;
    let range = present("timeframe")
        .map(|timeframe| {
            resolve(timeframe, timezone, now_ms).map_err(|e| query(e.keen_error_code(), e.to_string()))
        })
        .transpose()?;
    let mut filters =
        parse_filters(present("filters")).map_err(|e| query(e.keen_error_code(), e.to_string()))?;
    filters.extend(forced);
    let plan = plan(analysis, parameters, range.is_some())?;
    Ok(Prepared::Scan(Box::new(PreparedScan { collection, range, timezone, filters, plan })))
}

impl PreparedScan {
    /// Evaluates the query over `store`'s events as far as `reach` lets it go (with
    /// `Reach::Compute`, CPU work: on the blocking pool).
    fn answer(&self, store: &EventStore, reach: Reach<'_>) -> Result<Answer, AnalyzeError> {
        let PreparedScan { collection, range, timezone, filters, plan } = self;
        let (range, timezone) = (*range, *timezone);
        match plan {
            Plan::PlainCount(_) if filters.is_empty() => store.count(collection, range, reach),
            Plan::PlainCount(analysis) | Plan::Scan(Scan::Single(analysis)) => {
                store.analyze(collection, range, timezone, filters, analysis, reach)
            }
            Plan::Scan(Scan::Multi { analyses, grouped, series }) => store.analyze_multi(
                collection,
                range,
                timezone,
                filters,
                analyses,
                (*grouped, *series),
                reach,
            ),
            Plan::Scan(Scan::Extraction(extraction)) => {
                store.extract(collection, range, filters, extraction, reach)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_repeated_query_is_answered_while_every_query_slot_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = sb_store::Store::open(dir.path(), &sb_config::Database::Sqlite).await.unwrap();
        let secret = crate::ServerSecret::load_or_create(&dir.path().join("secret")).unwrap();
        let switchboard = Switchboard::from_parts(store, secret);
        let created = switchboard.create_workspace("Acme", None).await.unwrap();
        let access = switchboard.operator_access(created.workspace.id).await.unwrap();
        let record = async |collection: &str, events: Vec<Value>| {
            let context = sb_events::EventContext::new("127.0.0.1".into(), "test".into(), 1_700_000_000_000);
            switchboard.record_events(&access, vec![(collection.to_owned(), events)], context).await.unwrap();
        };
        let plans = ["free", "pro"];
        record(
            "purchases",
            (0..300).map(|i| json!({"price": i % 7, "user": {"id": i % 9}, "plan": plans[i % 2]})).collect(),
        )
        .await;
        record("signups", vec![json!({"user": {"id": 3}}), json!({"user": {"id": 40}})]).await;
        let pro = json!([{"property_name": "plan", "operator": "eq", "property_value": "pro"}]);
        let sum = json!({"event_collection": "purchases", "target_property": "price", "group_by": "plan"});
        let queries = [
            ("count", json!({"event_collection": "purchases"})),
            ("count", json!({"event_collection": "purchases", "filters": pro})),
            ("sum", sum.clone()),
            (
                "multi_analysis",
                json!({"event_collection": "purchases", "analyses": {
                "total": {"analysis_type": "sum", "target_property": "price"},
                "buyers": {"analysis_type": "count_unique", "target_property": "user.id"}}}),
            ),
            ("extraction", json!({"event_collection": "purchases", "filters": pro, "latest": 3})),
            (
                "funnel",
                json!({"steps": [
                {"event_collection": "signups", "actor_property": "user.id"},
                {"event_collection": "purchases", "actor_property": "user.id"}]}),
            ),
        ];
        let ask = async |analysis: &str, parameters: &Value| {
            let parameters = parameters.as_object().unwrap().clone();
            switchboard.run_analysis(&access, analysis, parameters, 1_700_000_000_000).await
        };
        let mut first = Vec::new();
        for (analysis, parameters) in &queries {
            first.push(ask(analysis, parameters).await.unwrap().to_json());
        }
        // Every slot taken: a query that has to read events waits for one until its deadline;
        // a repeated one is answered from the cache on this thread.
        let slots = switchboard.inner.queries.slots.clone();
        let _busy = slots.clone().acquire_many_owned(slots.available_permits() as u32).await.unwrap();
        switchboard.set_query_timeout(Duration::from_millis(300));
        for ((analysis, parameters), first) in queries.iter().zip(&first) {
            let again = ask(analysis, parameters).await;
            assert_eq!(&again.unwrap().to_json(), first, "{analysis} {parameters}");
        }
        let timed_out = |answer: Result<QueryResponse, CoreError>| {
            matches!(answer, Err(CoreError::Query { code: "QueryTimeoutError", .. }))
        };
        let average = json!({"event_collection": "purchases", "target_property": "price"});
        assert!(timed_out(ask("average", &average).await), "not asked before: it needs a slot");
        record("purchases", vec![json!({"price": 1})]).await;
        assert!(timed_out(ask("sum", &sum).await), "a new event: the cached answer no longer serves");
    }

    #[test]
    fn a_response_written_as_json_is_its_object() {
        let funnel =
            json!({"result": [3, 2], "steps": [{"event_collection": "a\"b"}], "we\"ird\\key": [null]});
        for (response, result) in [
            (QueryResponse(Body::Result(Answer::new(json!([{"a\"b": 1.5}])))), json!([{"a\"b": 1.5}])),
            (QueryResponse(Body::Whole(Answer::new(funnel.clone()))), json!([3, 2])),
        ] {
            let written: Value = serde_json::from_slice(&response.to_json()).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&response.result_text()).unwrap(), result);
            assert_eq!(written["result"], result);
            assert_eq!(written, Value::Object(response.into_map()));
        }
        let whole = QueryResponse(Body::Whole(Answer::new(funnel.clone()))).to_json();
        assert_eq!(
            serde_json::from_slice::<Value>(&whole).unwrap(),
            funnel,
            "a funnel's body is written whole"
        );
    }
}
