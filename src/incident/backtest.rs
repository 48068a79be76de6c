//! Backtests: a recorded stream replayed under several configurations, each scored against
//! labelled incidents (what was found, how soon, what fired for nothing, how many messages
//! people would have received), printed side by side.
//!
//! Labels are a JSON array of `{"kind", "topic", "start", "end"}` (extra fields such as
//! `note` are ignored), the format `ondata simulate --labels` writes. `kind` is `surge`,
//! `negativity`, `troll_burst`, or `complaint_wave` (a genuine wave of complaints: a surge
//! or a negativity alert finds it; a troll burst on it is a false alarm). An alert episode
//! matches a label when topic and kind agree and its first alert falls between 10 minutes
//! before the label's start and its end. Alerts are counted by incident (the episodes on one
//! topic that overlap in time, which the alerts name): an incident none of whose episodes
//! matches a label is a false alarm, so the surge a labelled troll campaign causes is part of
//! the campaign's incident, not a false alarm of its own.

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::notifications::{self, Notifications};
use super::timeline::{episodes, Episode};
use crate::alert::{Alert, AlertKind};
use crate::event::parse_time_arg;

/// How early an alert may come and still count for a label (a build-up before the labelled
/// start is often already the incident).
pub const EARLY_MS: i64 = 10 * 60_000;

/// One labelled incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub kind: String,
    pub topic: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Deserialize)]
struct RawLabel {
    kind: String,
    topic: String,
    start: serde_json::Value,
    end: serde_json::Value,
}

const KINDS: &[&str] = &["surge", "negativity", "troll_burst", "complaint_wave"];

impl Label {
    /// Alert kinds that find this incident.
    fn found_by(&self, kind: AlertKind) -> bool {
        match self.kind.as_str() {
            "complaint_wave" => matches!(kind, AlertKind::Surge | AlertKind::Negativity),
            k => k == kind.as_str(),
        }
    }

    fn matches(&self, e: &Episode) -> bool {
        e.first.topic == self.topic
            && self.found_by(e.first.kind)
            && e.first.at_ms >= self.start_ms - EARLY_MS
            && e.first.at_ms <= self.end_ms
    }

    pub fn name(&self) -> String {
        format!("{} on {}", self.kind, self.topic)
    }
}

fn time_of(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n}: not a time")),
        serde_json::Value::String(s) => parse_time_arg(s),
        other => Err(format!("{other}: not a time (RFC 3339 or epoch ms)")),
    }
}

/// Reads a labels file; errors name the label and the field.
pub fn read_labels(path: &Path) -> Result<Vec<Label>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read labels {}: {e}", path.display()))?;
    parse_labels(&text).map_err(|e| format!("labels {}: {e}", path.display()))
}

pub fn parse_labels(text: &str) -> Result<Vec<Label>, String> {
    let raw: Vec<RawLabel> = serde_json::from_str(text).map_err(|e| {
        format!("{e} (expected a JSON array of {{\"kind\", \"topic\", \"start\", \"end\"}})")
    })?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            if !KINDS.contains(&r.kind.as_str()) {
                return Err(format!(
                    "[{i}].kind = \"{}\": must be one of {}",
                    r.kind,
                    KINDS.join(", ")
                ));
            }
            let start_ms = time_of(&r.start).map_err(|e| format!("[{i}].start: {e}"))?;
            let end_ms = time_of(&r.end).map_err(|e| format!("[{i}].end: {e}"))?;
            if end_ms < start_ms {
                return Err(format!("[{i}]: end is before start"));
            }
            Ok(Label {
                kind: r.kind,
                topic: r.topic,
                start_ms,
                end_ms,
            })
        })
        .collect()
}

/// One labelled incident, as a configuration saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub label: Label,
    /// Event time from the label's start to the first matching alert (negative: before).
    pub delay_ms: Option<i64>,
}

/// How one configuration did.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub name: String,
    pub detections: Vec<Detection>,
    /// Incidents none of whose episodes matches a label (each by its first episode).
    pub false_alarms: Vec<Episode>,
    pub episodes: usize,
    pub incidents: usize,
    pub notifications: Notifications,
}

