//! Surge detection: a topic's volume in a short recent window far above what is normal for
//! that topic at that time.
//!
//! "Normal" is the larger of two expectations, taken from before the window so the surge
//! cannot raise its own bar:
//! - the recent level: Holt's linear exponential smoothing of the per-bucket count (level
//!   half-life 20 min by default, trend four times slower), forecast across the window, so
//!   a gradual morning rise is expected rather than alarming; updated with winsorised counts
//!   (a spike teaches at most `min_ratio` times the level), and not at all while an
//!   episode is open (for up to six hours, after which a lasting change becomes normal);
//! - once earlier days exist, the same time of day on those days (15-minute slots, lower
//!   median across days, so one earlier incident does not become the norm).
//!
//! A window fires when it holds at least `min_events` comments, at least `min_ratio` times
//! the expectation, and is far above it on the Poisson square-root scale: at least `min_z`,
//! which keeps night-time and small topics calm, and beyond the topic's own bursts, whose
//! tail each window length learns (see [`super::tail`]), which keeps a topic that is bursty
//! by nature from firing on every retweet storm. Until a window length has a day of the
//! topic's own history, the topic is assumed as bursty as real social volume is (see
//! `COLD_DISPERSION`), so its first storms are not news either. Several window lengths are checked
//! (default 2 and 5 minutes): the short one catches a click-day jump within minutes, the
//! long one a slower but large rise. A sustained window (default 3 hours) judges the median
//! 5 minutes in it, so a topic running at several times its level for hours is reported
//! even when no single minute stands out, and a lone burst does not count as sustained.
//! The episode resolves after `resolve_after_mins` buckets in which no short window is even
//! half-way to the firing ratio.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

use super::episode::{buckets_for, EpisodeState};
mod evidence;
mod profile;

pub use self::evidence::SurgeEvidence;
use self::evidence::{severity, transition};

use self::profile::DailyProfile;
use super::stats::{ewma_alpha, poisson_z};
use super::tail::Tail;
use super::{Closed, Detector, Evidence, SurgeParams, Transition};
use crate::alert::AlertStatus;
use crate::window::TopicWindow;

const SLOT_MS: i64 = 15 * 60_000;
/// Earlier weeks kept for the weekly rhythm.
const WEEKS_KEPT: usize = 3;
const DAY_MS: i64 = 86_400_000;
/// Expectation never drops below this many comments per minute, so a silent topic's first
/// comments are judged by `min_events` and `min_z`, not by an infinite ratio.
const FLOOR_PER_MINUTE: f64 = 0.1;
/// The sustained window is judged in steps of this many minutes.
const STEP_MINS: u32 = 5;
/// The topic's own bursts are remembered with this half-life...
const TAIL_HALF_LIFE_DAYS: f64 = 7.0;
/// ...and count once this much has been seen.
const TAIL_MIN_HOURS: u32 = 6;
/// Until a window's tail has a day of the topic's own windows, the topic is assumed as
/// bursty as real social volume: counts spread beyond Poisson by `COLD_DISPERSION · mean²`
/// (the excess variance of NAB's real Twitter series over their previous hour's mean, 0.18
/// to 2.1 by series, median 0.54: `scripts/nab_eval.py dispersion`), and a window must pass
/// that spread's one-in-ten-thousand point (`COLD_Z`, as the tail's own false-alarm rate).
/// A new topic's first retweet storm is then not a crisis; a click-day jump still is.
const COLD_Z: f64 = 3.72;
const COLD_DISPERSION: f64 = 0.5;

