//! The anchors of the index's clusters, where a candidate check reads them: a set of at
//! most [`MAX_ANCHORS`] signatures per cluster that has any, in one 64-byte-aligned block,
//! found from the cluster's slot. Looking them up through the cluster (its hash table entry,
//! then its detail, then the detail's vector) cost four dependent cache misses a candidate.
//!
//! A slot's entry in the index's owners holds its anchors as `set << 3 | count`; 0 when it
//! has none. Snapshots keep the anchors in each cluster's detail, as before, and the owners
//! as (cluster, whether it has anchors); a restored index places the sets again from the
//! details before its first message ([`UNPLACED`] until then).

use serde::{Deserialize, Deserializer, Serializer};

use super::signature::Signature;
use crate::window::ClusterId;

/// Extra signatures a cluster matches by, for members that drifted from its first message
/// (a campaign whose copies each drop a different word would otherwise split in two).
pub const MAX_ANCHORS: usize = 4;
/// A slot without anchors.
pub const NONE: u32 = 0;
/// A slot restored from a snapshot with anchors not yet in a set.
pub const UNPLACED: u32 = u32::MAX;

#[derive(Clone, Copy)]
#[repr(align(64))]
struct Set([Signature; MAX_ANCHORS]);

/// The sets, with the free ones reused.
#[derive(Default)]
pub struct AnchorSets {
    sets: Vec<Set>,
    free: Vec<u32>,
}

fn count(anchors: u32) -> usize {
    (anchors & 7) as usize
}

impl AnchorSets {
    /// The anchors of a slot's entry (`NONE`: none).
    #[inline]
    pub fn get(&self, anchors: u32) -> &[Signature] {
        match count(anchors) {
            0 => &[],
            n => &self.sets[(anchors >> 3) as usize].0[..n.min(MAX_ANCHORS)],
        }
    }

    /// Adds `sig` to a slot's anchors (in a new set when it has none); the slot's new entry.
    /// A set that is full stays as it is.
    pub fn add(&mut self, anchors: u32, sig: &Signature) -> u32 {
        let n = count(anchors);
        if n >= MAX_ANCHORS {
            return anchors;
        }
        let at = if n == 0 {
            match self.free.pop() {
                Some(at) => at,
                None => {
                    self.sets
                        .push(Set([[0; super::signature::BINS]; MAX_ANCHORS]));
                    (self.sets.len() - 1) as u32
                }
            }
        } else {
            anchors >> 3
        };
        self.sets[at as usize].0[n] = *sig;
        at << 3 | (n + 1) as u32
    }

    /// Frees a slot's set, if it has one.
    pub fn release(&mut self, anchors: u32) {
        if anchors != UNPLACED && count(anchors) > 0 {
            self.free.push(anchors >> 3);
        }
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.sets.capacity() * std::mem::size_of::<Set>() + self.free.capacity() * 4
    }
}

/// Owners stored as (cluster, whether it has anchors), as before the sets.
pub mod owners {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[(ClusterId, u32)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&(id, anchors)| (id, anchors != NONE)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(ClusterId, u32)>, D::Error> {
        let stored = Vec::<(ClusterId, bool)>::deserialize(d)?;
        Ok(stored
            .into_iter()
            .map(|(id, anchored)| (id, if anchored { UNPLACED } else { NONE }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_up_to_four_anchors_and_are_reused_once_freed() {
        let sig = |b: u8| [b; super::super::signature::BINS];
        let mut sets = AnchorSets::default();
        assert!(sets.get(NONE).is_empty());
        let mut a = NONE;
        for b in 1..=6 {
            a = sets.add(a, &sig(b));
        }
        assert_eq!(
            sets.get(a),
            &[sig(1), sig(2), sig(3), sig(4)],
            "full at four"
        );
        let other = sets.add(NONE, &sig(9));
        assert_eq!(sets.get(other), &[sig(9)]);
        assert_eq!(sets.get(a).len(), 4, "another set leaves it alone");
        sets.release(a);
        sets.release(UNPLACED);
        let reused = sets.add(NONE, &sig(7));
        assert_eq!(reused >> 3, a >> 3, "the freed set is taken again");
        assert_eq!(sets.get(reused), &[sig(7)]);
        assert_eq!(sets.get(other), &[sig(9)]);
        assert_eq!(std::mem::align_of::<Set>(), 64);
    }
}
