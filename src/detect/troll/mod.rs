//! Troll bursts: many near-identical messages from many accounts within minutes, as
//! copy-paste campaigns post them.
//!
//! Each message of at least `min_tokens` normalised tokens is signed ([`signature`]) and
//! placed in its topic's near-duplicate index ([`index`]). At each closed bucket, a cluster
//! fires a `troll_burst` alert with its evidence when, within the window, it holds
//! `min_messages` copies from `min_authors` distinct accounts, at least `min_share` of the
//! topic's comments, and at least half of all its copies (a burst is new; a stock phrase
//! real people repeat all day is not). It resolves once no new copy arrived for a window. Short messages never enter the index: a wave of "sito down" from real users is
//! not a template, however alike the messages are.

mod anchors;
mod bands;
pub mod cluster;
pub mod index;
pub mod signature;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Reported cluster ids remembered per topic, so a process running for months stays bounded.
const REPORTED_KEPT: usize = 1024;

use self::index::{Cluster, ClusterId, IndexSettings, Placement, TrollIndex};
use super::episode::Episode;
use super::stats::round_to;
use super::{Campaigns, Closed, Comment, Detector, Evidence, Measured, Transition, TrollParams};
use crate::alert::model::{AccountPosts, TagCount, TrollDetails};
use crate::alert::{AlertKind, AlertStatus, Details, Severity};
use crate::event::format_ts;
use crate::window::Bucket;

/// Troll settings of one topic after presets and per-topic overrides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrollSettings {
    pub params: TrollParams,
    pub index: IndexSettings,
}

impl TrollSettings {
    pub fn new(params: TrollParams) -> Self {
        Self {
            index: IndexSettings {
                window_ms: i64::from(params.window_mins) * 60_000,
                threshold: params.similarity,
                max_clusters: params.max_clusters,
                max_members: params.max_members,
            },
            params,
        }
    }
}

/// Troll state of one topic.
#[derive(Serialize, Deserialize)]
pub struct TrollDetector {
    pub settings: TrollSettings,
    pub index: TrollIndex,
    /// Open episodes by cluster id (ordered, so alerts come out in a stable order).
    firing: BTreeMap<ClusterId, Episode>,
    /// Clusters that received a message since the last closed bucket.
    touched: Vec<ClusterId>,
    /// The most recent clusters reported (one id per burst, at most `REPORTED_KEPT`), for
    /// reports and tests that ask which messages were a campaign's.
    reported: VecDeque<ClusterId>,
}

impl Detector for TrollDetector {
    /// Places a comment long enough to be a template in the topic's near-duplicate index;
    /// a comment that joins a cluster is marked in its bucket as clustered.
    fn on_comment(&mut self, c: &Comment<'_>, bucket: &mut Bucket) -> Option<ClusterId> {
        let signature = c.signature?;
        if c.token_count < self.settings.params.min_tokens as usize {
            return None;
        }
        match self.index.insert(c, signature) {
            Placement::Skipped => None,
            Placement::New(cluster) => Some(cluster),
            Placement::Joined {
                id: cluster,
                promoted,
                first_negative,
            } => {
                if promoted {
                    bucket.add_clustered(cluster, first_negative);
                }
                bucket.add_clustered(cluster, c.negative);
                if self.touched.last() != Some(&cluster) {
                    self.touched.push(cluster);
                }
                Some(cluster)
            }
        }
    }

    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>) {
        let Some(bucket) = closed.window.closed.back() else {
            return;
        };
        let bucket_ms = (closed.end_ms - bucket.start_ms).max(1);
        let buckets = (self.settings.index.window_ms / bucket_ms).max(1) as usize;
        let comments: u32 = closed.window.last(buckets).map(|b| b.count).sum();
        self.judge(closed.end_ms, bucket_ms, comments, out);
    }

    fn share(&self, campaigns: &mut Campaigns) {
        campaigns.set(self.firing.keys().copied());
    }

    fn is_firing(&self) -> bool {
        !self.firing.is_empty()
    }
}

impl TrollDetector {
    /// Starts loading what [`Detector::on_comment`] of this comment will look up first.
    pub fn prefetch(&self, signature: Option<&signature::Signature>, token_count: usize) {
        let min = self.settings.params.min_tokens as usize;
        if let Some(sig) = signature.filter(|_| token_count >= min) {
            self.index.prefetch(sig);
        }
    }

    pub fn new(settings: TrollSettings) -> Self {
        Self {
            index: TrollIndex::new(settings.index.clone()),
            settings,
            firing: BTreeMap::new(),
            touched: Vec::new(),
            reported: VecDeque::new(),
        }
    }

    /// Clusters currently reported as troll bursts.
    pub fn is_active(&self, cluster: ClusterId) -> bool {
        self.firing.contains_key(&cluster)
    }