impl Score {
    pub fn found(&self) -> usize {
        self.detections
            .iter()
            .filter(|d| d.delay_ms.is_some())
            .count()
    }

    /// Median delay over the incidents found, in ms.
    pub fn median_delay_ms(&self) -> Option<i64> {
        let mut d: Vec<i64> = self.detections.iter().filter_map(|d| d.delay_ms).collect();
        d.sort_unstable();
        (!d.is_empty()).then(|| d[(d.len() - 1) / 2])
    }
}

/// Scores the alert records of one replay (in the order raised) against `labels`.
pub fn score(name: &str, labels: &[Label], alerts: &[Alert], config: &crate::Config) -> Score {
    let eps = episodes(alerts);
    let detections = labels
        .iter()
        .map(|l| Detection {
            label: l.clone(),
            delay_ms: eps
                .iter()
                .filter(|e| l.matches(e))
                .map(|e| e.first.at_ms - l.start_ms)
                .min(),
        })
        .collect();
    // Incidents in the order they began, each with whether any of its episodes is labelled.
    let mut incidents: Vec<(&Episode, bool)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &eps {
        let labelled = labels.iter().any(|l| l.matches(e));
        let key = e.first.incident_id();
        match index.get(key) {
            Some(&i) => incidents[i].1 |= labelled,
            None => {
                index.insert(key, incidents.len());
                incidents.push((e, labelled));
            }
        }
    }
    let false_alarms = incidents
        .iter()
        .filter(|(_, labelled)| !labelled)
        .map(|(e, _)| (*e).clone())
        .collect();
    Score {
        name: name.to_string(),
        detections,
        false_alarms,
        episodes: eps.len(),
        incidents: incidents.len(),
        notifications: notifications::simulate(config, alerts),
    }
}

fn delay_text(ms: Option<i64>) -> String {
    match ms {
        None => "missed".into(),
        Some(ms) if ms < 0 => format!("{} min early", (-ms + 59_999) / 60_000),
        Some(ms) => format!("{} min", ms / 60_000),
    }
}

/// The scores side by side: a column per configuration.
pub fn table(scores: &[Score]) -> String {
    let Some(first) = scores.first() else {
        return String::new();
    };
    let mut rows: Vec<(String, Vec<String>)> = vec![
        (
            "incidents found".into(),
            scores
                .iter()
                .map(|s| format!("{}/{}", s.found(), s.detections.len()))
                .collect(),
        ),
        (
            "median time to detect".into(),
            scores
                .iter()
                .map(|s| delay_text(s.median_delay_ms()))
                .collect(),
        ),
    ];
    for (i, d) in first.detections.iter().enumerate() {
        rows.push((
            format!(
                "  {} ({})",
                d.label.name(),
                crate::event::format_ts(d.label.start_ms)
            ),
            scores
                .iter()
                .map(|s| delay_text(s.detections[i].delay_ms))
                .collect(),
        ));
    }
    rows.push((
        "false alarms".into(),
        scores
            .iter()
            .map(|s| s.false_alarms.len().to_string())
            .collect(),
    ));
    rows.push((
        "alert incidents".into(),
        scores.iter().map(|s| s.incidents.to_string()).collect(),
    ));
    rows.push((
        "alert episodes".into(),
        scores.iter().map(|s| s.episodes.to_string()).collect(),
    ));
    rows.push((
        "notifications sent".into(),
        scores
            .iter()
            .map(|s| s.notifications.sent.to_string())
            .collect(),
    ));
    let label_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..scores.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.1[c].chars().count())
                .chain([scores[c].name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = write!(out, "{:label_w$}", "");
    for (s, w) in scores.iter().zip(&widths) {
        let _ = write!(out, "  {:>w$}", s.name);
    }
    out.push('\n');
    for (label, cells) in &rows {
        let _ = write!(out, "{label:label_w$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {c:>w$}");
        }
        out.push('\n');
    }
    for s in scores {
        for e in s.false_alarms.iter().take(MAX_LISTED) {
            let _ = writeln!(
                out,
                "{}: false alarm: {} on {} at {}",
                s.name, e.first.kind, e.first.topic, e.first.at
            );
        }
        if s.false_alarms.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "{}: ... and {} more false alarms",
                s.name,
                s.false_alarms.len() - MAX_LISTED
            );
        }
    }
    out
}

