//! `[alerts]`: sinks, routes and noise control.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Language of alert summaries and notifications: `en` or `it`.
    pub language: Language,
    /// Where alerts not yet delivered to a remote sink wait, so they survive a restart.
    pub outbox_dir: String,
    /// When outbox lines are synced to disk: `always`, `interval` (at most once a second) or
    /// `never` (left to the operating system).
    pub outbox_fsync: OutboxFsync,
    /// A firing episode already notified is not notified again inside this; once it passes
    /// with the episode still firing, a reminder goes out. An escalation always notifies.
    pub repeat_interval_mins: u32,
    /// Alerts held back by a sink's rate limit are reported in one summary per this interval.
    pub summary_interval_mins: u32,
    pub sinks: Vec<SinkConfig>,
    /// Checked in order; the first match decides unless it says `continue = true`.
    pub routes: Vec<RouteConfig>,
    /// For alerts no route matched.
    pub default_route: DefaultRoute,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            language: Language::En,
            outbox_dir: "ondata-outbox".into(),
            outbox_fsync: OutboxFsync::default(),
            repeat_interval_mins: 240,
            summary_interval_mins: 5,
            sinks: vec![SinkConfig::new(SinkKind::Stdout)],
            routes: Vec::new(),
            default_route: DefaultRoute::default(),
        }
    }
}

/// `alerts.outbox_fsync`: what a power loss may take from an outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxFsync {
    /// Every line synced before its alert is queued.
    Always,
    /// Synced at most once a second: the last second's lines are at risk.
    #[default]
    Interval,
    /// Never synced by ondata.
    Never,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    It,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Stdout,
    File,
    Webhook,
    Alertmanager,
    Kafka,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File => "file",
            SinkKind::Webhook => "webhook",
            SinkKind::Alertmanager => "alertmanager",
            SinkKind::Kafka => "kafka",
        }
    }

    /// Sinks that notify people (and so get silences, repeat interval, rate limit and
    /// grouping); the others keep the record of every alert routed to them.
    pub fn notifies(self) -> bool {
        matches!(self, SinkKind::Webhook | SinkKind::Alertmanager)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// What routes call it, and its `sink` label in metrics. Default: the type, numbered
    /// from the second of a kind (`webhook`, `webhook-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Webhook and alertmanager. `env:NAME` reads it from the environment variable NAME,
    /// for URLs that carry a key; logs and `check-config` show only scheme, host and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Webhook body: `generic` (the alert record), `slack` or `teams`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<WebhookFormat>,
    /// Per request, for webhook and alertmanager (default 5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Webhook and alertmanager: notifications a minute at most (default 20; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_min: Option<u32>,
}

/// Notifications a minute a webhook or Alertmanager sink sends at most, by default.
pub const DEFAULT_RATE_LIMIT_PER_MIN: u32 = 20;