    /// Whether a message placed in `cluster` was a copy of an earlier one.
    pub fn is_copy(&self, cluster: ClusterId) -> bool {
        self.index.cluster(cluster).is_some_and(|c| c.messages > 1)
    }

    pub fn was_reported(&self, cluster: ClusterId) -> bool {
        self.reported.contains(&cluster)
    }

    pub fn active_count(&self) -> usize {
        self.firing.len()
    }

    /// Clusters held in the topic's near-duplicate index.
    pub fn clusters(&self) -> usize {
        self.index.len()
    }

    /// Clusters dropped early, or messages not indexed, because of the caps.
    pub fn evicted(&self) -> u64 {
        self.index.evicted
    }

    /// Judges the clusters at the close of a bucket ending at `bucket_end`; `topic_comments`
    /// is the topic's comment count over the last window.
    ///
    /// It counts the copies up to the end of the next bucket, `bucket_ms` later: those the
    /// allowed lateness has already let in when it is shorter than a bucket, so a burst is
    /// not reported a bucket late. Copies stamped beyond (a lateness of an hour lets in an
    /// hour) are left to the buckets they fall in, so no burst is reported before its time.
    fn judge(
        &mut self,
        bucket_end: i64,
        bucket_ms: i64,
        topic_comments: u32,
        out: &mut Vec<Transition>,
    ) {
        let s = &self.settings;
        let until = bucket_end + bucket_ms;
        let p = &s.params;
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        // Clusters with copies after `until` stay touched: a later bucket judges them.
        let mut carried = Vec::new();
        for id in touched.drain(..) {
            if self.index.cluster(id).is_some_and(|c| c.last_ms() >= until) {
                carried.push(id);
            }
            if let Some(ep) = self.firing.get_mut(&id) {
                // A firing burst that grows past the next severity says so.
                // Judged on the copies within the window, so a phrase that merely keeps
                // recurring does not grow.
                if let Some(c) = self.index.cluster(id) {
                    let recent = c.detail.as_deref().map_or(0, |d| {
                        d.messages_between(bucket_end - s.index.window_ms, until)
                            .messages
                    });
                    if severity(p, c, recent) > Severity::Warning && ep.announce(Severity::Critical)
                    {
                        out.push(transition(s, ep, c, bucket_end, AlertStatus::Firing));
                    }
                }
                continue;
            }
            let Some(c) = self.index.cluster(id) else {
                continue;
            };
            let Some(detail) = c.detail.as_deref() else {
                continue;
            };
            let window = detail.messages_between(bucket_end - s.index.window_ms, until);
            let recent = window.messages;
            let share = f64::from(recent) / f64::from(topic_comments.max(recent).max(1));
            // A burst is new: most of the cluster's copies fall within the window. A stock
            // phrase that real people repeat all day has a long history behind its window.
            let new = recent * 2 >= c.messages - window.later;
            if recent >= p.min_messages
                && new
                && share >= p.min_share
                && c.distinct_authors() >= p.min_authors
                && detail.tokens >= p.min_tokens as usize
            {
                let started = window.start_ms.unwrap_or(c.first_ms()).max(c.first_ms());
                let mut ep = Episode::new(started, f64::from(c.messages));
                ep.announce(severity(p, c, c.messages));
                out.push(transition(s, &ep, c, bucket_end, AlertStatus::Firing));
                self.firing.insert(id, ep);
                if self.reported.len() == REPORTED_KEPT {
                    self.reported.pop_front();
                }
                self.reported.push_back(id);
            }
        }
        touched.append(&mut carried);
        self.touched = touched;
        let window_ms = s.index.window_ms;
        let over: Vec<ClusterId> = self
            .firing
            .keys()
            .copied()
            .filter(|id| {
                self.index
                    .cluster(*id)
                    .is_none_or(|c| bucket_end - c.last_ms() >= window_ms)
            })
            .collect();
        for id in over {
            if let (Some(ep), Some(c)) = (self.firing.remove(&id), self.index.cluster(id)) {
                out.push(transition(s, &ep, c, bucket_end, AlertStatus::Resolved));
            }
        }
        self.index.expire(bucket_end);
    }
}

/// Holds the near-duplicate indexes of several topics together to `cap` clusters
/// (`detect.troll.max_clusters_total`), shedding the oldest generation of the biggest until
/// they fit. At the cap, no index grows until the next call: a new message evicts its
/// topic's oldest generation or is not indexed (counted as evicted either way).
pub fn hold_to_total(trolls: &mut [&mut TrollDetector], cap: usize) {
    let mut total: usize = trolls.iter().map(|t| t.index.len()).sum();
    while total > cap {
        let Some(biggest) = trolls.iter_mut().max_by_key(|t| t.index.len()) else {
            break;
        };
        let shed = biggest.index.shed_oldest();
        if shed == 0 {
            break;
        }
        total -= shed;
    }
    let full = total >= cap;
    for t in trolls.iter_mut() {
        let index = &mut t.index;
        index.set_limit(if full { index.len() } else { usize::MAX });
    }
}

