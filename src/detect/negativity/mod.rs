//! Negativity shift: the share of negative comments on a topic rises well above the topic's
//! own baseline share.
//!
//! The baseline is a count-weighted exponential average of negative and total comments
//! (half-life 6 h by default), so quiet night-time minutes weigh little; it does not learn
//! while an episode is open (for up to six hours). A window (default 5 and 15 minutes) fires when it
//! holds at least `min_comments` comments and the *lower* bound of the Wilson score interval
//! of its negative share exceeds the baseline share by `min_rise`: a raw 4 out of 6 is not
//! evidence, 400 out of 600 is.
//!
//! A topic at one or two comments a minute never fills such a window, so a sequential test
//! runs beside the windows: a Bernoulli CUSUM over every comment, adding for each bucket
//! the log-likelihood ratio of its negatives under "the share rose by `sequential_rise`"
//! against "the share is the usual one" and never going below zero. It fires once that
//! evidence reaches `sequential_threshold` (10: odds of about 22,000 to 1) and rests on at
//! least `sequential_min_comments` comments: a shift from 15% to 60% at 1.5 comments a
//! minute is reported in about a quarter of an hour, while a steady topic's score keeps
//! sinking back to zero. The episode resolves after `resolve_after_mins` buckets in which
//! the share is no longer even half-way up and the sequential evidence has fallen below
//! half its threshold.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

use super::episode::{buckets_for, Episode, EpisodeState};
use super::stats::{ewma_alpha, round_to, wilson_interval};
use super::{Campaigns, Closed, Detector, Evidence, Measured, NegativityParams, Transition};
use crate::alert::model::NegativityDetails;
use crate::alert::{AlertKind, AlertStatus, Details, Severity};
use crate::window::TopicWindow;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NegativitySettings {
    pub params: NegativityParams,
    pub bucket_ms: i64,
    pub window_buckets: Vec<usize>,
    pub alpha: f64,
}

impl NegativitySettings {
    pub fn new(params: NegativityParams, bucket_ms: i64) -> Self {
        let per_min = 60_000.0 / bucket_ms as f64;
        Self {
            window_buckets: params
                .windows_mins
                .iter()
                .map(|m| (*m as f64 * per_min).round() as usize)
                .collect(),
            alpha: ewma_alpha(params.baseline_half_life_mins * per_min),
            bucket_ms,
            params,
        }
    }

    pub fn max_window(&self) -> usize {
        self.window_buckets.iter().copied().max().unwrap_or(1)
    }
}

#[derive(Debug, Clone)]
struct Measure {
    buckets: usize,
    comments: u32,
    negative: u32,
    share: f64,
    low: f64,
    high: f64,
    baseline: f64,
    /// Comments (and negative ones) that belong to active troll clusters.
    troll_comments: u32,
    troll_negative: u32,
    /// The sequential test's run rather than a fixed window.
    sequential: bool,
}

/// Negativity state of one topic.
#[derive(Debug, Serialize, Deserialize)]
pub struct NegativityDetector {
    settings: Arc<NegativitySettings>,
    weighted_total: f64,
    weighted_negative: f64,
    comments_seen: u64,
    /// Baseline share before each of the last buckets (None while too few comments), oldest first.
    baseline_before: VecDeque<Option<f64>>,
    sequential: Sequential,
    episode: EpisodeState,
}

/// The sequential test's evidence and the run of buckets it rests on.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Sequential {
    /// Log-likelihood ratio, never below zero.
    score: f64,
    comments: u32,
    negative: u32,
    start_ms: i64,
    buckets: usize,
}