impl SinkConfig {
    pub fn new(kind: SinkKind) -> Self {
        Self {
            kind,
            name: None,
            path: None,
            url: None,
            topic: None,
            format: None,
            timeout_ms: None,
            rate_limit_per_min: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Generic,
    Slack,
    Teams,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Shown in grouped notifications and logs. Default: `route-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Alert kinds this route takes (`surge`, `negativity`, `troll_burst`, `theme`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// `warning`, `critical`; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<String>,
    /// Topic names; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Names of the sinks that get what matches.
    pub sinks: Vec<String>,
    /// Hold a matching alert this long so alerts arriving meanwhile go out together.
    #[serde(default)]
    pub group_wait_secs: u32,
    /// Keep checking the routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultRoute {
    /// Sink names; empty: every sink.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<String>,
    pub group_wait_secs: u32,
}

const KINDS: [&str; 5] = crate::alert::AlertKind::NAMES;
const SEVERITIES: [&str; 2] = ["warning", "critical"];

impl AlertsConfig {
    /// The name each sink goes by, in order.
    pub fn sink_names(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeMap::<&str, usize>::new();
        self.sinks
            .iter()
            .map(|s| {
                if let Some(name) = &s.name {
                    return name.clone();
                }
                let n = seen.entry(s.kind.as_str()).or_default();
                *n += 1;
                if *n == 1 {
                    s.kind.as_str().to_string()
                } else {
                    format!("{}-{n}", s.kind.as_str())
                }
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.outbox_dir.trim().is_empty() {
            return Err(invalid(
                "alerts.outbox_dir",
                "a directory for alerts waiting to be delivered (default \"ondata-outbox\")",
            ));
        }
        if self.summary_interval_mins == 0 {
            return Err(invalid(
                "alerts.summary_interval_mins",
                "at least 1 minute (default 5)",
            ));
        }
        for (n, sink) in self.sinks.iter().enumerate() {
            validate_sink(&format!("alerts.sinks[{n}]"), sink)?;
        }
        let names = self.sink_names();
        for (n, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(invalid(
                    &format!("alerts.sinks[{n}].name"),
                    "must not be empty",
                ));
            }
            if names[..n].contains(name) {
                return Err(invalid(
                    &format!("alerts.sinks[{n}].name"),
                    format!("another sink is already called `{name}`; give each a unique name"),
                ));
            }
        }
        let known = |key: &str, sinks: &[String]| -> Result<(), ConfigError> {
            match sinks.iter().find(|s| !names.contains(s)) {
                Some(s) => Err(invalid(
                    key,
                    format!("no sink is called `{s}` (sinks: {})", names.join(", ")),
                )),
                None => Ok(()),
            }
        };
        for (n, route) in self.routes.iter().enumerate() {
            let key = format!("alerts.routes[{n}]");
            if route.sinks.is_empty() {
                return Err(invalid(
                    &format!("{key}.sinks"),
                    "name at least one sink this route sends to",
                ));
            }
            known(&format!("{key}.sinks"), &route.sinks)?;
            if let Some(k) = route.kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
                return Err(invalid(
                    &format!("{key}.kinds"),
                    format!("unknown kind `{k}` (one of {})", KINDS.join(", ")),
                ));
            }
            if let Some(s) = route
                .severities
                .iter()
                .find(|s| !SEVERITIES.contains(&s.as_str()))
            {
                return Err(invalid(
                    &format!("{key}.severities"),
                    format!("unknown severity `{s}` (warning or critical)"),
                ));
            }
            if route.group_wait_secs > 3_600 {
                return Err(invalid(
                    &format!("{key}.group_wait_secs"),
                    "at most 3600 seconds",
                ));
            }
        }
        known("alerts.default_route.sinks", &self.default_route.sinks)?;
        if self.default_route.group_wait_secs > 3_600 {
            return Err(invalid(
                "alerts.default_route.group_wait_secs",
                "at most 3600 seconds",
            ));
        }
        Ok(())
    }
}

fn validate_sink(key: &str, sink: &SinkConfig) -> Result<(), ConfigError> {
    match sink.kind {
        SinkKind::File if sink.path.is_none() => {
            return Err(invalid(&format!("{key}.path"), "a file sink needs `path`"))
        }
        SinkKind::Webhook | SinkKind::Alertmanager if sink.url.is_none() => {
            return Err(invalid(&format!("{key}.url"), "this sink needs `url`"))
        }
        SinkKind::Kafka if sink.topic.is_none() => {
            return Err(invalid(
                &format!("{key}.topic"),
                "a kafka sink needs `topic`",
            ))
        }
        _ => {}
    }
    if let Some(url) = &sink.url {
        let from_env = url
            .strip_prefix("env:")
            .is_some_and(|name| !name.is_empty());
        if !(from_env || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                &format!("{key}.url"),
                "an http:// or https:// URL, e.g. \"http://alertmanager:9093\", or env:NAME to read it from the environment variable NAME (for URLs with a key)",
            ));
        }
    }
    if sink.format.is_some() && sink.kind != SinkKind::Webhook {
        return Err(invalid(
            &format!("{key}.format"),
            "only a webhook sink has a format",
        ));
    }
    if sink.timeout_ms == Some(0) {
        return Err(invalid(
            &format!("{key}.timeout_ms"),
            "a positive number of milliseconds",
        ));
    }
    if sink.rate_limit_per_min.is_some() && !sink.kind.notifies() {
        return Err(invalid(
            &format!("{key}.rate_limit_per_min"),
            "only webhook and alertmanager sinks are rate limited (the others record every alert)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn err(toml: &str) -> String {
        Config::from_toml_with_env(toml, "t.toml", [])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn routes_name_existing_sinks_and_known_values() {
        let sinks = "[[alerts.sinks]]\ntype = \"file\"\npath = \"a.ndjson\"\n\
                     [[alerts.sinks]]\ntype = \"webhook\"\nname = \"oncall\"\nurl = \"http://x\"\n";
        let ok = format!(
            "{sinks}[[alerts.routes]]\nkinds = [\"troll_burst\"]\nsinks = [\"oncall\", \"file\"]\n"
        );
        let c = Config::from_toml_with_env(&ok, "t", []).unwrap();
        assert_eq!(c.alerts.sink_names(), ["file", "oncall"]);
        let e = err(&format!("{sinks}[[alerts.routes]]\nsinks = [\"pager\"]\n"));
        assert!(
            e.contains("alerts.routes[0].sinks") && e.contains("pager"),
            "{e}"
        );
        let e = err(&format!(
            "{sinks}[[alerts.routes]]\nkinds = [\"surges\"]\nsinks = [\"file\"]\n"
        ));
        assert!(
            e.contains("alerts.routes[0].kinds") && e.contains("surges"),
            "{e}"
        );
        let e = err(&format!(
            "{sinks}[[alerts.routes]]\nseverities = [\"high\"]\nsinks = [\"file\"]\n"
        ));
        assert!(e.contains("severities"), "{e}");
        let e = err(&format!(
            "{sinks}[alerts.default_route]\nsinks = [\"nope\"]\n"
        ));
        assert!(e.contains("alerts.default_route.sinks"), "{e}");
    }

    #[test]
    fn sink_names_are_unique_and_rate_limits_only_on_notifiers() {
        let e = err("[[alerts.sinks]]\ntype = \"webhook\"\nurl = \"http://a\"\n\
                     [[alerts.sinks]]\ntype = \"webhook\"\nname = \"webhook\"\nurl = \"http://b\"\n");
        assert!(e.contains("alerts.sinks[1].name"), "{e}");
        let e = err("[[alerts.sinks]]\ntype = \"file\"\npath = \"a\"\nrate_limit_per_min = 3\n");
        assert!(e.contains("alerts.sinks[0].rate_limit_per_min"), "{e}");
        let e = err("[alerts]\nlanguage = \"fr\"\n");
        assert!(e.contains("language") || e.contains("fr"), "{e}");
    }
}