fn top<K: AsRef<str>>(map: impl Iterator<Item = (K, u32)>, n: usize) -> Vec<TagCount> {
    let mut v: Vec<TagCount> = map
        .map(|(k, c)| TagCount {
            tag: k.as_ref().to_string(),
            count: c,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
    v.truncate(n);
    v
}

/// What a troll cluster showed, as an alert reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrollEvidence {
    pub details: TrollDetails,
    /// Accounts that posted more than once (all of them; the details list the top ten).
    pub repeaters: u32,
    /// Minutes between the cluster's first and last copy, at least one.
    pub span_minutes: u32,
    /// The detector's window and firing line.
    pub window_mins: u32,
    pub min_messages: u32,
    /// The accounts of a firing burst, as a sketch: the smallest [`ACCOUNTS_KEPT`] hashes of
    /// its authors, sorted (all of them up to that many), for campaign memory.
    pub accounts: Vec<u32>,
}

/// Account hashes a burst's sketch keeps: exact overlaps up to this many accounts.
pub const ACCOUNTS_KEPT: usize = 512;

impl TrollEvidence {
    pub fn measured(&self) -> Measured {
        Measured {
            value: f64::from(self.details.messages),
            baseline: 1.0,
            threshold: f64::from(self.min_messages),
            details: Details::TrollBurst(self.details.clone()),
        }
    }
}

/// Critical at three times `min_messages` (of `messages`), or when 30% of the accounts
/// posted more than once.
fn severity(p: &TrollParams, c: &Cluster, messages: u32) -> Severity {
    let authors = c.distinct_authors();
    let repeaters = c.detail.as_deref().map_or(0, |d| d.repeaters.len());
    if messages >= 3 * p.min_messages
        || (authors > 0 && repeaters as f64 / f64::from(authors) >= 0.3)
    {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn transition(
    s: &TrollSettings,
    ep: &Episode,
    c: &Cluster,
    at_ms: i64,
    status: AlertStatus,
) -> Transition {
    let p = &s.params;
    let authors = c.distinct_authors();
    let detail = c.detail.as_deref();
    let mut repeated: Vec<AccountPosts> = detail
        .map(|d| {
            d.repeaters
                .values()
                .map(|(n, posts)| AccountPosts {
                    account: n.to_string(),
                    posts: *posts,
                })
                .collect()
        })
        .unwrap_or_default();
    repeated.sort_by(|a, b| {
        b.posts
            .cmp(&a.posts)
            .then_with(|| a.account.cmp(&b.account))
    });
    let repeaters = repeated.len() as u32;
    repeated.truncate(10);
    let representative = detail.map(|d| d.representative.clone()).unwrap_or_default();
    let span_minutes = ((c.last_ms() - c.first_ms()) / 60_000).max(1);
    let severity = severity(p, c, c.messages);
    let samples = match (status, detail) {
        (AlertStatus::Firing, Some(d)) => d.samples.iter().map(|r| r.to_sample()).collect(),
        _ => Vec::new(),
    };
    let accounts = match (status, detail) {
        (AlertStatus::Firing, Some(d)) => {
            let mut a: Vec<u32> = d.authors.keys().copied().collect();
            a.sort_unstable();
            a.truncate(ACCOUNTS_KEPT);
            a
        }
        _ => Vec::new(),
    };
    Transition {
        kind: AlertKind::TrollBurst,
        status,
        severity,
        started_ms: ep.started_ms,
        at_ms,
        evidence: Evidence::TrollBurst(TrollEvidence {
            details: TrollDetails {
                messages: c.messages,
                distinct_authors: authors,
                representative,
                tokens: detail.map_or(0, |d| d.tokens as u32),
                repeated_accounts: repeated,
                top_mentions: detail
                    .map(|d| top(d.mentions.iter().map(|(k, v)| (k, *v)), 5))
                    .unwrap_or_default(),
                top_hashtags: detail
                    .map(|d| top(d.hashtags.iter().map(|(k, v)| (k, *v)), 5))
                    .unwrap_or_default(),
                first_seen: format_ts(c.first_ms()),
                last_seen: format_ts(c.last_ms()),
                negative_share: round_to(f64::from(c.negative) / f64::from(c.messages.max(1)), 3),
                similarity_threshold: p.similarity,
                duration_minutes: ((at_ms - ep.started_ms) / 60_000).max(0) as u32,
                earlier_campaign: None,
            },
            repeaters,
            span_minutes: span_minutes as u32,
            window_mins: p.window_mins,
            min_messages: p.min_messages,
            accounts,
        }),
        samples,
        themes: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
