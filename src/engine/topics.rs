//! The engine's topics: created on first sight of a name, capped at `topics.max_dynamic`
//! names from events, and, past the cap, a topic from events idle for
//! `topics.idle_evict_hours` of event time (nothing firing) gives its slot to the new name.
//! Rule topics and `other` are never given up. While a caller keeps the series (reports),
//! slots are not reused, so a topic index always means one topic.

use std::sync::Arc;

use super::{incidents, Engine, Topic, MAX_TOPIC_NAME_BYTES};
use crate::detect::{Detector, Detectors, FloodSettings, NegativitySettings, TrollSettings};
use crate::window::TopicWindow;

impl Engine {
    /// A new topic's state, first seen at `first_seen_ms`.
    fn new_topic(&self, name: &str, first_seen_ms: i64) -> Topic {
        let troll = TrollSettings::new(self.detect.troll_params(name));
        // A topic with its own negativity thresholds gets its own settings.
        let negativity = if self.detect.negativity.topics.contains_key(name) {
            Arc::new(NegativitySettings::new(
                self.detect.negativity_params_for(name),
                self.bucket_ms,
            ))
        } else {
            self.negativity.clone()
        };
        Topic {
            name: name.to_string(),
            window: TopicWindow::new(self.ring_len),
            detectors: Detectors::new(
                &self.surge,
                &negativity,
                troll,
                Arc::new(FloodSettings::new(
                    &self.detect.coordination,
                    self.bucket_ms,
                )),
                first_seen_ms,
            ),
            incident: incidents::TopicIncident::default(),
            themes: Default::default(),
            events: 0,
            negative: 0,
            last_event_ms: first_seen_ms,
        }
    }

    pub(super) fn add_topic(&mut self, name: &str, first_seen_ms: i64) -> usize {
        let id = self.topics.len();
        let topic = self.new_topic(name, first_seen_ms);
        self.topics.push(topic);
        self.by_name.insert(name.into(), id);
        id
    }

    /// The topic an event names, created on first sight while under the cap (or in the slot
    /// of an idle one).
    pub(super) fn topic_for_name(&mut self, name: &str, ts: i64) -> Option<usize> {
        if name.is_empty() {
            return None;
        }
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        if name.len() > MAX_TOPIC_NAME_BYTES {
            self.stats.topics_folded += 1;
            return None;
        }
        let first_seen = ts.div_euclid(self.bucket_ms) * self.bucket_ms;
        if self.dynamic < self.max_dynamic {
            self.dynamic += 1;
            return Some(self.add_topic(name, first_seen));
        }
        match self.idle_slot(ts) {
            Some(id) => {
                let fresh = self.new_topic(name, first_seen);
                let old = std::mem::replace(&mut self.topics[id], fresh);
                self.by_name.remove(old.name.as_str());
                self.by_name.insert(name.into(), id);
                self.stats.topics_evicted += 1;
                Some(id)
            }
            None => {
                self.stats.topics_folded += 1;
                None
            }
        }
    }

    /// A topic from events idle for `idle_evict_ms` at event time `ts` with nothing firing,
    /// the longest idle first. Looked for only when one can be: the earliest time any
    /// topic could become idle enough is remembered.
    fn idle_slot(&mut self, ts: i64) -> Option<usize> {
        if self.idle_evict_ms <= 0 || self.series.is_some() || ts < self.next_evictable_ms {
            return None;
        }
        let mut best: Option<(i64, usize)> = None;
        let mut next = i64::MAX;
        for (id, t) in self.topics.iter().enumerate().skip(self.first_dynamic) {
            let idle_at = t.last_event_ms.saturating_add(self.idle_evict_ms);
            let firing = t.detectors.surge.is_firing()
                || t.detectors.negativity.is_firing()
                || t.detectors.troll.is_firing();
            if idle_at <= ts && !firing {
                if best.is_none_or(|(last, _)| t.last_event_ms < last) {
                    best = Some((t.last_event_ms, id));
                }
            } else {
                next = next.min(idle_at);
            }
        }
        // Firing topics are looked at again a minute on; quiet ones when they may be idle.
        self.next_evictable_ms = if best.is_some() {
            i64::MIN
        } else {
            next.min(ts + 60_000)
        };
        best.map(|(_, id)| id)
    }
}
