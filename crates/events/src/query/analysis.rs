//! Keen analyses over single values (count, sums, percentiles, select_unique…), with `group_by`,
//! `interval` series and `order_by`/`limit`: parsing their parameters and computing `result`.
//!
//! Semantics follow keen-api.md §5.1 and §5.4–§5.8; choices marked [infer] are ours:
//!
//! * `target_property` and `group_by` are dot paths through nested objects, looked up as filters
//!   look them up (lists are not walked into). A number from a query string (`group_by=2024`) is
//!   taken as the property name it spells [infer].
//! * A missing property and an explicit `null` are the same: neither is a value for any analysis,
//!   and both put the event in the `null` group [infer].
//! * Numeric analyses (minimum, maximum, sum, average, median, percentile, standard_deviation) use
//!   JSON numbers only; strings (even "10"), booleans, lists and objects are skipped, so a property
//!   whose type drifted still aggregates its numbers. minimum, maximum, median and percentile
//!   answer with an actual data value as it was stored; sum stays an integer while every value
//!   is one and the total fits in i64; average and standard_deviation are always floats.
//! * With no numeric values the answer is `null`, except sum (0), count and count_unique (0) and
//!   select_unique (`[]`).
//! * median and percentile take the value at 1-based rank max(1, ⌈p/100 · n⌉) of the sorted
//!   values (nearest rank, §5.8: the median of [10, 20] is 10). The percentile is rounded to two
//!   decimals, as §5.1 allows no more, which also keeps the rank free of float error.
//! * standard_deviation is the population deviation (divide by n, so one value gives 0): the
//!   analysis describes the events selected, not a sample of a larger set [infer].
//! * count_unique and select_unique compare values as JSON, numbers by value: `1` and `1.0` are
//!   one value, `"1"` and `1` are two, and a list counts as one value compared as a whole [infer].
//!   select_unique lists values in the order first seen.
//! * `group_by` keys each row with the exact property path and keeps the value's JSON type; groups
//!   are equal on the same terms as count_unique values. A list of scalars groups as a whole; an
//!   object, or a list holding one, cannot be a group and fails the query [infer]. Groups come in
//!   the order first seen unless `order_by` says otherwise.
//! * `interval` buckets are calendar-aligned in the query timezone (weeks start on Sunday), the
//!   first and last clipped to the timeframe. `every_N_units` counts N-unit blocks from the unit
//!   holding the timeframe start. More than 2,500 buckets fail with `TooManyIntervalsError` (the
//!   hosted limit; the code name is ours). With `group_by`, every bucket lists every group seen in
//!   the timeframe, zero-filled.
//! * `order_by` is only valid with `group_by`. It sorts the rows of each bucket: numbers by value,
//!   strings by code point, values of different types by type (booleans, numbers, strings, lists,
//!   objects); nulls go last whichever the direction [infer]. Ties keep first-seen order. `limit`
//!   then keeps the first rows.

mod params;
#[cfg(test)]
mod tests;
pub(crate) mod values;

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use self::params::{excerpt, parse_group_by, parse_interval, parse_limit, parse_order_by, parse_percentile};
use self::values::{canonical, compare_for_order, distinct, sum};
use super::timeframe::{CalendarUnit, TimeRange, Timezone};
use crate::timestamp::format_keen_timestamp;

/// The most buckets one series may have (keen-api.md §8).
const MAX_INTERVALS: usize = 2_500;
/// The fewest rows of a grouped result with a limit kept before all but the first `limit` of
/// them are dropped (`Analysis::rows`).
const ROWS_BUFFERED: usize = 1024;

/// The analyses computed over single values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnalysisType {
    Count,
    CountUnique,
    Minimum,
    Maximum,
    Sum,
    Average,
    Median,
    Percentile,
    StandardDeviation,
    SelectUnique,
}

impl AnalysisType {
    const ALL: [AnalysisType; 10] = [
        AnalysisType::Count,
        AnalysisType::CountUnique,
        AnalysisType::Minimum,
        AnalysisType::Maximum,
        AnalysisType::Sum,
        AnalysisType::Average,
        AnalysisType::Median,
        AnalysisType::Percentile,
        AnalysisType::StandardDeviation,
        AnalysisType::SelectUnique,
    ];

