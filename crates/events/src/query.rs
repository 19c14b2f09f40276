//! The Keen query model: timeframes, timezones and filters.

pub mod analysis;
pub mod filter;
pub mod timeframe;
