//! Dropping exact redeliveries: the same event `id` seen again within recent memory.

use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use rustc_hash::{FxHashSet, FxHasher};

/// Remembers recent event ids (as 64-bit hashes) in two generations, so memory is bounded
/// and an id is remembered for at least `capacity / 2` newer ids.
#[derive(Serialize, Deserialize)]
pub struct IdDedup {
    current: FxHashSet<u64>,
    previous: FxHashSet<u64>,
    generation_size: usize,
}

impl IdDedup {
    pub fn new(capacity: usize) -> Self {
        Self {
            current: FxHashSet::default(),
            previous: FxHashSet::default(),
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
        if self.previous.contains(&key) {
            return true;
        }
        if self.current.len() >= self.generation_size {
            if self.current.contains(&key) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_memory_is_bounded() {
        let mut d = IdDedup::new(10);
        for i in 0..1000 {
            d.seen(&i.to_string());
        }
        assert!(d.current.len() + d.previous.len() <= 10);
        assert!(d.seen("999"), "recent ids are remembered");
    }
}
