//! What the HTTP API and the status page show: per-topic state with recent series, firing
//! and recent alerts, and the stream's health. Whoever runs the engine (the live path's
//! engine thread, replay) copies its state in about once a second; the HTTP handlers read a
//! consistent copy under a lock held only for the copy.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::alert::{Alert, AlertStatus};
use crate::engine::{Engine, SeriesPoint, TopicSnapshot};
use crate::event::format_ts;
use crate::render::Locale;

/// Points kept per topic: 12 hours of one-minute buckets.
const SERIES_POINTS: usize = 720;
/// Resolved and superseded alerts kept for `/api/alerts`.
const RECENT_ALERTS: usize = 200;

/// The stream's health, as the caller measures it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStatus {
    /// `live` or `replay`.
    pub mode: &'static str,
    pub ready: bool,
    /// Messages or lines taken so far.
    pub taken: u64,
    pub rejected: u64,
    pub dead_lettered: u64,
    pub late: u64,
    /// Sum over assigned partitions, when librdkafka has reported it.
    pub consumer_lag: Option<i64>,
    pub alerts_sent: u64,
}

/// A topic as `/api/topics` shows it: the engine's snapshot, its firing troll bursts (their
/// evidence is in `/api/alerts`) and its recent series.
#[derive(Debug, Clone, Serialize)]
pub struct TopicStatus {
    #[serde(flatten)]
    pub topic: TopicSnapshot,
    pub troll_bursts_firing: Vec<String>,
    pub series: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamView {
    #[serde(flatten)]
    pub stream: StreamStatus,
    pub events_per_second: f64,
    /// Event time the engine has reached (RFC 3339), if any event came.
    pub event_time: Option<String>,
    pub uptime_seconds: f64,
    pub topics: usize,
    pub alerts_firing: usize,
    /// How the status page speaks: `alerts.language`, and `display.timezone` with the event
    /// time written in it.
    pub language: crate::config::Language,
    pub timezone: &'static str,
    pub event_time_shown: Option<String>,
}

/// An alert as `/api/alerts` lists it: the record, and its times as a person reads them.
#[derive(Debug, Clone, Serialize)]
pub struct ShownAlert {
    #[serde(flatten)]
    pub alert: Alert,
    pub shown: ShownTimes,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShownTimes {
    /// `2020-04-01 09:14 CEST`: `at` and `started_at` in `display.timezone`.
    pub at: String,
    pub started_at: String,
}

#[derive(Default)]
struct State {
    topics: Vec<TopicStatus>,
    series: HashMap<String, VecDeque<SeriesPoint>>,
    firing: BTreeMap<String, Alert>,
    recent: VecDeque<Alert>,
    stream: StreamStatus,
    event_time_ms: Option<i64>,
    rate: f64,
    last_sample: Option<(Instant, u64)>,
}

pub struct Board {
    started: Instant,
    state: Mutex<State>,
    locale: Locale,
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

impl Board {
    /// A board that shows times in UTC, in English.
    pub fn new() -> Self {
        Self::with_locale(Locale::default())
    }

    /// A board that shows times in the locale's zone, the page in its language.
    pub fn with_locale(locale: Locale) -> Self {
        Self {
            started: Instant::now(),
            state: Mutex::new(State::default()),
            locale,
        }
    }

