//! The near-duplicate index of one topic: clusters of similar messages over a sliding
//! event-time window, in bounded memory.
//!
//! Band keys live in time-rotated generations, each half a window long; a generation whose
//! end is older than the window is dropped whole, which is O(1) eviction with no per-entry
//! expiry. A message is compared with the representatives of the clusters its band keys
//! point to, and joins the most similar one at or above the threshold; otherwise it starts a
//! cluster of its own. A cluster that receives a message in a newer generation is re-homed
//! there (its keys inserted again), so an active campaign outlives rotation while finished
//! clusters disappear with their generation. Most messages never get a second member, so a
//! cluster keeps only its signature and counters until it does; names, texts, mentions and
//! hashtags are kept from the second member on.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::anchors::{AnchorSets, MAX_ANCHORS, NONE, UNPLACED};
use super::bands::{band_hashes, BandHash, BandTable};
use super::signature::{band_keys, min_equal_bins, similarity_at_least, Signature, BANDS};
use crate::text::tokenize::TokenKind;
use crate::window::RawSample;

/// Mentions and hashtags counted per cluster, at most.
const MAX_TAGS: usize = 32;
/// Sample messages kept per cluster.
const MAX_SAMPLES: usize = 3;
/// A member this similar to the cluster already is well represented; below it, it becomes
/// an anchor while there is room.
const ANCHOR_BELOW: f64 = 0.85;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexSettings {
    pub window_ms: i64,
    pub threshold: f64,
    /// Clusters held at most; beyond it the oldest generation is dropped early.
    pub max_clusters: usize,
    /// Distinct authors tracked per cluster at most (counts go on beyond it).
    pub max_members: usize,
}

pub use super::cluster::{Cluster, ClusterDetail};
use crate::detect::comment::Comment;
pub use crate::window::ClusterId;

#[derive(Serialize, Deserialize)]
struct Generation {
    start_ms: i64,
    /// Every band's keys → the slot of the cluster they lead to.
    bands: BandTable,
    homed: Vec<ClusterId>,
}

impl Generation {
    /// A generation sized for `entries` band keys, as many as the one before it held.
    fn new(start_ms: i64, entries: usize) -> Self {
        Self {
            start_ms,
            bands: BandTable::with_capacity(entries),
            homed: Vec::new(),
        }
    }

    fn insert_keys(&mut self, hashes: &[BandHash; BANDS], slot: u32) {
        for &h in hashes {
            self.bands.insert(h, slot);
        }
    }
}

/// Where a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Started a cluster of its own.
    New(ClusterId),
    /// Not indexed: the index is at `max_clusters` and nothing older can be evicted.
    Skipped,
    /// Joined an existing cluster; `promoted` when it is the cluster's second member, so the
    /// first member now counts as clustered too (`first_negative` says if it was negative).
    Joined {
        id: ClusterId,
        promoted: bool,
        first_negative: bool,
    },
}

#[derive(Serialize, Deserialize)]
pub struct TrollIndex {
    settings: IndexSettings,
    generations: VecDeque<Generation>,
    clusters: FxHashMap<ClusterId, Cluster>,
    /// Signatures of the clusters' first members, densely packed: a hash table of full
    /// records would carry its spare capacity at 176 bytes a bucket instead of 48. Band
    /// keys lead to a slot here, so a candidate is checked without looking its cluster up.
    #[serde(with = "super::signature::packed")]
    signatures: Vec<Signature>,
    /// The cluster in each slot, and its anchors in `anchor_sets` ([`super::anchors`]).
    #[serde(with = "super::anchors::owners")]
    owners: Vec<(ClusterId, u32)>,
    /// The anchors again, found from the slot; snapshots keep those of the details.
    #[serde(skip)]
    anchor_sets: AnchorSets,
    /// Every slot's anchors are in `anchor_sets` (false when just restored).
    #[serde(skip)]
    anchors_placed: bool,
    free_slots: Vec<u32>,
    next_id: ClusterId,
    /// Clusters dropped before their time, or messages not indexed, because of
    /// `max_clusters`.
    pub evicted: u64,
    /// Slots the band keys led to.
    candidates: Vec<u32>,
    /// Clusters held at most just now: `max_clusters`, or fewer while the engine holds all
    /// topics to their total ([`TrollIndex::set_limit`]).
    limit: usize,
    /// The threshold (as bits) and the agreeing bins that reach it ([`min_equal_bins`]),
    /// worked out again when the threshold is not the one they were for.
    #[serde(skip)]
    min_equal: (u64, u32),
}

