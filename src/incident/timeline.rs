//! What a replay saw, kept for the incident report and the OpenMetrics backfill: every
//! topic's closed buckets and every alert record, in event time.

use crate::alert::{Alert, AlertStatus};
use crate::engine::{BucketPoint, Engine};

/// One closed bucket of one topic (its `topic` is the series' index in the timeline).
pub use crate::engine::BucketPoint as Point;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicSeries {
    pub name: String,
    /// Closed buckets, oldest first.
    pub points: Vec<Point>,
}

impl TopicSeries {
    pub fn events(&self) -> u64 {
        self.points.iter().map(|p| u64::from(p.count)).sum()
    }
}

/// One alert episode: its records, first to last.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub first: Alert,
    /// The highest-severity firing record (the first of them), for its evidence.
    pub peak: Alert,
    pub resolved: Option<Alert>,
    pub start_ms: i64,
    pub records: u32,
}

impl Episode {
    /// Event time from the start of the episode to its first alert record.
    pub fn time_to_alert_ms(&self) -> i64 {
        self.first.at_ms - self.start_ms
    }

    pub fn end_ms(&self) -> Option<i64> {
        self.resolved.as_ref().map(|r| r.at_ms)
    }
}

/// Everything a replay recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Bucket length (the engine's `bucket_secs`), in ms.
    pub bucket_ms: i64,
    /// By engine topic index; topics that never had an event stay empty.
    pub topics: Vec<TopicSeries>,
    /// Every alert record, in the order they were raised.
    pub alerts: Vec<Alert>,
    pub(crate) scratch: Vec<BucketPoint>,
}

impl Timeline {
    /// A timeline for `engine`, which from now on keeps its series for it.
    pub fn follow(engine: &mut Engine, bucket_secs: u32) -> Self {
        engine.keep_series();
        Self {
            bucket_ms: i64::from(bucket_secs) * 1000,
            ..Self::default()
        }
    }

    /// Takes the buckets `engine` closed since the last call.
    pub fn absorb(&mut self, engine: &mut Engine) {
        engine.take_series(&mut self.scratch);
        for b in self.scratch.drain(..) {
            let i = b.topic as usize;
            if self.topics.len() <= i {
                self.topics.resize_with(i + 1, TopicSeries::default);
            }
            let t = &mut self.topics[i];
            if t.name.is_empty() {
                t.name = engine.topic_name(i).unwrap_or("?").to_string();
            }
            t.points.push(b);
        }
    }

    pub fn alert(&mut self, alert: &Alert) {
        self.alerts.push(alert.clone());
    }

    /// Topics that had events, in engine order.
    pub fn active_topics(&self) -> impl Iterator<Item = &TopicSeries> {
        self.topics.iter().filter(|t| !t.points.is_empty())
    }

    /// Event time of the first and last bucket recorded.
    pub fn span_ms(&self) -> Option<(i64, i64)> {
        let first = self
            .active_topics()
            .filter_map(|t| t.points.first())
            .map(|p| p.t_ms)
            .min()?;
        let last = self
            .active_topics()
            .filter_map(|t| t.points.last())
            .map(|p| p.t_ms)
            .max()?;
        Some((first, last + self.bucket_ms))
    }

    /// The alert records grouped by episode, in the order the episodes first fired.
    pub fn episodes(&self) -> Vec<Episode> {
        episodes(&self.alerts)
    }
}

/// Groups alert records by episode id, in the order each episode first fired.
pub fn episodes(alerts: &[Alert]) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for a in alerts {
        match index.get(a.id.as_str()) {
            Some(&i) => {
                let e = &mut out[i];
                e.records += 1;
                match a.status {
                    AlertStatus::Firing if a.severity > e.peak.severity => e.peak = a.clone(),
                    AlertStatus::Firing => {}
                    AlertStatus::Resolved => e.resolved = Some(a.clone()),
                }
            }
            None => {
                let start_ms = crate::event::parse_time_arg(&a.started_at).unwrap_or(a.at_ms);
                index.insert(&a.id, out.len());
                out.push(Episode {
                    first: a.clone(),
                    peak: a.clone(),
                    resolved: (a.status == AlertStatus::Resolved).then(|| a.clone()),
                    start_ms,
                    records: 1,
                });
            }
        }
    }
    out
}
