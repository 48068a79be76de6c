//! Remote sinks deliver on a thread of their own, so a slow or failing receiver never holds
//! up the engine. The engine's side ([`WorkerSink`]) only queues the alert; the worker sends
//! each alert in order, retrying a failed delivery with exponential backoff and jitter until
//! it succeeds or the process stops, and counts each attempt in
//! `ondata_alert_deliveries_total{sink,outcome}`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::notify::{Gate, Group, Item, Notice, Out};
use super::outbox::{Key, Outbox, Pending};
use super::AlertSink;
use crate::alert::Alert;
use crate::metrics::Metrics;

mod durable;

/// Alerts queued in memory for one sink at most. Beyond, an alert waits in the sink's
/// outbox (on disk; only its sequence number stays in memory) until the worker catches up,
/// so a receiver that is down or slow never holds up the engine.
const QUEUE: usize = 1024;
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(30);
/// How often the worker wakes with nothing to send (for `Transport::tick`).
const TICK: Duration = Duration::from_secs(1);

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    pub retry: bool,
}

impl Failure {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: true,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: false,
        }
    }
}

/// One way of getting an alert somewhere: an HTTP receiver, Alertmanager, a Kafka topic.
pub trait Transport: Send + 'static {
    fn deliver(&mut self, notice: &Notice) -> Result<(), Failure>;
    /// Called about once a second when idle (Alertmanager re-sends what is firing).
    fn tick(&mut self) -> Result<(), Failure> {
        Ok(())
    }

    /// What is firing now on everything this process owns (after a start or a rebalance):
    /// a transport that keeps alerts alive takes these and no others.
    fn firing_set(&mut self, _firing: &[Alert]) {}
}

enum Job {
    Alert {
        alert: Box<Alert>,
        seq: Option<u64>,
        group: Option<Group>,
    },
    /// Answer once everything queued before it is delivered; `flush` first sends what noise
    /// control holds (groups, the overflow summary), as at shutdown.
    Drained { done: mpsc::Sender<()>, flush: bool },
    /// Everything firing that this process owns now.
    Firing(Vec<Alert>),
}

/// A job that did not fit in the queue.
enum Spilled {
    /// In the outbox under this sequence number.
    Stored(u64),
    /// Not in an outbox (none, or it could not be written): kept in memory.
    Held(Job),
}

/// What the engine's handle and the worker share.
struct Shared {
    name: String,
    metrics: Mutex<Option<Arc<Metrics>>>,
    /// Set at shutdown: the worker stops retrying.
    closing: AtomicBool,
    outbox: Option<Mutex<Outbox>>,
    /// Jobs behind a full queue, in order. While it is not empty every new job joins it, so
    /// alerts keep their order; the worker takes from it when the queue is empty.
    overflow: Mutex<std::collections::VecDeque<Spilled>>,
}

impl Shared {
    /// The next job behind the queue, if any.
    fn take_spilled(&self) -> Option<Job> {
        loop {
            let next = self
                .overflow
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()?;
            match next {
                Spilled::Held(job) => return Some(job),
                Spilled::Stored(seq) => {
                    let pending = self
                        .outbox
                        .as_ref()
                        .and_then(|ob| ob.lock().unwrap_or_else(|p| p.into_inner()).pending(seq));
                    match pending {
                        Some(p) => {
                            return Some(Job::Alert {
                                alert: Box::new(p.alert),
                                seq: Some(p.seq),
                                group: p.group,
                            })
                        }
                        None => tracing::error!(
                            "sink {}: alert {seq} is no longer in the outbox; skipped",
                            self.name
                        ),
                    }
                }
            }
        }
    }

    fn metrics(&self) -> Option<Arc<Metrics>> {
        self.metrics.lock().ok().and_then(|m| m.clone())
    }

    fn done(&self, seqs: &[u64]) {
        if let Some(outbox) = &self.outbox {
            let mut ob = outbox.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = ob.done(seqs) {
                tracing::error!("sink {}: outbox: {e}", self.name);
            }
            if let Some(m) = self.metrics() {
                m.outbox(&self.name, ob.outstanding());
            }
        }
    }
}

