//! What the engine shows of its state: per-topic snapshots for metrics and APIs, the series
//! of closed buckets for charts, and every bucket as it closes for reports and backfills.

use super::{Engine, Topic};
use crate::alert::model::ThemeShare;
use crate::detect::stats::round_to;
use crate::detect::Detector;
use crate::window::ClusterId;

/// One closed bucket of a topic, for charts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SeriesPoint {
    /// Bucket start, event time in ms.
    pub t_ms: i64,
    pub volume_per_minute: f64,
    /// Negative share over the negativity window ending with this bucket.
    pub negativity_ratio: Option<f64>,
}

/// One topic at one closed bucket, kept for reports and backfills ([`Engine::keep_series`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketPoint {
    /// Topic index, as in [`Engine::topics`].
    pub topic: u32,
    /// Bucket start, event time in ms.
    pub t_ms: i64,
    pub count: u32,
    pub negative: u32,
    pub baseline_per_minute: f32,
    /// Negative share over the negativity window ending with this bucket.
    pub negativity_ratio: Option<f32>,
    /// The same without the comments of active troll clusters.
    pub negativity_ratio_adjusted: Option<f32>,
}

/// A snapshot of one topic for metrics, APIs and reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicSnapshot {
    pub name: String,
    pub events: u64,
    pub negative: u64,
    /// Comments in the last closed bucket, per minute.
    pub volume_per_minute: f64,
    pub baseline_per_minute: f64,
    /// Negative share over the last closed buckets of the negativity window.
    pub negativity_ratio: Option<f64>,
    /// The same share without the comments of active troll clusters.
    pub negativity_ratio_adjusted: Option<f64>,
    pub surge_firing: bool,
    pub negativity_firing: bool,
    /// Troll clusters currently reported.
    pub troll_clusters_active: usize,
    /// Clusters held in the topic's near-duplicate index.
    pub troll_clusters_indexed: usize,
    /// Clusters evicted early because the index reached `detect.detectors.troll.max_clusters`.
    pub troll_clusters_evicted: u64,
    /// What its recent comments talk about most (phrase, share of recent comments, lift
    /// against usual), whether or not it is news; empty with themes off.
    pub talk: Vec<ThemeShare>,
}

/// Phrases a topic card lists.
const TALK: usize = 5;

/// Whether every word of `phrase` is a word of the topic's name ("naspi" on naspi,
/// "reddito" on reddito-di-cittadinanza): true of a topic's comments, and no news.
fn names_only_the_topic(phrase: &str, topic: &str) -> bool {
    phrase.split(' ').all(|w| {
        topic
            .split(|c: char| !c.is_alphanumeric())
            .any(|t| t.eq_ignore_ascii_case(w))
    })
}

/// A topic's negative share over its last `window` closed buckets: raw, and without the
/// comments of active troll clusters.
pub(super) fn negative_shares(t: &Topic, window: usize) -> (Option<f64>, Option<f64>) {
    let (c, n) = t
        .window
        .last(window)
        .fold((0u32, 0u32), |(c, n), b| (c + b.count, n + b.negative));
    let (tc, tn) = t.detectors.campaigns.counts(t.window.last(window));
    (
        (c > 0).then(|| f64::from(n) / f64::from(c)),
        (c > tc).then(|| f64::from(n - tn) / f64::from(c - tc)),
    )
}

impl Engine {
    /// From now on, keep every topic's closed buckets (volume, baseline, negative shares)
    /// until [`Engine::take_series`] takes them: what reports and backfills draw.
    pub fn keep_series(&mut self) {
        self.series.get_or_insert_with(Vec::new);
    }

    /// Moves the buckets closed since the last call into `out`, in closing order.
    pub fn take_series(&mut self, out: &mut Vec<BucketPoint>) {
        if let Some(s) = &mut self.series {
            out.append(s);
        }
    }

    /// True if the cluster was ever reported as a troll burst on the topic (by index).
    pub fn troll_reported(&self, topic: usize, cluster: ClusterId) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|t| t.detectors.troll.was_reported(cluster))
    }

    /// How many topics the engine holds, and the clusters each holds in its near-duplicate
    /// index: what the caps bound, cheap enough to check after every comment.
    pub fn clusters_indexed(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.topics.iter().map(|t| t.detectors.troll.clusters())
    }

    /// The name of a topic by index.
    pub fn topic_name(&self, topic: usize) -> Option<&str> {
        self.topics.get(topic).map(|t| t.name.as_str())
    }

    /// A snapshot of every topic, in creation order.
    pub fn topics(&self) -> Vec<TopicSnapshot> {
        let per_min = 60_000.0 / self.bucket_ms as f64;
        let neg_window = self.negativity.max_window();
        self.topics
            .iter()
            .map(|t| {
                let (negativity_ratio, negativity_ratio_adjusted) = negative_shares(t, neg_window);
                TopicSnapshot {
                    name: t.name.clone(),
                    events: t.events,
                    negative: t.negative,
                    volume_per_minute: t
                        .window
                        .closed
                        .back()
                        .map_or(0.0, |b| f64::from(b.count) * per_min),
                    baseline_per_minute: t.detectors.surge.baseline_per_bucket() * per_min,
                    negativity_ratio,
                    negativity_ratio_adjusted,
                    surge_firing: t.detectors.surge.is_firing(),
                    negativity_firing: t.detectors.negativity.is_firing(),
                    troll_clusters_active: t.detectors.troll.active_count(),
                    troll_clusters_indexed: t.detectors.troll.clusters(),
                    troll_clusters_evicted: t.detectors.troll.evicted(),
                    talk: if self.themes.enabled() {
                        t.themes
                            .talked_about(&self.themes.settings, TALK + 3)
                            .into_iter()
                            .filter(|(phrase, _, _)| !names_only_the_topic(phrase, &t.name))
                            .take(TALK)
                            .map(|(phrase, share, lift)| ThemeShare {
                                phrase,
                                share: round_to(share, 3),
                                lift: round_to(lift, 1),
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect()
    }

    /// The closed buckets of topic `index` (as in [`Engine::topics`]) that start after
    /// `after_ms`, oldest first, each with its volume and the negative share over the
    /// negativity window ending there: what the status page draws.
    pub fn series_after(&self, index: usize, after_ms: i64) -> Vec<SeriesPoint> {
        let Some(t) = self.topics.get(index) else {
            return Vec::new();
        };
        let per_min = 60_000.0 / self.bucket_ms as f64;
        let window = self.negativity.max_window().max(1);
        let closed = &t.window.closed;
        let first = closed.partition_point(|b| b.start_ms <= after_ms);
        (first..closed.len())
            .map(|i| {
                let b = &closed[i];
                let (c, n) = closed
                    .range(i + 1 - window.min(i + 1)..=i)
                    .fold((0u32, 0u32), |(c, n), b| (c + b.count, n + b.negative));
                SeriesPoint {
                    t_ms: b.start_ms,
                    volume_per_minute: f64::from(b.count) * per_min,
                    negativity_ratio: (c > 0).then(|| f64::from(n) / f64::from(c)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::names_only_the_topic;

    #[test]
    fn a_topic_s_own_name_is_not_what_people_are_saying() {
        assert!(names_only_the_topic("reddito", "reddito-di-cittadinanza"));
        assert!(names_only_the_topic(
            "reddito cittadinanza",
            "reddito-di-cittadinanza"
        ));
        assert!(names_only_the_topic("bonus", "bonus-600"));
        assert!(!names_only_the_topic("bonus negato", "bonus-600"));
        assert!(!names_only_the_topic("dati", "bonus-600"));
    }
}
