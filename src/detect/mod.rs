//! Detectors: pure state machines over one topic's stream, in event time.
//!
//! Every detector has the one shape of [`Detector`]: it may look at each comment of its topic
//! as it arrives ([`Detector::on_comment`], the one entry point to the comment stream), and it
//! judges each closed bucket ([`Detector::on_bucket_closed`]), returning typed
//! [`Transition`]s with typed [`Evidence`] and no text. Summaries are written later, in one
//! place (`render`), in the language the reader chose. None of them sees the clock, the
//! network or a global; the sensitivity presets are resolved once, in `config::presets`.
//!
//! Adding a detector: a file here with its settings, state and evidence, a variant of
//! [`Evidence`] and [`crate::alert::AlertKind`], and one line in [`Detectors::each`].

pub mod comment;
pub mod episode;
pub mod flood;
pub mod negativity;
pub mod stats;
pub mod surge;
pub mod tail;
pub mod theme;
pub mod troll;

use crate::alert::model::ThemeShare;
use crate::alert::{AlertKind, AlertStatus, Details, Sample, Severity};
use crate::window::{Bucket, ClusterId, TopicWindow};
use serde::{Deserialize, Serialize};

pub use crate::config::{NegativityParams, Sensitivity, SurgeParams, TrollParams};
pub use comment::Comment;
pub use flood::{FloodDetector, FloodEvidence, FloodSettings};
pub use negativity::{NegativityDetector, NegativityEvidence, NegativitySettings};
pub use surge::{SurgeDetector, SurgeEvidence, SurgeSettings};
pub use theme::cross::ThemeEvidence;
pub use troll::{TrollDetector, TrollEvidence, TrollSettings};

/// While an episode is open a detector does not learn, so the incident cannot become its own
/// baseline; after this long it learns again, so a lasting change becomes the new normal
/// rather than an alert that fires for days.
pub const RELEARN_AFTER_MINS: i64 = 360;

/// What a detector sees when one of its topic's buckets closes.
pub struct Closed<'a> {
    /// The topic's buckets; the newest closed one is the bucket being judged.
    pub window: &'a TopicWindow,
    /// End of the bucket being judged, event time.
    pub end_ms: i64,
    /// Near-duplicate clusters reported as campaigns right now, as the detectors before this
    /// one left them ([`Detector::share`]).
    pub campaigns: &'a Campaigns,
}

/// Clusters currently reported as coordinated campaigns on a topic, so other detectors can
/// set their comments aside (the authenticity-adjusted negative share).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Campaigns {
    /// Sorted.
    active: Vec<ClusterId>,
}

impl Campaigns {
    pub fn set(&mut self, active: impl Iterator<Item = ClusterId>) {
        self.active.clear();
        self.active.extend(active);
        self.active.sort_unstable();
    }

    pub fn contains(&self, cluster: ClusterId) -> bool {
        self.active.binary_search(&cluster).is_ok()
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Comments, and negative comments, in `buckets` that belong to active campaigns.
    pub fn counts<'b>(&self, buckets: impl Iterator<Item = &'b Bucket>) -> (u32, u32) {
        if self.active.is_empty() {
            return (0, 0);
        }
        buckets
            .flat_map(|b| b.clustered.iter())
            .filter(|(cluster, _)| self.contains(*cluster))
            .fold((0, 0), |(c, n), (_, negative)| {
                (c + 1, n + u32::from(*negative))
            })
    }
}

/// A change in an episode's state, as a detector reports it: typed, with no text. The engine
/// turns it into an alert record (id, times, summary) through the renderer.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub kind: AlertKind,
    pub status: AlertStatus,
    pub severity: Severity,
    /// Event time the episode started; with the kind and topic it makes the alert's id.
    pub started_ms: i64,
    /// Event time this status was reached.
    pub at_ms: i64,
    pub evidence: Evidence,
    pub samples: Vec<Sample>,
    /// The phrases emerging on the topic, for surge and negativity alerts (filled by the
    /// engine, which keeps the theme tables).
    pub themes: Vec<ThemeShare>,
}

/// What a detector measured, unrounded: the record's numbers and the summary's words are
/// both made from it.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    Surge(SurgeEvidence),
    Negativity(NegativityEvidence),
    TrollBurst(TrollEvidence),
    Theme(ThemeEvidence),
    Coordination(FloodEvidence),
}

/// The numbers of an alert record: what was measured, expected, and where the line was.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub value: f64,
    pub baseline: f64,
    pub threshold: f64,
    pub details: Details,
}

impl Evidence {
    /// The record's numbers and details, rounded for display.
    pub fn measured(&self) -> Measured {
        match self {
            Evidence::Surge(e) => e.measured(),
            Evidence::Negativity(e) => e.measured(),
            Evidence::TrollBurst(e) => e.measured(),
            Evidence::Theme(e) => e.measured(),
            Evidence::Coordination(e) => e.measured(),
        }
    }
}

/// The shape every detector has.
pub trait Detector {
    /// One comment of this topic, as it arrives, with the open bucket it was counted in.
    /// Returns the near-duplicate cluster it was placed in, if the detector keeps clusters.
    /// Most detectors only judge closed buckets and need nothing here.
    fn on_comment(&mut self, _comment: &Comment<'_>, _bucket: &mut Bucket) -> Option<ClusterId> {
        None
    }