/// Surge settings turned into bucket units once, shared by every topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SurgeSettings {
    pub params: SurgeParams,
    pub bucket_ms: i64,
    pub window_buckets: Vec<usize>,
    pub alpha: f64,
    /// Smoothing of the trend: a quarter of the level's speed, so one noisy minute does not
    /// tilt the forecast.
    pub beta: f64,
    pub warmup_buckets: u64,
    pub floor_per_bucket: f64,
    pub min_events_per_bucket: f64,
    /// Length of the sustained window and of its steps, in buckets (none if disabled).
    pub sustained: Option<(usize, usize)>,
    /// Half-life and minimum samples of each window's tail, in buckets.
    pub tail_half_life: f64,
    pub tail_min_samples: u64,
    /// Samples a tail needs before the topic's own bursts alone set the bar (a day).
    pub tail_day: u64,
}

impl SurgeSettings {
    pub fn new(params: SurgeParams, bucket_ms: i64) -> Self {
        let per_min = 60_000.0 / bucket_ms as f64;
        Self {
            window_buckets: params
                .windows_mins
                .iter()
                .map(|m| (*m as f64 * per_min).round() as usize)
                .collect(),
            alpha: ewma_alpha(params.baseline_half_life_mins * per_min),
            beta: ewma_alpha(4.0 * params.baseline_half_life_mins * per_min),
            warmup_buckets: (params.warmup_mins as f64 * per_min).ceil() as u64,
            floor_per_bucket: FLOOR_PER_MINUTE / per_min,
            min_events_per_bucket: f64::from(params.min_events)
                / params
                    .windows_mins
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(1)
                    .max(1) as f64
                / per_min,
            sustained: (params.sustained_mins > 0).then(|| {
                let step = (f64::from(STEP_MINS) * per_min).round().max(1.0) as usize;
                let len = (f64::from(params.sustained_mins) * per_min).round() as usize;
                (len.max(step), step)
            }),
            tail_half_life: TAIL_HALF_LIFE_DAYS * 1440.0 * per_min,
            tail_min_samples: (f64::from(TAIL_MIN_HOURS) * 60.0 * per_min) as u64,
            tail_day: (1440.0 * per_min) as u64,
            bucket_ms,
            params,
        }
    }

    /// Longest window summed from the engine's ring of buckets.
    pub fn max_window(&self) -> usize {
        self.window_buckets.iter().copied().max().unwrap_or(1)
    }

    /// Buckets of history the detector keeps itself (counts and levels).
    fn history(&self) -> usize {
        self.max_window()
            .max(self.sustained.map_or(0, |(len, _)| len))
    }

    /// One tail per short window, then the sustained window's.
    fn tails(&self) -> Vec<Tail> {
        let n = self.window_buckets.len() + usize::from(self.sustained.is_some());
        vec![Tail::new(self.tail_half_life, self.tail_min_samples); n]
    }

    fn minutes(&self, buckets: usize) -> f64 {
        buckets as f64 * self.bucket_ms as f64 / 60_000.0
    }
}

/// What one window measured.
#[derive(Debug, Clone)]
struct Measure {
    buckets: usize,
    observed: u32,
    expected: f64,
    ratio: f64,
    z: f64,
    seasonal: bool,
    /// Which tail judges this window (its index among the window lengths).
    tail: usize,
    /// The deviation needed: `min_z`, or the topic's own tail line if higher.
    z_needed: f64,
    /// The sustained window: ratio and z are those of its median step.
    sustained: bool,
    /// The sustained window's 5-minute sums, oldest first (a short window's buckets are read
    /// from the ring when an alert needs them).
    steps: Vec<u32>,
}

/// Surge state of one topic.
#[derive(Debug, Serialize, Deserialize)]
pub struct SurgeDetector {
    settings: Arc<SurgeSettings>,
    /// Smoothed level, comments per bucket.
    recent: f64,
    /// Smoothed change of the level per bucket (Holt's trend): lets the expectation follow a
    /// gradual morning rise instead of lagging behind it.
    trend: f64,
    buckets_seen: u64,
    /// (level, trend) as they were before each of the last buckets, oldest first.
    recent_before: VecDeque<(f64, f64)>,
    /// Comments in each of the last buckets, oldest first (for the sustained window).
    counts: VecDeque<u32>,
    tails: Vec<Tail>,
    profile: DailyProfile,
    episode: EpisodeState,
    /// The open episode was opened by the sustained window, which then also keeps it open.
    sustained_episode: bool,
    /// When the last episode ended: the sustained window fires only on time after it, so
    /// the hours an episode already reported are not reported again as "sustained".
    last_end_ms: i64,
    first_seen_ms: i64,
}

