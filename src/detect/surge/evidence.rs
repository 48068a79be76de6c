//! What a surge episode reports: its evidence as the alert record shows it, its severity,
//! and the transition the engine turns into a record.

use super::{Measure, SurgeSettings};
use crate::alert::model::SurgeDetails;
use crate::alert::{AlertKind, AlertStatus, Details, Severity};
use crate::detect::episode::Episode;
use crate::detect::stats::round_to;
use crate::detect::{Evidence, Measured, SurgeParams, Transition};
use crate::window::TopicWindow;

/// What a surge window measured, as an alert reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeEvidence {
    /// Length of the window that was measured.
    pub minutes: f64,
    pub observed: u32,
    pub expected: f64,
    pub ratio: f64,
    /// Poisson deviation on the square-root scale (see [`poisson_z`]).
    pub z: f64,
    /// The same time on earlier days, not the recent level, set the expectation.
    pub seasonal: bool,
    /// Comments per bucket across the window, oldest first.
    pub per_bucket: Vec<u32>,
    /// Highest ratio seen in the episode so far.
    pub peak_ratio: f64,
    pub duration_minutes: u32,
    /// The firing line: ratio and minimum comments in the window...
    pub min_ratio: f64,
    pub min_events: u32,
    /// ...and the deviation needed: `min_z` or, if higher, the line of the topic's own bursts.
    pub z_needed: f64,
    /// The sustained window: `ratio` and `z` are those of its median step, `per_bucket`
    /// holds its steps.
    pub sustained: bool,
    /// Comments in the window that belong to an active troll campaign on the topic.
    pub campaign_comments: u32,
}

impl SurgeEvidence {
    /// Per minute: comments, expected comments and the line, then the details.
    pub fn measured(&self) -> Measured {
        let per_min = f64::from(self.observed) / self.minutes;
        let expected_per_min = self.expected / self.minutes;
        let threshold_per_min =
            (expected_per_min * self.min_ratio).max(f64::from(self.min_events) / self.minutes);
        Measured {
            value: round_to(per_min, 2),
            baseline: round_to(expected_per_min, 2),
            threshold: round_to(threshold_per_min, 2),
            details: Details::Surge(SurgeDetails {
                window_minutes: self.minutes.round() as u32,
                comments_in_window: self.observed,
                expected_in_window: round_to(self.expected, 1),
                ratio: round_to(self.ratio, 2),
                z: round_to(self.z, 2),
                baseline_source: if self.seasonal {
                    "same time on earlier days"
                } else {
                    "recent level"
                }
                .to_string(),
                per_bucket: self.per_bucket.clone(),
                peak_ratio: round_to(self.peak_ratio, 2),
                duration_minutes: self.duration_minutes,
                z_needed: round_to(self.z_needed, 2),
                sustained: self.sustained,
                campaign_comments: self.campaign_comments,
                themes: Vec::new(),
            }),
        }
    }
}

/// Critical once the episode has reached twice the firing ratio.
pub(super) fn severity(p: &SurgeParams, peak: f64) -> Severity {
    if peak >= 2.0 * p.min_ratio {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

pub(super) fn transition(
    s: &SurgeSettings,
    ep: &Episode,
    m: &Measure,
    window: &TopicWindow,
    at_ms: i64,
    status: AlertStatus,
) -> Transition {
    let p = &s.params;
    let severity = severity(p, ep.peak);
    let samples = match status {
        AlertStatus::Firing => window
            .last(m.buckets)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .flat_map(|b| b.samples.iter())
            .take(3)
            .map(|r| r.to_sample())
            .collect(),
        AlertStatus::Resolved => Vec::new(),
    };
    Transition {
        kind: AlertKind::Surge,
        status,
        severity,
        started_ms: ep.started_ms,
        at_ms,
        evidence: Evidence::Surge(SurgeEvidence {
            minutes: s.minutes(m.buckets),
            observed: m.observed,
            expected: m.expected,
            ratio: m.ratio,
            z: m.z,
            seasonal: m.seasonal,
            per_bucket: if m.sustained {
                m.steps.clone()
            } else {
                window.last(m.buckets).map(|b| b.count).collect()
            },
            peak_ratio: ep.peak,
            duration_minutes: ((at_ms - ep.started_ms) / 60_000).max(0) as u32,
            min_ratio: p.min_ratio,
            min_events: p.min_events,
            z_needed: m.z_needed,
            sustained: m.sustained,
            campaign_comments: 0,
        }),
        samples,
        themes: Vec::new(),
    }
}
