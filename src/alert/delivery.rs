//! Alert delivery for the live path: each alert transition sent once to every sink.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::{Alert, AlertSink, AlertStatus};
use crate::metrics::Metrics;
use crate::status::Board;

/// Alert keys remembered against duplicates.
const REMEMBERED_ALERTS: usize = 100_000;

/// Sends each alert transition once: keyed by (id, status, at), remembered in a bounded set,
/// seeded from what file sinks already hold.
pub struct Delivery {
    sinks: Vec<Box<dyn AlertSink + Send>>,
    seen: HashSet<String>,
    order: VecDeque<String>,
    metrics: Option<Arc<Metrics>>,
    board: Option<Arc<Board>>,
}

impl Delivery {
    pub fn new(sinks: Vec<Box<dyn AlertSink + Send>>) -> Self {
        let mut d = Self {
            sinks: Vec::new(),
            seen: HashSet::new(),
            order: VecDeque::new(),
            metrics: None,
            board: None,
        };
        d.set_sinks(sinks);
        d
    }

    /// Counts what is sent and delivered in `metrics`, and shows it on `board`.
    pub fn observed(mut self, metrics: Option<Arc<Metrics>>, board: Option<Arc<Board>>) -> Self {
        self.metrics = metrics;
        self.board = board;
        self.announce_sinks();
        self
    }

    fn announce_sinks(&mut self) {
        if let Some(m) = &self.metrics {
            for sink in &mut self.sinks {
                m.sink(sink.name());
                sink.attach_metrics(m.clone());
            }
        }
    }

    /// Remembers an alert as already delivered (by an earlier process).
    pub fn remember(&mut self, id: &str, status: &str, at: &str) {
        let key = format!("{id}|{status}|{at}");
        if self.seen.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > REMEMBERED_ALERTS {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// Sends to every sink unless already sent; true if sent.
    pub fn send(&mut self, alert: &Alert) -> bool {
        let status = match alert.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        let key = format!("{}|{status}|{}", alert.id, alert.at);
        if self.seen.contains(&key) {
            return false;
        }
        for sink in &mut self.sinks {
            let sent = sink.send(alert);
            if let Err(e) = &sent {
                tracing::error!("alert sink {} failed: {e}", sink.name());
            }
            if let Some(m) = &self.metrics {
                if !sink.reports_outcomes() || sent.is_err() {
                    m.delivery(sink.name(), sent.is_ok());
                }
            }
        }
        if let Some(m) = &self.metrics {
            m.alert(alert);
        }
        if let Some(b) = &self.board {
            b.alert(alert);
        }
        self.remember(&alert.id, status, &alert.at);
        true
    }

    /// Replaces the sinks (keeping what was remembered).
    pub fn set_sinks(&mut self, mut sinks: Vec<Box<dyn AlertSink + Send>>) {
        for sink in &mut sinks {
            for (id, status, at) in sink.take_delivered() {
                self.remember(&id, &status, &at);
            }
        }
        self.sinks = sinks;
        self.announce_sinks();
    }

    pub fn flush(&mut self) {
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush() {
                tracing::error!("alert sink flush failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{simulate, Scenario, SimOptions};
    use crate::{parse_event, Config, Engine};

    fn some_alerts() -> Vec<Alert> {
        let mut stream = Vec::new();
        let opts = SimOptions {
            scenario: Scenario::TrollWave,
            seed: 2,
            days: 0,
            ..SimOptions::default()
        };
        simulate(&opts, &mut stream).unwrap();
        let config = Config::default();
        let mut engine = Engine::new(&config);
        let mut out = Vec::new();
        for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            engine.ingest_into(&parse_event(line, &config.input).unwrap(), &mut out);
        }
        out
    }

    /// Regression: a file sink handed to the live path directly (not named in the config)
    /// was not consulted, so a restarted process wrote again what the file held.
    #[test]
    fn a_file_sink_remembers_what_an_earlier_process_wrote() {
        let alerts = some_alerts();
        assert!(alerts.len() >= 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.ndjson").display().to_string();
        let mut first = Delivery::new(vec![Box::new(crate::alert::file_sink(&path).unwrap())]);
        assert!(first.send(&alerts[0]));
        assert!(!first.send(&alerts[0]), "not twice in one process");
        drop(first);
        let mut second = Delivery::new(vec![Box::new(crate::alert::file_sink(&path).unwrap())]);
        assert!(!second.send(&alerts[0]), "not again after a restart");
        assert!(second.send(&alerts[1]));
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), 2);
    }
}