    /// From the URL segment: "count", "count_unique", "minimum", "maximum", "sum", "average",
    /// "median", "percentile", "standard_deviation", "select_unique".
    pub fn parse(name: &str) -> Option<AnalysisType> {
        AnalysisType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            AnalysisType::Count => "count",
            AnalysisType::CountUnique => "count_unique",
            AnalysisType::Minimum => "minimum",
            AnalysisType::Maximum => "maximum",
            AnalysisType::Sum => "sum",
            AnalysisType::Average => "average",
            AnalysisType::Median => "median",
            AnalysisType::Percentile => "percentile",
            AnalysisType::StandardDeviation => "standard_deviation",
            AnalysisType::SelectUnique => "select_unique",
        }
    }
}

/// Why an analysis request was refused or could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("{analysis} needs a target_property")]
    MissingTargetProperty { analysis: &'static str },
    #[error("target_property {value} is not a property path such as \"item.price\"")]
    InvalidTargetProperty { value: String },
    #[error("percentile needs a percentile between 0 and 100")]
    MissingPercentile,
    #[error("percentile {value} is not a number between 0 and 100")]
    InvalidPercentile { value: String },
    #[error("group_by {value} is not a property path or a non-empty list of distinct property paths")]
    InvalidGroupBy { value: String },
    #[error("group_by property {property:?} holds an object, which cannot be grouped by")]
    GroupByObject { property: String },
    #[error(
        "interval {value} is not one of minutely, hourly, daily, weekly, monthly, yearly \
         or every_N_units such as \"every_7_days\""
    )]
    InvalidInterval { value: String },
    #[error("an interval needs a timeframe")]
    MissingTimeframe,
    #[error("the interval splits the timeframe into more than {MAX_INTERVALS} intervals")]
    TooManyIntervals,
    #[error("order_by needs group_by")]
    OrderByWithoutGroupBy,
    #[error(
        "order_by {value} is not a property name, an object with property_name and direction \
         (ASC or DESC), or a non-empty list of those"
    )]
    InvalidOrderBy { value: String },
    #[error("order_by property {property:?} must be \"result\" or one of the group_by properties")]
    UnknownOrderByProperty { property: String },
    #[error("limit needs order_by")]
    LimitWithoutOrderBy,
    #[error("limit {value} is not a positive integer")]
    InvalidLimit { value: String },
    #[error(
        "the query needs more than {} MiB of memory for its groups and values; narrow its \
         timeframe, filters or group_by",
        super::engine::MEMORY_LIMIT >> 20
    )]
    MemoryLimit,
}

impl AnalysisError {
    /// The Keen `error_code` to answer with. `MissingRequiredPropertyError` is the brief's; the
    /// others follow Keen's `Invalid…Error` naming pattern [infer], and a missing timeframe shares
    /// the timeframe module's `TimeframeDefinitionError`.
    pub fn keen_error_code(&self) -> &'static str {
        match self {
            AnalysisError::MissingTargetProperty { .. } => "MissingRequiredPropertyError",
            AnalysisError::InvalidTargetProperty { .. } => "InvalidPropertyNameError",
            AnalysisError::MissingPercentile | AnalysisError::InvalidPercentile { .. } => {
                "InvalidPercentileError"
            }
            AnalysisError::InvalidGroupBy { .. } | AnalysisError::GroupByObject { .. } => {
                "InvalidGroupByError"
            }
            AnalysisError::InvalidInterval { .. } => "InvalidIntervalError",
            AnalysisError::MissingTimeframe => "TimeframeDefinitionError",
            AnalysisError::TooManyIntervals => "TooManyIntervalsError",
            AnalysisError::OrderByWithoutGroupBy
            | AnalysisError::InvalidOrderBy { .. }
            | AnalysisError::UnknownOrderByProperty { .. } => "InvalidOrderByError",
            AnalysisError::LimitWithoutOrderBy | AnalysisError::InvalidLimit { .. } => "InvalidLimitError",
            AnalysisError::MemoryLimit => "QueryMemoryLimitError",
        }
    }
}

