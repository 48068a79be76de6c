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
use std::sync::Arc;

use super::episode::{buckets_for, Episode, EpisodeState};
use super::stats::{ewma_alpha, round_to, wilson_interval};
use super::{Campaigns, Closed, Detector, Evidence, Measured, NegativityParams, Transition};
use crate::alert::model::NegativityDetails;
use crate::alert::{AlertKind, AlertStatus, Details, Severity};
use crate::window::TopicWindow;

#[derive(Debug, Clone)]
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
}

/// Negativity state of one topic.
#[derive(Debug)]
pub struct NegativityDetector {
    settings: Arc<NegativitySettings>,
    weighted_total: f64,
    weighted_negative: f64,
    comments_seen: u64,
    /// Baseline share before each of the last buckets (None while too few comments), oldest first.
    baseline_before: VecDeque<Option<f64>>,
    episode: EpisodeState,
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
                    Some(transition(
                        s,
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
                    let ep = self.episode.open(started_ms, m.share);
                    transition(s, ep, m, window, bucket_end, AlertStatus::Firing)
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
            }),
        }
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
        }),
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::detect::testing::{Feed, Noise};

    fn detector() -> NegativityDetector {
        let settings =
            NegativitySettings::new(Config::default().detect.negativity_params(), 60_000);
        NegativityDetector::new(Arc::new(settings))
    }

    /// `minutes` buckets of `per_min` comments, negative with probability `share(minute)`.
    fn run(
        d: &mut NegativityDetector,
        feed: &mut Feed,
        noise: &mut Noise,
        minutes: std::ops::Range<u32>,
        per_min: u32,
        share: impl Fn(u32) -> f64,
    ) -> Vec<(u32, Transition)> {
        let mut out = Vec::new();
        for m in minutes {
            let negative = noise.binomial(per_min, share(m));
            for t in feed.minute(d, per_min, negative) {
                out.push((m, t));
            }
        }
        out
    }

    #[test]
    fn fires_when_the_negative_share_jumps_and_resolves_when_it_falls() {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(4));
        let got = run(&mut d, &mut feed, &mut noise, 0..400, 20, |m| {
            if (300..340).contains(&m) {
                0.7
            } else {
                0.1
            }
        });
        assert_eq!(got.len(), 2, "{got:?}");
        let (fired_at, firing) = &got[0];
        assert_eq!(firing.status, AlertStatus::Firing);
        assert!((300..=310).contains(fired_at), "fired at minute {fired_at}");
        let Evidence::Negativity(e) = &firing.evidence else {
            panic!("negativity evidence expected")
        };
        assert!(e.low > e.threshold && e.baseline < 0.2, "{e:?}");
        assert_eq!(
            firing.severity,
            Severity::Critical,
            "60 points up is critical"
        );
        let (resolved_at, resolved) = &got[1];
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert!(
            (340..=370).contains(resolved_at),
            "resolved at {resolved_at}"
        );
    }

    #[test]
    fn a_steady_share_with_noise_stays_calm_for_days() {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(5));
        let got = run(&mut d, &mut feed, &mut noise, 0..3 * 1440, 6, |_| 0.2);
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn learns_nothing_from_an_open_episode() {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(6));
        run(&mut d, &mut feed, &mut noise, 0..300, 20, |_| 0.1);
        let p = Config::default().detect.negativity_params();
        assert!(
            d.baseline_share(&p).is_some(),
            "a baseline after 6,000 comments"
        );
        let fired = run(&mut d, &mut feed, &mut noise, 300..315, 20, |_| 0.8);
        assert_eq!(fired.len(), 1, "{fired:?}");
        let before = d.baseline_share(&p).unwrap();
        run(&mut d, &mut feed, &mut noise, 315..420, 20, |_| 0.8);
        assert!(d.is_firing());
        let during = d.baseline_share(&p).unwrap();
        assert!((during - before).abs() < 1e-9, "{before} became {during}");
    }

    #[test]
    fn campaign_comments_are_set_aside_in_the_evidence() {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(7));
        run(&mut d, &mut feed, &mut noise, 0..300, 20, |_| 0.1);
        // Cluster 9 is a reported campaign: its 15 comments a minute are all negative.
        feed.campaigns.set([9].into_iter());
        let mut firing = None;
        for _ in 0..15 {
            let campaign = vec![(9, true); 15];
            let out = feed.minute_clustered(&mut d, 35, 17, &campaign);
            firing = firing.or(out.into_iter().next());
        }
        let firing = firing.expect("the campaign's negativity fires");
        let Evidence::Negativity(e) = &firing.evidence else {
            panic!("negativity evidence expected")
        };
        assert!(
            e.troll_comments > 0 && e.troll_negative == e.troll_comments,
            "{e:?}"
        );
        let without = e.share_without_trolls().unwrap();
        assert!(without < e.share, "{without} vs {}", e.share);
        assert!(e.negative_from_trolls() > 0.5, "{e:?}");
    }
}
