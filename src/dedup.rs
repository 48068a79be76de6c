//! Dropping exact redeliveries: the same event `id` seen again within recent memory.

use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use rustc_hash::FxHasher;

/// Remembers recent event ids (as 64-bit hashes) in two generations, so memory is bounded
/// and an id is remembered for at least `capacity / 2` newer ids.
#[derive(Serialize, Deserialize)]
pub struct IdDedup {
    current: KeySet,
    previous: KeySet,
    generation_size: usize,
}

impl IdDedup {
    pub fn new(capacity: usize) -> Self {
        Self {
            current: KeySet::default(),
            previous: KeySet::default(),
            generation_size: (capacity / 2).max(1),
        }
    }

    /// True if `id` was seen recently; records it otherwise.
    pub fn seen(&mut self, id: &str) -> bool {
        self.seen_in(0, "", id)
    }

    /// True if `id` was seen recently on `channel` of input `scope` (ids are unique per
    /// channel, and per input file in a replay); records it otherwise.
    pub fn seen_in(&mut self, scope: u32, channel: &str, id: &str) -> bool {
        let mut h = FxHasher::default();
        h.write_u32(scope);
        h.write(channel.as_bytes());
        // Separates channel and id: ("ab", "c") is not ("a", "bc").
        h.write_u8(0xff);
        h.write(id.as_bytes());
        let key = h.finish();
        if self.previous.contains(key) {
            return true;
        }
        if self.current.len >= self.generation_size {
            if self.current.contains(key) {
                return true;
            }
            // The oldest generation goes; its table, already grown, takes the new one.
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        // One probe of the current generation: the insert says whether the id was there.
        !self.current.insert(key)
    }
}

/// A set of 64-bit keys in one open-addressing table of 8-byte slots, probed linearly. A
/// general hash set reads its control bytes and then the key, two cache misses in a table
/// of half a million ids; this reads one. Key 0 marks an empty slot, so it is stored as 1
/// (two ids of 2^64 hashes share a key either way).
#[derive(Default)]
struct KeySet {
    slots: Vec<u64>,
    len: usize,
}

const EMPTY: u64 = 0;
const MIN_SLOTS: usize = 1024;

impl KeySet {
    fn stored(key: u64) -> u64 {
        key.max(1)
    }

    /// The home slot: FxHash's top bits are its best mixed.
    fn home(&self, key: u64) -> usize {
        (key >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    fn contains(&self, key: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let key = Self::stored(key);
        let mask = self.slots.len() - 1;
        let mut pos = self.home(key);
        loop {
            match self.slots[pos] {
                EMPTY => return false,
                k if k == key => return true,
                _ => pos = (pos + 1) & mask,
            }
        }
    }

    /// Adds `key`; false if it was there already.
    fn insert(&mut self, key: u64) -> bool {
        // At most half full: probes stay short.
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = Self::stored(key);
        let mask = self.slots.len() - 1;
        let mut pos = self.home(key);
        loop {
            match self.slots[pos] {
                EMPTY => {
                    self.slots[pos] = key;
                    self.len += 1;
                    return true;
                }
                k if k == key => return false,
                _ => pos = (pos + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        self.len = 0;
        for key in old.into_iter().filter(|&k| k != EMPTY) {
            self.insert(key);
        }
    }

    /// Empties the set, keeping its table.
    fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }

    fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&k| k != EMPTY)
    }
}

/// Stored as the sequence of its keys, as the hash set before it was.
impl Serialize for KeySet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for key in self.keys() {
            seq.serialize_element(&key)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for KeySet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let keys = Vec::<u64>::deserialize(deserializer)?;
        let mut set = KeySet::default();
        for key in keys {
            set.insert(key);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_memory_is_bounded() {
        let mut d = IdDedup::new(10);
        for i in 0..1000 {
            d.seen(&i.to_string());
        }
        assert!(d.current.len + d.previous.len <= 10);
        assert!(d.seen("999"), "recent ids are remembered");
    }

    #[test]
    fn ids_are_remembered_for_half_the_capacity_and_forgotten_after() {
        let capacity = 20_000;
        let mut d = IdDedup::new(capacity);
        for i in 0..50_000 {
            assert!(!d.seen(&format!("id-{i}")), "id-{i} is new");
        }
        // The last capacity / 2 ids are remembered, whatever the rotation.
        for i in 50_000 - capacity / 2..50_000 {
            assert!(d.seen(&format!("id-{i}")), "id-{i} was seen");
        }
        // Ids long gone are new again.
        assert!(!d.seen("id-0"));
        assert!(!d.seen("id-1"));
    }

    #[test]
    fn the_key_set_keeps_every_key_through_growth_and_a_round_trip() {
        let mut set = KeySet::default();
        let keys: Vec<u64> = (1..=10_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for &k in &keys {
            assert!(set.insert(k));
        }
        assert!(!set.insert(keys[77]), "a key is added once");
        assert_eq!(set.len, keys.len());
        assert!(keys.iter().all(|&k| set.contains(k)));
        assert!(!set.contains(12345));
        let bytes = postcard::to_stdvec(&set).unwrap();
        // Stored as the sequence of keys a hash set of them was stored as.
        let mut as_set: Vec<u64> = postcard::from_bytes(&bytes).unwrap();
        as_set.sort_unstable();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(as_set, sorted);
        let back: KeySet = postcard::from_bytes(&bytes).unwrap();
        assert!(keys.iter().all(|&k| back.contains(k)));
        set.clear();
        assert!(!set.contains(keys[0]));
        assert!(set.insert(keys[0]));
    }
}