impl Sequential {
    /// One bucket of `comments`, `negative` of them negative, against the usual share.
    fn add(
        &mut self,
        p: &NegativityParams,
        usual: f64,
        comments: u32,
        negative: u32,
        start_ms: i64,
    ) {
        if comments == 0 {
            if self.score > 0.0 {
                self.buckets += 1;
            }
            return;
        }
        // A near-zero usual share would make each negative comment overwhelming evidence.
        let h0 = usual.clamp(0.05, 0.9);
        let h1 = (h0 + p.sequential_rise).min(0.95);
        let gain = f64::from(negative) * (h1 / h0).ln()
            + f64::from(comments - negative) * ((1.0 - h1) / (1.0 - h0)).ln();
        if self.score <= 0.0 {
            *self = Self {
                start_ms,
                ..Self::default()
            };
        }
        // Capped, so that once the shift is over the evidence falls back within the hour.
        self.score = (self.score + gain).clamp(0.0, 2.0 * p.sequential_threshold);
        if self.score > 0.0 {
            self.comments += comments;
            self.negative += negative;
            self.buckets += 1;
        } else {
            *self = Self::default();
        }
    }

    fn holds(&self, p: &NegativityParams) -> bool {
        p.sequential_min_comments > 0
            && self.score >= p.sequential_threshold
            && self.comments >= p.sequential_min_comments
    }
}

impl Detector for NegativityDetector {
    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>) {
        out.extend(self.judge(closed.window, closed.campaigns));
    }

    fn reset(&mut self, _bucket_start_ms: i64) {
        *self = Self::new(self.settings.clone());
    }

    fn is_firing(&self) -> bool {
        self.episode.is_open()
    }
}

impl NegativityDetector {
    pub fn new(settings: Arc<NegativitySettings>) -> Self {
        Self {
            settings,
            weighted_total: 0.0,
            weighted_negative: 0.0,
            comments_seen: 0,
            baseline_before: VecDeque::new(),
            sequential: Sequential::default(),
            episode: EpisodeState::default(),
        }
    }

    /// The topic's usual negative share, once enough comments were seen.
    pub fn baseline_share(&self, p: &NegativityParams) -> Option<f64> {
        (self.comments_seen >= u64::from(p.baseline_min_comments) && self.weighted_total > 0.0)
            .then(|| self.weighted_negative / self.weighted_total)
    }

    /// Judges the newest closed bucket in `window`, then learns from it.
    fn judge(&mut self, window: &TopicWindow, campaigns: &Campaigns) -> Option<Transition> {
        let settings = self.settings.clone();
        let s = &*settings;
        let bucket = window.closed.back()?;
        let bucket_end = bucket.start_ms + s.bucket_ms;
        let p = &s.params;
        self.baseline_before.push_back(self.baseline_share(p));
        while self.baseline_before.len() > s.max_window() {
            self.baseline_before.pop_front();
        }
        let measures: Vec<Measure> = s
            .window_buckets
            .iter()
            .filter_map(|&w| self.measure(s, window, w, campaigns))
            .collect();
        if let Some(usual) = self.baseline_before.back().copied().flatten() {
            self.sequential
                .add(p, usual, bucket.count, bucket.negative, bucket.start_ms);
        }
        let sequential = self
            .sequential
            .holds(p)
            .then(|| self.measure_sequential(s, window, campaigns))
            .flatten();
        let fires = |m: &&Measure| m.comments >= p.min_comments && m.low > m.baseline + p.min_rise;
        let alert = if self.episode.is_open() {
            let elevated = (p.sequential_min_comments > 0
                && self.sequential.score >= p.sequential_threshold / 2.0)
                || measures.iter().any(|m| {
                    m.comments * 2 >= p.min_comments && m.share > m.baseline + p.min_rise / 2.0
                });
            let peak = measures
                .iter()
                .filter(|m| m.comments >= p.min_comments)
                .chain(sequential.as_ref())
                .map(|m| m.share)
                .max_by(f64::total_cmp);
            let quiet_needed = buckets_for(p.resolve_after_mins, s.bucket_ms);
            match self.episode.observe(elevated, peak, quiet_needed) {
                Some(ep) => {
                    self.sequential = Sequential::default();
                    measures
                        .iter()
                        .max_by_key(|m| m.buckets)
                        .map(|m| transition(s, &ep, m, window, bucket_end, AlertStatus::Resolved))
                }
                // Still open: grown past the next severity, a firing record says so.
                None => {
                    let strongest = measures
                        .iter()
                        .filter(|m| m.comments >= p.min_comments)
                        .chain(sequential.as_ref())
                        .max_by(|a, b| a.share.total_cmp(&b.share));
                    strongest.and_then(|m| {
                        let now = severity(p, self.episode.current()?.peak, m.baseline);
                        let ep = self.episode.announce(now)?;
                        Some(transition(
                            s,
                            ep,
                            m,
                            window,
                            bucket_end,
                            AlertStatus::Firing,
                        ))
                    })
                }
            }
        } else {
            let opened = measures
                .iter()
                .filter(fires)
                .max_by(|a, b| (a.low - a.baseline).total_cmp(&(b.low - b.baseline)))
                .map(|m| (m, onset(window, m, p.min_rise)))
                .or_else(|| sequential.as_ref().map(|m| (m, self.sequential.start_ms)))
                .map(|(m, started_ms)| {
                    let ep = self.episode.open(started_ms, m.share);
                    transition(s, ep, m, window, bucket_end, AlertStatus::Firing)
                });
            if let Some(t) = &opened {
                self.episode.announce(t.severity);
            }
            opened
        };
        // Learn from the bucket after judging it, but not from an open episode: these are
        // count-weighted sums, so a surge of angry comments would otherwise become the
        // usual share within minutes.
        let frozen = self.episode.freezes_learning(bucket_end);
        if !frozen {
            self.weighted_total = (1.0 - s.alpha) * self.weighted_total + f64::from(bucket.count);
            self.weighted_negative =
                (1.0 - s.alpha) * self.weighted_negative + f64::from(bucket.negative);
            self.comments_seen += u64::from(bucket.count);
        }
        alert
    }

