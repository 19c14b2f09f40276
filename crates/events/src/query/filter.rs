//! Keen query filters: parsing the `filters` parameter and testing stored events against it.
//!
//! Operators and their semantics (keen-api.md §5.7; choices marked [infer] are ours):
//!
//! * Properties are dot paths through nested objects (`customer.address.city`, `keen.timestamp`).
//!   Lists are not walked into: `items.0` finds nothing, as arrays of objects cannot be filtered.
//! * `eq`: equality. On a list property it means "the list contains the value", a Keen quirk;
//!   a list `property_value` compares with the whole list instead. `eq null` matches an explicit
//!   null and a missing property alike (the UI's "is null") [infer].
//! * Values of different JSON types are never equal nor ordered: `10` does not equal `"10"` and
//!   `lt "11"` is false on a number. Clients send typed JSON, and the UI's `coercion_type` hint is
//!   applied before sending, so no coercion happens here [infer]. Numbers compare by value
//!   (`10` equals `10.0`).
//! * Two strings that both read as timestamps compare as instants, so `keen.timestamp` and other
//!   datetime properties work whatever offset either side is written in; other strings compare by
//!   code point. A naive filter timestamp means UTC, like a naive `keen.timestamp`.
//! * `lt`, `lte`, `gt`, `gte` take a number or a string and order numbers with numbers and strings
//!   with strings; null, booleans and objects are never ordered.
//! * `ne` and `not_contains` are the exact negations of `eq` and `contains`, so they also match
//!   events that lack the property (§12 leaves this open) [infer].
//! * `exists` takes `true`/`false` (or the strings of the old docs). A property set to null exists.
//! * `in` takes a list and means `eq` with any of its values, so on a list property any overlap.
//! * `contains` is a substring test on strings and membership on lists.
//! * `starts_with` (a prefix test on strings) is not a Keen operator as far as §5.7 knows; it is
//!   accepted as an extension.
//! * `regex` uses Rust's `regex` syntax (close to RE2, Python and Java for everyday patterns),
//!   unanchored, like Python's `re.search`, compiled once when the filter is parsed.
//! * On a list property the string and ordering operators (`lt`…`gte`, `contains` on strings,
//!   `starts_with`, `regex`) match if any element does, as `eq` does.
//! * `within` works only on `keen.location.coordinates`, `[longitude, latitude]`, with
//!   `{"coordinates": [lon, lat], "max_distance_miles": n}` and great-circle (haversine) distance.
//! * `or` is `{"operator": "or", "operands": [...]}` (the shape §5.7 believes in [infer]; the list
//!   may also come as `property_value`). Each operand is a filter or a list of filters that must
//!   all match, so any AND-of-ORs or OR-of-ANDs can be written.
//! * Extra keys such as `property_type` and `coercion_type` are ignored.

mod compare;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use regex::Regex;
use serde_json::{Map, Value};

use compare::{Exact, Members, Operand};

/// The only property `within` may be used on.
const GEO_PROPERTY: &str = "keen.location.coordinates";

/// The operators `parse_filters` knows, for error messages.
const OPERATORS: &str =
    "eq, ne, lt, lte, gt, gte, exists, in, contains, not_contains, starts_with, regex, within, or";

/// One parsed Keen filter (or an `or` of filter lists, if §5 describes one).
#[derive(Debug, Clone)]
pub struct Filter {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Property {
        path: Vec<String>,
        test: Test,
    },
    /// An `or`: matches when every filter of at least one group matches.
    AnyOf(Vec<Vec<Filter>>),
}

#[derive(Debug, Clone)]
enum Test {
    Eq(Operand),
    Ne(Operand),
    Compare(Comparison, Operand),
    Exists(bool),
    In(Members),
    Contains(Operand),
    NotContains(Operand),
    StartsWith(String),
    Regex(Regex),
    Within { center: (f64, f64), max_miles: f64 },
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Comparison {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Lt => ordering.is_lt(),
            Comparison::Lte => ordering.is_le(),
            Comparison::Gt => ordering.is_gt(),
            Comparison::Gte => ordering.is_ge(),
        }
    }
}

