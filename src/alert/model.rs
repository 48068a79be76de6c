//! The alert record: one JSON shape on every sink, with a stable id per episode.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::format_ts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Surge,
    Negativity,
    TrollBurst,
    /// A phrase emerging on several topics at once.
    Theme,
    /// Many accounts flooding one hashtag or mention within minutes, in their own words.
    Coordination,
}

impl AlertKind {
    /// Every kind's name, as routes and silences name them.
    pub const NAMES: [&'static str; 5] = [
        "surge",
        "negativity",
        "troll_burst",
        "theme",
        "coordination",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Surge => "surge",
            AlertKind::Negativity => "negativity",
            AlertKind::TrollBurst => "troll_burst",
            AlertKind::Theme => "theme",
            AlertKind::Coordination => "coordination",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// An example comment attached to an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub text: String,
    pub author: String,
    pub ts: String,
}

/// Longest sample text kept, in characters; enough to read, small enough for a phone.
pub const SAMPLE_CHARS: usize = 280;

impl Sample {
    pub fn new(text: &str, author: &str, ts_ms: i64) -> Self {
        let text = match text.char_indices().nth(SAMPLE_CHARS) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_string(),
        };
        Self {
            text,
            author: author.to_string(),
            ts: format_ts(ts_ms),
        }
    }
}

/// Evidence for a surge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurgeDetails {
    /// Length of the window that was measured.
    pub window_minutes: u32,
    pub comments_in_window: u32,
    pub expected_in_window: f64,
    pub ratio: f64,
    /// Poisson deviation on the square-root scale (see `detect::stats::poisson_z`).
    pub z: f64,
    /// `recent level` or `same time on earlier days`: which of the two set the expectation.
    pub baseline_source: String,
    /// Comments per bucket across the window, oldest first.
    pub per_bucket: Vec<u32>,
    /// Highest ratio seen in the episode so far.
    pub peak_ratio: f64,
    pub duration_minutes: u32,
    /// The deviation the window needed: `min_z`, or the line above the topic's own usual
    /// bursts when that is higher.
    #[serde(default)]
    pub z_needed: f64,
    /// The sustained window (hours): `ratio` and `z` are those of its median 5 minutes and
    /// `per_bucket` holds its 5-minute sums.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sustained: bool,
    /// Comments in the window from an active troll campaign on the topic: the part of the
    /// surge the campaign explains.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub campaign_comments: u32,
    /// What drives it: the phrases emerging on the topic (see [`ThemeShare`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub themes: Vec<ThemeShare>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Evidence for a negativity shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegativityDetails {
    pub window_minutes: u32,
    pub comments: u32,
    pub negative: u32,
    pub negative_share: f64,
    /// Wilson score interval of the negative share.
    pub share_low: f64,
    pub share_high: f64,
    pub confidence_z: f64,
    pub baseline_share: f64,
    pub peak_share: f64,
    pub duration_minutes: u32,
    /// Comments in the window from active troll clusters, and how many were negative.
    pub troll_comments: u32,
    pub troll_negative: u32,
    /// Share of the negative comments that came from troll clusters.
    pub negative_from_trolls_share: f64,
    /// The negative share with troll-cluster comments set aside (authenticity-adjusted).
    pub negative_share_without_trolls: Option<f64>,
    /// The window is the sequential test's run: the minutes since the evidence that the share
    /// rose began to build (a topic too quiet to fill the fixed windows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sequential: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub themes: Vec<ThemeShare>,
}

/// A phrase emerging on a topic: the share of the topic's recent comments that mention it
/// (weighted over `detect.theme.recent_minutes`) and how many times its usual share that is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeShare {
    pub phrase: String,
    pub share: f64,
    pub lift: f64,
}

/// One topic a theme emerged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeTopic {
    pub topic: String,
    pub share: f64,
    pub lift: f64,
    /// Recent comments on the topic that mention the phrase (weighted, rounded).
    pub comments: u32,
}

