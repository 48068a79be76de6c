//! ondata: a crisis-monitoring stream processor for social-media comments.
//!
//! It reads comment events, keeps per-topic event-time windows, detects surges, negativity
//! shifts and troll bursts, and emits explained alerts. The core is pure and synchronous;
//! replay, live Kafka and tests all drive the same [`engine::Engine`]. `ARCHITECTURE.md`
//! draws the layers; bottom to top:
//!
//! - [`config`]: the typed configuration tree, defaults, sensitivity presets, environment
//!   overrides, validation. [`secret`]: secrets from the environment, kept out of logs.
//! - [`event`]: parsing and validating one comment event; rejection reasons.
//! - [`error`]: the library's error, and whose it is to fix.
//! - [`alert`]: the alert record every sink receives.
//! - [`text`]: folding, tokenising, topic rules (Aho-Corasick) and lexicon sentiment.
//! - [`window`]: per-topic event-time buckets. [`dedup`]: recent event ids.
//! - [`detect`]: the detectors (surge, negativity, troll bursts), one shape for all: closed
//!   buckets in, typed transitions out, no text.
//! - [`render`]: summaries in English or Italian, and notification frames.
//! - [`engine`]: watermark, topic routing, redeliveries; drives the detectors and renders
//!   their transitions into alerts.
//! - [`metrics`], [`status`], [`incident`]: Prometheus metrics (the registry passed as a
//!   value); what the status page and API show; the post-incident timeline, report,
//!   OpenMetrics backfill, notifications people would have received, and backtests.
//! - [`source`]: recorded files (NDJSON, gzip, zstd, stdin) and Kafka (client, consumer
//!   context, history, dead letters). [`deliver`]: routes, noise control, silences, the
//!   outbox and the sinks. [`merge`], [`rebuild`]: the event-time merge of partitions and
//!   state rebuilt from history.
//! - [`replay`], [`range`], [`live`], [`http`]: the shell: file replay, Kafka time ranges
//!   (`record`, `replay --kafka`), the live path, the HTTP server.
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