/// Why a `filters` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("filters {value:?} are not valid JSON")]
    InvalidJson { value: String },
    #[error("filters must be a JSON array of filter objects, not {found}")]
    NotAList { found: String },
    #[error("filter {filter} is not an object with property_name, operator and property_value")]
    NotAnObject { filter: String },
    #[error("filter {filter} is missing {field:?}")]
    MissingField { field: &'static str, filter: String },
    #[error("unknown filter operator {operator}; expected one of {OPERATORS}")]
    UnknownOperator { operator: String },
    #[error("filter property_name {name} is not a property path such as \"customer.address.city\"")]
    InvalidPropertyName { name: String },
    #[error("filter operator {operator:?} needs {expected} as property_value, not {value}")]
    InvalidValue { operator: &'static str, expected: &'static str, value: String },
    #[error("filter regex {pattern:?} does not compile: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error(
        "you specified a geo filter on a property other than keen.location.coordinates, \
         which is not allowed; you specified {name}"
    )]
    GeoPropertyName { name: String },
}

impl FilterError {
    /// The Keen `error_code` to answer with. `InvalidPropertyNameForGeoFilter` is Keen's own (a
    /// Java client test shows it); the property name and value errors reuse Keen's event
    /// validation names, and `InvalidFilterError` for malformed filters follows their pattern [infer].
    pub fn keen_error_code(&self) -> &'static str {
        match self {
            FilterError::GeoPropertyName { .. } => "InvalidPropertyNameForGeoFilter",
            FilterError::InvalidPropertyName { .. } => "InvalidPropertyNameError",
            FilterError::InvalidValue { .. } | FilterError::InvalidRegex { .. } => {
                "InvalidPropertyValueError"
            }
            _ => "InvalidFilterError",
        }
    }
}

/// Parses the `filters` parameter: a JSON array (or a JSON string holding one, as sent in query
/// strings) of {"property_name", "operator", "property_value"}.
///
/// Absent, null and empty-string values mean no filters.
pub fn parse_filters(value: Option<&Value>) -> Result<Vec<Filter>, FilterError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(parsed) => parse_list(&parsed),
            Err(_) => Err(FilterError::InvalidJson { value: excerpt_text(text) }),
        },
        Some(other) => parse_list(other),
    }
}

impl Filter {
    /// Whether `event` (the stored JSON object, with nested objects; properties addressed by dot
    /// paths like "customer.address.city" and "keen.timestamp") passes this filter.
    pub fn matches(&self, event: &Value) -> bool {
        let (path, test) = match &self.node {
            Node::AnyOf(groups) => return groups.iter().any(|group| group.iter().all(|f| f.matches(event))),
            Node::Property { path, test } => (path, test),
        };
        test.passes(compare::lookup(event, path))
    }

    /// The filter's structure, for engines that look properties up themselves.
    pub(crate) fn node(&self) -> FilterNode<'_> {
        match &self.node {
            Node::Property { path, .. } => FilterNode::Property(path),
            Node::AnyOf(groups) => FilterNode::AnyOf(groups),
        }
    }

    /// For a property filter: whether `found`, the value at its path (None: missing), passes.
    /// An `or` has no single value and never passes here.
    pub(crate) fn passes(&self, found: Option<&Value>) -> bool {
        match &self.node {
            Node::Property { test, .. } => test.passes(found),
            Node::AnyOf(_) => false,
        }
    }

    /// `passes` for a number (a float that prints as itself or as the integer it equals),
    /// without building its JSON; None when the answer needs it (an operand that is a number
    /// a float cannot hold exactly).
    pub(crate) fn passes_number(&self, number: f64) -> Option<bool> {
        match &self.node {
            Node::Property { test, .. } => test.passes_number(number),
            Node::AnyOf(_) => Some(false),
        }
    }

    /// What `passes_number` answers for every number, as one comparison, where it is one
    /// (`eq`, `ne`, `gt`, `gte`, `lt`, `lte` with an operand a float holds exactly).
    pub(crate) fn number_test(&self) -> Option<NumberTest> {
        let Node::Property { test, .. } = &self.node else { return None };
        let Exact::Number(operand) = (match test {
            Test::Eq(operand) | Test::Ne(operand) | Test::Compare(_, operand) => operand.exact_number(),
            _ => return None,
        }) else {
            return None;
        };
        Some(match test {
            Test::Eq(_) => NumberTest::Equal(operand),
            Test::Ne(_) => NumberTest::Unequal(operand),
            Test::Compare(Comparison::Lt, _) => NumberTest::Below(operand),
            Test::Compare(Comparison::Lte, _) => NumberTest::AtMost(operand),
            Test::Compare(Comparison::Gt, _) => NumberTest::Above(operand),
            Test::Compare(Comparison::Gte, _) => NumberTest::AtLeast(operand),
            _ => return None,
        })
    }
}

