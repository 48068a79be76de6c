//! Dropping exact redeliveries: the same event `id` seen again within recent memory.

use serde::de::Deserializer;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use rustc_hash::FxHasher;

/// The key an id is remembered by: a 64-bit hash of the input `scope`, the `channel` and the
/// `id`. Computed where the event is read, so the engine's thread only looks it up.
pub fn id_key(scope: u32, channel: &str, id: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write_u32(scope);
    h.write(channel.as_bytes());
    // Separates channel and id: ("ab", "c") is not ("a", "bc").
    h.write_u8(0xff);
    h.write(id.as_bytes());
    h.finish()
}

/// Remembers recent event ids (as 64-bit keys) in two generations, so memory is bounded and
/// an id is remembered for at least `capacity / 2` newer ids.
///
/// Both generations share one open-addressing table of 8-byte slots, probed linearly and at
/// most half full; a key's lowest bit says which generation holds it. A new id, the common
/// case, costs one probe of one table, where a table per generation cost a miss in each.
/// When the current generation is full, the older one's keys leave in one pass over the
/// table, in place ([`IdDedup::rotate`]): no second table is held while they go.
pub struct IdDedup {
    slots: Vec<u64>,
    /// Keys held, of both generations.
    len: usize,
    /// Keys of the current generation.
    current: usize,
    /// The current generation's bit (0 or 1).
    epoch: u64,
    generation_size: usize,
}

/// An empty slot. Stored keys are at least 2 before their generation bit is set.
const EMPTY: u64 = 0;
const MIN_SLOTS: usize = 1024;

/// A key without its generation bit (never zero, so never the empty slot).
fn normal(key: u64) -> u64 {
    (key & !1).max(2)
}

enum Probe {
    Found,
    Vacant(usize),
}

impl IdDedup {
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Vec::new(),
            len: 0,
            current: 0,
            epoch: 0,
            generation_size: (capacity / 2).max(1),
        }
    }

    /// True if `id` was seen recently; records it otherwise.
    pub fn seen(&mut self, id: &str) -> bool {
        self.seen_key(id_key(0, "", id))
    }

    /// True if `id` was seen recently on `channel` of input `scope` (ids are unique per
    /// channel, and per input file in a replay); records it otherwise.
    pub fn seen_in(&mut self, scope: u32, channel: &str, id: &str) -> bool {
        self.seen_key(id_key(scope, channel, id))
    }

    /// Starts loading the slot [`IdDedup::seen_key`] of `key` looks at first.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if !self.slots.is_empty() {
            prefetch_index::prefetch_index(&self.slots, self.home(normal(key)));
        }
    }

    /// True if the id of this [`id_key`] was seen recently; records it otherwise.
    pub fn seen_key(&mut self, key: u64) -> bool {
        let key = normal(key);
        let pos = match self.probe(key) {
            Probe::Found => return true,
            Probe::Vacant(pos) => pos,
        };
        let mut moved = false;
        if self.current >= self.generation_size {
            // The older generation goes; the current one becomes it.
            self.rotate();
            moved = true;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
            moved = true;
        }
        let pos = if moved { self.vacant(key) } else { pos };
        self.slots[pos] = key | self.epoch;
        self.len += 1;
        self.current += 1;
        false
    }

    /// The home slot: FxHash's top bits are its best mixed.
    fn home(&self, key: u64) -> usize {
        (key >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    fn probe(&self, key: u64) -> Probe {
        if self.slots.is_empty() {
            return Probe::Vacant(0);
        }
        let mask = self.slots.len() - 1;
        let mut pos = self.home(key);
        loop {
            match self.slots[pos] {
                EMPTY => return Probe::Vacant(pos),
                k if k & !1 == key => return Probe::Found,
                _ => pos = (pos + 1) & mask,
            }
        }
    }

    /// The slot `key` goes to, known to be absent.
    fn vacant(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut pos = self.home(key);
        while self.slots[pos] != EMPTY {
            pos = (pos + 1) & mask;
        }
        pos
    }

    /// Doubles the table, placing every key again.
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots]);
        for stored in old.into_iter().filter(|&s| s != EMPTY) {
            let pos = self.vacant(stored & !1);
            self.slots[pos] = stored;
        }
    }

    /// The older generation's keys leave, in place: they are emptied, then every key left is
    /// placed again in slot order from an empty slot on, which closes the gaps the leaving
    /// keys opened in its probe run (each lands at or before where it was).
    fn rotate(&mut self) {
        let older = self.epoch ^ 1;
        for s in self.slots.iter_mut() {
            if *s != EMPTY && *s & 1 == older {
                *s = EMPTY;
            }
        }
        self.len = self.current;
        self.epoch = older;
        self.current = 0;
        let n = self.slots.len();
        let Some(start) = self.slots.iter().position(|&s| s == EMPTY) else {
            return;
        };
        for i in (start + 1..start + n).map(|i| i & (n - 1)) {
            let stored = std::mem::replace(&mut self.slots[i], EMPTY);
            if stored != EMPTY {
                let pos = self.vacant(stored & !1);
                self.slots[pos] = stored;
            }
        }
    }

    /// Adds a key of a stored generation, `current` or the older one.
    fn restore(&mut self, key: u64, current: bool) {
        let key = normal(key);
        if let Probe::Vacant(_) = self.probe(key) {
            if (self.len + 1) * 2 > self.slots.len() {
                self.grow();
            }
            let pos = self.vacant(key);
            self.slots[pos] = key | (self.epoch ^ u64::from(!current));
            self.len += 1;
            self.current += usize::from(current);
        }
    }
}

