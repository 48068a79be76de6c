//! Floods for the reliability checks (`examples/flood.rs`, `tests/flood.rs`): comments of
//! random unique text on many topics, as a broken or hostile producer sends them, and one
//! message repeated by many accounts.

use super::rng::Rng;

/// A flood of comments, one event line at a time, `per_second` of them a second of event
/// time from 2020-04-01T08:00:00Z.
pub struct Flood {
    rng: Rng,
    /// Distinct topic names the events spread over.
    pub topics: usize,
    per_second: u32,
    n: u64,
    line: String,
}

const START_MS: i64 = 1_585_728_000_000;
/// The repeated message: a campaign template, long enough to be indexed.
pub const REPEATED: &str =
    "Vergognatevi! Il bonus 600 euro non arriva e il sito INPS non funziona, tutti a casa subito";

impl Flood {
    pub fn new(seed: u64, topics: usize, per_second: u32) -> Self {
        Self {
            rng: Rng::new(seed),
            topics: topics.max(1),
            per_second: per_second.max(1),
            n: 0,
            line: String::with_capacity(512),
        }
    }

    /// Event time of the next event.
    pub fn next_ms(&self) -> i64 {
        START_MS + (self.n as i64 * 1000) / i64::from(self.per_second)
    }

    /// Continues as if `events` had been sent (to follow one flood with another).
    pub fn skip_to(&mut self, events: u64) {
        self.n = events;
    }

    /// The next comment of random words (10–30 of 2–9 random letters): no two alike.
    pub fn unique(&mut self) -> &str {
        let ts = self.next_ms();
        let topic = self.rng.below(self.topics);
        let author = self.rng.next_u64() % 10_000_000;
        self.line.clear();
        self.line.push_str(&format!(
            r#"{{"ts":{ts},"author":"u{author}","topic":"t{topic}","text":""#
        ));
        let words = 10 + self.rng.below(21);
        for w in 0..words {
            if w > 0 {
                self.line.push(' ');
            }
            for _ in 0..2 + self.rng.below(8) {
                self.line.push((b'a' + self.rng.below(26) as u8) as char);
            }
        }
        self.line.push_str("\"}");
        self.n += 1;
        &self.line
    }

    /// The next copy of [`REPEATED`] on `topic`, from one of `authors` accounts.
    pub fn repeated(&mut self, topic: &str, authors: u64) -> &str {
        let ts = self.next_ms();
        let author = self.rng.next_u64() % authors.max(1);
        self.line.clear();
        self.line.push_str(&format!(
            r#"{{"ts":{ts},"author":"r{author}","topic":"{topic}","text":"{REPEATED}"}}"#
        ));
        self.n += 1;
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InputConfig;
    use crate::event::parse_event;

    #[test]
    fn flood_lines_are_valid_distinct_events_in_time_order() {
        let mut f = Flood::new(1, 50, 1000);
        let limits = InputConfig::default();
        let mut seen = std::collections::HashSet::new();
        let mut last = 0;
        for _ in 0..2000 {
            let line = f.unique().to_string();
            let e = parse_event(line.as_bytes(), &limits).unwrap();
            assert!(e.ts_ms >= last);
            last = e.ts_ms;
            assert!(seen.insert(e.text.to_string()), "texts are unique");
        }
        let line = f.repeated("x", 10).to_string();
        assert_eq!(
            parse_event(line.as_bytes(), &limits).unwrap().text,
            REPEATED
        );
    }
}