/// A filter's test of a number as one comparison with its operand (`Filter::number_test`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NumberTest {
    Equal(f64),
    Unequal(f64),
    Below(f64),
    AtMost(f64),
    Above(f64),
    AtLeast(f64),
}

/// A filter seen from outside: one property's test, or an `or` of filter lists.
pub(crate) enum FilterNode<'a> {
    Property(&'a [String]),
    AnyOf(&'a [Vec<Filter>]),
}

impl Test {
    fn passes(&self, found: Option<&Value>) -> bool {
        match self {
            Test::Eq(operand) => compare::equals(found, operand),
            Test::Ne(operand) => !compare::equals(found, operand),
            Test::Compare(comparison, operand) => compare::ordered(found, operand, |o| comparison.accepts(o)),
            Test::Exists(wanted) => found.is_some() == *wanted,
            Test::In(members) => members.contain(found),
            Test::Contains(operand) => compare::contains(found, operand),
            Test::NotContains(operand) => !compare::contains(found, operand),
            Test::StartsWith(prefix) => compare::any_string(found, |s| s.starts_with(prefix.as_str())),
            Test::Regex(regex) => compare::any_string(found, |s| regex.is_match(s)),
            Test::Within { center, max_miles } => compare::coordinates(found)
                .is_some_and(|point| compare::miles_between(point, *center) <= *max_miles),
        }
    }
}

impl Test {
    /// As `passes` with a number found: numbers compare with numbers only, and a number is
    /// no string, list or coordinate pair.
    fn passes_number(&self, number: f64) -> Option<bool> {
        let equals = |operand: &Operand| match operand.exact_number() {
            Exact::Number(exact) => Some(number == exact),
            Exact::NotANumber => Some(false),
            Exact::Inexact => None,
        };
        Some(match self {
            Test::Eq(operand) => equals(operand)?,
            Test::Ne(operand) => !equals(operand)?,
            Test::Compare(comparison, operand) => match operand.exact_number() {
                Exact::Number(exact) => number.partial_cmp(&exact).is_some_and(|o| comparison.accepts(o)),
                Exact::NotANumber => false,
                Exact::Inexact => return None,
            },
            Test::Exists(wanted) => *wanted,
            Test::In(members) => {
                let mut any = false;
                for operand in members.operands() {
                    any |= equals(operand)?;
                }
                any
            }
            Test::Contains(_) | Test::StartsWith(_) | Test::Regex(_) | Test::Within { .. } => false,
            Test::NotContains(_) => true,
        })
    }
}

fn parse_list(value: &Value) -> Result<Vec<Filter>, FilterError> {
    match value {
        Value::Array(items) => items.iter().map(parse_filter).collect(),
        other => Err(FilterError::NotAList { found: excerpt(other) }),
    }
}

fn parse_filter(value: &Value) -> Result<Filter, FilterError> {
    let Value::Object(fields) = value else {
        return Err(FilterError::NotAnObject { filter: excerpt(value) });
    };
    let field = |name: &'static str| {
        fields.get(name).ok_or_else(|| FilterError::MissingField { field: name, filter: excerpt(value) })
    };
    let operator = match field("operator")? {
        Value::String(operator) => operator.as_str(),
        other => return Err(FilterError::UnknownOperator { operator: excerpt(other) }),
    };
    if operator == "or" {
        return parse_or(fields, value);
    }
    let operator = Operator::parse(operator)?;
    let name = field("property_name")?;
    if operator == Operator::Within && name.as_str() != Some(GEO_PROPERTY) {
        return Err(FilterError::GeoPropertyName { name: excerpt(name) });
    }
    let path = property_path(name)?;
    let test = parse_test(operator, field("property_value")?)?;
    Ok(Filter { node: Node::Property { path, test } })
}

/// The property operators (`or` is parsed apart, as it has operands instead of a property).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    Exists,
    In,
    Contains,
    NotContains,
    StartsWith,
    Regex,
    Within,
}

