//! The `[detect]` section: one table per detector, unset knobs filled from the sensitivity
//! preset (`presets`), and their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use super::{NegativityParams, Sensitivity};

mod coordination;
mod theme;
pub use coordination::CoordinationConfig;
pub use theme::ThemeConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub sensitivity: Sensitivity,
    pub surge: SurgeConfig,
    pub negativity: NegativityConfig,
    pub troll: TrollConfig,
    pub theme: ThemeConfig,
    pub coordination: CoordinationConfig,
}

impl DetectConfig {
    /// Every detector on preset `s` (a detector's own `sensitivity` gives way; knobs set
    /// explicitly stay as set).
    pub fn set_sensitivity(&mut self, s: Sensitivity) {
        self.sensitivity = s;
        self.surge.sensitivity = None;
        self.negativity.sensitivity = None;
        self.troll.sensitivity = None;
    }
}

/// Troll-burst detector settings. Unset knobs come from the sensitivity preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrollConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_messages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_authors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<u32>,
    /// Estimated Jaccard similarity of word-bigram shingles at which two messages are copies.
    pub similarity: f64,
    /// A burst must also be at least this share of the topic's comments in the window: on a
    /// very busy topic, stock phrases ("quando arriva la pensione?") recur all day.
    pub min_share: f64,
    pub window_mins: u32,
    /// Clusters held per topic; beyond it the oldest part of the window is evicted early.
    pub max_clusters: usize,
    /// Clusters held over all topics together (bounds memory when a flood spreads over many
    /// topics); beyond it the biggest topic's oldest part is evicted early.
    pub max_clusters_total: usize,
    /// Distinct authors tracked per cluster.
    pub max_members: usize,
    /// Per-topic overrides of `min_messages`, `min_authors`, `min_tokens`.
    pub topics: BTreeMap<String, TrollTopicOverride>,
}

impl Default for TrollConfig {
    fn default() -> Self {
        Self {
            sensitivity: None,
            min_messages: None,
            min_authors: None,
            min_tokens: None,
            similarity: 0.7,
            min_share: 0.1,
            window_mins: 15,
            max_clusters: 250_000,
            max_clusters_total: 600_000,
            max_members: 10_000,
            topics: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TrollTopicOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_messages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_authors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<u32>,
}

/// Surge detector settings. Unset knobs come from the sensitivity preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurgeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_z: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_events: Option<u32>,
    pub windows_mins: Vec<u32>,
    pub baseline_half_life_mins: f64,
    pub history_days: u32,
    pub warmup_mins: u32,
    pub resolve_after_mins: u32,
    /// Length of the sustained window, judged by its median 5 minutes (0: none).
    pub sustained_mins: u32,
    /// Also expect the same time on the same weekday of the last three weeks (once two are
    /// known), for topics with a weekly rhythm.
    pub weekly: bool,
}

impl Default for SurgeConfig {
    fn default() -> Self {
        Self {
            sensitivity: None,
            min_ratio: None,
            min_z: None,
            min_events: None,
            windows_mins: vec![2, 5],
            baseline_half_life_mins: 20.0,
            history_days: 7,
            warmup_mins: 30,
            resolve_after_mins: 60,
            sustained_mins: 180,
            weekly: false,
        }
    }
}

/// Negativity detector settings. Unset knobs come from the sensitivity preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegativityConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_z: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_comments: Option<u32>,
    /// The sequential test (a Bernoulli CUSUM over every comment): the negative share it
    /// watches for, as a rise over the usual share...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_rise: Option<f64>,
    /// ...and the evidence it needs (log-likelihood ratio; 10 is odds of about 22,000 to 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_threshold: Option<f64>,
    /// Comments the sequential evidence must rest on (0 turns the sequential test off).
    pub sequential_min_comments: u32,
    pub windows_mins: Vec<u32>,
    pub baseline_half_life_mins: f64,
    pub baseline_min_comments: u32,
    pub resolve_after_mins: u32,
    /// Per-topic overrides of `min_rise`, `min_comments`, `confidence_z`, `sequential_rise`,
    /// `sequential_threshold`.
    pub topics: BTreeMap<String, NegativityTopicOverride>,
}