/// Evidence for a theme: one phrase emerging on several topics at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeDetails {
    pub phrase: String,
    /// The topics it emerged on, highest share first.
    pub topics: Vec<ThemeTopic>,
    /// Its share of those topics' recent comments together.
    pub share: f64,
    /// Half-life of the recent counts, in minutes.
    pub recent_minutes: u32,
    pub duration_minutes: u32,
    /// Other phrases of the same theme (parts or extensions of it) emerging with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountPosts {
    pub account: String,
    pub posts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagCount {
    pub tag: String,
    pub count: u32,
}

/// Evidence for a troll burst: a near-duplicate cluster posted by many accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrollDetails {
    pub messages: u32,
    pub distinct_authors: u32,
    pub representative: String,
    /// Normalised tokens of the representative message.
    pub tokens: u32,
    /// Accounts that posted more than once, most active first (at most 10).
    pub repeated_accounts: Vec<AccountPosts>,
    pub top_mentions: Vec<TagCount>,
    pub top_hashtags: Vec<TagCount>,
    pub first_seen: String,
    pub last_seen: String,
    pub negative_share: f64,
    pub similarity_threshold: f64,
    pub duration_minutes: u32,
    /// An earlier campaign many of the same accounts took part in (campaign memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_campaign: Option<Box<EarlierCampaign>>,
}

/// An earlier troll burst whose accounts overlap this one's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlierCampaign {
    /// Its alert id.
    pub id: String,
    pub topic: String,
    pub started_at: String,
    /// Accounts of this burst that took part in it, of this burst's accounts (the first
    /// 512 of each are compared: beyond, the count is a lower bound).
    pub shared_accounts: u32,
    pub accounts: u32,
    pub representative: String,
}

/// Kind-specific evidence. Serialised without a tag: the alert's `kind` says which it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Details {
    Surge(SurgeDetails),
    Negativity(NegativityDetails),
    TrollBurst(TrollDetails),
    Theme(ThemeDetails),
    Coordination(CoordinationDetails),
}

/// A `coordination` alert: one hashtag or mention flooded by many accounts in their own
/// words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoordinationDetails {
    /// `#tag` or `@account`, folded as ondata reads it.
    pub tag: String,
    /// Distinct accounts that used it within the window, and their comments.
    pub accounts: u32,
    pub comments: u32,
    pub window_minutes: u32,
    /// Its share of the topic's comments in the window, its usual share, and the ratio
    /// (against the floor when the usual share is lower).
    pub share: f64,
    pub usual_share: f64,
    pub lift: f64,
    /// Comments expected to use it in the window at its usual share.
    pub expected: f64,
    pub duration_minutes: u32,
    /// Most accounts within one window during the episode.
    pub peak_accounts: u32,
}

/// One alert transition. Field order is the JSON field order, kept stable for golden files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    /// The incident this alert belongs to: the id of the first alert of a group of episodes
    /// on one topic that overlap in time (one cause, e.g. a troll campaign and the surge and
    /// negativity its messages bring). An alert alone is its own incident.
    #[serde(default)]
    pub incident: String,
    pub kind: AlertKind,
    pub status: AlertStatus,
    pub severity: Severity,
    pub topic: String,
    pub at: String,
    pub started_at: String,
    pub value: f64,
    pub baseline: f64,
    pub threshold: f64,
    pub summary: String,
    pub details: Details,
    pub samples: Vec<Sample>,
    /// Link to the alert's card on the status page (`http.public_url` set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Event time of `at`, for ordering and metrics; not part of the JSON.
    #[serde(skip)]
    pub at_ms: i64,
}

impl Alert {
    /// The incident this record belongs to (a record written before incidents existed, or
    /// built by hand without one, is its own).
    pub fn incident_id(&self) -> &str {
        if self.incident.is_empty() {
            &self.id
        } else {
            &self.incident
        }
    }

    /// Whether this record joins an incident another alert opened.
    pub fn joins_incident(&self) -> bool {
        self.incident_id() != self.id
    }

