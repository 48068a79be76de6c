//! Negativity shift: the share of negative comments on a topic rises well above the topic's
//! own baseline share.
//!
//! The baseline is a count-weighted exponential average of negative and total comments
//! (half-life 6 h by default), so quiet night-time minutes weigh little; it does not learn
//! while an episode is open (for up to six hours). A window (default 5 and 15 minutes) fires when it
//! holds at least `min_comments` comments and the *lower* bound of the Wilson score interval
//! of its negative share exceeds the baseline share by `min_rise`: a raw 4 out of 6 is not
//! evidence, 400 out of 600 is. The episode resolves after `resolve_after_mins` buckets in
//! which the share is no longer even half-way up.

use std::collections::VecDeque;

use super::episode::{buckets_for, Episode, EpisodeState};
use super::stats::{ewma_alpha, round_to, wilson_interval};
use super::NegativityParams;
use crate::alert::model::{article_it, human_duration, human_duration_it, NegativityDetails};
use crate::alert::{Alert, AlertKind, AlertStatus, Details, Severity};
use crate::config::Language;
use crate::event::format_ts;
use crate::window::{Bucket, TopicWindow};

use super::troll::TrollDetector;

#[derive(Debug, Clone)]
pub struct NegativitySettings {
    pub params: NegativityParams,
    /// Language of the summaries.
    pub lang: Language,
    pub bucket_ms: i64,
    pub window_buckets: Vec<usize>,
    pub alpha: f64,
}

impl NegativitySettings {
    pub fn new(params: NegativityParams, bucket_ms: i64) -> Self {
        let per_min = 60_000.0 / bucket_ms as f64;
        Self {
            lang: Language::En,
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
}

/// Comments and negative comments in `buckets` that belong to clusters `troll` currently
/// reports as troll bursts.
pub fn troll_counts<'a>(
    buckets: impl Iterator<Item = &'a Bucket>,
    troll: &TrollDetector,
) -> (u32, u32) {
    buckets
        .flat_map(|b| b.clustered.iter())
        .filter(|(cluster, _)| troll.is_active(*cluster))
        .fold((0, 0), |(c, n), (_, negative)| {
            (c + 1, n + u32::from(*negative))
        })
}

/// Negativity state of one topic.
#[derive(Debug, Default)]
pub struct NegativityDetector {
    weighted_total: f64,
    weighted_negative: f64,
    comments_seen: u64,
    /// Baseline share before each of the last buckets (None while too few comments), oldest first.
    baseline_before: VecDeque<Option<f64>>,
    episode: EpisodeState,
}

impl NegativityDetector {
    pub fn is_firing(&self) -> bool {
        self.episode.is_open()
    }

