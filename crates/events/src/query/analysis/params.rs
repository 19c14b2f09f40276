//! Parsing an analysis's parameters: percentile, group_by, interval, order_by and limit.

use std::collections::HashSet;

use serde_json::Value;

use super::{AnalysisError, Interval, OrderBy, PropertyPath};
use crate::query::timeframe::CalendarUnit;

/// Hundredths of a percent, from a number or a numeric string between 0 and 100.
pub(super) fn parse_percentile(value: Option<&Value>) -> Result<u64, AnalysisError> {
    let value = value.ok_or(AnalysisError::MissingPercentile)?;
    let percentile = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match percentile {
        Some(percentile) if (0.0..=100.0).contains(&percentile) => Ok((percentile * 100.0).round() as u64),
        _ => Err(AnalysisError::InvalidPercentile { value: excerpt(value) }),
    }
}

pub(super) fn parse_group_by(value: &Value) -> Result<Vec<PropertyPath>, AnalysisError> {
    let invalid = || AnalysisError::InvalidGroupBy { value: excerpt(value) };
    let paths = match value {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(PropertyPath::parse).collect::<Option<Vec<_>>>()
        }
        Value::Array(_) => None,
        single => PropertyPath::parse(single).map(|path| vec![path]),
    }
    .ok_or_else(invalid)?;
    let names: HashSet<&str> = paths.iter().map(|path| path.name.as_str()).collect();
    if names.len() != paths.len() {
        return Err(invalid());
    }
    Ok(paths)
}

pub(super) fn parse_interval(value: &Value) -> Result<Interval, AnalysisError> {
    let invalid = || AnalysisError::InvalidInterval { value: excerpt(value) };
    let text = value.as_str().ok_or_else(invalid)?.trim().to_ascii_lowercase();
    let named = match text.as_str() {
        "minutely" => Some(CalendarUnit::Minute),
        "hourly" => Some(CalendarUnit::Hour),
        "daily" => Some(CalendarUnit::Day),
        "weekly" => Some(CalendarUnit::Week),
        "monthly" => Some(CalendarUnit::Month),
        "yearly" => Some(CalendarUnit::Year),
        _ => None,
    };
    if let Some(unit) = named {
        return Ok(Interval { unit, every: 1 });
    }
    let (digits, unit) =
        text.strip_prefix("every_").and_then(|rest| rest.split_once('_')).ok_or_else(invalid)?;
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let every = digits.parse::<u32>().ok().filter(|every| *every > 0).ok_or_else(invalid)?;
    let unit = CalendarUnit::parse(unit).ok_or_else(invalid)?;
    Ok(Interval { unit, every: i64::from(every) })
}

pub(super) fn parse_order_by(
    value: &Value,
    group_by: &[PropertyPath],
) -> Result<Vec<OrderBy>, AnalysisError> {
    if group_by.is_empty() {
        return Err(AnalysisError::OrderByWithoutGroupBy);
    }
    let invalid = || AnalysisError::InvalidOrderBy { value: excerpt(value) };
    let one = |item: &Value| -> Result<OrderBy, AnalysisError> {
        let (property, direction) = match item {
            Value::String(property) => (property.as_str(), None),
            Value::Object(fields) => (
                fields.get("property_name").and_then(Value::as_str).ok_or_else(invalid)?,
                fields.get("direction").filter(|direction| !direction.is_null()),
            ),
            _ => return Err(invalid()),
        };
        let descending = match direction.map(|direction| direction.as_str().map(str::to_ascii_uppercase)) {
            None => false,
            Some(Some(direction)) if direction == "ASC" => false,
            Some(Some(direction)) if direction == "DESC" => true,
            Some(_) => return Err(invalid()),
        };
        let group = match property {
            "result" => None,
            name => Some(
                group_by
                    .iter()
                    .position(|path| path.name == name)
                    .ok_or_else(|| AnalysisError::UnknownOrderByProperty { property: excerpt_text(name) })?,
            ),
        };
        Ok(OrderBy { group, descending })
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(invalid()),
        Value::Array(items) => items.iter().map(one).collect(),
        single => Ok(vec![one(single)?]),
    }
}

pub(super) fn parse_limit(value: &Value) -> Result<usize, AnalysisError> {
    let limit = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match limit {
        Some(limit) if limit > 0 => Ok(usize::try_from(limit).unwrap_or(usize::MAX)),
        _ => Err(AnalysisError::InvalidLimit { value: excerpt(value) }),
    }
}

/// A value's JSON text, shortened so an error message stays readable whatever the client sent.
pub(super) fn excerpt(value: &Value) -> String {
    excerpt_text(&value.to_string())
}

pub(super) fn excerpt_text(text: &str) -> String {
    const LIMIT: usize = 120;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