/// False alarms listed per configuration at most.
const MAX_LISTED: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, Severity};

    #[test]
    fn labels_are_checked_field_by_field() {
        let ok = parse_labels(r#"[{"kind":"surge","topic":"t","start":"2020-04-01T06:00:00Z","end":1585735200000,"note":"x"}]"#).unwrap();
        assert_eq!(ok[0].start_ms, 1_585_720_800_000);
        let e = parse_labels(r#"[{"kind":"spike","topic":"t","start":0,"end":1}]"#).unwrap_err();
        assert!(e.contains("[0].kind = \"spike\""), "{e}");
        let e = parse_labels(r#"[{"kind":"surge","topic":"t","start":"yesterday","end":1}]"#)
            .unwrap_err();
        assert!(e.contains("[0].start"), "{e}");
        let e = parse_labels(r#"[{"kind":"surge","topic":"t","start":5,"end":1}]"#).unwrap_err();
        assert!(e.contains("end is before start"), "{e}");
        assert!(parse_labels("{}").unwrap_err().contains("JSON array"));
    }

    #[test]
    fn episodes_are_matched_to_labels_by_topic_kind_and_time() {
        let t0 = 1_585_720_800_000;
        let labels = vec![
            Label {
                kind: "surge".into(),
                topic: "a".into(),
                start_ms: t0,
                end_ms: t0 + 3_600_000,
            },
            Label {
                kind: "complaint_wave".into(),
                topic: "b".into(),
                start_ms: t0,
                end_ms: t0 + 3_600_000,
            },
            Label {
                kind: "troll_burst".into(),
                topic: "c".into(),
                start_ms: t0,
                end_ms: t0 + 600_000,
            },
        ];
        let alerts = vec![
            Alert::example(
                "1",
                "a",
                AlertStatus::Firing,
                Severity::Warning,
                t0 + 4 * 60_000,
            ),
            // Another surge episode later on the same label: found already, not a false alarm.
            Alert::example(
                "2",
                "a",
                AlertStatus::Firing,
                Severity::Warning,
                t0 + 30 * 60_000,
            ),
            // A surge finds a complaint wave, 5 minutes early.
            Alert::example(
                "3",
                "b",
                AlertStatus::Firing,
                Severity::Warning,
                t0 - 5 * 60_000,
            ),
            // Outside every label: a false alarm.
            Alert::example(
                "4",
                "a",
                AlertStatus::Firing,
                Severity::Warning,
                t0 + 5 * 3_600_000,
            ),
            // The campaign on c, and the surge it causes (its incident): no false alarm.
            Alert {
                kind: AlertKind::TrollBurst,
                ..Alert::example(
                    "5",
                    "c",
                    AlertStatus::Firing,
                    Severity::Warning,
                    t0 + 60_000,
                )
            },
            Alert {
                incident: "5".into(),
                ..Alert::example(
                    "6",
                    "c",
                    AlertStatus::Firing,
                    Severity::Warning,
                    t0 + 60_000,
                )
            },
            // A surge on c long after, in an incident of its own: a false alarm.
            Alert::example(
                "7",
                "c",
                AlertStatus::Firing,
                Severity::Warning,
                t0 + 5 * 3_600_000,
            ),
        ];
        let s = score("x", &labels, &alerts, &crate::Config::default());
        let delays: Vec<Option<i64>> = s.detections.iter().map(|d| d.delay_ms).collect();
        assert_eq!(
            delays,
            vec![Some(4 * 60_000), Some(-5 * 60_000), Some(60_000)]
        );
        assert_eq!(s.found(), 3);
        let false_ids: Vec<&str> = s.false_alarms.iter().map(|e| e.first.id.as_str()).collect();
        assert_eq!(false_ids, ["4", "7"]);
        assert_eq!((s.episodes, s.incidents), (7, 6));
        assert_eq!(s.median_delay_ms(), Some(60_000));
        let t = table(&[
            s.clone(),
            Score {
                name: "other".into(),
                ..s
            },
        ]);
        assert!(t.contains("incidents found"), "{t}");
        assert!(t.contains("5 min early"), "{t}");
        assert!(t.contains("alert incidents"), "{t}");
    }
}
