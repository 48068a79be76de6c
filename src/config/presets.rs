//! Sensitivity presets: what `low`, `medium` and `high` mean for each detector, and the
//! parameters a detector gets once the preset, the detector's own table and per-topic
//! overrides are merged. The one place presets are resolved; `check-config` prints the result.

use serde::{Deserialize, Serialize};

use super::DetectConfig;

/// How eager the detectors are. `medium` is tuned to raise no alert on ordinary days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    Low,
    #[default]
    Medium,
    High,
}

/// Effective surge settings after the preset and explicit overrides are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurgeParams {
    pub sensitivity: Sensitivity,
    /// Volume in a window must be at least this many times the expected volume.
    pub min_ratio: f64,
    /// ...and this far above it on the Poisson square-root scale, `2(√observed − √expected)`,
    /// which keeps small counts (night-time, small topics) from firing on noise.
    pub min_z: f64,
    /// ...and at least this many comments in the window.
    pub min_events: u32,
    pub windows_mins: Vec<u32>,
    pub baseline_half_life_mins: f64,
    pub history_days: u32,
    pub warmup_mins: u32,
    pub resolve_after_mins: u32,
    pub sustained_mins: u32,
    pub weekly: bool,
}

/// Effective negativity settings after the preset and explicit overrides are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegativityParams {
    pub sensitivity: Sensitivity,
    /// The lower confidence bound of the negative share must exceed the baseline share by this.
    pub min_rise: f64,
    /// z of the Wilson score interval (1.96 is a one-sided 97.5% bound).
    pub confidence_z: f64,
    pub min_comments: u32,
    /// Sequential test (Bernoulli CUSUM): the share it watches for, as a rise over the
    /// usual share; the log-likelihood ratio it needs; the comments it must rest on (0: off).
    pub sequential_rise: f64,
    pub sequential_threshold: f64,
    pub sequential_min_comments: u32,
    pub windows_mins: Vec<u32>,
    pub baseline_half_life_mins: f64,
    pub baseline_min_comments: u32,
    pub resolve_after_mins: u32,
}

/// Effective troll-burst settings for one topic, after preset and per-topic overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrollParams {
    pub sensitivity: Sensitivity,
    pub min_messages: u32,
    pub min_authors: u32,
    pub min_tokens: u32,
    pub similarity: f64,
    pub min_share: f64,
    pub window_mins: u32,
    pub max_clusters: usize,
    pub max_members: usize,
}

impl DetectConfig {
    /// Troll settings for `topic`: its override table if any, else the detector's own.
    pub fn troll_params(&self, topic: &str) -> TrollParams {
        let t = &self.troll;
        let sensitivity = t.sensitivity.unwrap_or(self.sensitivity);
        let (messages, authors, tokens) = match sensitivity {
            Sensitivity::Low => (30, 15, 10),
            Sensitivity::Medium => (20, 10, 8),
            Sensitivity::High => (12, 6, 6),
        };
        let o = t.topics.get(topic);
        TrollParams {
            sensitivity,
            min_messages: knob(o, |o| o.min_messages, t.min_messages, messages),
            min_authors: knob(o, |o| o.min_authors, t.min_authors, authors),
            min_tokens: knob(o, |o| o.min_tokens, t.min_tokens, tokens),
            similarity: t.similarity,
            min_share: t.min_share,
            window_mins: t.window_mins,
            max_clusters: t.max_clusters,
            max_members: t.max_members,
        }
    }

    pub fn surge_params(&self) -> SurgeParams {
        let s = &self.surge;
        let sensitivity = s.sensitivity.unwrap_or(self.sensitivity);
        let (ratio, z, min_events) = match sensitivity {
            Sensitivity::Low => (4.0, 6.0, 40),
            Sensitivity::Medium => (2.5, 5.0, 20),
            Sensitivity::High => (2.0, 4.0, 10),
        };
        SurgeParams {
            sensitivity,
            min_ratio: s.min_ratio.unwrap_or(ratio),
            min_z: s.min_z.unwrap_or(z),
            min_events: s.min_events.unwrap_or(min_events),
            windows_mins: s.windows_mins.clone(),
            baseline_half_life_mins: s.baseline_half_life_mins,
            history_days: s.history_days,
            warmup_mins: s.warmup_mins,
            resolve_after_mins: s.resolve_after_mins,
            sustained_mins: s.sustained_mins,
            weekly: s.weekly,
        }
    }

    pub fn negativity_params(&self) -> NegativityParams {
        self.negativity_params_for("")
    }

    /// Negativity settings for `topic`: its override table if any, else the detector's own.
    pub fn negativity_params_for(&self, topic: &str) -> NegativityParams {
        let n = &self.negativity;
        let sensitivity = n.sensitivity.unwrap_or(self.sensitivity);
        let (rise, z, min_comments, seq_rise, seq_threshold) = match sensitivity {
            Sensitivity::Low => (0.25, 2.58, 60, 0.30, 12.0),
            Sensitivity::Medium => (0.15, 1.96, 40, 0.25, 10.0),
            Sensitivity::High => (0.10, 1.64, 25, 0.20, 8.0),
        };
        let o = n.topics.get(topic);
        NegativityParams {
            sensitivity,
            min_rise: knob(o, |o| o.min_rise, n.min_rise, rise),
            confidence_z: knob(o, |o| o.confidence_z, n.confidence_z, z),
            min_comments: knob(o, |o| o.min_comments, n.min_comments, min_comments),
            sequential_rise: knob(o, |o| o.sequential_rise, n.sequential_rise, seq_rise),
            sequential_threshold: knob(
                o,
                |o| o.sequential_threshold,
                n.sequential_threshold,
                seq_threshold,
            ),
            sequential_min_comments: n.sequential_min_comments,
            windows_mins: n.windows_mins.clone(),
            baseline_half_life_mins: n.baseline_half_life_mins,
            baseline_min_comments: n.baseline_min_comments,
            resolve_after_mins: n.resolve_after_mins,
        }
    }
}

/// A knob's value: the topic's override, else the detector's own setting, else the preset.
fn knob<O, T: Copy>(
    topic: Option<&O>,
    field: impl Fn(&O) -> Option<T>,
    own: Option<T>,
    preset: T,
) -> T {
    topic.and_then(field).or(own).unwrap_or(preset)
}