impl Default for NegativityConfig {
    fn default() -> Self {
        Self {
            sensitivity: None,
            min_rise: None,
            confidence_z: None,
            min_comments: None,
            sequential_rise: None,
            sequential_threshold: None,
            sequential_min_comments: 15,
            windows_mins: vec![5, 15],
            baseline_half_life_mins: 360.0,
            baseline_min_comments: 100,
            resolve_after_mins: 10,
            topics: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NegativityTopicOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_comments: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_z: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_rise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_threshold: Option<f64>,
}

impl DetectConfig {
    pub(super) fn validate(&self, bucket_secs: u32) -> Result<(), ConfigError> {
        let check_windows = |key: &str, windows: &[u32]| {
            if windows.is_empty() || windows.len() > 4 {
                return Err(invalid(
                    key,
                    "give one to four window lengths in minutes, e.g. [2, 5]",
                ));
            }
            for &w in windows {
                if w == 0 || w > 60 || (w * 60) % bucket_secs != 0 {
                    return Err(invalid(
                        key,
                        format!("window {w} must be 1..=60 minutes and a multiple of engine.bucket_secs"),
                    ));
                }
            }
            Ok(())
        };
        self.theme.validate()?;
        self.coordination.validate()?;
        let s = &self.surge;
        check_windows("detect.surge.windows_mins", &s.windows_mins)?;
        let p = self.surge_params();
        if p.min_ratio <= 1.0 {
            return Err(invalid(
                "detect.surge.min_ratio",
                "must be above 1.0 (medium preset: 2.5)",
            ));
        }
        if p.min_z <= 0.0 {
            return Err(invalid(
                "detect.surge.min_z",
                "must be positive (medium preset: 5.0)",
            ));
        }
        if s.baseline_half_life_mins <= 0.0 || s.baseline_half_life_mins > 10_080.0 {
            return Err(invalid(
                "detect.surge.baseline_half_life_mins",
                "must be in (0, 10080] (default 20)",
            ));
        }
        if s.history_days > 28 {
            return Err(invalid(
                "detect.surge.history_days",
                "must be at most 28 (default 7)",
            ));
        }
        if s.resolve_after_mins == 0 {
            return Err(invalid(
                "detect.surge.resolve_after_mins",
                "must be at least 1 (default 60)",
            ));
        }
        if s.sustained_mins != 0
            && (s.sustained_mins % 5 != 0 || !(15..=1440).contains(&s.sustained_mins))
        {
            return Err(invalid(
                "detect.surge.sustained_mins",
                "must be 0 (off) or a multiple of 5 from 15 to 1440 (default 180)",
            ));
        }
        let n = &self.negativity;
        check_windows("detect.negativity.windows_mins", &n.windows_mins)?;
        validate_negativity("detect.negativity", &self.negativity_params())?;
        for topic in n.topics.keys() {
            validate_negativity(
                &format!("detect.negativity.topics.{topic}"),
                &self.negativity_params_for(topic),
            )?;
        }
        if n.baseline_half_life_mins <= 0.0 {
            return Err(invalid(
                "detect.negativity.baseline_half_life_mins",
                "must be positive (default 360)",
            ));
        }
        if n.resolve_after_mins == 0 {
            return Err(invalid(
                "detect.negativity.resolve_after_mins",
                "must be at least 1 (default 10)",
            ));
        }
        self.validate_troll()
    }

    fn validate_troll(&self) -> Result<(), ConfigError> {
        let t = &self.troll;
        if !(0.3..=1.0).contains(&t.similarity) {
            return Err(invalid(
                "detect.troll.similarity",
                "must be in [0.3, 1.0] (default 0.7)",
            ));
        }
        if !(0.0..=1.0).contains(&t.min_share) {
            return Err(invalid(
                "detect.troll.min_share",
                "must be in [0, 1] (default 0.1)",
            ));
        }
        if t.window_mins == 0 || t.window_mins > 240 {
            return Err(invalid(
                "detect.troll.window_mins",
                "must be 1..=240 (default 15)",
            ));
        }
        if t.max_clusters < 100 {
            return Err(invalid(
                "detect.troll.max_clusters",
                "must be at least 100 (default 250000)",
            ));
        }
        if t.max_clusters_total < 100 {
            return Err(invalid(
                "detect.troll.max_clusters_total",
                "must be at least 100 (default 600000)",
            ));
        }
        if t.max_members == 0 {
            return Err(invalid(
                "detect.troll.max_members",
                "must be at least 1 (default 10000)",
            ));
        }
        for topic in std::iter::once("").chain(t.topics.keys().map(String::as_str)) {
            let p = self.troll_params(topic);
            let key = if topic.is_empty() {
                "detect.troll".to_string()
            } else {
                format!("detect.troll.topics.{topic}")
            };
            if p.min_messages < 2 {
                return Err(invalid(
                    &format!("{key}.min_messages"),
                    "must be at least 2 (medium preset: 20)",
                ));
            }
            if p.min_authors < 1 || p.min_authors > p.min_messages {
                return Err(invalid(
                    &format!("{key}.min_authors"),
                    "must be 1..=min_messages (medium preset: 10)",
                ));
            }
        }
        Ok(())
    }
}

/// The thresholds of one set of negativity parameters (the detector's or a topic's).
fn validate_negativity(prefix: &str, q: &NegativityParams) -> Result<(), ConfigError> {
    if !(0.0..1.0).contains(&q.min_rise) || q.min_rise == 0.0 {
        return Err(invalid(
            &format!("{prefix}.min_rise"),
            "must be in (0, 1) (medium preset: 0.15)",
        ));
    }
    if q.confidence_z <= 0.0 {
        return Err(invalid(
            &format!("{prefix}.confidence_z"),
            "must be positive (medium preset: 1.96)",
        ));
    }
    if q.min_comments == 0 {
        return Err(invalid(
            &format!("{prefix}.min_comments"),
            "must be at least 1 (medium preset: 40)",
        ));
    }
    if !(0.0..1.0).contains(&q.sequential_rise) || q.sequential_rise == 0.0 {
        return Err(invalid(
            &format!("{prefix}.sequential_rise"),
            "must be in (0, 1) (medium preset: 0.25)",
        ));
    }
    if q.sequential_threshold.is_nan() || q.sequential_threshold <= 0.0 {
        return Err(invalid(
            &format!("{prefix}.sequential_threshold"),
            "must be positive (medium preset: 10)",
        ));
    }
    Ok(())
}