impl Operator {
    const ALL: [Operator; 13] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::Exists,
        Operator::In,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::Regex,
        Operator::Within,
    ];

    fn parse(name: &str) -> Result<Operator, FilterError> {
        Operator::ALL
            .into_iter()
            .find(|operator| operator.name() == name)
            .ok_or_else(|| FilterError::UnknownOperator { operator: excerpt(&Value::from(name)) })
    }

    fn name(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Ne => "ne",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Exists => "exists",
            Operator::In => "in",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::Regex => "regex",
            Operator::Within => "within",
        }
    }
}

/// Splits a property name into its path segments; none may be empty.
fn property_path(name: &Value) -> Result<Vec<String>, FilterError> {
    let invalid = || FilterError::InvalidPropertyName { name: excerpt(name) };
    let text = name.as_str().ok_or_else(invalid)?;
    let path: Vec<String> = text.split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(invalid());
    }
    Ok(path)
}

fn parse_test(operator: Operator, value: &Value) -> Result<Test, FilterError> {
    let invalid = |expected: &'static str| FilterError::InvalidValue {
        operator: operator.name(),
        expected,
        value: excerpt(value),
    };
    let operand = || Operand::new(value.clone());
    let comparable = || match value {
        Value::Number(_) | Value::String(_) => Ok(operand()),
        _ => Err(invalid("a number or a string")),
    };
    let scalar = || match value {
        Value::Number(_) | Value::String(_) | Value::Bool(_) => Ok(operand()),
        _ => Err(invalid("a string, number or boolean")),
    };
    let text = || value.as_str().ok_or_else(|| invalid("a string"));
    Ok(match operator {
        Operator::Eq => Test::Eq(operand()),
        Operator::Ne => Test::Ne(operand()),
        Operator::Lt => Test::Compare(Comparison::Lt, comparable()?),
        Operator::Lte => Test::Compare(Comparison::Lte, comparable()?),
        Operator::Gt => Test::Compare(Comparison::Gt, comparable()?),
        Operator::Gte => Test::Compare(Comparison::Gte, comparable()?),
        Operator::Exists => Test::Exists(match value {
            Value::Bool(wanted) => *wanted,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(invalid("true or false")),
        }),
        Operator::In => match value {
            Value::Array(items) => Test::In(Members::new(items)),
            _ => return Err(invalid("a list of values")),
        },
        Operator::Contains => Test::Contains(scalar()?),
        Operator::NotContains => Test::NotContains(scalar()?),
        Operator::StartsWith => Test::StartsWith(text()?.to_owned()),
        Operator::Regex => {
            let pattern = text()?;
            let regex = Regex::new(pattern).map_err(|err| FilterError::InvalidRegex {
                pattern: pattern.to_owned(),
                // The syntax error's last line names the problem; the others draw a caret.
                reason: err.to_string().lines().last().unwrap_or_default().trim().to_owned(),
            })?;
            Test::Regex(regex)
        }
        Operator::Within => parse_within(value).ok_or_else(|| {
            invalid("{\"coordinates\": [longitude, latitude], \"max_distance_miles\": miles}")
        })?,
    })
}

fn parse_within(value: &Value) -> Option<Test> {
    let center = compare::coordinates(value.get("coordinates"))?;
    let max_miles = value.get("max_distance_miles")?.as_f64().filter(|m| m.is_finite() && *m >= 0.0)?;
    Some(Test::Within { center, max_miles })
}

fn parse_or(fields: &Map<String, Value>, filter: &Value) -> Result<Filter, FilterError> {
    let operands = fields
        .get("operands")
        .or_else(|| fields.get("property_value"))
        .ok_or_else(|| FilterError::MissingField { field: "operands", filter: excerpt(filter) })?;
    let invalid = || FilterError::InvalidValue {
        operator: "or",
        expected: "a non-empty list of filters or lists of filters",
        value: excerpt(operands),
    };
    let Value::Array(items) = operands else {
        return Err(invalid());
    };
    let groups = items
        .iter()
        .map(|item| match item {
            Value::Array(_) => parse_list(item),
            _ => parse_filter(item).map(|f| vec![f]),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if groups.is_empty() || groups.iter().any(Vec::is_empty) {
        return Err(invalid());
    }
    Ok(Filter { node: Node::AnyOf(groups) })
}

/// A value's JSON text, shortened so an error message stays readable whatever the client sent.
fn excerpt(value: &Value) -> String {
    excerpt_text(&value.to_string())
}

fn excerpt_text(text: &str) -> String {
    const LIMIT: usize = 120;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
