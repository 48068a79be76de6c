//! The processor's side of state snapshots: writing one now and then (in the background),
//! on an assignment change and on shutdown (waiting for it), and starting from one.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;

use super::{wall_ms, Processor};
use crate::engine::Engine;
use crate::live::snapshot::Snapshot;
use crate::rebuild::HistoryEnd;
use crate::source::history::{HistoryReader, RebuildRange};
use crate::source::kafka::Partition;

impl Processor {
    /// Writes a snapshot in the background once `kafka.snapshot_secs` have passed since the
    /// last one (and the last one is written).
    pub(super) fn snapshot_when_due(&mut self, now: Instant) {
        let every = Duration::from_secs(u64::from(self.config.kafka.snapshot_secs));
        if self.snapshots.is_none() || now.duration_since(self.last_snapshot) < every {
            return;
        }
        if self.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        self.write_snapshot(false);
    }

    /// Writes the engine's state with the offsets it covers. Only when every message the
    /// engine took is stored (its alerts in the outboxes, its dead letters acknowledged):
    /// otherwise it is tried again at the next tick. `wait`: written before returning.
    pub(super) fn write_snapshot(&mut self, wait: bool) {
        let Some(store) = self.snapshots.clone() else {
            return;
        };
        if let Some(w) = self.writing.take() {
            // An older snapshot never lands after a newer one.
            w.join().ok();
        }
        if self.assigned.is_empty()
            || !self
                .observers
                .stats
                .ready
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        self.store_offsets();
        if !self.to_store.is_empty() {
            tracing::debug!("snapshot put off: offsets held back");
            return;
        }
        let mut offsets = std::collections::BTreeMap::new();
        for p in &self.assigned {
            match self.taken.get(p) {
                Some(&at) => offsets.insert(p.clone(), at),
                None => return,
            };
        }
        self.last_snapshot = Instant::now();
        let started = Instant::now();
        let state = match self.engine.save_state() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        let snapshot = Snapshot {
            offsets,
            firing: self.end.firing.values().cloned().collect(),
            written_ms: wall_ms(),
            state,
        };
        let encoded = started.elapsed();
        let metrics = self.observers.metrics.clone();
        let write = move || {
            let bytes = snapshot.state.len();
            match store.write(&snapshot) {
                Ok(path) => {
                    tracing::debug!(
                        "state snapshot of {} partition(s), {bytes} bytes, in {} ({:.0} ms encoding, {:.0} ms in all)",
                        snapshot.offsets.len(),
                        path.display(),
                        encoded.as_secs_f64() * 1000.0,
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    if let Some(m) = &metrics {
                        m.snapshot_written(bytes, started.elapsed().as_secs_f64());
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot write the state snapshot: {e} (a restart then rebuilds from an older one or from history)"
                    );
                    if let Some(m) = &metrics {
                        m.snapshot_failed();
                    }
                }
            }
        };
        if wait {
            write();
        } else {
            match std::thread::Builder::new()
                .name("ondata-snapshot".into())
                .spawn(write)
            {
                Ok(handle) => self.writing = Some(handle),
                Err(e) => tracing::warn!("cannot start the snapshot writer: {e}"),
            }
        }
    }

    /// Loads the snapshot of exactly the assigned partitions into `engine` and `end`, moves
    /// `resume` past what it covers, and gives the ranges still to read back: from its
    /// offsets to where live consumption resumes. None (and the reason logged) when there is
    /// no usable snapshot: the caller rebuilds from history.
    pub(super) fn start_from_snapshot(
        &self,
        reader: &HistoryReader,
        resume: &mut [(Partition, i64)],
        engine: &mut Engine,
        end: &mut HistoryEnd,
    ) -> Option<Vec<RebuildRange>> {
        let store = self.snapshots.as_ref()?;
        let parts: Vec<Partition> = self.assigned.iter().cloned().collect();
        let not_used = |why: String| {
            tracing::warn!("state snapshot not used: {why}; rebuilding from history");
        };
        let snapshot = match store.load(&parts) {
            Ok(Some(s)) => s,
            Ok(None) => {
                tracing::info!("no state snapshot for this assignment; rebuilding from history");
                return None;
            }
            Err(why) => {
                not_used(why);
                return None;
            }
        };
        let age_ms = wall_ms() - snapshot.written_ms;
        let hours = i64::from(self.config.kafka.rebuild_hours);
        if hours > 0 && age_ms > hours * 3_600_000 {
            not_used(format!(
                "it is {:.1} h old, more than kafka.rebuild_hours",
                age_ms as f64 / 3_600_000.0
            ));
            return None;
        }
        let mut ranges = Vec::with_capacity(resume.len());
        for (p, at) in resume.iter_mut() {
            let from = snapshot.offsets.get(p).copied()?;
            if self.taken.get(p).is_some_and(|&taken| from > taken) {
                not_used(format!(
                    "it is ahead of what this process took from {p}, which it kept"
                ));
                return None;
            }
            let (low, high) =
                match reader.fetch_watermarks(&p.topic, p.partition, Duration::from_secs(10)) {
                    Ok(marks) => marks,
                    Err(e) => {
                        not_used(format!("the start of {p} is unknown: {e}"));
                        return None;
                    }
                };
            if from > high {
                not_used(format!(
                    "it covers {from} messages of {p}, which holds {high}: another or a recreated topic"
                ));
                return None;
            }
            if from < low {
                not_used(format!(
                    "{p} no longer holds the messages after it (offset {from}, the log starts at {low})"
                ));
                return None;
            }
            // Written after the last commit (a crash in between): everything it covers was
            // handled and stored, so live consumption resumes after it.
            *at = (*at).max(from);
            ranges.push(RebuildRange {
                at: p.clone(),
                start: from,
                end: *at,
            });
        }
        if let Err(e) = engine.load_state(&snapshot.state) {
            not_used(e.to_string());
            return None;
        }
        end.max_ts = engine.newest_event_ms();
        end.firing = snapshot
            .firing
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        let tail: i64 = ranges.iter().map(|r| r.end - r.start).sum();
        tracing::info!(
            "state snapshot of {} partition(s) from {:.0} s ago loaded; reading the {tail} message(s) after it",
            ranges.len(),
            age_ms as f64 / 1000.0
        );
        Some(ranges)
    }
}
