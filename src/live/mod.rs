//! The live path (`ondata run`, `ondata demo`): Kafka → engine → sinks, at least once.
//!
//! Two threads of control. The consumer task (tokio, `StreamConsumer`) copies messages out
//! of librdkafka and sends them through a bounded channel: when the engine falls behind, the
//! send waits and consumption pauses. The engine thread does all CPU work: parsing, the
//! event-time merge of partitions, detection, alert delivery, and storing offsets, each only
//! after the engine has taken that message, in order per partition.
//!
//! On every assignment the engine is rebuilt from Kafka itself: each assigned partition's
//! recent history (`kafka.rebuild_hours`, measured on broker timestamps) is read back up to
//! where live consumption resumes and fed to a fresh engine without sending its alerts;
//! conditions still firing at the end are sent once. Alerts are keyed by (id, status, at)
//! and never sent twice by one process; file sinks remember what an earlier process wrote.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Context as _, Error, Result};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, Role};
pub use crate::deliver::delivery::Delivery;
use crate::deliver::AlertSink;
use crate::metrics::Metrics;
use crate::source::kafka::{self, AssignmentState, LiveContext, OwnedMessage};
use crate::status::Board;

pub mod ingest;
mod processor;
pub mod snapshot;
use processor::{Processor, ToEngine};

/// Messages in flight between the consumer task and the engine thread.
const CHANNEL_CAPACITY: usize = 4096;
/// A partition that has sent nothing for this long, and whose end the broker confirms we
/// have reached (checked at most every `merge::IDLE_RECHECK`), no longer holds back the event-time
/// merge of the others. One with messages we have not received (its broker slow, down, or
/// reconnecting) holds it back for up to `STALLED_PARTITION`; after that its events may
/// come late, and are counted as such. 30 s: librdkafka reconnects within 10 s, and at real
/// speed 30 s of wall time is the allowed lateness.
const IDLE_PARTITION: Duration = Duration::from_millis(200);
const STALLED_PARTITION: Duration = Duration::from_secs(30);

/// What the caller asks of a running live path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Run,
    /// Graceful: drain what is buffered, flush alerts, commit offsets.
    Drain,
    /// As if the process died: nothing more is taken, flushed or committed.
    Abort,
}

/// Counters shared with the caller (tests, the demo, `/readyz`).
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Messages the engine has taken (parsed events and dead letters), offsets stored.
    pub taken: AtomicU64,
    pub events: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Messages skipped because the rebuild or an earlier take already covered them.
    pub skipped: AtomicU64,
    pub rebuilds: AtomicU64,
    pub rebuilt_events: AtomicU64,
    /// Wall time spent rebuilding, over all rebuilds.
    pub rebuild_ms: AtomicU64,
    pub alerts_sent: AtomicU64,
    pub alerts_suppressed: AtomicU64,
    /// Partitions assigned and the rebuild done.
    pub ready: AtomicBool,
}

impl LiveStats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What ran, for the closing summary.
#[derive(Debug, Default)]
pub struct LiveSummary {
    pub taken: u64,
    pub events: u64,
    pub dead_lettered: u64,
    pub alerts_sent: u64,
    pub rebuilds: u64,
    pub late: u64,
}

impl std::fmt::Display for LiveSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ondata run: {} messages taken ({} events, {} dead-lettered, {} late), {} alerts sent, {} rebuild(s)",
            self.taken, self.events, self.dead_lettered, self.late, self.alerts_sent, self.rebuilds
        )
    }
}
/// What a running live path reports to: counters for the caller, and optionally the
/// Prometheus metrics and the status board.
#[derive(Clone, Default)]
pub struct Observers {
    pub stats: Arc<LiveStats>,
    pub metrics: Option<Arc<Metrics>>,
    pub board: Option<Arc<Board>>,
}