fn author_hash(author: &str) -> u32 {
    let mut h = FxHasher::default();
    h.write(author.as_bytes());
    (h.finish() >> 32) as u32
}

/// Epoch seconds of a validated event time (years 2000-2100 fit in a u32).
fn secs(ts_ms: i64) -> u32 {
    u32::try_from(ts_ms.div_euclid(1000)).unwrap_or(u32::MAX)
}

impl TrollIndex {
    pub fn new(settings: IndexSettings) -> Self {
        Self {
            limit: settings.max_clusters,
            settings,
            generations: VecDeque::new(),
            clusters: FxHashMap::default(),
            signatures: Vec::new(),
            owners: Vec::new(),
            anchor_sets: AnchorSets::default(),
            anchors_placed: true,
            free_slots: Vec::new(),
            next_id: 0,
            evicted: 0,
            candidates: Vec::with_capacity(BANDS * 3),
            min_equal: (0, 0),
        }
    }

    pub fn cluster(&self, id: ClusterId) -> Option<&Cluster> {
        self.clusters.get(&id)
    }

    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    fn generation_ms(&self) -> i64 {
        (self.settings.window_ms / 2).max(1)
    }

    /// The generation that takes messages at `ts_ms`, opened if needed.
    fn current(&mut self, ts_ms: i64) -> usize {
        let len = self.generation_ms();
        let start = ts_ms.div_euclid(len) * len;
        match self.generations.back() {
            Some(g) if g.start_ms >= start => {}
            last => {
                let entries = last.map_or(0, |g| g.bands.len());
                self.generations.push_back(Generation::new(start, entries));
            }
        }
        self.generations.len() - 1
    }

    /// Puts the anchors of a restored index's clusters in their sets.
    fn place_anchors(&mut self) {
        for (slot, (id, anchors)) in self.owners.iter_mut().enumerate() {
            if *anchors != UNPLACED {
                continue;
            }
            *anchors = NONE;
            let detail = self.clusters.get(id).filter(|c| c.slot as usize == slot);
            for a in detail
                .and_then(|c| c.detail.as_ref())
                .map_or(&[][..], |d| &d.anchors)
            {
                *anchors = self.anchor_sets.add(*anchors, a);
            }
        }
        self.anchors_placed = true;
    }

    /// Asks the processor to load what inserting `sig` will look up first (its band keys'
    /// slots in every generation), so that the loads of the comment before it overlap them.
    pub fn prefetch(&self, sig: &Signature) {
        let hashes = band_hashes(&band_keys(sig));
        for g in &self.generations {
            g.bands.prefetch(&hashes);
        }
    }