/// The engine's handle on a remote sink.
pub struct WorkerSink {
    shared: Arc<Shared>,
    tx: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<()>>,
    /// How long `flush` (shutdown) waits for the queue to drain.
    drain: Duration,
    known: Vec<Key>,
    /// Alerts whose outbox line could not be written (oldest first), written again before
    /// any newer one. They were queued from memory.
    unwritten: Vec<(Alert, Option<Group>)>,
}

impl WorkerSink {
    /// A sink that sends every alert, with no outbox (alerts queued in memory only).
    pub fn start(name: &str, transport: impl Transport) -> Self {
        Self::start_with(name, transport, None, None)
    }

    /// A sink with an outbox (whose pending alerts go first) and, for sinks that notify
    /// people, noise control.
    pub fn start_with(
        name: &str,
        transport: impl Transport,
        outbox: Option<(Outbox, Vec<Pending>)>,
        gate: Option<Gate>,
    ) -> Self {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let (outbox, pending) = match outbox {
            Some((ob, pending)) => (Some(ob), pending),
            None => (None, Vec::new()),
        };
        let known = outbox.as_ref().map(Outbox::known).unwrap_or_default();
        if !pending.is_empty() {
            tracing::info!(
                "sink {name}: {} alerts from the outbox to deliver first",
                pending.len()
            );
        }
        let shared = Arc::new(Shared {
            name: name.to_string(),
            metrics: Mutex::new(None),
            closing: AtomicBool::new(false),
            outbox: outbox.map(Mutex::new),
            overflow: Mutex::new(std::collections::VecDeque::new()),
        });
        let backlog = pending
            .into_iter()
            .map(|p| Job::Alert {
                alert: Box::new(p.alert),
                seq: Some(p.seq),
                group: p.group,
            })
            .collect();
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("ondata-sink-{name}"))
                .spawn(move || work(transport, rx, backlog, &shared, gate))
                .ok()
        };
        Self {
            shared,
            tx: Some(tx),
            worker,
            drain: Duration::from_secs(5),
            known,
            unwritten: Vec::new(),
        }
    }

    /// Waits up to `timeout` for everything queued so far to be delivered; false if not.
    pub fn wait_delivered(&self, timeout: Duration) -> bool {
        self.wait(timeout, false)
    }

    fn wait(&self, timeout: Duration, flush: bool) -> bool {
        let (done, wait) = mpsc::channel();
        if self.enqueue(Job::Drained { done, flush }).is_err() {
            return false;
        }
        wait.recv_timeout(timeout).is_ok()
    }

    /// Queues `job` for the worker without waiting: behind a full queue it joins the
    /// overflow (an alert in the outbox as its sequence number only).
    fn enqueue(&self, job: Job) -> std::io::Result<()> {
        let name = &self.shared.name;
        let Some(tx) = &self.tx else {
            return Err(std::io::Error::other(format!("sink {name}: closed")));
        };
        let mut overflow = self
            .shared
            .overflow
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let job = if overflow.is_empty() {
            match tx.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => {
                    return Err(std::io::Error::other(format!(
                        "sink {name}: worker stopped"
                    )))
                }
                Err(TrySendError::Full(job)) => {
                    tracing::warn!(
                        "sink {name}: {QUEUE} alerts queued for a receiver that is down or slow; more wait in the outbox"
                    );
                    job
                }
            }
        } else {
            job
        };
        overflow.push_back(match job {
            Job::Alert { seq: Some(seq), .. } => Spilled::Stored(seq),
            job => Spilled::Held(job),
        });
        Ok(())
    }
}

impl AlertSink for WorkerSink {
    fn send(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.send_routed(alert, None)
    }

    fn send_routed(&mut self, alert: &Alert, group: Option<&Group>) -> std::io::Result<()> {
        let mut failed = None;
        let seq = match &self.shared.outbox {
            None => None,
            Some(_) => {
                self.write_unwritten();
                if self.unwritten.is_empty() {
                    match self.outbox_add(alert, group) {
                        Ok(seq) => Some(seq),
                        Err(e) => {
                            failed = Some(e);
                            None
                        }
                    }
                } else {
                    None
                }
            }
        };
        if self.shared.outbox.is_some() && seq.is_none() {
            // Delivered from memory; the line is written when the disk lets us.
            self.unwritten.push((alert.clone(), group.cloned()));
            self.report_unwritten(failed.as_ref());
        }
        // Queued: the failure is the outbox's, reported there and in `unwritten`.
        self.enqueue(Job::Alert {
            alert: Box::new(alert.clone()),
            seq,
            group: group.cloned(),
        })
    }

