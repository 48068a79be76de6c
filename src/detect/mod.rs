//! Detectors: pure state machines fed one closed bucket at a time.
//!
//! Each detector reads per-topic bucket counts in event time and returns alert transitions;
//! none of them sees the clock, the network or a global. The sensitivity presets are
//! resolved once, in `config::presets`; detectors take the resolved parameters.

pub mod episode;
pub mod negativity;
pub mod stats;
pub mod surge;
pub mod troll;

pub use crate::config::{NegativityParams, Sensitivity, SurgeParams, TrollParams};

/// While an episode is open a detector does not learn, so the incident cannot become its own
/// baseline; after this long it learns again, so a lasting change becomes the new normal
/// rather than an alert that fires for days.
pub const RELEARN_AFTER_MINS: i64 = 360;
