//! The `[detect.coordination]` section: many accounts flooding one hashtag or mention within
//! minutes, in their own words.

use serde::{Deserialize, Serialize};

use crate::config::{invalid, ConfigError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinationConfig {
    /// Off: no `coordination` alerts, no cost per comment.
    pub enabled: bool,
    /// The uses of a tag counted together (minutes).
    pub window_minutes: u32,
    /// A flood: at least this many distinct accounts used the tag in the window ...
    pub min_accounts: u32,
    /// ... in at least this share of the topic's comments of the window ...
    pub min_share: f64,
    /// ... at least this many times the tag's usual share (a usual share under
    /// `floor_share` counts as `floor_share`).
    pub min_lift: f64,
    pub floor_share: f64,
    /// Half-life of a tag's usual share (hours).
    pub baseline_hours: u32,
    /// Comments a topic must have behind it before any tag can flood it.
    pub min_history: u32,
    /// A flood resolves after this many minutes with under half `min_accounts` in the window.
    pub resolve_minutes: u32,
}

impl Default for CoordinationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_minutes: 5,
            min_accounts: 15,
            min_share: 0.2,
            min_lift: 4.0,
            floor_share: 0.02,
            baseline_hours: 24,
            min_history: 300,
            resolve_minutes: 10,
        }
    }
}

impl CoordinationConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("detect.coordination.{k}");
        if !(1..=120).contains(&self.window_minutes) {
            return Err(invalid(&key("window_minutes"), "give 1 to 120 minutes"));
        }
        if self.min_accounts < 2 {
            return Err(invalid(
                &key("min_accounts"),
                "give at least 2 accounts (default 15)",
            ));
        }
        for (k, v) in [
            ("min_share", self.min_share),
            ("floor_share", self.floor_share),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return Err(invalid(&key(k), "give a share between 0 and 1, e.g. 0.2"));
            }
        }
        if !(self.min_lift >= 1.0 && self.min_lift.is_finite()) {
            return Err(invalid(
                &key("min_lift"),
                "give a ratio of at least 1, e.g. 4",
            ));
        }
        if !(1..=24 * 30).contains(&self.baseline_hours) {
            return Err(invalid(&key("baseline_hours"), "give 1 to 720 hours"));
        }
        if !(1..=24 * 60).contains(&self.resolve_minutes) {
            return Err(invalid(&key("resolve_minutes"), "give 1 to 1440 minutes"));
        }
        Ok(())
    }
}