    fn unwritten(&self) -> usize {
        self.unwritten.len()
    }

    fn firing_set(&mut self, firing: &[Alert]) {
        if let Err(e) = self.enqueue(Job::Firing(firing.to_vec())) {
            tracing::warn!("{e}");
        }
    }

    /// Queued alerts are being delivered by the worker; a flush writes what the outbox
    /// could not take before and syncs it (as `alerts.outbox_fsync` says).
    fn flush(&mut self) -> std::io::Result<()> {
        if self.shared.outbox.is_none() {
            return Ok(());
        }
        self.write_unwritten();
        if let Some(ob) = &self.shared.outbox {
            ob.lock().unwrap_or_else(|p| p.into_inner()).sync()?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        &self.shared.name
    }

    fn reports_outcomes(&self) -> bool {
        true
    }

    fn attach_metrics(&mut self, metrics: Arc<Metrics>) {
        metrics.sink(&self.shared.name);
        if let Some(ob) = &self.shared.outbox {
            let pending = ob.lock().map_or(0, |o| o.outstanding());
            metrics.outbox(&self.shared.name, pending);
            metrics.outbox_unwritten(&self.shared.name, self.unwritten.len());
        }
        if let Ok(mut m) = self.shared.metrics.lock() {
            *m = Some(metrics);
        }
    }

    fn take_delivered(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.known)
    }
}

impl Drop for WorkerSink {
    fn drop(&mut self) {
        let name = &self.shared.name;
        if !self.wait(self.drain, true) {
            match self.shared.outbox.as_ref() {
                Some(_) => tracing::warn!(
                    "sink {name}: alerts still undelivered after {:?} at shutdown; they stay in the outbox for the next start",
                    self.drain
                ),
                None => tracing::warn!(
                    "sink {name}: alerts still undelivered after {:?} at shutdown",
                    self.drain
                ),
            }
        }
        self.shared.closing.store(true, Ordering::SeqCst);
        self.tx = None;
        if let Some(w) = self.worker.take() {
            // The worker ends when the queue closes, after its current attempt.
            let _ = w.join();
        }
    }
}

/// Exponential backoff with ±25 % jitter, so many instances do not retry in step.
pub fn backoff(attempt: u32, seed: &mut u64) -> Duration {
    let base = FIRST_RETRY
        .saturating_mul(1u32 << attempt.min(16))
        .min(LONGEST_RETRY);
    // xorshift64: jitter needs no more randomness than this.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let unit = (*seed >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(0.75 + 0.5 * unit)
}

/// How a delivery ended.
enum Ended {
    Delivered,
    /// Refused for good (a 4xx): retrying cannot help.
    Refused,
    /// Still failing when the process stopped: it stays in the outbox.
    Abandoned,
}

fn deliver(
    transport: &mut impl Transport,
    notice: &Notice,
    shared: &Shared,
    seed: &mut u64,
) -> Ended {
    let name = &shared.name;
    let mut attempt = 0;
    loop {
        let result = transport.deliver(notice);
        if let Some(m) = shared.metrics() {
            m.delivery(name, result.is_ok());
        }
        let f = match result {
            Ok(()) => return Ended::Delivered,
            Err(f) => f,
        };
        let what = match notice {
            Notice::Alert(a) | Notice::Reminder(a) => {
                format!("alert {} ({})", a.id, a.status.as_str())
            }
            Notice::Group { alerts, .. } => format!("a group of {} alerts", alerts.len()),
            Notice::Overflow { alerts, .. } => {
                format!("the summary of {} held-back alerts", alerts.len())
            }
        };
        if !f.retry {
            tracing::error!("sink {name}: {what} refused: {}", f.reason);
            return Ended::Refused;
        }
        if shared.closing.load(Ordering::SeqCst) {
            tracing::error!(
                "sink {name}: {what} not delivered at shutdown: {}",
                f.reason
            );
            return Ended::Abandoned;
        }
        let wait = backoff(attempt, seed);
        tracing::warn!(
            "sink {name}: {} (attempt {}; retrying in {wait:?})",
            f.reason,
            attempt + 1
        );
        attempt += 1;
        let until = Instant::now() + wait;
        while Instant::now() < until && !shared.closing.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50).min(wait));
        }
    }
}