/// A parsed analysis request (everything except collection, timeframe, timezone and filters,
/// which the caller handles).
#[derive(Debug, Clone)]
pub struct Analysis {
    pub(crate) kind: AnalysisType,
    /// None only for count, which ignores `target_property`.
    pub(crate) target: Option<PropertyPath>,
    /// The rank used by median (50) and percentile, in hundredths of a percent.
    pub(crate) percentile_hundredths: u64,
    pub(crate) group_by: Vec<PropertyPath>,
    interval: Option<Interval>,
    order_by: Vec<OrderBy>,
    limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropertyPath {
    pub(crate) name: String,
    pub(crate) segments: Vec<String>,
}

impl PropertyPath {
    fn parse(value: &Value) -> Option<PropertyPath> {
        let name = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(PropertyPath { name, segments })
    }

    /// The value at this path, treating an explicit null as missing.
    fn lookup<'a>(&self, event: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(event, |value, segment| value.as_object()?.get(segment))
            .filter(|value| !value.is_null())
    }
}

#[derive(Debug, Clone, Copy)]
struct Interval {
    unit: CalendarUnit,
    every: i64,
}

#[derive(Debug, Clone, Copy)]
struct OrderBy {
    /// None orders by `result`; Some(i) by the i-th group_by property.
    group: Option<usize>,
    descending: bool,
}

impl OrderBy {
    /// The value this key orders a row by, of its group's values and its result.
    fn key<'r>(&self, group_values: &'r [Value], result: &'r Value) -> &'r Value {
        match self.group {
            Some(index) => &group_values[index],
            None => result,
        }
    }
}

/// One bucket's events of one group: how many, and their target values.
#[derive(Debug, Default)]
struct Cell<'a> {
    count: u64,
    values: Vec<&'a Value>,
}

/// The groups seen so far: their values and, by canonical key, their position.
#[derive(Debug, Default)]
struct Groups {
    positions: HashMap<String, usize>,
    values: Vec<Vec<Value>>,
}

impl Analysis {
    /// `params` holds the query's parameters as JSON values; values from a GET query string
    /// arrive as JSON when they parse as JSON, else as JSON strings. Unknown keys are ignored, and
    /// a null or blank value counts as absent (`interval=` in a query string).
    pub fn parse(kind: AnalysisType, params: &Map<String, Value>) -> Result<Analysis, AnalysisError> {
        let param = |name: &str| {
            params.get(name).filter(|value| match value {
                Value::Null => false,
                Value::String(text) => !text.trim().is_empty(),
                _ => true,
            })
        };
        let target = match kind {
            AnalysisType::Count => None,
            _ => {
                let value = param("target_property")
                    .ok_or(AnalysisError::MissingTargetProperty { analysis: kind.name() })?;
                let path = PropertyPath::parse(value)
                    .ok_or_else(|| AnalysisError::InvalidTargetProperty { value: excerpt(value) })?;
                Some(path)
            }
        };
        let percentile_hundredths = match kind {
            AnalysisType::Percentile => parse_percentile(param("percentile"))?,
            _ => 5_000,
        };
        let group_by = param("group_by").map(parse_group_by).transpose()?.unwrap_or_default();
        let interval = param("interval").map(parse_interval).transpose()?;
        let order_by = param("order_by").map(|value| parse_order_by(value, &group_by)).transpose()?;
        let limit = param("limit").map(parse_limit).transpose()?;
        if limit.is_some() && order_by.is_none() {
            return Err(AnalysisError::LimitWithoutOrderBy);
        }
        Ok(Analysis {
            kind,
            target,
            percentile_hundredths,
            group_by,
            interval,
            order_by: order_by.unwrap_or_default(),
            limit,
        })
    }

    /// Whether this analysis needs a timeframe (it has an interval).
    pub fn needs_timeframe(&self) -> bool {
        self.interval.is_some()
    }

