//! Emerging themes: the words and short phrases whose share of a topic's comments jumps
//! against their own history, in fixed memory per topic.
//!
//! The method is SigniTrend's (Schubert, Weiler, Kriegel: "SigniTrend: scalable detection of
//! emerging topics in textual streams by hashed significance thresholds", KDD 2014): every
//! term ([`crate::text::terms`]) is hashed into a fixed table of counters, each keeping
//! exponentially weighted averages, and a term is significant when its recent frequency
//! stands far above its own usual frequency. Here a slot keeps two weighted counts of the
//! comments that mention its terms: a recent one (half-life `recent_minutes`) and a usual one
//! (half-life `baseline_hours`), both decayed lazily when the slot is next touched. A theme is
//! a slot whose recent share of the topic's comments is at least `min_share`, `min_lift`
//! times its usual share, and `min_z` Poisson deviations above it. Terms that share a slot
//! add up, which can only hide a theme behind a common word, not invent one.
//!
//! A slot's phrase is written down when it is mentioned a second time within a bucket, so
//! only phrases that recur cost an allocation. [`cross`] turns a phrase emerging on several
//! topics at once into a `theme` alert.

pub mod cross;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::config::ThemeConfig;
use crate::text::terms::Terms;
use crate::text::tokenize::Tokens;

/// Counters per topic: 4,096 slots of 24 bytes (96 KiB), allocated at a topic's first comment.
const SLOTS: usize = 1 << 12;
/// Themes kept per topic, most significant first.
const KEPT: usize = 16;
/// Themes an alert names.
pub const NAMED: usize = 3;

/// The thresholds, with the half-lives as decay factors per bucket.
#[derive(Debug, Clone)]
pub struct ThemeSettings {
    pub enabled: bool,
    recent_decay: f64,
    usual_decay: f64,
    min_history: u64,
    pub min_comments: f64,
    min_share: f64,
    min_lift: f64,
    floor_share: f64,
    pub min_z: f64,
    pub recent_minutes: u32,
    recent_powers: Vec<f64>,
    usual_powers: Vec<f64>,
}

/// Decay factors for gaps up to this many buckets are looked up, not computed.
const POWERS: usize = 64;

impl ThemeSettings {
    fn recent_pow(&self, buckets: i32) -> f64 {
        match self.recent_powers.get(buckets as usize) {
            Some(p) => *p,
            None => self.recent_decay.powi(buckets),
        }
    }

    fn usual_pow(&self, buckets: i32) -> f64 {
        match self.usual_powers.get(buckets as usize) {
            Some(p) => *p,
            None => self.usual_decay.powi(buckets),
        }
    }

    pub fn new(c: &ThemeConfig, bucket_ms: i64) -> Self {
        let per_bucket = |half_life_minutes: f64| {
            0.5f64.powf(bucket_ms as f64 / 60_000.0 / half_life_minutes.max(1e-9))
        };
        let (recent_decay, usual_decay) = (
            per_bucket(f64::from(c.recent_minutes)),
            per_bucket(f64::from(c.baseline_hours) * 60.0),
        );
        let powers = |d: f64| (0..POWERS as i32).map(|k| d.powi(k)).collect();
        Self {
            enabled: c.enabled,
            recent_decay,
            usual_decay,
            recent_powers: powers(recent_decay),
            usual_powers: powers(usual_decay),
            min_history: u64::from(c.min_history),
            min_comments: f64::from(c.min_comments),
            min_share: c.min_share,
            min_lift: c.min_lift,
            floor_share: c.floor_share,
            min_z: c.min_z,
            recent_minutes: c.recent_minutes,
        }
    }
}

/// What each comment touches (12 bytes): kept apart from the counts a closing updates.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Slot {
    /// The term last counted here (the low half of its hash): a phrase written down for the
    /// slot names it only if it is that term (another sharing the slot may be counted now).
    hash: u32,
    /// Comments of the bucket closing next, and of the one after it, that mention the
    /// slot's terms.
    now: u16,
    next: u16,
    /// The comment (a topic's own count, wrapping) that last counted here: a comment that
    /// repeats a term counts once.
    stamp: u16,
    /// The phrase written down for the slot is that of `hash`.
    named: bool,
}

/// A slot's weighted counts (12 bytes).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Counts {
    /// The bucket (a topic's own count of closings) `recent` and `usual` were last decayed to.
    last: u32,
    recent: f32,
    usual: f32,
}

/// A phrase that emerged on a topic, as measured at the last closing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emerging {
    pub hash: u64,
    pub phrase: String,
    /// Weighted count of recent comments that mention it.
    pub mentions: f64,
    /// Weighted count of the topic's recent comments.
    pub comments: f64,
    /// Its share of the topic's recent comments, and its usual share (before the floor).
    pub share: f64,
    pub usual: f64,
    pub lift: f64,
    pub z: f64,
    /// Comments expected to mention it at its usual share (the floor at least).
    pub expected: f64,
    /// It passes every threshold on this topic alone; otherwise it has half the comments
    /// needed, and counts only towards a theme spreading over several topics, where the
    /// evidence of all of them is pooled ([`cross`]).
    pub strong: bool,
}