    /// The topic's newest bucket has closed: judge it, learn from it when allowed, and push
    /// any change of episode state.
    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>);

    /// After [`Detector::on_bucket_closed`]: what the detectors after this one may use.
    fn share(&self, _campaigns: &mut Campaigns) {}

    /// The stream restarts at `bucket_start_ms` (its first event, or after a gap longer than
    /// the history): forget learned baselines.
    fn reset(&mut self, _bucket_start_ms: i64) {}

    /// An episode is open.
    fn is_firing(&self) -> bool;
}

/// Every detector of one topic.
#[derive(Serialize, Deserialize)]
pub struct Detectors {
    pub surge: SurgeDetector,
    pub troll: TrollDetector,
    pub negativity: NegativityDetector,
    /// What the troll detector reports as campaigns, for negativity and the views.
    pub campaigns: Campaigns,
    pub flood: FloodDetector,
}

impl Detectors {
    pub fn new(
        surge: &std::sync::Arc<SurgeSettings>,
        negativity: &std::sync::Arc<NegativitySettings>,
        troll: TrollSettings,
        flood: std::sync::Arc<FloodSettings>,
        first_seen_ms: i64,
    ) -> Self {
        Self {
            surge: SurgeDetector::new(surge.clone(), first_seen_ms),
            troll: TrollDetector::new(troll),
            negativity: NegativityDetector::new(negativity.clone()),
            campaigns: Campaigns::default(),
            flood: FloodDetector::new(flood),
        }
    }

    /// The detectors in the order they judge a closed bucket: troll first, so that surge and
    /// negativity know which comments are a campaign's (and a campaign, the cause, names the
    /// incident its surge and negativity join). Adding a detector adds a line.
    fn each(&mut self) -> [&mut dyn Detector; 4] {
        [
            &mut self.troll,
            &mut self.surge,
            &mut self.negativity,
            &mut self.flood,
        ]
    }

    /// Shows one comment to every detector; returns the cluster it was placed in, if any.
    pub fn on_comment(&mut self, comment: &Comment<'_>, bucket: &mut Bucket) -> Option<ClusterId> {
        let mut placed = None;
        for d in self.each() {
            placed = d.on_comment(comment, bucket).or(placed);
        }
        // Tags flooded in people's own words: a copy is the troll detector's.
        let copy = placed.is_some_and(|c| self.troll.is_copy(c));
        self.flood.on_comment(comment, copy);
        placed
    }

    /// Has every detector judge the bucket that just closed (the newest in `window`).
    pub fn on_bucket_closed(
        &mut self,
        window: &TopicWindow,
        end_ms: i64,
        out: &mut Vec<Transition>,
    ) {
        let mut campaigns = std::mem::take(&mut self.campaigns);
        for d in self.each() {
            let closed = Closed {
                window,
                end_ms,
                campaigns: &campaigns,
            };
            d.on_bucket_closed(&closed, out);
            d.share(&mut campaigns);
        }
        self.campaigns = campaigns;
    }

    pub fn reset(&mut self, bucket_start_ms: i64) {
        for d in self.each() {
            d.reset(bucket_start_ms);
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the detectors' own unit tests: a topic's buckets filled by hand.

    use super::*;

    /// One topic's buckets of one minute, closed one at a time, with a detector judging each.
    pub struct Feed {
        pub window: TopicWindow,
        pub campaigns: Campaigns,
        pub next_ms: i64,
    }

    pub const T0: i64 = 1_585_699_200_000; // 2020-04-01T00:00:00Z

    /// Poisson counts with mean `mean`, from a fixed seed (Knuth's method on a 64-bit LCG):
    /// noise as real comment counts have it, the same on every run.
    pub struct Noise(u64);

    impl Noise {
        pub fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        pub fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        pub fn poisson(&mut self, mean: f64) -> u32 {
            let limit = (-mean).exp();
            let (mut k, mut p) = (0u32, 1.0);
            loop {
                p *= self.uniform();
                if p <= limit {
                    return k;
                }
                k += 1;
            }
        }

        /// Of `n` comments, how many are negative at share `p`.
        pub fn binomial(&mut self, n: u32, p: f64) -> u32 {
            (0..n).filter(|_| self.uniform() < p).count() as u32
        }
    }

    impl Feed {
        pub fn new(ring: usize) -> Self {
            Self {
                window: TopicWindow::new(ring),
                campaigns: Campaigns::default(),
                next_ms: T0,
            }
        }

        /// Closes the next one-minute bucket holding `count` comments, `negative` of them
        /// negative, and returns what `d` reported.
        pub fn minute(
            &mut self,
            d: &mut dyn Detector,
            count: u32,
            negative: u32,
        ) -> Vec<Transition> {
            self.minute_clustered(d, count, negative, &[])
        }

        /// The same, with some of the comments also in near-duplicate clusters.
        pub fn minute_clustered(
            &mut self,
            d: &mut dyn Detector,
            count: u32,
            negative: u32,
            clustered: &[(ClusterId, bool)],
        ) -> Vec<Transition> {
            let start = self.next_ms;
            let b = self.window.bucket_mut(start);
            for i in 0..count {
                let neg = i < negative;
                b.add(
                    "commento",
                    "a",
                    start + i64::from(i),
                    if neg { -0.5 } else { 0.1 },
                    neg,
                );
            }
            for &(cluster, negative) in clustered {
                b.add_clustered(cluster, negative);
            }
            self.window.close(start);
            self.next_ms += 60_000;
            let mut out = Vec::new();
            d.on_bucket_closed(
                &Closed {
                    window: &self.window,
                    end_ms: start + 60_000,
                    campaigns: &self.campaigns,
                },
                &mut out,
            );
            d.share(&mut self.campaigns);
            out
        }
    }
}
