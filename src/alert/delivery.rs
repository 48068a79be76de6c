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
        Self {
            sinks,
            seen: HashSet::new(),
            order: VecDeque::new(),
            metrics: None,
            board: None,
        }
    }

    /// Counts what is sent and delivered in `metrics`, and shows it on `board`.
    pub fn observed(mut self, metrics: Option<Arc<Metrics>>, board: Option<Arc<Board>>) -> Self {
        self.metrics = metrics;
        self.board = board;
        self.announce_sinks();
        self
    }

    fn announce_sinks(&self) {
        if let Some(m) = &self.metrics {
            for sink in &self.sinks {
                m.sink(sink.name());
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
                m.delivery(sink.name(), sent.is_ok());
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
    pub fn set_sinks(&mut self, sinks: Vec<Box<dyn AlertSink + Send>>) {
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