    /// The `result` value for `events` (already filtered by timeframe and filters): each item is
    /// (keen.timestamp in Unix ms, the event JSON). `range` is the resolved timeframe (None = all
    /// time) and must be Some when there is an interval; `timezone` aligns interval buckets.
    /// Without an interval `range` is not consulted; with one, events outside it are left out.
    pub fn evaluate<'a>(
        &self,
        events: impl Iterator<Item = (i64, &'a Value)>,
        range: Option<TimeRange>,
        timezone: Timezone,
    ) -> Result<Value, AnalysisError> {
        let buckets = self.buckets(range, timezone)?;
        let mut groups = Groups::default();
        let mut cells: Vec<Vec<Cell<'a>>> = Vec::new();
        cells.resize_with(buckets.as_ref().map_or(1, Vec::len), Vec::new);
        for (millis, event) in events {
            let bucket = match &buckets {
                None => 0,
                Some(buckets) => {
                    match buckets.partition_point(|bucket| bucket.start_ms <= millis).checked_sub(1) {
                        Some(index) if buckets[index].contains(millis) => index,
                        _ => continue,
                    }
                }
            };
            let group = if self.group_by.is_empty() { 0 } else { groups.position(&self.group_by, event)? };
            let row = &mut cells[bucket];
            if row.len() <= group {
                row.resize_with(group + 1, Cell::default);
            }
            let cell = &mut row[group];
            cell.count += 1;
            if let Some(value) = self.target.as_ref().and_then(|target| target.lookup(event)) {
                cell.values.push(value);
            }
        }
        let empty = Cell::default();
        let groups: Vec<&[Value]> = groups.values.iter().map(Vec::as_slice).collect();
        Ok(self.present(buckets.as_deref(), &groups, |bucket, group| {
            self.summarize(cells[bucket].get(group).unwrap_or(&empty))
        }))
    }

    /// The interval buckets of `range` (None without an interval).
    pub(crate) fn buckets(
        &self,
        range: Option<TimeRange>,
        timezone: Timezone,
    ) -> Result<Option<Vec<TimeRange>>, AnalysisError> {
        self.interval
            .map(|interval| buckets(range.ok_or(AnalysisError::MissingTimeframe)?, interval, timezone))
            .transpose()
    }

    /// The `result` value from each bucket's and group's result (`result(bucket, group)`;
    /// bucket 0 without an interval, group 0 without group_by): a series of buckets when
    /// `buckets` is Some, each the plain result or the ordered and limited rows of `groups`.
    pub(crate) fn present(
        &self,
        buckets: Option<&[TimeRange]>,
        groups: &[&[Value]],
        result: impl Fn(usize, usize) -> Value,
    ) -> Value {
        let Some(buckets) = buckets else {
            return self.rows(groups, |group| result(0, group));
        };
        let series = buckets
            .iter()
            .enumerate()
            .map(|(index, bucket)| {
                let mut timeframe = Map::new();
                timeframe.insert("start".to_owned(), format_keen_timestamp(bucket.start_ms).into());
                timeframe.insert("end".to_owned(), format_keen_timestamp(bucket.end_ms).into());
                let mut entry = Map::new();
                entry.insert("timeframe".to_owned(), Value::Object(timeframe));
                entry.insert("value".to_owned(), self.rows(groups, |group| result(index, group)));
                Value::Object(entry)
            })
            .collect();
        Value::Array(series)
    }

    /// The plain result, or with group_by the ordered and limited rows for every group seen
    /// (ties in the order the groups were first seen).
    fn rows(&self, groups: &[&[Value]], result: impl Fn(usize) -> Value) -> Value {
        if self.group_by.is_empty() {
            return result(0);
        }
        // By the order keys, then by position: a total order, so that the first `limit` rows
        // can be picked out before only those are sorted.
        let ordered = |left: &(usize, &[Value], Value), right: &(usize, &[Value], Value)| {
            self.order_by
                .iter()
                .fold(Ordering::Equal, |ordering, order| {
                    ordering.then_with(|| {
                        compare_for_order(
                            order.key(left.1, &left.2),
                            order.key(right.1, &right.2),
                            order.descending,
                        )
                    })
                })
                .then(left.0.cmp(&right.0))
        };
        let limit = self.limit.unwrap_or(usize::MAX);
        let keep_first = |rows: &mut Vec<(usize, &[Value], Value)>| {
            if limit < rows.len() {
                if let Some(last) = limit.checked_sub(1) {
                    rows.select_nth_unstable_by(last, ordered);
                }
                rows.truncate(limit);
            }
        };
        // With a limit, the rows wait in a buffer of twice as many (at least `ROWS_BUFFERED`):
        // each time it fills, only the first `limit` stay. Thousands of groups then take a
        // buffer reused from query to query rather than fresh memory for a row per group.
        let room = limit.saturating_mul(2).max(ROWS_BUFFERED);
        let mut rows = Vec::with_capacity(room.min(groups.len()));
        for (index, key) in groups.iter().enumerate() {
            rows.push((index, *key, result(index)));
            if rows.len() == room {
                keep_first(&mut rows);
            }
        }
        keep_first(&mut rows);
        rows.sort_unstable_by(ordered);
        let objects = rows
            .into_iter()
            .map(|(_, key, result)| {
                let mut object: Map<String, Value> = self
                    .group_by
                    .iter()
                    .zip(key)
                    .map(|(path, value)| (path.name.clone(), value.clone()))
                    .collect();
                object.insert("result".to_owned(), result);
                Value::Object(object)
            })
            .collect();
        Value::Array(objects)
    }

