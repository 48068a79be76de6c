//! The typed configuration tree.
//!
//! One struct per TOML table, `deny_unknown_fields` everywhere so a typo is an error that names
//! the key, defaults that work without tuning, and unit-suffixed names (`_secs`, `_mins`).
//! `config/ondata.toml` documents every key; a test keeps that file and [`Config::default`]
//! identical. Any key can be overridden from the environment as `ONDATA__SECTION__KEY`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod alerts;
mod detect;
mod display;
mod env;
mod presets;
mod role;
use env::{apply_env_override, blame_env, non_finite};

pub use alerts::{
    AlertsConfig, DefaultRoute, Language, OutboxFsync, RouteConfig, SinkConfig, SinkKind,
    WebhookFormat, DEFAULT_RATE_LIMIT_PER_MIN,
};
pub use detect::{
    CoordinationConfig, DetectConfig, NegativityConfig, NegativityTopicOverride, SurgeConfig,
    ThemeConfig, TrollConfig, TrollTopicOverride,
};
pub use display::{DisplayConfig, HttpConfig, Zone};
pub use presets::{NegativityParams, Sensitivity, SurgeParams, TrollParams};
pub use role::Role;

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "ONDATA__";

/// Why a configuration could not be used. Every variant names the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub input: InputConfig,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    pub display: DisplayConfig,
    pub alerts: AlertsConfig,
    pub topics: TopicsConfig,
    pub engine: EngineConfig,
    pub sentiment: SentimentConfig,
    pub detect: DetectConfig,
}

/// Limits applied to every incoming event, whatever its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputConfig {
    /// Comments with a longer `text` are rejected as `text_too_long`.
    pub max_text_bytes: usize,
    /// Lines longer than this are not even parsed: rejected as `line_too_long`, and only their
    /// first KiB is kept in the dead letter, so a runaway producer cannot exhaust memory.
    pub max_line_bytes: usize,
    /// `author`, `topic`, `id`, `channel` and `lang` longer than this are rejected as
    /// `field_too_long`.
    pub max_field_bytes: usize,
    /// How many recent event ids are remembered to drop exact redeliveries (8 bytes each, in
    /// two rotating generations). An id is unique per channel (and per input file, in a
    /// replay).
    pub dedup_ids: usize,
    /// An event stamped more than this ahead of the stream's time (and, live, of the wall
    /// clock) does not move the stream's time: it waits until the stream catches up, or is
    /// dead-lettered as `ts_ahead`.
    pub max_ahead_secs: u32,
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_line_bytes: 4 * 1024 * 1024,
            max_field_bytes: 1024,
            dedup_ids: 1_000_000,
            max_ahead_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topics: Vec<String>,
    pub group_id: String,
    pub dead_letter_topic: String,
    /// Hours of each partition's history read back into the engine on start and on every
    /// partition assignment, before going live (0: start empty).
    pub rebuild_hours: u32,
    /// Where the engine's state is snapshotted (a folder per group, a file per set of
    /// partitions): a restart reads back only what came after, not `rebuild_hours`.
    pub state_dir: String,
    /// Seconds between state snapshots (also written on shutdown and before an assignment
    /// changes); 0 writes none and always rebuilds from history.
    pub snapshot_secs: u32,
    /// Partitions of the internal topic `<group_id>.by-topic` spreading comments by topic
    /// (0: none: producers key by topic, keyword topics need one instance).
    pub repartition_partitions: u32,
    /// Replication of that topic when ondata creates it (-1: the brokers' default).
    pub repartition_replication: i32,
    #[serde(skip)] // `ondata run --role`
    pub role: Role,
    /// Any librdkafka property, passed through unchanged; a value `env:NAME` is read from the
    /// environment variable NAME (for secrets).
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "localhost:9092".into(),
            topics: vec!["comments".into()],
            group_id: "ondata".into(),
            dead_letter_topic: "comments.dlq".into(),
            rebuild_hours: 24,
            state_dir: "ondata-state".into(),
            snapshot_secs: 60,
            repartition_partitions: 0,
            repartition_replication: -1,
            role: Role::All,
            client: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Keyword/hashtag topics, matched case- and accent-insensitively on whole words.
    pub rules: Vec<TopicRule>,
    /// Topics named by events' own `topic` field beyond this many fold into `other`.
    pub max_dynamic: usize,
    /// Past the cap, a topic from events with no event for this many hours of event time
    /// (and nothing firing) gives its slot to a new name; 0 keeps every slot for good.
    pub idle_evict_hours: u32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            rules: vec![TopicRule {
                name: "bonus-600".into(),
                keywords: vec!["bonus 600".into(), "600 euro".into(), "#bonus600".into()],
            }],
            max_dynamic: 200,
            idle_evict_hours: 24,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    pub name: String,
    pub keywords: Vec<String>,
}