    /// Adds a message; returns where it went.
    pub fn insert(&mut self, m: &Comment<'_>, sig: &Signature) -> Placement {
        if !self.anchors_placed {
            self.place_anchors();
        }
        let hashes = band_hashes(&band_keys(sig));
        self.candidates.clear();
        let candidates = &mut self.candidates;
        for g in &self.generations {
            g.bands.lookup(&hashes, |slot| {
                if !candidates.contains(&slot) {
                    candidates.push(slot);
                }
            });
        }
        let threshold = self.settings.threshold.to_bits();
        if self.min_equal.0 != threshold {
            self.min_equal = (threshold, min_equal_bins(self.settings.threshold));
        }
        let threshold = self.min_equal.1;
        // Every candidate's first signature line (and first anchor's), read before any is
        // compared: independent loads the processor overlaps, where the comparisons below
        // would wait on each.
        let mut first = 0u8;
        for &slot in &self.candidates {
            first ^= self.signatures[slot as usize][0];
            if let Some(a) = self.anchor_sets.get(self.owners[slot as usize].1).first() {
                first ^= a[0];
            }
        }
        std::hint::black_box(first);
        let mut best: Option<(ClusterId, f64)> = None;
        for &slot in &self.candidates {
            // A slot's keys live in generations up to its cluster's home, which go before
            // it does: every slot a key leads to holds a live cluster.
            let (id, anchors) = self.owners[slot as usize];
            let mut s = similarity_at_least(sig, &self.signatures[slot as usize], threshold);
            for a in self.anchor_sets.get(anchors) {
                if let Some(x) = similarity_at_least(sig, a, threshold) {
                    s = Some(s.map_or(x, |s| s.max(x)));
                }
            }
            // Ties go to the older cluster, so the choice does not depend on hash order.
            if let Some(s) = s {
                if best.is_none_or(|(bid, bs)| s > bs || (s == bs && id < bid)) {
                    best = Some((id, s));
                }
            }
        }
        let gen = self.current(m.ts_ms);
        match best {
            Some((id, s)) => self.join(id, gen, m, sig, &hashes, s),
            None if self.clusters.len() >= self.limit && !self.drop_oldest() => {
                // A flood inside one generation: nothing older is left to evict, so the new
                // message is not indexed rather than letting memory grow.
                self.evicted += 1;
                Placement::Skipped
            }
            None => {
                let mut id = self.next_id;
                while self.clusters.contains_key(&id) {
                    id = id.wrapping_add(1);
                }
                self.next_id = id.wrapping_add(1);
                // Eviction above may have dropped the front generation: find ours again.
                let gen = self.current(m.ts_ms);
                let slot = match self.free_slots.pop() {
                    Some(slot) => {
                        self.signatures[slot as usize] = *sig;
                        self.owners[slot as usize] = (id, NONE);
                        slot
                    }
                    None => {
                        self.signatures.push(*sig);
                        self.owners.push((id, NONE));
                        (self.signatures.len() - 1) as u32
                    }
                };
                let g = &mut self.generations[gen];
                g.insert_keys(&hashes, slot);
                g.homed.push(id);
                let home = (g.start_ms.div_euclid(self.generation_ms())) as u32;
                self.clusters.insert(
                    id,
                    Cluster {
                        slot,
                        home,
                        first_s: secs(m.ts_ms),
                        last_s: secs(m.ts_ms),
                        messages: 1,
                        negative: u32::from(m.negative),
                        first_author: author_hash(m.author),
                        first_negative: m.negative,
                        detail: None,
                    },
                );
                Placement::New(id)
            }
        }
    }

    fn join(
        &mut self,
        id: ClusterId,
        gen: usize,
        m: &Comment<'_>,
        sig: &Signature,
        hashes: &[BandHash; BANDS],
        similarity: f64,
    ) -> Placement {
        let max_members = self.settings.max_members;
        let generation_ms = self.generation_ms();
        let window_ms = self.settings.window_ms;
        let g = &mut self.generations[gen];
        let Some(c) = self.clusters.get_mut(&id) else {
            return Placement::New(id);
        };
        let gen_no = (g.start_ms.div_euclid(generation_ms)) as u32;
        if c.home < gen_no {
            let anchors = c.detail.as_ref().map_or(&[][..], |d| &d.anchors[..]);
            for s in std::iter::once(&self.signatures[c.slot as usize]).chain(anchors) {
                g.insert_keys(&band_hashes(&band_keys(s)), c.slot);
            }
            g.homed.push(id);
            c.home = gen_no;
        }
        c.messages += 1;
        c.negative += u32::from(m.negative);
        c.first_s = c.first_s.min(secs(m.ts_ms));
        c.last_s = c.last_s.max(secs(m.ts_ms));
        let promoted = c.detail.is_none();
        let first_ms = c.first_ms();
        let detail = c.detail.get_or_insert_with(|| {
            let mut d = ClusterDetail {
                representative: m
                    .text
                    .chars()
                    .take(crate::alert::model::SAMPLE_CHARS)
                    .collect(),
                tokens: m.token_count,
                ..ClusterDetail::default()
            };
            d.authors.insert(c.first_author, 1);
            d.count_minute(first_ms, window_ms);
            Box::new(d)
        });
        detail.count_minute(m.ts_ms, window_ms);
        if similarity < ANCHOR_BELOW && detail.anchors.len() < MAX_ANCHORS {
            detail.anchors.push(*sig);
            let owner = &mut self.owners[c.slot as usize];
            owner.1 = self.anchor_sets.add(owner.1, sig);
            g.insert_keys(hashes, c.slot);
        }
        let author = author_hash(m.author);
        let tracked = detail.authors.len() < max_members || detail.authors.contains_key(&author);
        if tracked {
            let posts = detail.authors.entry(author).or_insert(0);
            *posts += 1;
            if *posts >= 2 {
                let posts = *posts;
                detail
                    .repeaters
                    .entry(author)
                    .and_modify(|e| e.1 = posts)
                    .or_insert_with(|| (m.author.into(), posts));
            }
        } else {
            detail.untracked_members += 1;
        }
        for t in m.tokens.as_slice() {
            let map = match t.kind {
                TokenKind::Mention => &mut detail.mentions,
                TokenKind::Hashtag => &mut detail.hashtags,
                _ => continue,
            };
            let tag = m.tokens.text(t);
            if let Some(n) = map.get_mut(tag) {
                *n += 1;
            } else if map.len() < MAX_TAGS {
                map.insert(tag.into(), 1);
            }
        }
        if detail.samples.len() < MAX_SAMPLES {
            detail.samples.push(RawSample {
                text: m
                    .text
                    .chars()
                    .take(crate::alert::model::SAMPLE_CHARS + 1)
                    .collect::<String>()
                    .into(),
                author: m.author.into(),
                ts_ms: m.ts_ms,
                score: m.score,
            });
        }
        Placement::Joined {
            id,
            promoted,
            first_negative: c.first_negative,
        }
    }

