//! The LSH band table of one index generation: every band's keys in one open-addressing
//! table of 8-byte slots.
//!
//! A slot holds a 32-bit fingerprint of (band, key), whose top bits also pick the slot, and
//! the cluster id it points to. Looking
//! a message up costs one cache line per band instead of the two (control bytes, then the
//! entry) of a general hash map, and the sixteen first probes of a lookup are independent
//! loads that the processor overlaps, where a map's probe loop waits on each. Fingerprints
//! can collide (two different keys share one with probability 2^-32): a colliding entry only
//! makes a cluster a candidate, and every candidate is verified on its whole signature
//! before a message joins it, so a collision costs a comparison, never a wrong placement (at
//! worst an insert replaces the other key's pointer, which the other fifteen bands make up
//! for).
//! Entries are never removed one by one: the index drops a generation's table whole.

use super::signature::BANDS;
use serde::{Deserialize, Serialize};

/// An empty slot. Fingerprints are odd, so no entry is zero.
const EMPTY: u64 = 0;
/// Grow when more than this share of the slots is in use (linear probing stays short).
const MAX_LOAD_NUM: usize = 3;
const MAX_LOAD_DEN: usize = 4;
const MIN_SLOTS: usize = 64;

/// The fingerprint of a (band, key): its top bits pick the home slot, all of it identifies
/// the entry. Computed once per message, used in every generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BandHash(u32);

impl BandHash {
    pub fn new(band: usize, key: u32) -> Self {
        // SplitMix64 finaliser over band and key: every output bit depends on all input bits.
        let mut x = ((band as u64) << 32 | u64::from(key)).wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        // Odd, so no entry is the empty slot.
        Self(((x ^ (x >> 31)) >> 32) as u32 | 1)
    }
}

/// The hashes of a signature's band keys.
pub fn band_hashes(keys: &[u32; BANDS]) -> [BandHash; BANDS] {
    let mut out = [BandHash::default(); BANDS];
    for (band, (h, &key)) in out.iter_mut().zip(keys).enumerate() {
        *h = BandHash::new(band, key);
    }
    out
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BandTable {
    slots: Vec<u64>,
    /// 32 minus log2 of the slot count: `fingerprint >> shift` is the home slot.
    shift: u32,
    len: usize,
}

impl Default for BandTable {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

fn entry(fingerprint: u32, id: u32) -> u64 {
    u64::from(fingerprint) << 32 | u64::from(id)
}

impl BandTable {
    /// A table that holds `entries` without growing.
    pub fn with_capacity(entries: usize) -> Self {
        let slots = (entries * MAX_LOAD_DEN / MAX_LOAD_NUM + 1)
            .next_power_of_two()
            .max(MIN_SLOTS);
        Self {
            slots: vec![EMPTY; slots],
            shift: 32 - slots.trailing_zeros(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Points (band, key) at `id`, replacing what it pointed to.
    #[inline]
    pub fn insert(&mut self, hash: BandHash, id: u32) {
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        let fp = hash.0;
        let mask = self.mask();
        let mut pos = self.home(fp);
        loop {
            let slot = &mut self.slots[pos];
            if *slot == EMPTY {
                *slot = entry(fp, id);
                self.len += 1;
                return;
            }
            if (*slot >> 32) as u32 == fp {
                *slot = entry(fp, id);
                return;
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The cluster each band's key points to, passed to `found` in band order.
    #[inline]
    pub fn lookup(&self, hashes: &[BandHash; BANDS], mut found: impl FnMut(u32)) {
        let mask = self.mask();
        // The home slots first, all of them: independent loads the processor overlaps.
        let mut first = [0u64; BANDS];
        for (f, h) in first.iter_mut().zip(hashes) {
            *f = self.slots[self.home(h.0)];
        }
        for (h, mut slot) in hashes.iter().zip(first) {
            let fp = h.0;
            let mut pos = self.home(fp);
            while slot != EMPTY {
                if (slot >> 32) as u32 == fp {
                    found(slot as u32);
                    break;
                }
                pos = (pos + 1) & mask;
                slot = self.slots[pos];
            }
        }
    }

    /// Asks the processor to load the home slots of `hashes`, for a lookup soon after.
    #[inline]
    pub fn prefetch(&self, hashes: &[BandHash; BANDS]) {
        for h in hashes {
            prefetch_index::prefetch_index(&self.slots, self.home(h.0));
        }
    }

    #[inline]
    fn home(&self, fingerprint: u32) -> usize {
        // A table of one slot per fingerprint bit pattern would need `shift` 0: never reached
        // (2^32 slots), but checked shifts keep it defined.
        fingerprint.checked_shr(self.shift).unwrap_or(0) as usize
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let len = self.len;
        *self = Self::with_capacity(old.len() * MAX_LOAD_NUM / MAX_LOAD_DEN * 2);
        let mask = self.mask();
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            let mut pos = self.home((slot >> 32) as u32);
            while self.slots[pos] != EMPTY {
                pos = (pos + 1) & mask;
            }
            self.slots[pos] = slot;
        }
        self.len = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(table: &BandTable, keys: &[u32; BANDS]) -> Vec<u32> {
        let mut out = Vec::new();
        table.lookup(&band_hashes(keys), |id| out.push(id));
        out
    }

    #[test]
    fn keys_find_their_latest_cluster_per_band_across_growth() {
        let mut table = BandTable::default();
        // 10,000 signatures' worth of keys: the table grows many times over.
        for id in 0..10_000u32 {
            let keys: [u32; BANDS] = std::array::from_fn(|b| id * 31 + b as u32);
            for (h, _) in band_hashes(&keys).iter().zip(0..) {
                table.insert(*h, id);
            }
        }
        // 160,000 keys, 31-bit fingerprints: a handful of birthday collisions share an entry.
        let entries = table.len();
        assert!(entries > 10_000 * BANDS - 40, "{entries}");
        assert!(table.bytes() <= 10_000 * BANDS * 8 * 2 * 4 / 3 + 64);
        let keys: [u32; BANDS] = std::array::from_fn(|b| 4321 * 31 + b as u32);
        assert_eq!(found(&table, &keys), vec![4321; BANDS]);
        // The same key in another band is another entry.
        let shifted: [u32; BANDS] = std::array::from_fn(|b| 4321 * 31 + b as u32 + 1);
        assert!(found(&table, &shifted).is_empty());
        // Re-pointing a key replaces it: no second entry.
        table.insert(BandHash::new(3, 4321 * 31 + 3), 77);
        assert_eq!(table.len(), entries);
        let hits = found(&table, &keys);
        assert_eq!(hits[3], 77);
        assert_eq!(hits.iter().filter(|&&id| id == 4321).count(), BANDS - 1);
        // Keys never inserted find nothing.
        assert!(found(&table, &[u32::MAX - 5; BANDS]).is_empty());
    }

    #[test]
    fn capacity_holds_the_entries_without_growing() {
        let mut table = BandTable::with_capacity(1000);
        let slots = table.bytes();
        for k in 0..1000u32 {
            table.insert(BandHash::new(0, k), k);
        }
        assert_eq!(table.bytes(), slots);
        assert_eq!(table.len(), 1000);
    }
}