impl Detector for SurgeDetector {
    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>) {
        let Some(mut t) = self.judge(closed.window) else {
            return;
        };
        // What an active campaign on the topic put into the window: the surge it explains.
        if let Evidence::Surge(e) = &mut t.evidence {
            if !e.sustained {
                let buckets = closed.window.last(e.per_bucket.len());
                e.campaign_comments = closed.campaigns.counts(buckets).0;
            }
        }
        out.push(t);
    }

    /// Forgets the learned level, e.g. after a gap in the data longer than the history.
    fn reset(&mut self, first_seen_ms: i64) {
        *self = Self::new(self.settings.clone(), first_seen_ms);
    }

    fn is_firing(&self) -> bool {
        self.episode.is_open()
    }
}

impl SurgeDetector {
    pub fn new(settings: Arc<SurgeSettings>, first_seen_ms: i64) -> Self {
        Self {
            tails: settings.tails(),
            settings,
            recent: 0.0,
            trend: 0.0,
            buckets_seen: 0,
            recent_before: VecDeque::new(),
            counts: VecDeque::new(),
            profile: DailyProfile::default(),
            episode: EpisodeState::default(),
            sustained_episode: false,
            last_end_ms: i64::MIN,
            first_seen_ms,
        }
    }

    /// Expected comments per bucket right now, for metrics and the status page.
    pub fn baseline_per_bucket(&self) -> f64 {
        self.recent
    }

