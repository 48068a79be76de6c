//! The engine thread of the live path: takes messages from the consumer task in order,
//! parses them, merges partitions by event time, runs the engine, delivers alerts, stores
//! offsets once the engine has taken a message, commits them, and rebuilds the engine from
//! Kafka on every assignment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Context as _, Result};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

use super::{LiveStats, LiveSummary, Observers, Stop, IDLE_PARTITION, STALLED_PARTITION};
use crate::alert::Alert;
use crate::config::Config;
use crate::deliver::delivery::Delivery;
use crate::deliver::AlertSink;
use crate::engine::Engine;
use crate::merge::{pending_of, Aligner, Item, Pending};

use crate::rebuild::{read_history, HistoryEnd};
use crate::source::dead_letter::DeadLetters;
use crate::source::history;
use crate::source::kafka::{self, LiveContext, OwnedMessage, Partition};
use crate::status::StreamStatus;

use super::snapshot::SnapshotStore;

mod restore;

/// Stored offsets are committed this often (asynchronously), and synchronously on revoke
/// and on shutdown.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// With no event for this long, event time advances with the wall clock.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch, for the event delay.
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) enum ToEngine {
    Assigned(Vec<Partition>),
    Message(OwnedMessage),
}

/// The engine thread's state.
pub(super) struct Processor {
    config: Config,
    engine: Engine,
    aligner: Aligner,
    consumer: Arc<StreamConsumer<LiveContext>>,
    /// Asks partitions' ends of the broker.
    watermarks: history::HistoryReader,
    dead: DeadLetters,
    delivery: Delivery,
    /// Counters, metrics and the status board it keeps up to date.
    observers: Observers,
    assigned: BTreeSet<Partition>,
    /// Per partition: the next offset not yet in the engine or the merge. Messages below it
    /// are duplicates (re-fetched after a rebuild) and skipped.
    next: BTreeMap<Partition, i64>,
    /// Per partition: one past the last offset the engine took.
    taken: BTreeMap<Partition, i64>,
    /// Per partition: the last offset taken and not yet stored (held back while a dead
    /// letter at or before it is in flight, or an alert is not in its outbox).
    to_store: BTreeMap<Partition, i64>,
    /// Per partition: the last offset stored.
    stored: BTreeMap<Partition, i64>,
    reset_to_earliest: bool,
    alerts: Vec<Alert>,
    max_ts: Option<i64>,
    last_release: Instant,
    last_metrics: Instant,
    last_commit: Instant,
    uncommitted: bool,
    /// Where state snapshots go (None: off).
    snapshots: Option<Arc<SnapshotStore>>,
    last_snapshot: Instant,
    /// A snapshot being written in the background.
    writing: Option<std::thread::JoinHandle<()>>,
    /// Alerts firing now, by id (for snapshots and rebuilds).
    end: HistoryEnd,
}

impl Processor {
    /// The engine thread's state, with its own clients for dead letters and partitions'
    /// ends, and alert delivery to `sinks` (files among them seed the duplicate check with
    /// what an earlier process delivered).
    pub(super) fn new(
        config: Config,
        consumer: Arc<StreamConsumer<LiveContext>>,
        sinks: Vec<Box<dyn AlertSink + Send>>,
        observers: Observers,
        reset_to_earliest: bool,
    ) -> Result<Self> {
        let dead = DeadLetters::new(&config.kafka, observers.metrics.clone())?;
        let watermarks = history::history_consumer(&config.kafka)?;
        let delivery = Delivery::new(sinks)
            .routed(crate::deliver::delivery::Router::from_config(
                &config.alerts,
            ))
            .observed(observers.metrics.clone(), observers.board.clone());
        let snapshots = SnapshotStore::from_config(&config).map(Arc::new);
        Ok(Self {
            engine: Engine::new(&config),
            config,
            aligner: Aligner::new(IDLE_PARTITION, STALLED_PARTITION),
            consumer,
            watermarks,
            dead,
            delivery,
            observers,
            assigned: BTreeSet::new(),
            next: BTreeMap::new(),
            taken: BTreeMap::new(),
            to_store: BTreeMap::new(),
            stored: BTreeMap::new(),
            reset_to_earliest,
            alerts: Vec::new(),
            max_ts: None,
            last_release: Instant::now(),
            last_metrics: Instant::now(),
            last_commit: Instant::now(),
            uncommitted: false,
            snapshots,
            last_snapshot: Instant::now(),
            writing: None,
            end: HistoryEnd::default(),
        })
    }

