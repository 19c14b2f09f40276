//! The Keen query model: timeframes, timezones, filters, analyses, extraction, multi-analysis,
//! and the engine that runs analyses over the event store.

pub mod analysis;
pub mod answer;
pub(crate) mod engine;
pub mod extraction;
pub mod filter;
pub mod funnel;
pub mod multi;
pub mod timeframe;