    /// Judges the newest closed bucket in `window`, then learns from it.
    fn judge(&mut self, window: &TopicWindow) -> Option<Transition> {
        let settings = self.settings.clone();
        let s = &*settings;
        let bucket = window.closed.back()?;
        let bucket_end = bucket.start_ms + s.bucket_ms;
        self.recent_before.push_back((self.recent, self.trend));
        while self.recent_before.len() > s.history() {
            self.recent_before.pop_front();
        }
        self.counts.push_back(bucket.count);
        while self.counts.len() > s.history() {
            self.counts.pop_front();
        }
        self.buckets_seen += 1;
        let seasonal = self.profile.expected_per_bucket(
            bucket.start_ms,
            s.bucket_ms,
            i64::from(s.params.history_days),
            s.params.weekly,
        );
        let measures: Vec<Measure> = if self.buckets_seen > s.warmup_buckets {
            let short = s
                .window_buckets
                .iter()
                .enumerate()
                .filter_map(|(i, &w)| self.measure(s, window, w, i, seasonal));
            short.chain(self.measure_sustained(s, seasonal)).collect()
        } else {
            Vec::new()
        };
        let p = &s.params;
        let after_last = |m: &Measure| {
            !m.sustained || bucket_end - m.buckets as i64 * s.bucket_ms >= self.last_end_ms
        };
        let fires = |m: &&Measure| {
            m.observed >= p.min_events
                && m.ratio >= p.min_ratio
                && m.z >= m.z_needed
                && after_last(m)
        };
        let alert = if self.episode.is_open() {
            let elevated_ratio = 1.0 + (p.min_ratio - 1.0) / 2.0;
            let sustained_episode = self.sustained_episode;
            let elevated = measures.iter().any(|m| {
                (!m.sustained || sustained_episode)
                    && m.ratio >= elevated_ratio
                    && m.observed * 2 >= p.min_events
            });
            let peak = measures.iter().map(|m| m.ratio).max_by(f64::total_cmp);
            let quiet_needed = buckets_for(p.resolve_after_mins, s.bucket_ms);
            let counted = |m: &&Measure| !m.sustained || sustained_episode;
            match self.episode.observe(elevated, peak, quiet_needed) {
                Some(ep) => {
                    self.last_end_ms = bucket_end;
                    measures
                        .iter()
                        .filter(counted)
                        .max_by_key(|m| m.buckets)
                        .map(|m| transition(s, &ep, m, window, bucket_end, AlertStatus::Resolved))
                }
                // Still open: grown past the next severity, a firing record says so.
                None => {
                    let strongest = measures
                        .iter()
                        .filter(counted)
                        .max_by(|a, b| a.ratio.total_cmp(&b.ratio));
                    let now = self.episode.current().map(|ep| severity(p, ep.peak));
                    strongest.zip(now).and_then(|(m, now)| {
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
                .max_by(|a, b| a.z.total_cmp(&b.z))
                .map(|m| {
                    let started_ms = onset(window, m, p.min_ratio, s.bucket_ms);
                    self.sustained_episode = m.sustained;
                    let ep = self.episode.open(started_ms, m.ratio);
                    transition(s, ep, m, window, bucket_end, AlertStatus::Firing)
                });
            if let Some(t) = &opened {
                self.episode.announce(t.severity);
            }
            opened
        };
        // Each window's deviation joins its tail; during an episode at most at the line, so one
        // incident does not teach the topic that incidents are normal.
        let open = self.episode.is_open();
        for m in &measures {
            let z = if open { m.z.min(m.z_needed) } else { m.z };
            self.tails[m.tail].add(z);
        }
        let frozen = self.episode.freezes_learning(bucket_end);
        self.learn(s, bucket.start_ms, bucket.count, frozen);
        alert
    }

    /// Expected comments per bucket across a window of `w` buckets ending now, from the
    /// level before it (forecast across it; only a rising trend raises the bar) and the same
    /// time on earlier days; and whether the latter decided.
    fn expected_per_bucket(
        &self,
        s: &SurgeSettings,
        w: usize,
        seasonal: Option<f64>,
    ) -> (f64, bool) {
        let (level, trend) = self.recent_before[self.recent_before.len() - w];
        let recent = level + trend * (w as f64 + 1.0) / 2.0;
        let per_bucket = recent.max(seasonal.unwrap_or(0.0)).max(s.floor_per_bucket);
        (per_bucket, seasonal.is_some_and(|v| v > recent))
    }

    /// The deviation a window expecting `expected` comments must reach: `min_z`, the
    /// topic's own tail line, and on its first day the cold-start line.
    fn z_needed(&self, s: &SurgeSettings, tail: usize, expected: f64) -> f64 {
        let t = &self.tails[tail];
        let line = t.line().unwrap_or(f64::NEG_INFINITY);
        let cold = if t.samples() < s.tail_day {
            COLD_Z * (1.0 + COLD_DISPERSION * expected).sqrt()
        } else {
            f64::NEG_INFINITY
        };
        s.params.min_z.max(line).max(cold)
    }

    fn measure(
        &self,
        s: &SurgeSettings,
        window: &TopicWindow,
        w: usize,
        tail: usize,
        seasonal: Option<f64>,
    ) -> Option<Measure> {
        if window.closed.len() < w || self.recent_before.len() < w {
            return None;
        }
        let observed: u32 = window.last(w).map(|b| b.count).sum();
        let (per_bucket, seasonal) = self.expected_per_bucket(s, w, seasonal);
        let expected = per_bucket * w as f64;
        Some(Measure {
            buckets: w,
            observed,
            expected,
            ratio: f64::from(observed) / expected,
            z: poisson_z(f64::from(observed), expected),
            seasonal,
            tail,
            z_needed: self.z_needed(s, tail, expected),
            sustained: false,
            steps: Vec::new(),
        })
    }

    /// The sustained window: its steps' sums, judged by the median step so that only a rise
    /// that lasts counts; `observed` is still every comment in it.
    fn measure_sustained(&self, s: &SurgeSettings, seasonal: Option<f64>) -> Option<Measure> {
        let (w, step) = s.sustained?;
        // Hours are judged against the same time on earlier days, which must exist (without
        // them a morning rise looks like a sustained surge), and the level at the window's
        // start must itself be past the warm-up.
        if seasonal.is_none()
            || self.counts.len() < w
            || self.recent_before.len() < w
            || self.buckets_seen < s.warmup_buckets + w as u64
        {
            return None;
        }
        let start = self.counts.len() - w;
        let per_step: Vec<u32> = self
            .counts
            .range(start..)
            .copied()
            .collect::<Vec<_>>()
            .chunks(step)
            .map(|c| c.iter().sum())
            .collect();
        let observed: u32 = per_step.iter().sum();
        let mut sorted = per_step.clone();
        sorted.sort_unstable();
        let median = f64::from(sorted[(sorted.len() - 1) / 2]);
        let (per_bucket, seasonal) = self.expected_per_bucket(s, w, seasonal);
        let expected = per_bucket * w as f64;
        // The window as if every step had been the median one.
        let typical = median * w as f64 / step as f64;
        let tail = s.window_buckets.len();
        Some(Measure {
            buckets: w,
            observed,
            expected,
            ratio: typical / expected,
            z: poisson_z(typical, expected),
            seasonal,
            tail,
            z_needed: self.z_needed(s, tail, expected),
            sustained: true,
            steps: per_step,
        })
    }

    fn learn(&mut self, s: &SurgeSettings, bucket_start_ms: i64, count: u32, frozen: bool) {
        let x = f64::from(count);
        if frozen {
            // The daily profile still records the day; its lower median keeps one incident
            // out of what "normal" means.
        } else if self.buckets_seen <= s.warmup_buckets {
            // Plain running mean while warming up: converges fast from nothing.
            self.recent += (x - self.recent) / self.buckets_seen as f64;
        } else {
            // Winsorise so a surge cannot teach itself as normal, but never below what a
            // window needs to fire: at small counts Poisson noise alone often exceeds
            // `min_ratio` times the mean, and capping it would bias the level downwards.
            let cap = (self.recent * s.params.min_ratio).max(s.min_events_per_bucket);
            let (alpha, beta) = (s.alpha, s.beta);
            let previous = self.recent;
            self.recent =
                (alpha * x.min(cap) + (1.0 - alpha) * (self.recent + self.trend)).max(0.0);
            // Only a rise is forecast: a trend learned while traffic fell overnight would
            // otherwise keep pulling the level down into the morning.
            self.trend = (beta * (self.recent - previous) + (1.0 - beta) * self.trend).max(0.0);
        }
        self.profile.add(
            bucket_start_ms,
            count,
            self.first_seen_ms,
            if s.params.weekly {
                (s.params.history_days as usize).max(WEEKS_KEPT * 7)
            } else {
                s.params.history_days as usize
            },
        );
    }
}

/// Where the episode began: the first bucket of the window that was itself well above the
/// expectation, else the window's start.
fn onset(window: &TopicWindow, m: &Measure, min_ratio: f64, bucket_ms: i64) -> i64 {
    let per_bucket = m.expected / m.buckets as f64;
    let high = per_bucket * (1.0 + (min_ratio - 1.0) / 2.0);
    let mut buckets = window.last(m.buckets);
    let first = window
        .last(m.buckets)
        .next()
        .map(|b| b.start_ms)
        .unwrap_or(0);
    buckets
        .find(|b| f64::from(b.count) >= high && b.count > 0)
        .map(|b| b.start_ms)
        .unwrap_or(first)
        .min(first + (m.buckets as i64 - 1) * bucket_ms)
}

#[cfg(test)]
mod tests;