    /// The alert with its times as a person reads them.
    pub fn shown(&self, alert: Alert) -> ShownAlert {
        let zone = self.locale.zone;
        ShownAlert {
            shown: ShownTimes {
                at: zone.show(&alert.at),
                started_at: zone.show(&alert.started_at),
            },
            alert,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies the engine's per-topic state, new closed buckets and the stream's health.
    pub fn update(&self, engine: &Engine, stream: StreamStatus) {
        let now = Instant::now();
        let snapshots = engine.topics();
        let mut state = self.lock();
        let mut topics = Vec::with_capacity(snapshots.len());
        for (i, t) in snapshots.into_iter().enumerate() {
            let series = state.series.entry(t.name.clone()).or_default();
            let after = series.back().map_or(i64::MIN, |p| p.t_ms);
            for p in engine.series_after(i, after) {
                series.push_back(p);
            }
            while series.len() > SERIES_POINTS {
                series.pop_front();
            }
            let troll_bursts_firing = state
                .firing
                .values()
                .filter(|a| a.topic == t.name && a.kind == crate::alert::AlertKind::TrollBurst)
                .map(|a| a.id.clone())
                .collect();
            topics.push(TopicStatus {
                topic: t,
                troll_bursts_firing,
                series: Vec::new(),
            });
        }
        state.topics = topics;
        if let Some((then, taken)) = state.last_sample {
            let secs = now.duration_since(then).as_secs_f64();
            if secs >= 0.5 {
                state.rate = stream.taken.saturating_sub(taken) as f64 / secs;
                state.last_sample = Some((now, stream.taken));
            }
        } else {
            state.last_sample = Some((now, stream.taken));
        }
        state.event_time_ms = engine.watermark_ms();
        state.stream = stream;
    }

    /// A fresh engine replaced the old one (the live path's rebuild): its series start over.
    pub fn reset_series(&self) {
        self.lock().series.clear();
    }

    /// An alert record that was sent.
    pub fn alert(&self, alert: &Alert) {
        let mut state = self.lock();
        let previous = match alert.status {
            AlertStatus::Firing => state.firing.insert(alert.id.clone(), alert.clone()),
            AlertStatus::Resolved => state.firing.remove(&alert.id),
        };
        if alert.status == AlertStatus::Resolved {
            state.recent.push_back(alert.clone());
        } else if let Some(p) = previous {
            // An escalation supersedes the earlier firing record.
            state.recent.push_back(p);
        }
        while state.recent.len() > RECENT_ALERTS {
            state.recent.pop_front();
        }
    }

    /// Topics by current volume, largest first; `topic` picks one by name.
    pub fn topics(&self, topic: Option<&str>, limit: usize, points: usize) -> Vec<TopicStatus> {
        let state = self.lock();
        let mut out: Vec<TopicStatus> = state
            .topics
            .iter()
            .filter(|t| topic.is_none_or(|name| t.topic.name == name))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            let (a, b) = (&a.topic, &b.topic);
            b.volume_per_minute
                .total_cmp(&a.volume_per_minute)
                .then(b.events.cmp(&a.events))
                .then(a.name.cmp(&b.name))
        });
        out.truncate(limit);
        for t in &mut out {
            if let Some(s) = state.series.get(&t.topic.name) {
                t.series = s
                    .iter()
                    .skip(s.len().saturating_sub(points))
                    .copied()
                    .collect();
            }
        }
        out
    }

    pub fn knows_topic(&self, name: &str) -> bool {
        self.lock().topics.iter().any(|t| t.topic.name == name)
    }

    /// Firing alerts (newest first) and the most recent others (newest first).
    pub fn alerts(&self, limit: usize) -> (Vec<Alert>, Vec<Alert>) {
        let state = self.lock();
        let mut firing: Vec<Alert> = state.firing.values().cloned().collect();
        firing.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(a.id.cmp(&b.id)));
        firing.truncate(limit);
        let recent = state.recent.iter().rev().take(limit).cloned().collect();
        (firing, recent)
    }

    pub fn stream(&self) -> StreamView {
        let state = self.lock();
        StreamView {
            stream: state.stream.clone(),
            events_per_second: state.rate,
            event_time: state.event_time_ms.map(format_ts),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            topics: state.topics.len(),
            alerts_firing: state.firing.len(),
            language: self.locale.language,
            timezone: self.locale.zone.name(),
            event_time_shown: state.event_time_ms.map(|ms| self.locale.zone.date_time(ms)),
        }
    }
}