    /// The plain result of one cell.
    fn summarize(&self, cell: &Cell) -> Value {
        let numbers = || -> Vec<(f64, &Value)> {
            cell.values.iter().filter_map(|value| Some((value.as_f64()?, *value))).collect()
        };
        match self.kind {
            AnalysisType::Count => cell.count.into(),
            AnalysisType::CountUnique => distinct(&cell.values).len().into(),
            AnalysisType::SelectUnique => distinct(&cell.values).into_iter().cloned().collect(),
            AnalysisType::Sum => sum(&numbers()),
            kind => {
                let mut numbers = numbers();
                if numbers.is_empty() {
                    return Value::Null;
                }
                numbers.sort_by(|left, right| left.0.total_cmp(&right.0));
                let count = numbers.len() as f64;
                let mean = numbers.iter().map(|(number, _)| number).sum::<f64>() / count;
                match kind {
                    AnalysisType::Minimum => numbers[0].1.clone(),
                    AnalysisType::Maximum => numbers[numbers.len() - 1].1.clone(),
                    AnalysisType::Average => Value::from(mean),
                    AnalysisType::StandardDeviation => {
                        let squares = numbers.iter().map(|(number, _)| (number - mean).powi(2)).sum::<f64>();
                        Value::from((squares / count).sqrt())
                    }
                    _ => {
                        let rank =
                            (self.percentile_hundredths * numbers.len() as u64).div_ceil(10_000).max(1);
                        numbers[(rank - 1) as usize].1.clone()
                    }
                }
            }
        }
    }
}

impl Groups {
    /// The position of the event's group, adding it if new.
    fn position(&mut self, paths: &[PropertyPath], event: &Value) -> Result<usize, AnalysisError> {
        let mut key = String::new();
        let mut found = Vec::with_capacity(paths.len());
        for path in paths {
            let value = path.lookup(event).unwrap_or(&Value::Null);
            let object = match value {
                Value::Object(_) => true,
                Value::Array(items) => items.iter().any(Value::is_object),
                _ => false,
            };
            if object {
                return Err(AnalysisError::GroupByObject { property: path.name.clone() });
            }
            canonical(value, &mut key);
            key.push(',');
            found.push(value);
        }
        if let Some(position) = self.positions.get(&key) {
            return Ok(*position);
        }
        let position = self.values.len();
        self.values.push(found.into_iter().cloned().collect());
        self.positions.insert(key, position);
        Ok(position)
    }
}

/// The series buckets: calendar units (or blocks of N) from the unit holding the start, clipped.
fn buckets(
    range: TimeRange,
    interval: Interval,
    timezone: Timezone,
) -> Result<Vec<TimeRange>, AnalysisError> {
    let mut buckets = Vec::new();
    let mut start = range.start_ms;
    let mut shift: i64 = 0;
    while start < range.end_ms {
        if buckets.len() == MAX_INTERVALS {
            return Err(AnalysisError::TooManyIntervals);
        }
        shift = shift.saturating_add(interval.every);
        // Past chrono's calendar the bucket simply runs to the end; the `> start` guard keeps
        // every step moving forward.
        let end = timezone
            .unit_start(range.start_ms, interval.unit, shift)
            .filter(|boundary| *boundary > start)
            .map_or(range.end_ms, |boundary| boundary.min(range.end_ms));
        buckets.push(TimeRange { start_ms: start, end_ms: end });
        start = end;
    }
    Ok(buckets)
}