    /// The topic's usual negative share, once enough comments were seen.
    pub fn baseline_share(&self, p: &NegativityParams) -> Option<f64> {
        (self.comments_seen >= u64::from(p.baseline_min_comments) && self.weighted_total > 0.0)
            .then(|| self.weighted_negative / self.weighted_total)
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    pub fn on_bucket_closed(
        &mut self,
        s: &NegativitySettings,
        topic: &str,
        window: &TopicWindow,
        troll: &TrollDetector,
    ) -> Option<Alert> {
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
            .filter_map(|&w| self.measure(s, window, w, troll))
            .collect();
        let fires = |m: &&Measure| m.comments >= p.min_comments && m.low > m.baseline + p.min_rise;
        let alert = if self.episode.is_open() {
            let elevated = measures.iter().any(|m| {
                m.comments * 2 >= p.min_comments && m.share > m.baseline + p.min_rise / 2.0
            });
            let peak = measures
                .iter()
                .filter(|m| m.comments >= p.min_comments)
                .map(|m| m.share)
                .max_by(f64::total_cmp);
            let quiet_needed = buckets_for(p.resolve_after_mins, s.bucket_ms);
            self.episode
                .observe(elevated, peak, quiet_needed)
                .and_then(|ep| {
                    let longest = measures.iter().max_by_key(|m| m.buckets)?;
                    Some(build(
                        s,
                        topic,
                        &ep,
                        longest,
                        window,
                        bucket_end,
                        AlertStatus::Resolved,
                    ))
                })
        } else {
            measures
                .iter()
                .filter(fires)
                .max_by(|a, b| (a.low - a.baseline).total_cmp(&(b.low - b.baseline)))
                .map(|m| {
                    let started_ms = onset(window, m, p.min_rise);
                    let ep = self
                        .episode
                        .open(AlertKind::Negativity, topic, started_ms, m.share);
                    build(s, topic, ep, m, window, bucket_end, AlertStatus::Firing)
                })
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
        troll: &TrollDetector,
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
        let (troll_comments, troll_negative) = troll_counts(window.last(w), troll);
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

/// Negative share once the comments of active troll clusters are set aside.
fn adjusted_share(m: &Measure) -> Option<f64> {
    let comments = m.comments - m.troll_comments;
    (comments > 0).then(|| f64::from(m.negative - m.troll_negative) / f64::from(comments))
}

/// What a coordinated campaign contributes, when it contributes anything.
fn troll_note(m: &Measure) -> String {
    if m.troll_negative == 0 {
        return String::new();
    }
    let from = f64::from(m.troll_negative) / f64::from(m.negative.max(1));
    match adjusted_share(m) {
        Some(without) => format!(
            " {} of the negative comments come from a coordinated campaign; without it the negative share is {}.",
            pct(from),
            pct(without)
        ),
        None => " All of them come from a coordinated campaign.".to_string(),
    }
}

fn troll_note_it(m: &Measure) -> String {
    if m.troll_negative == 0 {
        return String::new();
    }
    let from = f64::from(m.troll_negative) / f64::from(m.negative.max(1));
    match adjusted_share(m) {
        Some(without) => {
            let share = article_it(percent(from), "Il", "L'");
            format!(
                " {share}% dei commenti negativi viene da una campagna coordinata; senza, la quota negativa \u{e8} {}%.",
                article_it(percent(without), "del", "dell'")
            )
        }
        None => " Vengono tutti da una campagna coordinata.".to_string(),
    }
}

/// A share as a whole percentage.
fn percent(x: f64) -> u64 {
    (x * 100.0).round().max(0.0) as u64
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn build(
    s: &NegativitySettings,
    topic: &str,
    ep: &Episode,
    m: &Measure,
    window: &TopicWindow,
    at_ms: i64,
    status: AlertStatus,
) -> Alert {
    let p = &s.params;
    let minutes = (m.buckets as i64 * s.bucket_ms / 60_000) as u32;
    let threshold = m.baseline + p.min_rise;
    let duration = ((at_ms - ep.started_ms) / 60_000).max(0) as u32;
    let summary = match (status, s.lang) {
        (AlertStatus::Firing, Language::It) => format!(
            "Clima negativo su \u{ab}{topic}\u{bb}: negativo {}% {} commenti degli ultimi {minutes} minuti (almeno {}% con buona certezza), contro {}% abituale (soglia di allerta: {}%).",
            article_it(percent(m.share), "il", "l'"),
            article_it(u64::from(m.comments), "dei", "degli "),
            article_it(percent(m.low), "il", "l'"),
            article_it(percent(m.baseline), "il", "l'"),
            percent(threshold)
        ) + &troll_note_it(m),
        (AlertStatus::Resolved, Language::It) => format!(
            "Clima tornato nella norma su \u{ab}{topic}\u{bb}: negativo {}% {} commenti degli ultimi {minutes} minuti (abituale {}); \u{e8} durato {}, con un massimo {}%.",
            article_it(percent(m.share), "il", "l'"),
            article_it(u64::from(m.comments), "dei", "degli "),
            pct(m.baseline),
            human_duration_it(duration),
            article_it(percent(ep.peak), "del", "dell'")
        ),
        (AlertStatus::Firing, Language::En) => format!(
            "Negativity on \u{ab}{topic}\u{bb}: {} of the {} comments in the last {minutes} minutes are negative (at least {} with high confidence), against its usual {} (alert at {}).",
            pct(m.share),
            m.comments,
            pct(m.low),
            pct(m.baseline),
            pct(threshold)
        ) + &troll_note(m),
        (AlertStatus::Resolved, Language::En) => format!(
            "Negativity on \u{ab}{topic}\u{bb} is back to {} of {} comments in the last {minutes} minutes (usual {}); it lasted {} and peaked at {}.",
            pct(m.share),
            m.comments,
            pct(m.baseline),
            human_duration(duration),
            pct(ep.peak)
        ),
    };
    let severity = if ep.peak >= m.baseline + 2.0 * p.min_rise {
        Severity::Critical
    } else {
        Severity::Warning
    };
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
    Alert {
        id: ep.id.clone(),
        kind: AlertKind::Negativity,
        status,
        severity,
        topic: topic.to_string(),
        at: format_ts(at_ms),
        started_at: format_ts(ep.started_ms),
        value: round_to(m.share, 3),
        baseline: round_to(m.baseline, 3),
        threshold: round_to(threshold, 3),
        summary,
        details: Details::Negativity(NegativityDetails {
            window_minutes: minutes,
            comments: m.comments,
            negative: m.negative,
            negative_share: round_to(m.share, 3),
            share_low: round_to(m.low, 3),
            share_high: round_to(m.high, 3),
            confidence_z: p.confidence_z,
            baseline_share: round_to(m.baseline, 3),
            peak_share: round_to(ep.peak, 3),
            duration_minutes: duration,
            troll_comments: m.troll_comments,
            troll_negative: m.troll_negative,
            negative_from_trolls_share: round_to(
                f64::from(m.troll_negative) / f64::from(m.negative.max(1)),
                3,
            ),
            negative_share_without_trolls: adjusted_share(m).map(|v| round_to(v, 3)),
        }),
        samples,
        at_ms,
    }
}
