//! One near-duplicate cluster: a few counters for every cluster (most never get a second
//! member), and the evidence an alert shows (authors, repeaters, mentions, hashtags,
//! samples, copies per minute) once it has one. The index in [`super::index`] owns them.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::signature::Signature;
use crate::window::RawSample;

/// What a cluster knows once it has a second member.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClusterDetail {
    /// Posts per author (by hash), at most `max_members` authors.
    pub authors: FxHashMap<u32, u32>,
    /// Names of the authors who posted more than once, with their posts.
    pub repeaters: FxHashMap<u32, (Box<str>, u32)>,
    pub representative: String,
    pub tokens: usize,
    pub mentions: FxHashMap<Box<str>, u32>,
    pub hashtags: FxHashMap<Box<str>, u32>,
    pub samples: Vec<RawSample>,
    /// Authors not tracked because the cluster reached `max_members`.
    pub untracked_members: u32,
    /// Messages per minute over the last window, oldest first: a burst is many copies within
    /// minutes, not a common question asked now and then all day.
    pub(super) recent: VecDeque<(i64, u32)>,
    #[serde(with = "super::signature::packed")]
    pub(super) anchors: Vec<Signature>,
}

impl ClusterDetail {
    pub(super) fn count_minute(&mut self, ts_ms: i64, window_ms: i64) {
        let minute = ts_ms.div_euclid(60_000);
        match self.recent.iter_mut().rev().find(|(m, _)| *m == minute) {
            Some((_, n)) => *n += 1,
            None => {
                let pos = self.recent.partition_point(|(m, _)| *m < minute);
                self.recent.insert(pos, (minute, 1));
            }
        }
        let oldest = minute - window_ms / 60_000;
        while self.recent.front().is_some_and(|(m, _)| *m < oldest) {
            self.recent.pop_front();
        }
    }

    /// Messages from `since_ms` up to (not including) the minute of `until_ms`, the minute
    /// the first of them fell in, and the messages from that minute on. A bucket closes
    /// after the allowed lateness, when the index may already hold newer copies: those are
    /// the next buckets' to judge.
    pub fn messages_between(&self, since_ms: i64, until_ms: i64) -> Window {
        let since = since_ms.div_euclid(60_000);
        let until = until_ms.div_euclid(60_000);
        let mut w = Window::default();
        for &(m, c) in self.recent.iter().filter(|(m, _)| *m >= since) {
            if m >= until {
                w.later += c;
            } else {
                w.start_ms.get_or_insert(m * 60_000);
                w.messages += c;
            }
        }
        w
    }
}

/// A cluster's copies within a window, as [`ClusterDetail::messages_between`] counts them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub messages: u32,
    /// The minute the first of them fell in.
    pub start_ms: Option<i64>,
    /// Copies after the window's end.
    pub later: u32,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Cluster {
    /// Slot of the first member's signature in the index's signature table.
    pub(super) slot: u32,
    /// Number of the generation holding the cluster's keys.
    pub(super) home: u32,
    /// Event times in epoch seconds: 4 bytes instead of 8, per cluster of a million.
    pub(super) first_s: u32,
    pub(super) last_s: u32,
    pub messages: u32,
    pub negative: u32,
    pub(super) first_author: u32,
    pub(super) first_negative: bool,
    pub detail: Option<Box<ClusterDetail>>,
}

impl Cluster {
    pub fn first_ms(&self) -> i64 {
        i64::from(self.first_s) * 1000
    }

    pub fn last_ms(&self) -> i64 {
        i64::from(self.last_s) * 1000
    }

    pub fn distinct_authors(&self) -> u32 {
        match &self.detail {
            Some(d) => d.authors.len() as u32 + d.untracked_members,
            None => 1,
        }
    }
}