fn work(
    mut transport: impl Transport,
    rx: Receiver<Job>,
    mut backlog: std::collections::VecDeque<Job>,
    shared: &Shared,
    mut gate: Option<Gate>,
) {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
        | 1;
    let mut last_tick = Instant::now();
    loop {
        let wait = gate
            .as_ref()
            .map_or(TICK, |g| Duration::from_millis(g.next_due_ms() as u64));
        // The outbox's backlog first, then the queue, then what overflowed it.
        let job = match backlog.pop_front() {
            Some(job) => Some(job),
            None => match rx.try_recv() {
                Ok(job) => Some(job),
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => match shared.take_spilled() {
                    Some(job) => Some(job),
                    None => match rx.recv_timeout(wait) {
                        Ok(job) => Some(job),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    },
                },
            },
        };
        let mut outs = Vec::new();
        let mut answer = None;
        match job {
            Some(Job::Alert { alert, seq, group }) => match gate.as_mut() {
                Some(g) => outs = g.offer(Item { seq, alert: *alert }, group.as_ref()),
                None => outs.push(Out::Deliver {
                    notice: Box::new(Notice::Alert(*alert)),
                    seqs: seq.into_iter().collect(),
                }),
            },
            Some(Job::Drained { done, flush }) => {
                if let (true, Some(g)) = (flush, gate.as_mut()) {
                    outs = g.flush();
                }
                answer = Some(done);
            }
            Some(Job::Firing(firing)) => {
                if let Some(g) = gate.as_mut() {
                    g.firing_set(&firing);
                }
                transport.firing_set(&firing);
            }
            None => {}
        }
        if let Some(g) = gate.as_mut() {
            outs.extend(g.tick());
        }
        for out in outs {
            match out {
                Out::Deliver { notice, seqs } => {
                    match deliver(&mut transport, &notice, shared, &mut seed) {
                        Ended::Delivered => {
                            if let Some(g) = gate.as_mut() {
                                g.delivered(&notice);
                            }
                            shared.done(&seqs);
                        }
                        Ended::Refused => shared.done(&seqs),
                        Ended::Abandoned => {}
                    }
                }
                Out::Suppressed { alert, seq, reason } => {
                    tracing::info!(
                        "sink {}: alert {} ({}) not notified: {}",
                        shared.name,
                        alert.id,
                        alert.status.as_str(),
                        reason.as_str()
                    );
                    if let Some(m) = shared.metrics() {
                        m.suppressed(&shared.name, reason.as_str());
                    }
                    shared.done(&seq.into_iter().collect::<Vec<_>>());
                }
                Out::Limited => {
                    if let Some(m) = shared.metrics() {
                        m.suppressed(&shared.name, "rate_limited");
                    }
                }
            }
        }
        if let Some(done) = answer {
            let _ = done.send(());
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            if let Err(f) = transport.tick() {
                tracing::warn!("sink {}: {}", shared.name, f.reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter() {
        let mut seed = 42;
        let first = backoff(0, &mut seed);
        assert!(first >= FIRST_RETRY.mul_f64(0.75) && first <= FIRST_RETRY.mul_f64(1.25));
        let late: Vec<Duration> = (0..50).map(|_| backoff(30, &mut seed)).collect();
        assert!(late.iter().all(|d| *d <= LONGEST_RETRY.mul_f64(1.25)));
        assert!(late.iter().all(|d| *d >= LONGEST_RETRY.mul_f64(0.75)));
        let distinct: std::collections::BTreeSet<u128> =
            late.iter().map(Duration::as_millis).collect();
        assert!(distinct.len() > 10, "jitter spreads the retries");
    }
}