    pub(super) fn handle(&mut self, msg: ToEngine, shutdown: &watch::Receiver<Stop>) {
        match msg {
            ToEngine::Assigned(parts) => self.reassign(parts, shutdown),
            ToEngine::Message(m) => {
                if !self.assigned.contains(&m.at) {
                    // Revoked while in flight: the new owner reads it from the last commit.
                    tracing::debug!("{}@{} dropped: partition no longer ours", m.at, m.offset);
                    return;
                }
                let next = self.next.get(&m.at).copied().unwrap_or(i64::MIN);
                if m.offset < next {
                    LiveStats::add(&self.observers.stats.skipped, 1);
                    return;
                }
                self.next.insert(m.at.clone(), m.offset + 1);
                let (p, pending) = pending_of(m, &self.config);
                self.aligner.push(&p, pending, Instant::now());
            }
        }
    }

    /// Asks the broker whether silent partitions have really been read to their end.
    fn confirm_idle(&mut self) {
        let now = Instant::now();
        for p in self.aligner.to_confirm(now) {
            let next = self.next.get(&p).copied().unwrap_or(0);
            let at_end = match self.watermarks.fetch_watermarks(
                &p.topic,
                p.partition,
                Duration::from_millis(500),
            ) {
                Ok((_, high)) => next >= high,
                Err(e) => {
                    tracing::debug!("end of {p} unknown: {e}");
                    false
                }
            };
            self.aligner.confirm_end(&p, at_end, now);
        }
    }

    /// Releases whatever the merge allows into the engine.
    pub(super) fn release(&mut self, force: bool) {
        if !force {
            self.confirm_idle();
        }
        let now = Instant::now();
        while let Some((p, pending)) = self.aligner.pop(now, force) {
            self.take(&p, pending);
        }
        if !self.alerts.is_empty() {
            self.delivery.flush();
        }
        self.store_offsets();
    }

    /// Stores what the engine has taken, per partition up to just before the first dead
    /// letter still in flight; nothing while an alert is not yet in its sink's outbox.
    fn store_offsets(&mut self) {
        self.dead.poll();
        if self.to_store.is_empty() {
            return;
        }
        // An alert not yet in its sink's outbox: a crash now must read its message again.
        if !self.delivery.durable() {
            return;
        }
        let mut done = Vec::new();
        for (p, &last) in &self.to_store {
            let upto = match self.dead.first_in_flight(p) {
                Some(first) => last.min(first - 1),
                None => last,
            };
            if self.stored.get(p).is_some_and(|&s| s >= upto) {
                continue;
            }
            // librdkafka stores `upto + 1`, the next message to read.
            if let Err(e) = self.consumer.store_offset(&p.topic, p.partition, upto) {
                tracing::debug!("offset {} of {p} not stored: {e}", upto + 1);
                continue;
            }
            self.stored.insert(p.clone(), upto);
            self.uncommitted = true;
            if upto == last {
                done.push(p.clone());
            }
        }
        for p in done {
            self.to_store.remove(&p);
        }
    }

    fn take(&mut self, p: &Partition, pending: Pending) {
        let offset = pending.offset;
        let kafka_ts = pending.kafka_ts_ms;
        // A producer's clock far ahead of the wall clock cannot move everyone's time: its
        // event goes to the dead letter.
        let item = match pending.item {
            Item::Event(event)
                if event.ts_ms > wall_ms() + i64::from(self.config.input.max_ahead_secs) * 1000 =>
            {
                Item::Poison {
                    payload: event.to_json_line().into_bytes(),
                    reason: crate::event::RejectReason::TsAhead,
                    detail: format!(
                        "ts {} is more than input.max_ahead_secs = {} ahead of the wall clock",
                        crate::event::format_ts(event.ts_ms),
                        self.config.input.max_ahead_secs
                    ),
                }
            }
            other => other,
        };
        match item {
            Item::Event(event) => {
                self.alerts.clear();
                if let Some(m) = &self.observers.metrics {
                    m.event_delay((wall_ms() - event.ts_ms) as f64 / 1000.0);
                    let started = Instant::now();
                    self.engine.ingest_into(&event, &mut self.alerts);
                    m.processing(started.elapsed().as_secs_f64());
                } else {
                    self.engine.ingest_into(&event, &mut self.alerts);
                }
                // Events the engine held ahead of the stream and gave up on: dead letters.
                for d in self.engine.take_dropped() {
                    let m = OwnedMessage {
                        at: p.clone(),
                        offset,
                        kafka_ts_ms: kafka_ts,
                        payload: d.event.to_json_line().into_bytes(),
                    };
                    if let Some(metrics) = &self.observers.metrics {
                        metrics.rejected(d.reason);
                        metrics.dead_lettered();
                    }
                    self.dead.send(&m, d.reason.as_str(), &d.detail);
                }
                self.max_ts = Some(self.max_ts.map_or(event.ts_ms, |m| m.max(event.ts_ms)));
                self.last_release = Instant::now();
                LiveStats::add(&self.observers.stats.events, 1);
                let alerts = std::mem::take(&mut self.alerts);
                for alert in &alerts {
                    self.end.follow(alert);
                    if self.delivery.send(alert) {
                        LiveStats::add(&self.observers.stats.alerts_sent, 1);
                    } else {
                        LiveStats::add(&self.observers.stats.alerts_suppressed, 1);
                    }
                }
                self.alerts = alerts;
            }
            Item::Poison {
                payload,
                reason,
                detail,
            } => {
                let m = OwnedMessage {
                    at: p.clone(),
                    offset,
                    kafka_ts_ms: kafka_ts,
                    payload,
                };
                // Its offset is stored once the broker has the dead letter.
                if let Some(metrics) = &self.observers.metrics {
                    metrics.rejected(reason);
                    metrics.dead_lettered();
                }
                self.dead.send(&m, reason.as_str(), &detail);
                tracing::debug!("dead-lettered {}@{}: {reason}", p, offset);
                LiveStats::add(&self.observers.stats.dead_lettered, 1);
            }
        }
        self.to_store.insert(p.clone(), offset);
        self.taken.insert(p.clone(), offset + 1);
        LiveStats::add(&self.observers.stats.taken, 1);
    }