/// Event-time windowing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Width of the per-topic buckets every detector reads.
    pub bucket_secs: u32,
    /// The watermark trails the newest event time by this much; older events are late.
    pub allowed_lateness_secs: u32,
    /// Each event's `topic` is its one topic, resolved by a repartition; not a file key.
    #[serde(skip)]
    pub routed: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            bucket_secs: 60,
            allowed_lateness_secs: 30,
            routed: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SentimentConfig {
    /// A comment whose score is at or below this is negative.
    pub negative_at_or_below: f64,
    /// A comment whose score is at or above this is positive.
    pub positive_at_or_above: f64,
    /// Language assumed when an event has no `lang` and the guess is a tie.
    pub default_lang: String,
    /// The learned model beside the lexicon: `"shipped"` (the models in `models/`), a file
    /// written by `ondata sentiment train` (for its language), or `"none"`/absent (the
    /// lexicon alone, the default). With a model, a comment's label is the model's most likely
    /// class; the two thresholds above then apply to scores that come with events.
    pub model: Option<String>,
    /// Extra words: `word<TAB>valence` (-4..4, Italian) or `word<TAB>valence<TAB>en`, taking
    /// precedence over the shipped lexicons.
    pub lexicon: Option<String>,
}

impl Default for SentimentConfig {
    fn default() -> Self {
        Self {
            negative_at_or_below: -0.05,
            positive_at_or_above: 0.05,
            default_lang: "it".into(),
            model: None,
            lexicon: None,
        }
    }
}

