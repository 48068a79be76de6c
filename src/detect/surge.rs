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

use super::episode::{buckets_for, Episode, EpisodeState};
use super::stats::{ewma_alpha, lower_median, poisson_z, round_to};
use super::SurgeParams;
use crate::alert::model::{
    article_it, decimal_it, human_duration, human_duration_it, SurgeDetails,
};
use crate::alert::{Alert, AlertKind, AlertStatus, Details, Severity};
use crate::config::Language;
use crate::event::format_ts;
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
    /// Language of the summaries.
    pub lang: Language,
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
            lang: Language::En,
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
#[derive(Debug, Default)]
pub struct SurgeDetector {
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

impl SurgeDetector {
    pub fn new(first_seen_ms: i64) -> Self {
        Self {
            first_seen_ms,
            ..Self::default()
        }
    }

    pub fn is_firing(&self) -> bool {
        self.episode.is_open()
    }

    /// Expected comments per minute right now, for metrics and the status page.
    pub fn baseline_per_bucket(&self) -> f64 {
        self.recent
    }

    /// Forgets the learned level, e.g. after a gap in the data longer than the history.
    pub fn reset(&mut self, first_seen_ms: i64) {
        *self = Self::new(first_seen_ms);
    }

    /// Called once per closed bucket (the newest in `window`); returns a firing or resolved
    /// alert when the state changes.
    pub fn on_bucket_closed(
        &mut self,
        s: &SurgeSettings,
        topic: &str,
        window: &TopicWindow,
    ) -> Option<Alert> {
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
                .max_by(|a, b| a.z.total_cmp(&b.z))
                .map(|m| {
                    let started_ms = onset(window, m, p.min_ratio, s.bucket_ms);
                    let ep = self
                        .episode
                        .open(AlertKind::Surge, topic, started_ms, m.ratio);
                    build(s, topic, ep, m, window, bucket_end, AlertStatus::Firing)
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

fn build(
    s: &SurgeSettings,
    topic: &str,
    ep: &Episode,
    m: &Measure,
    window: &TopicWindow,
    at_ms: i64,
    status: AlertStatus,
) -> Alert {
    let p = &s.params;
    let minutes = s.minutes(m.buckets);
    let per_min = f64::from(m.observed) / minutes;
    let expected_per_min = m.expected / minutes;
    let threshold_per_min = (expected_per_min * p.min_ratio).max(f64::from(p.min_events) / minutes);
    let usual = if m.seasonal {
        "the usual"
    } else {
        "the recent level of"
    };
    let when = if m.seasonal {
        " for this time of day"
    } else {
        ""
    };
    let duration = ((at_ms - ep.started_ms) / 60_000).max(0) as u32;
    let summary = match (status, s.lang) {
        (AlertStatus::Firing, Language::En) => format!(
            "Surge on \u{ab}{topic}\u{bb}: {} comments in the last {} minutes, {:.1}\u{d7} {usual} {:.0}{when} (alert at {:.1}\u{d7}).",
            m.observed, minutes, m.ratio, m.expected, p.min_ratio
        ),
        (AlertStatus::Firing, Language::It) => format!(
            "Picco di commenti su \u{ab}{topic}\u{bb}: {} negli ultimi {} minuti, {} volte {}{} (soglia di allerta: {} volte).",
            m.observed,
            minutes,
            decimal_it(m.ratio),
            if m.seasonal {
                article_it(m.expected.round() as u64, "i", "gli ")
            } else {
                format!("il livello recente di {:.0}", m.expected)
            },
            if m.seasonal { " abituali a quest'ora" } else { "" },
            decimal_it(p.min_ratio)
        ),
        (AlertStatus::Resolved, Language::It) => format!(
            "Rientrato il picco di commenti su \u{ab}{topic}\u{bb}: {} negli ultimi {} minuti contro {}{}; \u{e8} durato {}, con un massimo di {} volte il normale.",
            m.observed,
            minutes,
            if m.seasonal {
                article_it(m.expected.round() as u64, "i", "gli ")
            } else {
                format!("un livello recente di {:.0}", m.expected)
            },
            if m.seasonal { " abituali a quest'ora" } else { "" },
            human_duration_it(duration),
            decimal_it(ep.peak)
        ),
        (AlertStatus::Resolved, Language::En) => format!(
            "Surge on \u{ab}{topic}\u{bb} is over: {} comments in the last {} minutes against {usual} {:.0}; it lasted {} and peaked at {:.1}\u{d7} normal.",
            m.observed,
            minutes,
            m.expected,
            human_duration(duration),
            ep.peak
        ),
    };
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
    Alert {
        id: ep.id.clone(),
        kind: AlertKind::Surge,
        status,
        severity,
        topic: topic.to_string(),
        at: format_ts(at_ms),
        started_at: format_ts(ep.started_ms),
        value: round_to(per_min, 2),
        baseline: round_to(expected_per_min, 2),
        threshold: round_to(threshold_per_min, 2),
        summary,
        details: Details::Surge(SurgeDetails {
            window_minutes: minutes.round() as u32,
            comments_in_window: m.observed,
            expected_in_window: round_to(m.expected, 1),
            ratio: round_to(m.ratio, 2),
            z: round_to(m.z, 2),
            baseline_source: if m.seasonal {
                "same time on earlier days"
            } else {
                "recent level"
            }
            .to_string(),
            per_bucket: window.last(m.buckets).map(|b| b.count).collect(),
            peak_ratio: round_to(ep.peak, 2),
            duration_minutes: duration,
        }),
        samples,
        at_ms,
    }
}