    /// With nothing arriving, event time moves on by the wall time since the last event.
    pub(super) fn idle_tick(&mut self) {
        let now = Instant::now();
        if self.aligner.is_empty() && now.duration_since(self.last_release) >= IDLE_TICK {
            if let Some(max) = self.max_ts {
                let target = max + now.duration_since(self.last_release).as_millis() as i64;
                let alerts = self.engine.advance_to(target);
                for alert in &alerts {
                    self.end.follow(alert);
                    if self.delivery.send(alert) {
                        LiveStats::add(&self.observers.stats.alerts_sent, 1);
                    }
                }
                if !alerts.is_empty() {
                    self.delivery.flush();
                }
            }
        }
        self.store_offsets();
        if self.uncommitted && now.duration_since(self.last_commit) >= COMMIT_EVERY {
            self.last_commit = now;
            self.uncommitted = false;
            match self.consumer.commit_consumer_state(CommitMode::Async) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => {
                    tracing::warn!("offset commit failed: {e} (retried in {COMMIT_EVERY:?})");
                    if let Some(m) = &self.consumer.context().metrics {
                        m.kafka_error("commit");
                    }
                }
            }
        }
        self.snapshot_when_due(now);
        if now.duration_since(self.last_metrics) >= Duration::from_secs(1) {
            self.last_metrics = now;
            if !self.delivery.durable() {
                self.delivery.flush(); // writes what an outbox could not take before
            }
            tracing::debug!(
                "merge holds {} message(s): {}",
                self.aligner.len,
                self.aligner
                    .queues
                    .iter()
                    .map(|(p, q)| format!(
                        "{p} {} waiting, silent {:?}, at end {}",
                        q.items.len(),
                        now.duration_since(q.last_arrival),
                        q.at_end.is_some()
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            self.publish();
        }
    }

    /// Copies the engine's state into the metrics and the status board.
    fn publish(&self) {
        if let Some(m) = &self.observers.metrics {
            m.observe(&self.engine);
        }
        if let Some(b) = &self.observers.board {
            b.update(
                &self.engine,
                StreamStatus {
                    mode: "live",
                    ready: self.observers.stats.ready.load(Ordering::SeqCst),
                    taken: LiveStats::get(&self.observers.stats.taken),
                    rejected: LiveStats::get(&self.observers.stats.dead_lettered),
                    dead_lettered: LiveStats::get(&self.observers.stats.dead_lettered),
                    late: self.engine.stats().late,
                    consumer_lag: self.observers.metrics.as_ref().and_then(|m| m.lag_total()),
                    alerts_sent: LiveStats::get(&self.observers.stats.alerts_sent),
                },
            );
        }
    }

    /// A new assignment: keep what is buffered for partitions still ours, rebuild a fresh
    /// engine from the history of all of them, send what is still firing, go live.
    fn reassign(&mut self, parts: Vec<Partition>, shutdown: &watch::Receiver<Stop>) {
        let new: BTreeSet<Partition> = parts.into_iter().collect();
        if new != self.assigned {
            // What the old assignment's state was, for whoever is given that set again.
            self.release(false);
            self.write_snapshot(true);
        }
        self.observers.stats.ready.store(false, Ordering::SeqCst);
        let kept: BTreeSet<Partition> = self.assigned.intersection(&new).cloned().collect();
        let added: Vec<Partition> = new.difference(&self.assigned).cloned().collect();
        self.aligner.retain(&kept);
        self.next.retain(|p, _| kept.contains(p));
        self.taken.retain(|p, _| kept.contains(p));
        self.to_store.retain(|p, _| kept.contains(p));
        self.stored.retain(|p, _| kept.contains(p));
        self.dead.forget_except(&kept);
        self.assigned = new;
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.rebuild(&kept, &added, shutdown) {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!("rebuild failed: {e:#}; retrying in {backoff:?}");
                    if *shutdown.borrow() != Stop::Run {
                        return;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        let now = Instant::now();
        for p in &self.assigned {
            self.aligner.ensure(p, now);
        }
        self.observers.stats.ready.store(true, Ordering::SeqCst);
    }

    fn rebuild(
        &mut self,
        kept: &BTreeSet<Partition>,
        added: &[Partition],
        shutdown: &watch::Receiver<Stop>,
    ) -> Result<()> {
        let started = Instant::now();
        // A fresh reader each time: nothing left over from an earlier read can mislead it.
        let reader = history::history_consumer(&self.config.kafka)?;
        let mut resume: Vec<(Partition, i64)> =
            history::resume_offsets(&*self.consumer, &reader, added, self.reset_to_earliest)
                .context("reading committed offsets")?;
        for p in kept {
            let at = self
                .taken
                .get(p)
                .or_else(|| self.next.get(p))
                .copied()
                .unwrap_or(0);
            resume.push((p.clone(), at));
        }
        let mut engine = Engine::new(&self.config);
        let mut end = HistoryEnd::default();
        let restored = self.start_from_snapshot(&reader, &mut resume, &mut engine, &mut end);
        let from_snapshot = restored.is_some();
        let ranges = match restored {
            Some(ranges) => ranges,
            None => history::rebuild_ranges(
                &self.config.kafka,
                &reader,
                &resume,
                self.config.kafka.rebuild_hours,
            )
            .context("finding where history starts")?,
        };
        for r in &ranges {
            tracing::debug!("history of {}: offsets {}..{}", r.at, r.start, r.end);
        }
        let found = started.elapsed();
        let stopping = || *shutdown.borrow() != Stop::Run;
        let (events, read, last) =
            read_history(&reader, &ranges, &self.config, &mut engine, end, &stopping)?;
        if let Some(m) = &self.observers.metrics {
            m.restored(read, started.elapsed().as_secs_f64());
        }
        if stopping() {
            tracing::info!("rebuild stopped by shutdown after {read} messages");
            return Ok(());
        }
        self.engine = engine;
        if let Some(m) = &self.observers.metrics {
            m.rebase(&self.engine);
        }
        if let Some(b) = &self.observers.board {
            b.reset_series();
        }
        self.max_ts = last.max_ts;
        self.last_release = Instant::now();
        for (p, end) in &resume {
            if !kept.contains(p) {
                self.next.insert(p.clone(), *end);
            }
            // The engine has everything before `end`, from history or a snapshot.
            self.taken.insert(p.clone(), *end);
        }
        let mut still_firing = 0;
        for alert in last.firing.values() {
            if self.delivery.send(alert) {
                still_firing += 1;
                LiveStats::add(&self.observers.stats.alerts_sent, 1);
            }
        }
        // Everything firing on what this process now owns: re-posted to Alertmanager even if
        // an earlier process delivered it; nothing else is re-posted or reminded of.
        let firing: Vec<Alert> = last.firing.values().cloned().collect();
        self.delivery.firing_set(&firing);
        let still = last.firing.len();
        self.end = last;
        self.delivery.flush();
        LiveStats::add(&self.observers.stats.rebuilds, 1);
        LiveStats::add(&self.observers.stats.rebuilt_events, events);
        LiveStats::add(
            &self.observers.stats.rebuild_ms,
            started.elapsed().as_millis() as u64,
        );
        let how = if from_snapshot {
            format!("restored from a snapshot and {events} events after it")
        } else {
            format!("rebuilt from {events} events of history")
        };
        tracing::info!(
            "{how} over {} partition(s) in {:.1} s ({:.1} s finding where to start); {still} condition(s) still firing, {still_firing} sent",
            ranges.len(),
            started.elapsed().as_secs_f64(),
            found.as_secs_f64(),
        );
        Ok(())
    }

    /// Shutdown: release what waits in the merge, flush alerts and dead letters, commit.
    pub(super) fn finish(&mut self) -> LiveSummary {
        self.release(true);
        self.delivery.flush();
        self.publish();
        self.dead.flush(Duration::from_secs(5));
        self.store_offsets();
        kafka::commit_stored(&*self.consumer);
        self.write_snapshot(true);
        LiveSummary {
            taken: LiveStats::get(&self.observers.stats.taken),
            events: LiveStats::get(&self.observers.stats.events),
            dead_lettered: LiveStats::get(&self.observers.stats.dead_lettered),
            alerts_sent: LiveStats::get(&self.observers.stats.alerts_sent),
            rebuilds: LiveStats::get(&self.observers.stats.rebuilds),
            late: self.engine.stats().late,
        }
    }
}