/// One topic's theme counters.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ThemeTable {
    slots: Vec<Slot>,
    counts: Vec<Counts>,
    touched: Vec<u32>,
    /// The phrase last written down for a slot, with its hash.
    names: FxHashMap<u32, (u64, Box<str>)>,
    comments_now: u32,
    comments_next: u32,
    touched_next: Vec<u32>,
    comments_recent: f64,
    comments_usual: f64,
    history: u64,
    closings: u32,
    stamp: u16,
    /// The themes at the last closing, most significant first, and their slots.
    emerging: Vec<Emerging>,
    emerging_slots: Vec<u32>,
}

fn slot_of(hash: u64) -> u32 {
    ((hash >> 32) as usize & (SLOTS - 1)) as u32
}

impl ThemeTable {
    /// Starts loading the slots [`ThemeTable::on_comment`] of these terms will count in.
    pub fn prefetch(&self, terms: &Terms) {
        if !self.slots.is_empty() {
            for term in terms.as_slice() {
                prefetch_index::prefetch_index(&self.slots, slot_of(term.hash) as usize);
            }
        }
    }

    /// Counts one comment's terms in the bucket closing next, or, `ahead`, in the one after
    /// it (a comment of the next minute that came within the allowed lateness): a bucket
    /// holds its own comments whatever order they arrive in.
    pub fn on_comment(&mut self, terms: &Terms, tokens: &Tokens, ahead: bool) {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
            self.counts = vec![Counts::default(); SLOTS];
        }
        if ahead {
            self.comments_next = self.comments_next.saturating_add(1);
        } else {
            self.comments_now = self.comments_now.saturating_add(1);
        }
        self.stamp = self.stamp.wrapping_add(1).max(1);
        for term in terms.as_slice() {
            let at = slot_of(term.hash);
            let slot = &mut self.slots[at as usize];
            if slot.stamp == self.stamp {
                continue;
            }
            slot.stamp = self.stamp;
            let (count, touched) = if ahead {
                (&mut slot.next, &mut self.touched_next)
            } else {
                (&mut slot.now, &mut self.touched)
            };
            *count = count.saturating_add(1);
            if *count == 1 {
                touched.push(at);
            }
            if slot.hash != term.hash as u32 {
                slot.hash = term.hash as u32;
                slot.named = false;
            }
            let mentions = slot.now.saturating_add(slot.next);
            if !slot.named && mentions >= 2 && mentions.is_power_of_two() {
                // Written down at the 2nd, 4th, 8th… mention (terms sharing a busy slot cost
                // a few allocations a bucket, not one a comment), unless it already is.
                if self.names.get(&at).is_none_or(|(h, _)| *h != term.hash) {
                    let phrase = terms.phrase(tokens, term).into_boxed_str();
                    self.names.insert(at, (term.hash, phrase));
                }
                slot.named = true;
            }
        }
    }

    /// Closes the open bucket: updates the counts and judges the slots mentioned in it and
    /// those that were themes before.
    pub fn on_close(&mut self, s: &ThemeSettings) {
        let now = f64::from(std::mem::take(&mut self.comments_now));
        self.comments_recent = self.comments_recent * s.recent_decay + now;
        // The usual share is judged before this bucket joins it.
        let usual_comments = self.comments_usual;
        self.closings = self.closings.wrapping_add(1);
        let closing = self.closings;
        let ready = self.history >= s.min_history && usual_comments > 0.0;
        let mut judged = std::mem::take(&mut self.touched);
        judged.extend_from_slice(&self.emerging_slots);
        judged.sort_unstable();
        judged.dedup();
        let mut emerging = Vec::new();
        for &at in &judged {
            let (Some(slot), Some(count)) = (
                self.slots.get_mut(at as usize),
                self.counts.get_mut(at as usize),
            ) else {
                continue;
            };
            let gap = closing.wrapping_sub(count.last).min(100_000) as i32;
            let mut recent = f64::from(count.recent) * s.recent_pow(gap);
            let mut usual = f64::from(count.usual) * s.usual_pow(gap - 1);
            let mentioned = f64::from(std::mem::take(&mut slot.now));
            recent += mentioned;
            let usual_share = if usual_comments > 0.0 {
                usual / usual_comments
            } else {
                0.0
            };
            usual = usual * s.usual_decay + mentioned;
            (count.recent, count.usual, count.last) = (recent as f32, usual as f32, closing);
            if !ready || recent < (s.min_comments / 2.0).max(2.0) {
                continue;
            }
            let share = recent / self.comments_recent.max(recent);
            let baseline = usual_share.max(s.floor_share);
            let expected = baseline * self.comments_recent;
            let z = (recent - expected) / expected.max(1e-9).sqrt();
            let lift = share / baseline;
            if share < s.min_share || lift < s.min_lift {
                continue;
            }
            let strong = recent >= s.min_comments && z >= s.min_z;
            let hash_now = slot.hash;
            let named = self
                .names
                .get(&at)
                .filter(|(h, _)| slot.named && *h as u32 == hash_now);
            if let Some((hash, phrase)) = named {
                emerging.push((
                    at,
                    Emerging {
                        hash: *hash,
                        phrase: phrase.to_string(),
                        mentions: recent,
                        comments: self.comments_recent,
                        share,
                        usual: usual_share,
                        lift,
                        z,
                        expected,
                        strong,
                    },
                ));
            }
        }
        judged.clear();
        // The next bucket's counts so far become the open bucket's.
        for &at in &self.touched_next {
            let slot = &mut self.slots[at as usize];
            slot.now = std::mem::take(&mut slot.next);
        }
        self.touched = std::mem::replace(&mut self.touched_next, judged);
        self.comments_now = std::mem::take(&mut self.comments_next);
        emerging.sort_by(|a, b| b.1.z.total_cmp(&a.1.z).then(a.1.hash.cmp(&b.1.hash)));
        emerging.truncate(KEPT);
        self.emerging_slots = emerging.iter().map(|(at, _)| *at).collect();
        self.emerging = emerging.into_iter().map(|(_, e)| e).collect();
        self.comments_usual = usual_comments * s.usual_decay + now;
        self.history += now as u64;
        // Names of slots quiet for a long time are forgotten.
        if self.names.len() > SLOTS / 2 && closing % 64 == 0 {
            let counts = &self.counts;
            self.names.retain(|at, _| {
                counts
                    .get(*at as usize)
                    .is_some_and(|c| closing.wrapping_sub(c.last) < 24 * 60)
            });
            for (at, slot) in self.slots.iter_mut().enumerate() {
                slot.named &= self.names.contains_key(&(at as u32));
            }
        }
    }

    /// Every theme emerging at the last closing, most significant first.
    pub fn emerging(&self) -> &[Emerging] {
        &self.emerging
    }

    /// The themes an alert names: the most significant, leaving out a phrase that adds no
    /// words' worth of news to one already named (a part or an extension of it mentioned by
    /// about as many comments).
    pub fn named(&self) -> Vec<Emerging> {
        let mut out: Vec<Emerging> = Vec::new();
        let mut by_share: Vec<&Emerging> = self.emerging.iter().filter(|e| e.strong).collect();
        by_share.sort_by(|a, b| {
            b.share
                .total_cmp(&a.share)
                .then(b.phrase.len().cmp(&a.phrase.len()))
        });
        for e in by_share {
            let overlaps = out.iter().any(|o| {
                let related =
                    contains_words(&o.phrase, &e.phrase) || contains_words(&e.phrase, &o.phrase);
                related && e.share <= o.share * 1.25 && o.share <= e.share * 4.0
            });
            if !overlaps {
                out.push(e.clone());
            }
            if out.len() == NAMED {
                break;
            }
        }
        out
    }
}