impl Config {
    /// Loads `path` (or the defaults when `None`), applies `ONDATA__…` overrides from `env`,
    /// and validates the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "built-in defaults".to_string()),
        };
        Self::from_toml_with_env(&text, &origin, env)
    }

    /// Parses TOML text, applies environment overrides and validates.
    pub fn from_toml_with_env(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: origin.to_string(),
                    message: e.to_string(),
                })?;
        let mut overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        overrides.sort();
        let base = table.clone();
        for (var, value) in &overrides {
            apply_env_override(&mut table, var, value)?;
        }
        let checked = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Parse {
                origin: origin.to_string(),
                message: e.to_string(),
            })
            .and_then(|c| {
                non_finite(&toml::Value::try_from(&c).ok(), "").map_or(Ok(()), |(key, v)| {
                    Err(invalid(&key, format!("{v} is not a number ondata can use")))
                })?;
                c.validate()?;
                Ok(c)
            });
        match checked {
            Ok(c) => Ok(c),
            // Blame the variable, not the file, when the file alone is fine.
            Err(e) if !overrides.is_empty() => {
                Err(blame_env(base, origin, &overrides).unwrap_or(e))
            }
            Err(e) => Err(e),
        }
    }

    /// The effective configuration as TOML, every preset resolved, as `check-config` prints it.
    pub fn effective_toml(&self) -> String {
        let mut shown = self.clone();
        let surge = self.detect.surge_params();
        let neg = self.detect.negativity_params();
        shown.detect.surge.sensitivity = Some(surge.sensitivity);
        shown.detect.surge.min_ratio = Some(surge.min_ratio);
        shown.detect.surge.min_z = Some(surge.min_z);
        shown.detect.surge.min_events = Some(surge.min_events);
        shown.detect.negativity.sensitivity = Some(neg.sensitivity);
        shown.detect.negativity.min_rise = Some(neg.min_rise);
        shown.detect.negativity.confidence_z = Some(neg.confidence_z);
        shown.detect.negativity.min_comments = Some(neg.min_comments);
        let troll = self.detect.troll_params("");
        shown.detect.troll.sensitivity = Some(troll.sensitivity);
        shown.detect.troll.min_messages = Some(troll.min_messages);
        shown.detect.troll.min_authors = Some(troll.min_authors);
        shown.detect.troll.min_tokens = Some(troll.min_tokens);
        // Secrets are not printed: passwords in `[kafka.client]`, keys inside sink URLs.
        for (k, v) in shown.kafka.client.iter_mut() {
            *v = crate::secret::shown_property(k, v);
        }
        for sink in &mut shown.alerts.sinks {
            if let Some(url) = sink.url.as_mut() {
                *url = crate::secret::shown_url(url);
            }
        }
        // Serialising a plain data tree cannot fail.
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let i = &self.input;
        if i.max_text_bytes == 0 {
            return Err(invalid(
                "input.max_text_bytes",
                "must be at least 1 (default 65536)",
            ));
        }
        if i.max_line_bytes < i.max_text_bytes {
            return Err(invalid(
                "input.max_line_bytes",
                "must be at least input.max_text_bytes (default 4194304)",
            ));
        }
        if !(16..=i.max_line_bytes).contains(&i.max_field_bytes) {
            return Err(invalid(
                "input.max_field_bytes",
                "must be between 16 and input.max_line_bytes (default 1024)",
            ));
        }
        if !(1..=7 * 86_400).contains(&i.max_ahead_secs) {
            return Err(invalid(
                "input.max_ahead_secs",
                "must be between 1 and 604800 (a week; default 300)",
            ));
        }
        self.http.validate()?;
        self.display.validate()?;
        if self.kafka.topics.is_empty() {
            return Err(invalid(
                "kafka.topics",
                "name at least one topic, e.g. [\"comments\"]",
            ));
        }
        if self.kafka.snapshot_secs > 0 && self.kafka.state_dir.trim().is_empty() {
            return Err(invalid(
                "kafka.state_dir",
                "name a folder for state snapshots (default \"ondata-state\"), or set kafka.snapshot_secs = 0",
            ));
        }
        self.alerts.validate()?;
        let mut seen = std::collections::BTreeSet::new();
        for (n, rule) in self.topics.rules.iter().enumerate() {
            let key = format!("topics.rules[{n}]");
            if rule.name.trim().is_empty() {
                return Err(invalid(&format!("{key}.name"), "must not be empty"));
            }
            if !seen.insert(rule.name.as_str()) {
                return Err(invalid(
                    &format!("{key}.name"),
                    format!("topic `{}` is defined twice; merge its keywords", rule.name),
                ));
            }
            if rule.keywords.iter().all(|k| k.trim().is_empty()) {
                return Err(invalid(
                    &format!("{key}.keywords"),
                    "give at least one keyword",
                ));
            }
        }
        let e = &self.engine;
        if e.bucket_secs == 0 || 86_400 % e.bucket_secs != 0 {
            return Err(invalid(
                "engine.bucket_secs",
                "must divide a day evenly (e.g. 10, 30, 60, 300; default 60)",
            ));
        }
        if e.allowed_lateness_secs > 3_600 {
            return Err(invalid(
                "engine.allowed_lateness_secs",
                "must be at most 3600 (default 30)",
            ));
        }
        let s = &self.sentiment;
        if !(-1.0..=0.0).contains(&s.negative_at_or_below) {
            return Err(invalid(
                "sentiment.negative_at_or_below",
                "must be in [-1, 0] (default -0.05)",
            ));
        }
        if !(0.0..=1.0).contains(&s.positive_at_or_above) {
            return Err(invalid(
                "sentiment.positive_at_or_above",
                "must be in [0, 1] (default 0.05)",
            ));
        }
        for (key, path) in [
            ("sentiment.model", &s.model),
            ("sentiment.lexicon", &s.lexicon),
        ] {
            if path.as_deref().is_some_and(|p| p.trim().is_empty()) {
                return Err(invalid(key, "is empty: give a file path (or leave it out)"));
            }
        }
        if !matches!(s.default_lang.as_str(), "it" | "en") {
            return Err(invalid(
                "sentiment.default_lang",
                "must be \"it\" or \"en\"",
            ));
        }
        self.detect.validate(e.bucket_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sensitivity;

    const SHIPPED: &str = include_str!("../../config/ondata.toml");

    #[test]
    fn shipped_config_is_the_default() {
        let shipped = Config::from_toml_with_env(SHIPPED, "config/ondata.toml", []).unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_with_env("[detect]\nsensitivty = \"high\"\n", "x.toml", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("sensitivty"), "{err}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = Config::from_toml_with_env("[detect.surge]\nmin_ratio = 0.5\n", "x.toml", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("detect.surge.min_ratio"), "{err}");
    }

    #[test]
    fn env_overrides_keys_with_typed_values() {
        let env = [
            (
                "ONDATA__KAFKA__BROKERS".to_string(),
                "k1:9092,k2:9092".to_string(),
            ),
            (
                "ONDATA__DETECT__SURGE__MIN_EVENTS".to_string(),
                "44".to_string(),
            ),
            (
                "ONDATA__DETECT__SENSITIVITY".to_string(),
                "high".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::from_toml_with_env("", "test", env).unwrap();
        assert_eq!(c.kafka.brokers, "k1:9092,k2:9092");
        assert_eq!(c.detect.surge.min_events, Some(44));
        assert_eq!(c.detect.sensitivity, Sensitivity::High);
    }

    #[test]
    fn unknown_env_key_is_an_error() {
        let env = [("ONDATA__KAFKA__BROKRES".to_string(), "x".to_string())];
        let err = Config::from_toml_with_env("", "test", env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("brokres"), "{err}");
    }

    #[test]
    fn presets_fill_unset_knobs_and_explicit_values_win() {
        let c = Config::from_toml_with_env(
            "[detect]\nsensitivity = \"low\"\n[detect.surge]\nmin_ratio = 3.5\n",
            "t",
            [],
        )
        .unwrap();
        let p = c.detect.surge_params();
        assert_eq!(p.min_ratio, 3.5);
        assert_eq!(p.sensitivity, Sensitivity::Low);
        assert!(p.min_events > Config::default().detect.surge_params().min_events);
        let effective = c.effective_toml();
        assert!(effective.contains("min_ratio = 3.5"), "{effective}");
    }

    #[test]
    fn troll_thresholds_have_presets_and_per_topic_overrides() {
        let c = Config::from_toml_with_env(
            "[detect.troll]\nsensitivity = \"high\"\n[detect.troll.topics.\"bonus-600\"]\nmin_messages = 40\n",
            "t",
            [],
        )
        .unwrap();
        assert_eq!(c.detect.troll_params("bonus-600").min_messages, 40);
        assert_eq!(
            c.detect.troll_params("bonus-600").min_authors,
            6,
            "preset fills the rest"
        );
        assert_eq!(c.detect.troll_params("pensioni").min_messages, 12);
        let err =
            Config::from_toml_with_env("[detect.troll.topics.x]\nmin_authors = 50\n", "t", [])
                .unwrap_err()
                .to_string();
        assert!(err.contains("detect.troll.topics.x.min_authors"), "{err}");
    }

    #[test]
    fn negativity_thresholds_have_per_topic_overrides() {
        let c = Config::from_toml_with_env(
            "[detect.negativity.topics.pensioni]\nmin_rise = 0.1\nsequential_threshold = 8.0\n",
            "t",
            [],
        )
        .unwrap();
        let p = c.detect.negativity_params_for("pensioni");
        assert_eq!((p.min_rise, p.sequential_threshold), (0.1, 8.0));
        assert_eq!(p.min_comments, 40, "preset fills the rest");
        let other = c.detect.negativity_params_for("naspi");
        assert_eq!((other.min_rise, other.sequential_threshold), (0.15, 10.0));
        let err = Config::from_toml_with_env(
            "[detect.negativity.topics.x]\nsequential_rise = 1.5\n",
            "t",
            [],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("detect.negativity.topics.x.sequential_rise"),
            "{err}"
        );
    }

    #[test]
    fn file_sink_without_path_is_named() {
        let err = Config::from_toml_with_env("[[alerts.sinks]]\ntype = \"file\"\n", "t", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("alerts.sinks[0].path"), "{err}");
    }
}
