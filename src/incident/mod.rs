//! Post-incident tooling: what a replay saw ([`Timeline`]), the incident report, the
//! OpenMetrics backfill, what people would have been sent, and backtests against labels.

pub mod backtest;
mod chart;
pub mod notifications;
pub mod openmetrics;
pub mod report;
mod timeline;
mod words;

pub use timeline::{episodes, Episode, Point, Timeline, TopicSeries};
