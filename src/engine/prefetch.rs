//! Cache hints for a caller that holds a batch of analysed events: before taking one, it
//! names one a few places later, and the engine starts loading what that one will look up.

use super::analysis::Analysis;
use super::Engine;
use crate::event::Event;

impl Engine {
    /// Starts loading what taking this analysed event will look up first (the slot of its
    /// id in the dedup table, those of its band keys in its topics' near-duplicate indexes
    /// and of its terms in their theme tables), so that a caller holding a batch overlaps
    /// those cache misses with the work on the events before it. Changes nothing.
    pub fn prefetch(&self, event: &Event<'_>, analysis: &Analysis) {
        if let Some((of, key)) = analysis.id_key {
            if of == self.origin.input {
                self.dedup.prefetch(key);
            }
        }
        let signature = analysis.signed.then_some(&analysis.signature);
        let own = event
            .topic
            .as_deref()
            .and_then(|name| self.by_name.get(name.trim()).copied());
        let mut rules = analysis
            .rules
            .iter()
            .copied()
            .filter(|_| !self.routed)
            .peekable();
        // As in taking it: a comment with no topic of its own and no rule goes to "other".
        let untopical = event.topic.as_deref().is_none_or(|t| t.trim().is_empty());
        let other = (untopical && rules.peek().is_none()).then_some(self.other);
        for id in own.into_iter().chain(rules).chain(other) {
            if let Some(t) = self.topics.get(id) {
                t.detectors.troll.prefetch(signature, analysis.token_count);
                if self.themes.enabled() {
                    t.themes.prefetch(&analysis.terms);
                }
            }
        }
    }
}
