//! A worker sink's outbox writes: alerts its outbox could not take are kept, written again
//! before any newer one, and counted, so the live path can hold offsets until they are.

use super::{Alert, Group, WorkerSink};

impl WorkerSink {
    pub(super) fn outbox_add(&self, alert: &Alert, group: Option<&Group>) -> std::io::Result<u64> {
        let Some(ob) = &self.shared.outbox else {
            return Err(std::io::Error::other("no outbox"));
        };
        let mut ob = ob.lock().unwrap_or_else(|p| p.into_inner());
        let seq = ob.add(alert, group)?;
        if let Some(m) = self.shared.metrics() {
            m.outbox(&self.shared.name, ob.outstanding());
        }
        Ok(seq)
    }

    /// Writes the alerts the outbox could not take before, oldest first, until one fails.
    /// A written one stays outstanding (it may be delivered again after a restart: at least
    /// once).
    pub(super) fn write_unwritten(&mut self) {
        if self.unwritten.is_empty() {
            return;
        }
        let mut written = 0;
        for (alert, group) in &self.unwritten {
            if self.outbox_add(alert, group.as_ref()).is_err() {
                break;
            }
            written += 1;
        }
        if written > 0 {
            self.unwritten.drain(..written);
            if self.unwritten.is_empty() {
                tracing::info!("sink {}: the outbox is written again", self.shared.name);
            }
            self.report_unwritten(None);
        }
    }

    pub(super) fn report_unwritten(&self, failed: Option<&std::io::Error>) {
        let name = &self.shared.name;
        if let Some(e) = failed {
            tracing::error!(
                "sink {name}: cannot write the outbox: {e}; the alert is delivered from memory, and offsets stay uncommitted until the outbox takes it"
            );
        }
        if let Some(m) = self.shared.metrics() {
            m.outbox_unwritten(name, self.unwritten.len());
        }
    }
}