    fn measure(
        &self,
        s: &NegativitySettings,
        window: &TopicWindow,
        w: usize,
        campaigns: &Campaigns,
    ) -> Option<Measure> {
        if window.closed.len() < w || self.baseline_before.len() < w {
            return None;
        }
        let baseline = self.baseline_before[self.baseline_before.len() - w]?;
        let (comments, negative) = window
            .last(w)
            .fold((0u32, 0u32), |(c, n), b| (c + b.count, n + b.negative));
        let (low, high) = wilson_interval(
            f64::from(negative),
            f64::from(comments),
            s.params.confidence_z,
        );
        let (troll_comments, troll_negative) = campaigns.counts(window.last(w));
        Some(Measure {
            troll_comments,
            troll_negative,
            buckets: w,
            comments,
            negative,
            share: if comments > 0 {
                f64::from(negative) / f64::from(comments)
            } else {
                0.0
            },
            low,
            high,
            baseline,
            sequential: false,
        })
    }

    /// The sequential test's run as a measure: its comments since the evidence began to
    /// build, against the usual share before it (campaign comments counted over the part of
    /// the run the ring still holds).
    fn measure_sequential(
        &self,
        s: &NegativitySettings,
        window: &TopicWindow,
        campaigns: &Campaigns,
    ) -> Option<Measure> {
        let q = &self.sequential;
        let before = self
            .baseline_before
            .len()
            .checked_sub(q.buckets.min(self.baseline_before.len()))?;
        let baseline = self.baseline_before.get(before).copied().flatten()?;
        let (low, high) = wilson_interval(
            f64::from(q.negative),
            f64::from(q.comments),
            s.params.confidence_z,
        );
        let (troll_comments, troll_negative) = campaigns.counts(window.last(q.buckets));
        Some(Measure {
            troll_comments,
            troll_negative,
            buckets: q.buckets,
            comments: q.comments,
            negative: q.negative,
            share: f64::from(q.negative) / f64::from(q.comments.max(1)),
            low,
            high,
            baseline,
            sequential: true,
        })
    }
}

/// The first bucket of the window whose own share was above the line, else the window start.
fn onset(window: &TopicWindow, m: &Measure, min_rise: f64) -> i64 {
    let line = m.baseline + min_rise;
    let first = window
        .last(m.buckets)
        .next()
        .map(|b| b.start_ms)
        .unwrap_or(0);
    window
        .last(m.buckets)
        .find(|b| b.count > 0 && f64::from(b.negative) / f64::from(b.count) > line)
        .map(|b| b.start_ms)
        .unwrap_or(first)
}

