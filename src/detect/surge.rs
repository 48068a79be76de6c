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
//! the expectation, and is `min_z` above it on the Poisson square-root scale, which keeps
//! night-time and small topics calm. Several window lengths are checked (default 2 and 5
//! minutes): the short one catches a click-day jump within minutes, the long one a slower
//! but large rise. The episode resolves after `resolve_after_mins` buckets in which no window
//! is even half-way to the firing ratio.

use std::collections::VecDeque;
use std::sync::Arc;

use super::episode::{buckets_for, Episode, EpisodeState};
use super::stats::{ewma_alpha, lower_median, poisson_z, round_to};
use super::{Closed, Detector, Evidence, Measured, SurgeParams, Transition};
use crate::alert::model::SurgeDetails;
use crate::alert::{AlertKind, AlertStatus, Details, Severity};
use crate::window::TopicWindow;

const SLOT_MS: i64 = 15 * 60_000;
const DAY_MS: i64 = 86_400_000;
/// Expectation never drops below this many comments per minute, so a silent topic's first
/// comments are judged by `min_events` and `min_z`, not by an infinite ratio.
const FLOOR_PER_MINUTE: f64 = 0.1;

/// Surge settings turned into bucket units once, shared by every topic.
#[derive(Debug, Clone)]
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
            bucket_ms,
            params,
        }
    }

    pub fn max_window(&self) -> usize {
        self.window_buckets.iter().copied().max().unwrap_or(1)
    }

    fn minutes(&self, buckets: usize) -> f64 {
        buckets as f64 * self.bucket_ms as f64 / 60_000.0
    }
}

/// Counts per 15-minute slot of each recent day.
#[derive(Debug, Default)]
struct DailyProfile {
    days: VecDeque<Day>,
}

#[derive(Debug)]
struct Day {
    day: i64,
    counts: Vec<u32>,
    /// Slots before this one were not (fully) observed.
    first_slot: usize,
}

impl DailyProfile {
    fn add(&mut self, bucket_start_ms: i64, count: u32, first_seen_ms: i64, keep_days: usize) {
        let day = bucket_start_ms.div_euclid(DAY_MS);
        if self.days.back().is_none_or(|d| d.day != day) {
            let day_start = day * DAY_MS;
            let first_slot = if first_seen_ms <= day_start {
                0
            } else {
                ((first_seen_ms - day_start + SLOT_MS - 1) / SLOT_MS) as usize
            };
            self.days.push_back(Day {
                day,
                counts: vec![0; (DAY_MS / SLOT_MS) as usize],
                first_slot,
            });
            while self.days.len() > keep_days + 1 {
                self.days.pop_front();
            }
        }
        if let Some(d) = self.days.back_mut() {
            let slot = (bucket_start_ms.rem_euclid(DAY_MS) / SLOT_MS) as usize;
            d.counts[slot] = d.counts[slot].saturating_add(count);
        }
    }

    /// Expected count per bucket at `at_ms` from earlier days: for each earlier day the larger
    /// of this slot and the next (conservative on a rising or falling edge), then the lower
    /// median across days.
    fn expected_per_bucket(&self, at_ms: i64, bucket_ms: i64) -> Option<f64> {
        let today = at_ms.div_euclid(DAY_MS);
        let slot = (at_ms.rem_euclid(DAY_MS) / SLOT_MS) as usize;
        let per_slot = (SLOT_MS / bucket_ms) as f64;
        let mut values: Vec<f64> = self
            .days
            .iter()
            .filter(|d| d.day < today && slot >= d.first_slot)
            .map(|d| {
                let next = d.counts.get(slot + 1).copied().unwrap_or(d.counts[slot]);
                f64::from(d.counts[slot].max(next)) / per_slot
            })
            .collect();
        lower_median(&mut values)
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
}

/// Surge state of one topic.
#[derive(Debug)]
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
    profile: DailyProfile,
    episode: EpisodeState,
    first_seen_ms: i64,
}

impl Detector for SurgeDetector {
    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>) {
        out.extend(self.judge(closed.window));
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
            settings,
            recent: 0.0,
            trend: 0.0,
            buckets_seen: 0,
            recent_before: VecDeque::new(),
            profile: DailyProfile::default(),
            episode: EpisodeState::default(),
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
        while self.recent_before.len() > s.max_window() {
            self.recent_before.pop_front();
        }
        self.buckets_seen += 1;
        let seasonal = self
            .profile
            .expected_per_bucket(bucket.start_ms, s.bucket_ms);
        let measures: Vec<Measure> = if self.buckets_seen > s.warmup_buckets {
            s.window_buckets
                .iter()
                .filter_map(|&w| self.measure(s, window, w, seasonal))
                .collect()
        } else {
            Vec::new()
        };
        let p = &s.params;
        let fires =
            |m: &&Measure| m.observed >= p.min_events && m.ratio >= p.min_ratio && m.z >= p.min_z;
        let alert = if self.episode.is_open() {
            let elevated_ratio = 1.0 + (p.min_ratio - 1.0) / 2.0;
            let elevated = measures
                .iter()
                .any(|m| m.ratio >= elevated_ratio && m.observed * 2 >= p.min_events);
            let peak = measures.iter().map(|m| m.ratio).max_by(f64::total_cmp);
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
                .max_by(|a, b| a.z.total_cmp(&b.z))
                .map(|m| {
                    let started_ms = onset(window, m, p.min_ratio, s.bucket_ms);
                    let ep = self.episode.open(started_ms, m.ratio);
                    transition(s, ep, m, window, bucket_end, AlertStatus::Firing)
                })
        };
        let frozen = self.episode.freezes_learning(bucket_end);
        self.learn(s, bucket.start_ms, bucket.count, frozen);
        alert
    }

    fn measure(
        &self,
        s: &SurgeSettings,
        window: &TopicWindow,
        w: usize,
        seasonal: Option<f64>,
    ) -> Option<Measure> {
        if window.closed.len() < w || self.recent_before.len() < w {
            return None;
        }
        let observed: u32 = window.last(w).map(|b| b.count).sum();
        let (level, trend) = self.recent_before[self.recent_before.len() - w];
        // Forecast across the window from before it; only a rising trend raises the bar.
        let recent = level + trend * (w as f64 + 1.0) / 2.0;
        let per_bucket = recent.max(seasonal.unwrap_or(0.0)).max(s.floor_per_bucket);
        let expected = per_bucket * w as f64;
        Some(Measure {
            buckets: w,
            observed,
            expected,
            ratio: f64::from(observed) / expected,
            z: poisson_z(f64::from(observed), expected),
            seasonal: seasonal.is_some_and(|v| v > recent),
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
            s.params.history_days as usize,
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
    /// The firing line: ratio and minimum comments in the window.
    pub min_ratio: f64,
    pub min_events: u32,
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
            }),
        }
    }
}