/// Runs the live path until `shutdown` turns true; then drains, flushes and commits within
/// `grace`. `sinks` receive the alerts; `observers` are kept up to date. With
/// `kafka.repartition_partitions`, the stages `kafka.role` names: ingesting into the
/// internal topic, detecting from it, or both.
pub async fn run(
    config: Config,
    sinks: Vec<Box<dyn AlertSink + Send>>,
    observers: Observers,
    shutdown: watch::Receiver<Stop>,
    grace: Duration,
) -> Result<LiveSummary> {
    let role = config.kafka.role;
    if config.kafka.repartition_partitions == 0 && role != Role::All {
        return Err(Error::setting(
            "--role ingest and --role detect need kafka.repartition_partitions (the internal topic's partitions)",
        ));
    }
    crate::source::dead_letter::ensure_dead_letter_topic(&config.kafka).await?;
    if config.kafka.repartition_partitions == 0 {
        return detect(config, sinks, observers, shutdown, grace).await;
    }
    ingest::ensure_internal_topic(&config.kafka).await?;
    let ingesting = (role != Role::Detect).then(|| {
        tokio::spawn(ingest::run(
            config.clone(),
            observers.metrics.clone(),
            shutdown.clone(),
        ))
    });
    let summary = if role == Role::Ingest {
        observers.stats.ready.store(true, Ordering::SeqCst);
        let mut done = shutdown.clone();
        let _ = done.wait_for(|s| *s != Stop::Run).await;
        Ok(LiveSummary::default())
    } else {
        detect(
            ingest::detect_config(&config),
            sinks,
            observers,
            shutdown,
            grace,
        )
        .await
    };
    if let Some(task) = ingesting {
        match tokio::time::timeout(grace, task).await {
            Ok(Ok(Ok(s))) => tracing::info!(
                "ingested {} message(s) into {} record(s), {} dead-lettered",
                s.messages,
                s.records,
                s.dead_lettered
            ),
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(Error::failed(format!("the ingesting stage stopped: {e}"))),
            Err(_) => tracing::warn!("the ingesting stage took longer than {grace:?} to stop"),
        }
    }
    summary
}

/// The detecting path: consume, restore, detect, deliver.
async fn detect(
    config: Config,
    sinks: Vec<Box<dyn AlertSink + Send>>,
    observers: Observers,
    mut shutdown: watch::Receiver<Stop>,
    grace: Duration,
) -> Result<LiveSummary> {
    let subscribed = subscribe(&config, observers.metrics.clone())?;
    let (tx, rx) = mpsc::channel::<ToEngine>(CHANNEL_CAPACITY);
    let processor = Processor::new(
        config,
        subscribed.consumer.clone(),
        sinks,
        observers,
        subscribed.reset_to_earliest,
    )?;
    let engine_thread = spawn_engine(processor, rx, shutdown.clone())?;
    let closed = consume(&subscribed, &tx, &mut shutdown).await;
    if closed {
        tracing::error!("the engine thread stopped early");
    }
    if *shutdown.borrow() == Stop::Abort {
        subscribed.aborting.store(true, Ordering::SeqCst);
    }
    drop(tx);
    let summary = join_engine(engine_thread, grace).await?;
    let consumer = subscribed.consumer;
    let closing = tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    });
    if tokio::time::timeout(grace, closing).await.is_err() {
        tracing::warn!("closing the Kafka consumer took longer than {grace:?}");
    }
    Ok(summary)
}

/// The group consumer, subscribed, with what its context shares with the engine thread.
struct Subscribed {
    consumer: Arc<StreamConsumer<LiveContext>>,
    assignment: Arc<AssignmentState>,
    /// Set on an abort: the context then commits nothing on revoke.
    aborting: Arc<AtomicBool>,
    reset_to_earliest: bool,
}

fn subscribe(config: &Config, metrics: Option<Arc<Metrics>>) -> Result<Subscribed> {
    let assignment = Arc::new(AssignmentState::default());
    let aborting = Arc::new(AtomicBool::new(false));
    let consumer_cfg = kafka::consumer_config(&config.kafka)?;
    let reset_to_earliest = matches!(
        consumer_cfg.get("auto.offset.reset"),
        Some("earliest" | "smallest" | "beginning")
    );
    let consumer: Arc<StreamConsumer<LiveContext>> = Arc::new(
        consumer_cfg
            .create_with_context(LiveContext {
                assignment: assignment.clone(),
                aborting: aborting.clone(),
                metrics,
            })
            .context("cannot create the Kafka consumer (check [kafka] and [kafka.client])")?,
    );
    let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .with_context(|| format!("cannot subscribe to {topics:?}"))?;
    tracing::info!(
        "consuming {topics:?} from {} as group {}",
        config.kafka.brokers,
        config.kafka.group_id
    );
    Ok(Subscribed {
        consumer,
        assignment,
        aborting,
        reset_to_earliest,
    })
}