    /// The alert as one JSON line (without the newline).
    /// Reads an alert record back (outboxes, reports); `at_ms` comes from `at`.
    pub fn from_json(line: &str) -> Result<Alert, String> {
        let mut alert: Alert = serde_json::from_str(line).map_err(|e| e.to_string())?;
        alert.at_ms = crate::event::parse_time_arg(&alert.at)?;
        if alert.incident.is_empty() {
            // A record written before incidents existed: its own incident.
            alert.incident.clone_from(&alert.id);
        }
        Ok(alert)
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise alert: {e}\"}}"))
    }
}

/// Stable id of an episode: FNV-1a over kind, topic and episode start. The same episode keeps
/// its id across its firing and resolved records, across replays and across restarts.
pub fn fingerprint(kind: AlertKind, topic: &str, started_at_ms: i64) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let started = started_at_ms.to_le_bytes();
    for part in [
        kind.as_str().as_bytes(),
        b"\0",
        topic.as_bytes(),
        b"\0",
        &started[..],
    ] {
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    format!("{h:016x}")
}

impl Alert {
    /// A plausible surge alert for tests and examples: `id` and times as given.
    #[doc(hidden)]
    pub fn example(
        id: &str,
        topic: &str,
        status: AlertStatus,
        severity: Severity,
        at_ms: i64,
    ) -> Alert {
        Alert {
            id: id.to_string(),
            incident: id.to_string(),
            kind: AlertKind::Surge,
            status,
            severity,
            topic: topic.to_string(),
            at: format_ts(at_ms),
            started_at: format_ts(at_ms - 300_000),
            value: 30.0,
            baseline: 5.0,
            threshold: 12.5,
            summary: format!("Surge on \u{ab}{topic}\u{bb}: 150 comments in the last 5 minutes, 6.0\u{d7} the usual 25 (alert at 2.5\u{d7})."),
            details: Details::Surge(SurgeDetails {
                window_minutes: 5,
                comments_in_window: 150,
                expected_in_window: 25.0,
                ratio: 6.0,
                z: 12.0,
                baseline_source: "recent level".into(),
                per_bucket: vec![10, 20, 30, 40, 50],
                peak_ratio: 6.0,
                duration_minutes: 5,
                z_needed: 5.0,
                sustained: false,
                campaign_comments: 0,
                themes: Vec::new(),
            }),
            samples: vec![Sample::new("il sito non funziona", "mario", at_ms - 1_000)],
            url: None,
            at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_once_as_records_write_it() {
        let kinds = [
            AlertKind::Surge,
            AlertKind::Negativity,
            AlertKind::TrollBurst,
            AlertKind::Theme,
            AlertKind::Coordination,
        ];
        for (kind, name) in kinds.iter().zip(AlertKind::NAMES) {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(
                serde_json::from_value::<AlertKind>(name.into()).unwrap(),
                *kind
            );
        }
    }

    #[test]
    fn an_alert_reads_back_as_written() {
        let a = Alert::example(
            "0123456789abcdef",
            "bonus-600",
            AlertStatus::Firing,
            Severity::Critical,
            1_585_720_800_000,
        );
        assert_eq!(Alert::from_json(&a.to_json_line()).unwrap(), a);
        for line in include_str!("../../tests/fixtures/troll-wave-seed12.alerts.ndjson").lines() {
            let back = Alert::from_json(line).unwrap();
            assert_eq!(back.to_json_line(), line, "every kind round-trips");
        }
        assert!(Alert::from_json("{\"id\": 1}").is_err());
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_episodes() {
        let a = fingerprint(AlertKind::Surge, "bonus-600", 1_585_720_800_000);
        assert_eq!(
            a,
            fingerprint(AlertKind::Surge, "bonus-600", 1_585_720_800_000)
        );
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            fingerprint(AlertKind::Negativity, "bonus-600", 1_585_720_800_000)
        );
        assert_ne!(
            a,
            fingerprint(AlertKind::Surge, "bonus-600", 1_585_720_860_000)
        );
        // Pinned: ids must not change between versions, or deduplication downstream breaks.
        assert_eq!(a, "53d64bc3f33407b7");
    }

    #[test]
    fn samples_are_truncated_on_char_boundaries() {
        let s = Sample::new(&"è".repeat(400), "a", 0);
        assert_eq!(s.text.chars().count(), SAMPLE_CHARS + 1);
    }
}