fn transition(
    s: &SurgeSettings,
    ep: &Episode,
    m: &Measure,
    window: &TopicWindow,
    at_ms: i64,
    status: AlertStatus,
) -> Transition {
    let p = &s.params;
    let severity = if ep.peak >= 2.0 * p.min_ratio {
        Severity::Critical
    } else {
        Severity::Warning
    };
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
            per_bucket: window.last(m.buckets).map(|b| b.count).collect(),
            peak_ratio: ep.peak,
            duration_minutes: ((at_ms - ep.started_ms) / 60_000).max(0) as u32,
            min_ratio: p.min_ratio,
            min_events: p.min_events,
        }),
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::detect::testing::{Feed, Noise};

    fn detector() -> SurgeDetector {
        let settings = SurgeSettings::new(Config::default().detect.surge_params(), 60_000);
        SurgeDetector::new(Arc::new(settings), crate::detect::testing::T0)
    }

    /// Feeds `minutes` buckets whose counts come from `count(minute)`; returns every
    /// transition with the minute it came at.
    fn run(
        d: &mut SurgeDetector,
        feed: &mut Feed,
        minutes: std::ops::Range<u32>,
        mut count: impl FnMut(u32) -> u32,
    ) -> Vec<(u32, Transition)> {
        let mut out = Vec::new();
        for m in minutes {
            for t in feed.minute(d, count(m), 0) {
                out.push((m, t));
            }
        }
        out
    }

    #[test]
    fn fires_within_minutes_of_a_jump_then_resolves_once() {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(1));
        let got = run(&mut d, &mut feed, 0..200, |m| {
            noise.poisson(if (120..140).contains(&m) { 60.0 } else { 10.0 })
        });
        assert_eq!(got.len(), 2, "{got:?}");
        let (fired_at, firing) = &got[0];
        assert_eq!(firing.status, AlertStatus::Firing);
        assert!(*fired_at <= 122, "fired at minute {fired_at}");
        let (resolved_at, resolved) = &got[1];
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(
            resolved.severity,
            Severity::Critical,
            "peaked sixfold: critical"
        );
        assert!(
            (140..=150).contains(resolved_at),
            "resolved at {resolved_at}"
        );
        assert_eq!(firing.started_ms, resolved.started_ms, "one episode");
        let Evidence::Surge(e) = &firing.evidence else {
            panic!("surge evidence expected")
        };
        assert!(
            e.ratio >= e.min_ratio && e.observed >= e.min_events,
            "{e:?}"
        );
        assert!(!d.is_firing());
    }

    #[test]
    fn stays_calm_on_noise_a_morning_rise_and_a_small_topic() {
        // Six hours of Poisson noise at 5 a minute, then a rise to 25 a minute over three
        // hours: a gradual rise is expected, not alarming.
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(2));
        let got = run(&mut d, &mut feed, 0..540, |m| {
            let rate = if m < 360 {
                5.0
            } else {
                5.0 + 20.0 * f64::from(m - 360) / 180.0
            };
            noise.poisson(rate)
        });
        assert!(got.is_empty(), "{got:?}");
        // A topic at 0.3 comments a minute for a day, with its own bursts of a few.
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(3));
        let got = run(&mut d, &mut feed, 0..1440, |_| noise.poisson(0.3));
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn learns_nothing_from_an_open_episode() {
        let (mut d, mut feed) = (detector(), Feed::new(30));
        run(&mut d, &mut feed, 0..120, |_| 10);
        let before = d.baseline_per_bucket();
        let got = run(&mut d, &mut feed, 120..180, |_| 80);
        assert_eq!(got.len(), 1, "fires once and stays open: {got:?}");
        assert!(d.is_firing());
        assert!(
            (d.baseline_per_bucket() - before).abs() < 0.5,
            "level moved from {before} to {} during the episode",
            d.baseline_per_bucket()
        );
        // Once the episode is over, learning resumes.
        run(&mut d, &mut feed, 180..400, |_| 14);
        assert!(!d.is_firing());
        assert!(
            d.baseline_per_bucket() > before + 3.0,
            "{}",
            d.baseline_per_bucket()
        );
    }
}