    /// Drops the generations that ended before `now_ms - window`, with the clusters still
    /// homed in them. Returns how many clusters went.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let len = self.generation_ms();
        let mut dropped = 0;
        while self
            .generations
            .front()
            .is_some_and(|g| g.start_ms + len <= now_ms - self.settings.window_ms)
        {
            dropped += self.drop_front();
        }
        dropped
    }

    /// Holds the index to `limit` clusters (never more than `max_clusters`) from now on:
    /// beyond it a new message evicts the oldest generation, or is not indexed.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.settings.max_clusters);
    }

    /// Evicts the oldest generation early (counted in `evicted`) if there is an older one
    /// than the current; returns how many clusters went. For the engine's cap over all
    /// topics.
    pub fn shed_oldest(&mut self) -> usize {
        if self.generations.len() > 1 {
            let dropped = self.drop_front();
            self.evicted += dropped as u64;
            return dropped;
        }
        0
    }

    /// Evicts the oldest generation if there is an older one than the current; says whether
    /// anything went.
    fn drop_oldest(&mut self) -> bool {
        self.generations.len() > 1 && (self.shed_oldest() > 0 || self.clusters.len() < self.limit)
    }

    fn drop_front(&mut self) -> usize {
        let Some(g) = self.generations.pop_front() else {
            return 0;
        };
        let gen_no = (g.start_ms.div_euclid(self.generation_ms())) as u32;
        let mut dropped = 0;
        for id in g.homed {
            if self.clusters.get(&id).is_some_and(|c| c.home == gen_no) {
                if let Some(c) = self.clusters.remove(&id) {
                    let owner = &mut self.owners[c.slot as usize];
                    self.anchor_sets
                        .release(std::mem::replace(&mut owner.1, NONE));
                    self.free_slots.push(c.slot);
                }
                dropped += 1;
            }
        }
        dropped
    }

    /// Approximate heap bytes held, for the memory benchmark.
    pub fn approx_bytes(&self) -> usize {
        let per_cluster = std::mem::size_of::<(ClusterId, Cluster)>() + 1;
        let bands: usize = self
            .generations
            .iter()
            .map(|g| g.bands.bytes() + g.homed.capacity() * 4)
            .sum();
        self.clusters.capacity() * per_cluster
            + self.signatures.capacity() * std::mem::size_of::<Signature>()
            + self.owners.capacity() * std::mem::size_of::<(ClusterId, u32)>()
            + self.anchor_sets.bytes()
            + bands
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