/// One generation's keys, without their generation bit, as a sequence.
struct Generation<'a> {
    slots: &'a [u64],
    epoch: u64,
    len: usize,
}

impl Serialize for Generation<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for &s in self.slots {
            if s != EMPTY && s & 1 == self.epoch {
                seq.serialize_element(&(s & !1))?;
            }
        }
        seq.end()
    }
}

/// Stored as it was when each generation had a hash set of its own: the current
/// generation's keys, the older one's, and the generation size.
impl Serialize for IdDedup {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let generation = |epoch, len| Generation {
            slots: &self.slots,
            epoch,
            len,
        };
        let mut s = serializer.serialize_struct("IdDedup", 3)?;
        s.serialize_field("current", &generation(self.epoch, self.current))?;
        s.serialize_field(
            "previous",
            &generation(self.epoch ^ 1, self.len - self.current),
        )?;
        s.serialize_field("generation_size", &self.generation_size)?;
        s.end()
    }
}

#[derive(Deserialize)]
#[serde(rename = "IdDedup")]
struct Stored {
    current: Vec<u64>,
    previous: Vec<u64>,
    generation_size: usize,
}

impl<'de> Deserialize<'de> for IdDedup {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let mut dedup = IdDedup::new(stored.generation_size.saturating_mul(2));
        dedup.generation_size = stored.generation_size.max(1);
        for key in stored.previous {
            dedup.restore(key, false);
        }
        for key in stored.current {
            dedup.restore(key, true);
        }
        Ok(dedup)
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
        assert!(d.len <= 10, "{}", d.len);
        assert!(d.seen("999"), "recent ids are remembered");
    }

    #[test]
    fn ids_are_remembered_for_half_the_capacity_and_forgotten_after() {
        let capacity = 20_000;
        let mut d = IdDedup::new(capacity);
        for i in 0..50_000 {
            assert!(!d.seen(&format!("id-{i}")), "id-{i} is new");
            assert!(d.len * 2 <= d.slots.len(), "at most half full");
        }
        assert!(d.len <= capacity && d.slots.len() <= 2 * capacity.next_power_of_two());
        // The last capacity / 2 ids are remembered, whatever the rotation.
        for i in 50_000 - capacity / 2..50_000 {
            assert!(d.seen(&format!("id-{i}")), "id-{i} was seen");
        }
        // Ids long gone are new again.
        assert!(!d.seen("id-0"));
        assert!(!d.seen("id-1"));
    }

    /// Keys whose home is the last slot run on past the end of the table: the older
    /// generation leaving out of that run keeps every key left reachable.
    #[test]
    fn rotation_keeps_a_probe_run_across_the_end_of_the_table_reachable() {
        let mut d = IdDedup::new(16);
        // Top bits all set: every key's home is the last slot.
        let key = |i: u64| u64::MAX - (i << 1);
        for i in 0..200u64 {
            assert!(!d.seen_key(key(i)), "key {i} is new");
            let stored = d.slots.iter().filter(|&&s| s != EMPTY).count();
            assert_eq!(stored, d.len);
            // The 8 keys before it (this generation's and the older one's) are all found.
            for j in i.saturating_sub(8)..=i {
                assert!(matches!(d.probe(normal(key(j))), Probe::Found), "{i}: {j}");
            }
        }
        assert_eq!(
            d.slots.len(),
            MIN_SLOTS,
            "the run wrapped, the table never grew"
        );
    }

    #[test]
    fn scope_and_channel_keep_ids_apart() {
        let mut d = IdDedup::new(100);
        assert!(!d.seen_in(0, "ab", "c"));
        assert!(!d.seen_in(0, "a", "bc"));
        assert!(!d.seen_in(1, "ab", "c"));
        assert!(d.seen_in(1, "ab", "c"));
        assert!(d.seen_key(id_key(0, "a", "bc")));
    }

    /// Keys as a set of each generation stores them: what snapshots hold.
    fn generations(d: &IdDedup) -> (Vec<u64>, Vec<u64>, usize) {
        let bytes = postcard::to_stdvec(d).unwrap();
        let (mut current, mut previous, size): (Vec<u64>, Vec<u64>, usize) =
            postcard::from_bytes(&bytes).unwrap();
        current.sort_unstable();
        previous.sort_unstable();
        (current, previous, size)
    }

    #[test]
    fn generations_survive_growth_rotation_and_a_round_trip() {
        let capacity = 8_000;
        let mut d = IdDedup::new(capacity);
        let keys: Vec<u64> = (1..=10_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        for &k in &keys {
            assert!(!d.seen_key(k));
        }
        assert!(d.seen_key(keys[9_999]), "a key is added once");
        // 10,000 keys in generations of 4,000: the current one holds the last 2,000, the
        // older one the 4,000 before.
        let (current, previous, size) = generations(&d);
        let normal_of = |range: std::ops::Range<usize>| {
            let mut v: Vec<u64> = keys[range].iter().map(|&k| normal(k)).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(size, 4_000);
        assert_eq!(current, normal_of(8_000..10_000));
        assert_eq!(previous, normal_of(4_000..8_000));
        assert!(!d.seen_key(keys[3_999]), "forgotten: its generation went");
        assert!(d.seen_key(keys[3_999]));

        let bytes = postcard::to_stdvec(&d).unwrap();
        let mut back: IdDedup = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(generations(&back), generations(&d));
        assert!(keys[4_000..].iter().all(|&k| back.seen_key(k)));
        // The restored current generation fills up where it left off: 1,999 more keys,
        // then the next rotation drops the older generation.
        assert_eq!(back.current, 2_001);
        for i in 0..1_999u64 {
            assert!(!back.seen_key(i.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1 << 63));
        }
        assert!(back.seen_key(keys[4_000]), "still in the older generation");
        assert!(!back.seen_key(7 << 40), "a rotation");
        assert!(!back.seen_key(keys[5_000]), "the older generation went");
        assert!(back.seen_key(keys[9_000]));
    }

    #[test]
    fn snapshots_of_two_hash_sets_load() {
        // What a snapshot held when each generation was a hash set of full 64-bit keys.
        #[derive(Serialize)]
        struct Sets {
            current: Vec<u64>,
            previous: Vec<u64>,
            generation_size: usize,
        }
        let ids = |r: std::ops::Range<u32>| -> Vec<u64> {
            r.map(|i| id_key(0, "", &format!("old-{i}"))).collect()
        };
        let old = Sets {
            current: ids(100..150),
            previous: ids(0..100),
            generation_size: 100,
        };
        let mut d: IdDedup = postcard::from_bytes(&postcard::to_stdvec(&old).unwrap()).unwrap();
        assert!((0..150).all(|i| d.seen(&format!("old-{i}"))));
        assert!(!d.seen("old-150"));
    }
}
