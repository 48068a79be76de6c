//! ondata: a crisis-monitoring stream processor for social-media comments.
//!
//! It reads comment events (DESIGN §2), keeps per-topic event-time windows, detects surges
//! and negativity shifts, and emits explained alerts (DESIGN §3). The core is pure and
//! synchronous; replay, live Kafka and tests all drive the same [`engine::Engine`].
//!
//! Map of the modules:
//! - [`config`]: the typed configuration tree, defaults, presets, env overrides, validation.
//! - [`event`]: parsing and validating one comment event; rejection reasons.
//! - [`text`]: folding, tokenising, topic rules (Aho-Corasick) and lexicon sentiment.
//! - [`window`]: per-topic event-time buckets.
//! - [`detect`]: the surge and negativity detectors, and their statistics.
//! - [`dedup`]: bounded memory of recent event ids, to drop redeliveries.
//! - [`engine`]: watermark, topic routing, deduplication; drives the detectors.
//! - [`metrics`]: Prometheus metrics, the registry passed as a value.
//! - [`status`]: what the HTTP API and the status page show.
//! - [`http`]: `/metrics`, health, `/api/...` and the status page (axum).
//! - [`live`], [`merge`], [`rebuild`]: the live Kafka path.
//! - [`range`]: time ranges of the Kafka topics after the fact: `record` and `replay --kafka`.
//! - [`alert`]: the alert record and the sinks used by replay.
//! - [`source`]: recorded files (NDJSON, gzip, zstd, stdin), merged in event-time order.
//! - [`replay`]: the replay pipeline: source → engine → alerts, dead letter, summary.
//! - [`incident`]: after a replay: the timeline, incident report, OpenMetrics backfill,
//!   notifications people would have received, and backtests against labelled incidents.
//! - [`simulate`]: the synthetic stream generator behind `ondata simulate`.

#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod dedup;
pub mod deliver;
pub mod detect;
pub mod engine;
pub mod error;
pub mod event;
pub mod http;
pub mod incident;
pub mod live;
pub mod merge;
pub mod metrics;
pub mod range;
pub mod rebuild;
pub mod render;
pub mod replay;
pub mod secret;
pub mod simulate;
pub mod source;
pub mod status;
pub mod text;
pub mod window;

pub use config::Config;
pub use engine::Engine;
pub use event::{parse_event, Event, RejectReason, Rejection};
