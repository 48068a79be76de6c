//! Remote sinks deliver on a thread of their own, so a slow or failing receiver never holds
//! up the engine. The engine's side ([`WorkerSink`]) only queues the alert; the worker sends
//! each alert in order, retrying a failed delivery with exponential backoff and jitter until
//! it succeeds or the process stops, and counts each attempt in
//! `ondata_alert_deliveries_total{sink,outcome}`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Alert, AlertSink};
use crate::metrics::Metrics;

/// Alerts queued for one sink at most; beyond, the engine waits (alerts are rare: a full
/// queue means the receiver has been down for a long time).
const QUEUE: usize = 10_000;
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
    fn deliver(&mut self, alert: &Alert) -> Result<(), Failure>;
    /// Called about once a second when idle (Alertmanager re-sends what is firing).
    fn tick(&mut self) -> Result<(), Failure> {
        Ok(())
    }
}

enum Job {
    Alert(Box<Alert>),
    /// Answer once everything queued before it is delivered.
    Drained(mpsc::Sender<()>),
}

/// The engine's handle on a remote sink.
pub struct WorkerSink {
    name: String,
    tx: Option<SyncSender<Job>>,
    metrics: Arc<Mutex<Option<Arc<Metrics>>>>,
    /// Set at shutdown: the worker stops retrying.
    closing: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    /// How long `flush` (shutdown) waits for the queue to drain.
    drain: Duration,
}

impl WorkerSink {
    pub fn start(name: &str, transport: impl Transport) -> Self {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let metrics = Arc::new(Mutex::new(None));
        let closing = Arc::new(AtomicBool::new(false));
        let worker = {
            let metrics = metrics.clone();
            let closing = closing.clone();
            let name = name.to_string();
            std::thread::Builder::new()
                .name(format!("ondata-sink-{name}"))
                .spawn(move || work(&name, transport, rx, &metrics, &closing))
                .ok()
        };
        Self {
            name: name.to_string(),
            tx: Some(tx),
            metrics,
            closing,
            worker,
            drain: Duration::from_secs(5),
        }
    }

    /// Waits up to `timeout` for everything queued so far to be delivered; false if not.
    pub fn wait_delivered(&self, timeout: Duration) -> bool {
        let Some(tx) = &self.tx else { return true };
        let (done, wait) = mpsc::channel();
        if tx.send(Job::Drained(done)).is_err() {
            return false;
        }
        wait.recv_timeout(timeout).is_ok()
    }
}

impl AlertSink for WorkerSink {
    fn send(&mut self, alert: &Alert) -> std::io::Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(Job::Alert(Box::new(alert.clone())))
                .map_err(|_| std::io::Error::other(format!("sink {}: worker stopped", self.name))),
            None => Err(std::io::Error::other("sink closed")),
        }
    }

    /// Queued alerts are being delivered by the worker; a flush only waits (bounded) so a
    /// shutdown gives them their chance.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn reports_outcomes(&self) -> bool {
        true
    }

    fn attach_metrics(&mut self, metrics: Arc<Metrics>) {
        metrics.sink(&self.name);
        if let Ok(mut m) = self.metrics.lock() {
            *m = Some(metrics);
        }
    }
}

impl Drop for WorkerSink {
    fn drop(&mut self) {
        if !self.wait_delivered(self.drain) {
            tracing::warn!(
                "sink {}: alerts still undelivered after {:?} at shutdown",
                self.name,
                self.drain
            );
        }
        self.closing.store(true, Ordering::SeqCst);
        self.tx = None;
        if let Some(w) = self.worker.take() {
            // The worker ends when the queue closes, after its current attempt.
            let _ = w.join();
        }
    }
}

fn count(metrics: &Mutex<Option<Arc<Metrics>>>, name: &str, ok: bool) {
    if let Ok(m) = metrics.lock() {
        if let Some(m) = m.as_ref() {
            m.delivery(name, ok);
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

fn work(
    name: &str,
    mut transport: impl Transport,
    rx: Receiver<Job>,
    metrics: &Mutex<Option<Arc<Metrics>>>,
    closing: &AtomicBool,
) {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
        | 1;
    let mut last_tick = Instant::now();
    loop {
        let job = match rx.recv_timeout(TICK) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if last_tick.elapsed() >= TICK {
                    last_tick = Instant::now();
                    if let Err(f) = transport.tick() {
                        tracing::warn!("sink {name}: {}", f.reason);
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let alert = match job {
            Job::Alert(a) => a,
            Job::Drained(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let mut attempt = 0;
        loop {
            match transport.deliver(&alert) {
                Ok(()) => {
                    count(metrics, name, true);
                    break;
                }
                Err(f) => {
                    count(metrics, name, false);
                    if !f.retry || closing.load(Ordering::SeqCst) {
                        tracing::error!(
                            "sink {name}: alert {} ({}) not delivered: {}",
                            alert.id,
                            alert.status.as_str(),
                            f.reason
                        );
                        break;
                    }
                    let wait = backoff(attempt, &mut seed);
                    tracing::warn!(
                        "sink {name}: {} (attempt {}; retrying in {wait:?})",
                        f.reason,
                        attempt + 1
                    );
                    attempt += 1;
                    let until = Instant::now() + wait;
                    while Instant::now() < until && !closing.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50).min(wait));
                    }
                }
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
