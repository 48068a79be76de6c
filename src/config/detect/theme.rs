//! The `[detect.theme]` section: emerging themes, the words and short phrases whose share of
//! a topic's comments jumps against their own history.

use serde::{Deserialize, Serialize};

use crate::config::{invalid, ConfigError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeConfig {
    /// Off: no themes in alerts, no `theme` alerts, no cost per comment.
    pub enabled: bool,
    /// Half-life of the recent counts (minutes): what "now" means.
    pub recent_minutes: u32,
    /// Half-life of a term's usual share (hours): what "before" means.
    pub baseline_hours: u32,
    /// Comments a topic must have behind it before any of its terms can be new.
    pub min_history: u32,
    /// A theme: comments mentioning it in the recent counts, at least.
    pub min_comments: u32,
    /// ... at least this share of the topic's recent comments ...
    pub min_share: f64,
    /// ... at least this many times its usual share (a usual share under `floor_share`
    /// counts as `floor_share`) ...
    pub min_lift: f64,
    pub floor_share: f64,
    /// ... and this far above it in Poisson standard deviations.
    pub min_z: f64,
    /// A `theme` alert: one phrase emerging on at least this many topics at once.
    pub min_topics: u32,
    /// A `theme` alert resolves after this many minutes on fewer topics.
    pub resolve_minutes: u32,
}

impl Default for ThemeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            recent_minutes: 10,
            baseline_hours: 24,
            min_history: 300,
            min_comments: 6,
            min_share: 0.15,
            min_lift: 4.0,
            floor_share: 0.02,
            min_z: 4.0,
            min_topics: 2,
            resolve_minutes: 15,
        }
    }
}

impl ThemeConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("detect.theme.{k}");
        if !(1..=240).contains(&self.recent_minutes) {
            return Err(invalid(&key("recent_minutes"), "give 1 to 240 minutes"));
        }
        if !(1..=24 * 30).contains(&self.baseline_hours)
            || self.baseline_hours * 60 <= self.recent_minutes * 4
        {
            return Err(invalid(
                &key("baseline_hours"),
                "give 1 to 720 hours, longer than four times recent_minutes",
            ));
        }
        for (k, v) in [
            ("min_share", self.min_share),
            ("floor_share", self.floor_share),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return Err(invalid(&key(k), "give a share between 0 and 1, e.g. 0.15"));
            }
        }
        if !(self.min_lift >= 1.0 && self.min_lift.is_finite()) {
            return Err(invalid(
                &key("min_lift"),
                "give a ratio of at least 1, e.g. 4",
            ));
        }
        if !(self.min_z >= 0.0 && self.min_z.is_finite()) {
            return Err(invalid(
                &key("min_z"),
                "give a deviation of at least 0, e.g. 4",
            ));
        }
        if self.min_comments == 0 {
            return Err(invalid(&key("min_comments"), "give at least 1"));
        }
        if self.min_topics < 2 {
            return Err(invalid(&key("min_topics"), "give at least 2 topics"));
        }
        if self.resolve_minutes == 0 {
            return Err(invalid(&key("resolve_minutes"), "give at least 1 minute"));
        }
        Ok(())
    }
}