/// The engine thread: takes messages in batches, merges, detects, delivers, stores
/// offsets; returns the summary once the channel closes (None on an abort).
fn spawn_engine(
    mut processor: Processor,
    mut rx: mpsc::Receiver<ToEngine>,
    shutdown: watch::Receiver<Stop>,
) -> Result<std::thread::JoinHandle<Option<LiveSummary>>> {
    let handle = Handle::current();
    let thread = std::thread::Builder::new()
        .name("ondata-engine".into())
        .spawn(move || {
            let aborted = || *shutdown.borrow() == Stop::Abort;
            loop {
                if aborted() {
                    return None;
                }
                let got = handle.block_on(async {
                    tokio::time::timeout(Duration::from_millis(50), rx.recv()).await
                });
                match got {
                    Ok(Some(msg)) => {
                        processor.handle(msg, &shutdown);
                        // Take what else is queued before merging, up to a batch.
                        for _ in 0..512 {
                            match rx.try_recv() {
                                Ok(msg) => processor.handle(msg, &shutdown),
                                Err(_) => break,
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {}
                }
                processor.release(false);
                processor.idle_tick();
            }
            if aborted() {
                return None;
            }
            Some(processor.finish())
        })
        .context("cannot start the engine thread")?;
    Ok(thread)
}

/// The consumer task: copies messages out and reports assignment changes in order with
/// them, until `shutdown` asks to stop. True when the engine thread went away first.
///
/// It never stops polling: while the engine thread is busy (restoring state, say) and the
/// channel is full, what is received waits in a backlog and the assigned partitions are
/// paused, so the group keeps this member (`max.poll.interval.ms`) and rebalances are
/// served; they are resumed once the backlog is handed over.
async fn consume(
    subscribed: &Subscribed,
    tx: &mpsc::Sender<ToEngine>,
    shutdown: &mut watch::Receiver<Stop>,
) -> bool {
    let consumer = &subscribed.consumer;
    let mut generation = 0u64;
    let mut names: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut backoff = Duration::from_millis(100);
    let mut backlog: VecDeque<ToEngine> = VecDeque::new();
    // The generation of the assignment paused, if any.
    let mut paused: Option<u64> = None;
    loop {
        let (g, parts) = subscribed.assignment.snapshot();
        if g != generation {
            generation = g;
            backlog.push_back(ToEngine::Assigned(parts));
        }
        while let Some(next) = backlog.pop_front() {
            match tx.try_send(next) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(next)) => {
                    backlog.push_front(next);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return true,
            }
        }
        paused = pause_while_backlogged(consumer, !backlog.is_empty(), paused, generation);
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() != Stop::Run {
                    return false;
                }
            }
            _ = tick.tick() => {}
            permit = tx.reserve(), if !backlog.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(next) = backlog.pop_front() {
                        permit.send(next);
                    }
                }
                Err(_) => return true,
            },
            received = consumer.recv() => match received {
                Ok(m) => {
                    backoff = Duration::from_millis(100);
                    let (g, parts) = subscribed.assignment.snapshot();
                    if g != generation {
                        generation = g;
                        backlog.push_back(ToEngine::Assigned(parts));
                    }
                    let topic = names
                        .entry(m.topic().to_string())
                        .or_insert_with(|| Arc::from(m.topic()))
                        .clone();
                    let owned = OwnedMessage::from_message(&m, topic);
                    drop(m);
                    backlog.push_back(ToEngine::Message(owned));
                }
                Err(e) => {
                    // librdkafka reconnects and retries by itself; this only paces the log.
                    tracing::warn!("kafka: {e}");
                    if let Some(m) = &consumer.context().metrics {
                        m.kafka_error("fetch");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            },
        }
    }
}

/// Pauses the assignment (of generation `generation`) while `backlogged`, resumes it once
/// not; returns the generation now paused.
fn pause_while_backlogged(
    consumer: &StreamConsumer<LiveContext>,
    backlogged: bool,
    paused: Option<u64>,
    generation: u64,
) -> Option<u64> {
    match (backlogged, paused) {
        (true, Some(g)) if g == generation => return paused,
        (false, None) => return None,
        _ => {}
    }
    let assignment = match consumer.assignment() {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!("cannot read the assignment to pause or resume it: {e}");
            return paused;
        }
    };
    if backlogged {
        match consumer.pause(&assignment) {
            Ok(()) => {
                tracing::debug!("the engine is busy: fetching paused, polling goes on");
                Some(generation)
            }
            Err(e) => {
                tracing::debug!("cannot pause fetching: {e}");
                paused
            }
        }
    } else {
        match consumer.resume(&assignment) {
            Ok(()) => {
                tracing::debug!("fetching resumed");
                None
            }
            Err(e) => {
                tracing::debug!("cannot resume fetching: {e}");
                paused
            }
        }
    }
}

/// Waits up to `grace` for the engine thread to drain, flush and commit.
async fn join_engine(
    engine_thread: std::thread::JoinHandle<Option<LiveSummary>>,
    grace: Duration,
) -> Result<LiveSummary> {
    let joined = tokio::task::spawn_blocking(move || engine_thread.join());
    match tokio::time::timeout(grace, joined).await {
        Ok(Ok(Ok(Some(summary)))) => Ok(summary),
        Ok(Ok(Ok(None))) => Ok(LiveSummary::default()),
        Ok(Ok(Err(_))) => Err(Error::failed("the engine thread panicked")),
        Ok(Err(e)) => Err(Error::failed(format!(
            "the engine thread could not be joined: {e}"
        ))),
        Err(_) => Err(Error::failed(format!(
            "shutdown took longer than the {grace:?} grace period"
        ))),
    }
}
