//! `Timestamp`: a UTC instant, stored and sent as RFC 3339 text with milliseconds.
//!
//! The fixed-width text form sorts the same as the instants, so both database backends can
//! compare and index it as plain text.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::InvalidValue;

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current instant, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis())
    }

    /// The instant `millis` milliseconds after the Unix epoch (clamped to chrono's range).
    pub fn from_millis(millis: i64) -> Self {
        Timestamp(DateTime::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// This instant plus `seconds` (which may be negative).
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self::from_millis(self.millis().saturating_add(seconds.saturating_mul(1000)))
    }

    /// Parses RFC 3339 text.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Self::from_millis(t.with_timezone(&Utc).timestamp_millis()))
            .map_err(|_| InvalidValue(format!("not an RFC 3339 timestamp: {text:?}")))
    }

    /// The chrono value, for formatting in a zone.
    pub fn as_utc(self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_fixed_width_and_round_trips() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        assert_eq!(Timestamp::parse("2023-11-14T23:13:20.123+01:00").unwrap(), t);
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
