//! The engine's state as bytes, for snapshots: every topic's windows, baselines, troll
//! index and open episodes, the stream's time and clock, and the recent ids. What comes
//! from the configuration (settings shared by topics, the analyser, the renderer) is built
//! again from it; counters start again, as after a rebuild.
//!
//! An engine loaded from the bytes another saved then gives, for the same events, the same
//! alerts that one would have given.

use serde::{Deserialize, Serialize};

use super::{campaigns::CampaignMemory, clock::Clock, Engine, Topic};
use crate::dedup::IdDedup;
use crate::detect::theme::cross::CrossThemes;

/// Borrowed, to write without copying.
#[derive(Serialize)]
struct StateRef<'a> {
    topics: &'a [Topic],
    dynamic: usize,
    first_dynamic: usize,
    other: usize,
    next_evictable_ms: i64,
    max_ts: Option<i64>,
    watermark: i64,
    next_close: Option<i64>,
    dedup: &'a IdDedup,
    clock: &'a Clock,
    themes: &'a CrossThemes,
    campaigns: &'a CampaignMemory,
}

#[derive(Deserialize)]
struct State {
    topics: Vec<Topic>,
    dynamic: usize,
    first_dynamic: usize,
    other: usize,
    next_evictable_ms: i64,
    max_ts: Option<i64>,
    watermark: i64,
    next_close: Option<i64>,
    dedup: IdDedup,
    clock: Clock,
    themes: CrossThemes,
    campaigns: CampaignMemory,
}

/// Why saved state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot encode the engine's state: {0}")]
    Encode(postcard::Error),
    #[error("the engine's state does not decode: {0}")]
    Decode(postcard::Error),
    #[error("the engine's state is inconsistent: {0}")]
    Inconsistent(String),
}

impl Engine {
    /// The engine's state, to be loaded by [`Engine::load_state`] into an engine built from
    /// the same configuration.
    pub fn save_state(&self) -> Result<Vec<u8>, StateError> {
        postcard::to_stdvec(&StateRef {
            topics: &self.topics,
            dynamic: self.dynamic,
            first_dynamic: self.first_dynamic,
            other: self.other,
            next_evictable_ms: self.next_evictable_ms,
            max_ts: self.max_ts,
            watermark: self.watermark,
            next_close: self.next_close,
            dedup: &self.dedup,
            clock: &self.clock,
            themes: &self.themes.cross,
            campaigns: &self.campaigns,
        })
        .map_err(StateError::Encode)
    }

    /// Replaces this engine's state with saved state. The engine must be built from the
    /// configuration the state was saved under (the snapshot's fingerprint says so); on an
    /// error the engine is left as it was.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let state: State = postcard::from_bytes(bytes).map_err(StateError::Decode)?;
        let n = state.topics.len();
        if state.other >= n || state.first_dynamic > n || state.dynamic > n {
            return Err(StateError::Inconsistent(format!(
                "{n} topic(s), `other` at {}, topics from events from {}",
                state.other, state.first_dynamic
            )));
        }
        let rules = self.analyzer.rule_names();
        let saved_rules: Vec<&str> = state.topics[..state.first_dynamic]
            .iter()
            .map(|t| t.name.as_str())
            .filter(|name| *name != super::OTHER_TOPIC)
            .collect();
        if saved_rules != rules.iter().map(String::as_str).collect::<Vec<&str>>() {
            return Err(StateError::Inconsistent(format!(
                "saved with the rule topics {saved_rules:?}, configured {rules:?}"
            )));
        }
        self.by_name = state
            .topics
            .iter()
            .enumerate()
            .map(|(id, t)| (Box::from(t.name.as_str()), id))
            .collect();
        self.topics = state.topics;
        self.dynamic = state.dynamic;
        self.first_dynamic = state.first_dynamic;
        self.other = state.other;
        self.next_evictable_ms = state.next_evictable_ms;
        self.max_ts = state.max_ts;
        self.watermark = state.watermark;
        self.next_close = state.next_close;
        self.dedup = state.dedup;
        self.clock = state.clock;
        self.themes.cross = state.themes;
        self.campaigns = state.campaigns;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::config::{Config, TopicRule};
    use crate::event::parse_event;
    use crate::simulate::{simulate, Scenario, SimOptions};

    fn lines(scenario: Scenario, days: u32) -> Vec<String> {
        let mut out = Vec::new();
        let opts = SimOptions {
            scenario,
            days,
            seed: 7,
            ..SimOptions::default()
        };
        simulate(&opts, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn feed(engine: &mut Engine, config: &Config, lines: &[String]) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for line in lines {
            if let Ok(e) = parse_event(line.as_bytes(), &config.input) {
                engine.ingest_into(&e, &mut alerts);
            }
        }
        alerts
    }

    /// A stream cut anywhere, the state saved and loaded into a new engine: the alerts after
    /// the cut are those of one engine that saw it all. The simulator is the project's own
    /// (it shares nothing with this code but the event format); every detector fires on
    /// these two scenarios, so a detector's field left out of the state shows.
    #[test]
    fn an_engine_loaded_from_saved_state_goes_on_as_the_one_that_saved_it() {
        let mut config = Config::default();
        config.topics.rules = vec![TopicRule {
            name: "app".into(),
            keywords: vec!["app".into()],
        }];
        for scenario in [Scenario::ClickDay, Scenario::TrollWave] {
            let lines = lines(scenario, 1);
            let mut whole = Engine::new(&config);
            let mut expected = feed(&mut whole, &config, &lines);
            expected.extend(whole.finish());
            let kinds: std::collections::BTreeSet<_> = expected.iter().map(|a| a.kind).collect();
            assert!(kinds.len() >= 2, "{scenario:?} fires: {kinds:?}");
            for cut in [lines.len() / 3, lines.len() * 9 / 10, lines.len() * 19 / 20] {
                let mut first = Engine::new(&config);
                let mut got = feed(&mut first, &config, &lines[..cut]);
                let bytes = first.save_state().unwrap();
                drop(first);
                let mut second = Engine::new(&config);
                second.load_state(&bytes).unwrap();
                got.extend(feed(&mut second, &config, &lines[cut..]));
                got.extend(second.finish());
                assert_eq!(got.len(), expected.len(), "{scenario:?} cut at {cut}");
                assert!(got == expected, "{scenario:?} cut at {cut}: alerts differ");
            }
        }
    }

    #[test]
    fn state_that_does_not_fit_is_refused_and_the_engine_left_as_it_was() {
        let config = Config::default();
        let lines = lines(Scenario::Quiet, 0);
        let mut engine = Engine::new(&config);
        feed(&mut engine, &config, &lines[..lines.len().min(2000)]);
        let bytes = engine.save_state().unwrap();

        let mut fresh = Engine::new(&config);
        let before = fresh.topics().len();
        let err = fresh.load_state(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(err, StateError::Decode(_)), "{err}");
        assert_eq!(fresh.topics().len(), before);

        let mut ruled = config.clone();
        ruled.topics.rules = vec![TopicRule {
            name: "app".into(),
            keywords: vec!["app".into()],
        }];
        let err = Engine::new(&ruled).load_state(&bytes).unwrap_err();
        assert!(err.to_string().contains("rule topics"), "{err}");
    }
}
