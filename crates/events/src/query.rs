//! The Keen query model: timeframes, timezones, filters, analyses, extraction, multi-analysis.

pub mod analysis;
pub mod extraction;
pub mod filter;
pub mod funnel;
pub mod multi;
pub mod timeframe;