/// What a negativity window measured, as an alert reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NegativityEvidence {
    pub minutes: u32,
    pub comments: u32,
    pub negative: u32,
    pub share: f64,
    /// Wilson score interval of the share.
    pub low: f64,
    pub high: f64,
    pub confidence_z: f64,
    /// The topic's usual share, and the line: baseline plus the minimum rise.
    pub baseline: f64,
    pub threshold: f64,
    /// Highest share seen in the episode so far.
    pub peak: f64,
    pub duration_minutes: u32,
    /// Comments in the window from active troll clusters, and how many were negative.
    pub troll_comments: u32,
    pub troll_negative: u32,
    /// The window is the sequential test's run (since its evidence began to build).
    pub sequential: bool,
}

impl NegativityEvidence {
    /// The negative share once the comments of active troll clusters are set aside.
    pub fn share_without_trolls(&self) -> Option<f64> {
        let comments = self.comments - self.troll_comments;
        (comments > 0).then(|| f64::from(self.negative - self.troll_negative) / f64::from(comments))
    }

    /// Share of the negative comments that came from troll clusters.
    pub fn negative_from_trolls(&self) -> f64 {
        f64::from(self.troll_negative) / f64::from(self.negative.max(1))
    }

    pub fn measured(&self) -> Measured {
        Measured {
            value: round_to(self.share, 3),
            baseline: round_to(self.baseline, 3),
            threshold: round_to(self.threshold, 3),
            details: Details::Negativity(NegativityDetails {
                window_minutes: self.minutes,
                comments: self.comments,
                negative: self.negative,
                negative_share: round_to(self.share, 3),
                share_low: round_to(self.low, 3),
                share_high: round_to(self.high, 3),
                confidence_z: self.confidence_z,
                baseline_share: round_to(self.baseline, 3),
                peak_share: round_to(self.peak, 3),
                duration_minutes: self.duration_minutes,
                troll_comments: self.troll_comments,
                troll_negative: self.troll_negative,
                negative_from_trolls_share: round_to(self.negative_from_trolls(), 3),
                negative_share_without_trolls: self.share_without_trolls().map(|v| round_to(v, 3)),
                sequential: self.sequential,
                themes: Vec::new(),
            }),
        }
    }
}

/// Critical once the episode's share has risen twice the minimum rise above the usual share.
fn severity(p: &NegativityParams, peak: f64, usual: f64) -> Severity {
    if peak >= usual + 2.0 * p.min_rise {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn transition(
    s: &NegativitySettings,
    ep: &Episode,
    m: &Measure,
    window: &TopicWindow,
    at_ms: i64,
    status: AlertStatus,
) -> Transition {
    let p = &s.params;
    let severity = severity(p, ep.peak, m.baseline);
    let samples = match status {
        AlertStatus::Firing => {
            let mut negatives: Vec<_> = window
                .last(m.buckets)
                .flat_map(|b| b.negative_samples.iter())
                .collect();
            negatives.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.ts_ms.cmp(&b.ts_ms)));
            negatives
                .into_iter()
                .take(3)
                .map(|r| r.to_sample())
                .collect()
        }
        AlertStatus::Resolved => Vec::new(),
    };
    Transition {
        kind: AlertKind::Negativity,
        status,
        severity,
        started_ms: ep.started_ms,
        at_ms,
        evidence: Evidence::Negativity(NegativityEvidence {
            minutes: (m.buckets as i64 * s.bucket_ms / 60_000) as u32,
            comments: m.comments,
            negative: m.negative,
            share: m.share,
            low: m.low,
            high: m.high,
            confidence_z: p.confidence_z,
            baseline: m.baseline,
            threshold: m.baseline + p.min_rise,
            peak: ep.peak,
            duration_minutes: ((at_ms - ep.started_ms) / 60_000).max(0) as u32,
            troll_comments: m.troll_comments,
            troll_negative: m.troll_negative,
            sequential: m.sequential,
        }),
        samples,
        themes: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