impl ThemeTable {
    /// What the topic's recent comments talk about most: up to `n` named phrases by their
    /// share of the recent comments (decayed to the last closing), with their lift against
    /// their usual share, a part or an extension of a phrase already listed left out. Not a
    /// judgement: the status page's "what people are saying".
    pub fn talked_about(&self, s: &ThemeSettings, n: usize) -> Vec<(String, f64, f64)> {
        if self.comments_recent < 1.0 {
            return Vec::new();
        }
        let mut all: Vec<(&str, f64, f64)> = Vec::new();
        for (&at, (hash, phrase)) in &self.names {
            let (Some(slot), Some(count)) =
                (self.slots.get(at as usize), self.counts.get(at as usize))
            else {
                continue;
            };
            if !slot.named || slot.hash != *hash as u32 {
                continue;
            }
            let gap = self.closings.wrapping_sub(count.last).min(100_000) as i32;
            let recent = f64::from(count.recent) * s.recent_pow(gap);
            if recent < 2.0 {
                continue;
            }
            let share = (recent / self.comments_recent).min(1.0);
            let usual = if self.comments_usual > 0.0 {
                f64::from(count.usual) * s.usual_pow(gap) / self.comments_usual
            } else {
                0.0
            };
            all.push((phrase, share, share / usual.max(s.floor_share)));
        }
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.len().cmp(&a.0.len())));
        let mut out: Vec<(String, f64, f64)> = Vec::new();
        for (phrase, share, lift) in all {
            let overlaps = out.iter().any(|(o, o_share, _)| {
                (contains_words(o, phrase) || contains_words(phrase, o)) && share <= o_share * 1.25
            });
            if !overlaps {
                out.push((phrase.to_string(), share, lift));
            }
            if out.len() == n {
                break;
            }
        }
        out
    }
}

/// Whether the words of `part` appear in a row in `whole`.
fn contains_words(whole: &str, part: &str) -> bool {
    let whole: Vec<&str> = whole.split(' ').collect();
    let part: Vec<&str> = part.split(' ').collect();
    whole.windows(part.len()).any(|w| w == part.as_slice())
}

#[cfg(test)]
mod tests;
