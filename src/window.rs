//! Per-topic event-time buckets: the open ones still taking events, and a short ring of
//! closed ones that the detectors read.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

use crate::alert::Sample;

/// A near-duplicate cluster a comment joined (the troll detector's index names them). Ids
/// are per topic and wrap after 2^32; a live cluster is never overwritten.
pub type ClusterId = u32;

/// Examples kept per bucket: the first few comments, and the most negative few.
const SAMPLES_PER_BUCKET: usize = 3;

/// A sample before it is formatted: kept cheap until an alert needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSample {
    pub text: Box<str>,
    pub author: Box<str>,
    pub ts_ms: i64,
    pub score: f64,
}

impl RawSample {
    pub fn to_sample(&self) -> Sample {
        Sample::new(&self.text, &self.author, self.ts_ms)
    }
}

/// Counts of one bucket of one topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start_ms: i64,
    pub count: u32,
    pub negative: u32,
    pub samples: Vec<RawSample>,
    /// The most negative comments, most negative first.
    pub negative_samples: Vec<RawSample>,
    /// Comments that joined a near-duplicate cluster: (cluster id, negative).
    pub clustered: Vec<(ClusterId, bool)>,
}

impl Bucket {
    pub fn new(start_ms: i64) -> Self {
        Self {
            start_ms,
            ..Self::default()
        }
    }

    pub fn add_clustered(&mut self, cluster: ClusterId, negative: bool) {
        self.clustered.push((cluster, negative));
    }

    pub fn add(&mut self, text: &str, author: &str, ts_ms: i64, score: f64, negative: bool) {
        self.count += 1;
        let sample = || RawSample {
            text: truncate(text).into(),
            author: author.into(),
            ts_ms,
            score,
        };
        if self.samples.len() < SAMPLES_PER_BUCKET {
            self.samples.push(sample());
        }
        if negative {
            self.negative += 1;
            let full = self.negative_samples.len() >= SAMPLES_PER_BUCKET;
            // Ties keep the earlier comment, so the choice does not depend on arrival order
            // among equals beyond event order.
            if !full
                || self
                    .negative_samples
                    .last()
                    .is_some_and(|s| score < s.score)
            {
                let pos = self.negative_samples.partition_point(|s| s.score <= score);
                self.negative_samples.insert(pos, sample());
                self.negative_samples.truncate(SAMPLES_PER_BUCKET);
            }
        }
    }
}

fn truncate(text: &str) -> &str {
    match text
        .char_indices()
        .nth(crate::alert::model::SAMPLE_CHARS + 1)
    {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The buckets of one topic.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TopicWindow {
    /// Buckets still open to events, by start time. Only those between the watermark and the
    /// newest event exist, so this stays at a handful of entries.
    open: BTreeMap<i64, Bucket>,
    /// The most recent closed buckets, oldest first, at most `ring_len`.
    pub closed: VecDeque<Bucket>,
    ring_len: usize,
}

impl TopicWindow {
    pub fn new(ring_len: usize) -> Self {
        Self {
            open: BTreeMap::new(),
            closed: VecDeque::with_capacity(ring_len + 1),
            ring_len,
        }
    }

    pub fn bucket_mut(&mut self, start_ms: i64) -> &mut Bucket {
        self.open
            .entry(start_ms)
            .or_insert_with(|| Bucket::new(start_ms))
    }

    /// Closes the bucket starting at `start_ms` (empty if it saw no event) into the ring.
    pub fn close(&mut self, start_ms: i64) {
        let bucket = self
            .open
            .remove(&start_ms)
            .unwrap_or_else(|| Bucket::new(start_ms));
        self.closed.push_back(bucket);
        while self.closed.len() > self.ring_len {
            self.closed.pop_front();
        }
    }

    /// The last `n` closed buckets, oldest first (fewer if fewer exist).
    pub fn last(&self, n: usize) -> impl Iterator<Item = &Bucket> {
        self.closed.iter().skip(self.closed.len().saturating_sub(n))
    }

    pub fn clear_closed(&mut self) {
        self.closed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_negative_samples_in_order() {
        let mut b = Bucket::new(0);
        for (i, s) in [-0.2, -0.9, -0.5, -0.1, -0.95].iter().enumerate() {
            b.add(&format!("c{i}"), "a", i as i64, *s, true);
        }
        let texts: Vec<&str> = b.negative_samples.iter().map(|s| &*s.text).collect();
        assert_eq!(texts, ["c4", "c1", "c2"]);
        assert_eq!(b.samples.len(), 3);
        assert_eq!((b.count, b.negative), (5, 5));
    }

    #[test]
    fn ring_is_bounded_and_empty_buckets_close() {
        let mut w = TopicWindow::new(3);
        w.bucket_mut(0).add("x", "a", 0, 0.0, false);
        for t in 0..5 {
            w.close(t);
        }
        assert_eq!(w.closed.len(), 3);
        assert!(w.closed.iter().all(|b| b.count == 0));
        assert_eq!(w.last(2).map(|b| b.start_ms).collect::<Vec<_>>(), [3, 4]);
    }
}
