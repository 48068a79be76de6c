//! Live-path benchmark against librdkafka's mock cluster (a real Kafka-protocol broker in
//! process), running the same `ondata::live::run` as `ondata run`.
//!
//! 1. Throughput: the simulated click day's ordinary days are produced to a 3-partition
//!    topic first; a consumer then starts from the beginning and the time to take them all
//!    gives events/s through parse, event-time merge, detection and offset storing.
//! 2. Latency: with the consumer caught up, the incident day is produced at `--speed` times
//!    real time. Each alert's latency runs from the moment its triggering message was handed
//!    to the producer to the moment the alert reached ondata's sink. The triggering message
//!    is found by running the same events through an engine offline (the live path gives
//!    replay's alerts, `tests/kafka.rs`): the event whose ingestion emitted the alert.
//! 3. Rebuild: a second consumer in the same group starts after a graceful stop and reads
//!    the topic's history back up to the committed offsets; the time until it is ready.
//!
//! cargo run --release --example live_bench -- [--scale 10] [--speed 480] [--seed 1]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio::sync::watch;

use ondata::alert::Alert;
use ondata::config::Config;
use ondata::deliver::AlertSink;
use ondata::engine::Engine;
use ondata::event::{parse_event, Event};
use ondata::live::{self, LiveStats, LiveSummary, Stop};
use ondata::metrics::Metrics;
use ondata::simulate::{simulate, Scenario, SimOptions, DEFAULT_START_MS};

const DAY_MS: i64 = 86_400_000;
const TOPIC: &str = "comments";
/// No phase of the benchmark waits longer than this for the consumer.
const PHASE_LIMIT: Duration = Duration::from_secs(600);
/// How far the producer may run ahead of the consumer in the throughput phase.
const IN_FLIGHT: u64 = 20_000;

type Key = (String, String, String);

fn key(alert: &Alert) -> Key {
    (
        alert.id.clone(),
        format!("{:?}", alert.status),
        alert.at.clone(),
    )
}

/// Records when each alert reached the sink.
#[derive(Clone, Default)]
struct Timed(Arc<Mutex<Vec<(Key, Instant)>>>);

impl AlertSink for Timed {
    fn send(&mut self, alert: &Alert) -> std::io::Result<()> {
        let now = Instant::now();
        self.0.lock().unwrap().push((key(alert), now));
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Args {
    scale: f64,
    speed: f64,
    seed: u64,
}

fn args() -> Result<Args> {
    let mut a = Args {
        scale: 10.0,
        speed: 480.0,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--scale" => a.scale = value.parse().context("--scale: a number")?,
            "--speed" => a.speed = value.parse().context("--speed: a number")?,
            "--seed" => a.seed = value.parse().context("--seed: an integer")?,
            _ => bail!("unknown argument {flag} (use --scale, --speed, --seed)"),
        }
    }
    if !(a.scale > 0.0 && a.speed > 0.0) {
        bail!("--scale and --speed must be positive");
    }
    Ok(a)
}

fn producer(brokers: &str) -> Result<ThreadedProducer<DefaultProducerContext>> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()
        .context("producer")
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, line: &[u8], topic_key: &str) {
    let mut record = BaseRecord::to(TOPIC).key(topic_key).payload(line);
    while let Err((_, r)) = p.send(record) {
        record = r;
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + PHASE_LIMIT;
    while !done() {
        if Instant::now() > deadline {
            bail!("gave up waiting for {what} after {PHASE_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

struct Running {
    stop: watch::Sender<Stop>,
    task: tokio::task::JoinHandle<ondata::error::Result<LiveSummary>>,
    stats: Arc<LiveStats>,
    metrics: Arc<Metrics>,
}

/// The sum of a metric's series.
fn metric(m: &Metrics, prefix: &str) -> f64 {
    m.render()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn start(rt: &tokio::runtime::Runtime, config: &Config, sink: &Timed) -> Running {
    let stats = Arc::new(LiveStats::default());
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = watch::channel(Stop::Run);
    let task = rt.spawn(live::run(
        config.clone(),
        vec![Box::new(sink.clone())],
        live::Observers {
            stats: stats.clone(),
            metrics: Some(metrics.clone()),
            board: None,
        },
        stopped,
        Duration::from_secs(30),
    ));
    Running {
        stop,
        task,
        stats,
        metrics,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() -> Result<()> {
    let args = args()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config0 = Config::default();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed: args.seed,
        scale: args.scale,
        ..SimOptions::default()
    };
    let mut raw = Vec::new();
    simulate(&opts, &mut raw)?;
    let incident_day = DEFAULT_START_MS + i64::from(opts.days) * DAY_MS;
    let mut lines: Vec<(&[u8], Event)> = Vec::new();
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(e) = parse_event(line, &config0.input) {
            lines.push((line, e));
        }
    }
    let split = lines.partition_point(|(_, e)| e.ts_ms < incident_day);
    let incident = lines.len() - split;

    // The triggering event of every alert, from an offline engine.
    let mut trigger: HashMap<Key, usize> = HashMap::new();
    let mut engine = Engine::new(&config0);
    let mut alerts = Vec::new();
    for (i, (_, e)) in lines.iter().enumerate() {
        alerts.clear();
        engine.ingest_into(e, &mut alerts);
        for a in &alerts {
            trigger.entry(key(a)).or_insert(i);
        }
    }
    println!(
        "live benchmark: click day, scale {}, seed {}: {} ordinary-day events, {} incident-day events at {}x",
        args.scale, args.seed, split, incident, args.speed
    );

    let cluster = MockCluster::new(1).context("mock cluster")?;
    cluster.create_topic(TOPIC, 3, 1).context("create topic")?;
    let brokers = cluster.bootstrap_servers();
    let mut config = Config::default();
    config.kafka.brokers = brokers.clone();
    config.kafka.topics = vec![TOPIC.into()];
    config.kafka.group_id = "live-bench".into();
    config.kafka.dead_letter_topic = format!("{TOPIC}.dlq");
    config
        .kafka
        .client
        .insert("auto.offset.reset".into(), "earliest".into());
    // After the last member leaves, the mock group coordinator waits the session timeout
    // (less 1 s) before it lets a new member in; a real broker does not.
    config
        .kafka
        .client
        .insert("session.timeout.ms".into(), "6000".into());
    let state = tempfile::tempdir()?;
    config.kafka.state_dir = state.path().display().to_string();
    if let Ok(d) = std::env::var("BENCH_KAFKA_DEBUG") {
        config.kafka.client.insert("debug".into(), d);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // 1. Throughput: the ordinary days as fast as the consumer takes them. The mock broker
    // keeps about 5 MB a partition (older segments are deleted), so the producer stays at
    // most `IN_FLIGHT` messages ahead instead of filling the topic first.
    let p = producer(&brokers)?;
    let sink = Timed::default();
    let run = start(&rt, &config, &sink);
    wait_for("the consumer's assignment", || {
        run.stats.ready.load(Ordering::SeqCst)
    })?;
    let t = Instant::now();
    for (n, (line, e)) in lines[..split].iter().enumerate() {
        send(&p, line, e.topic.as_deref().unwrap_or(""));
        if n % 256 == 0 {
            wait_for("the consumer", || {
                (n as u64).saturating_sub(LiveStats::get(&run.stats.taken)) <= IN_FLIGHT
            })?;
        }
    }
    p.flush(Duration::from_secs(60)).context("flush")?;
    wait_for("the ordinary days", || {
        LiveStats::get(&run.stats.taken) >= split as u64
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "throughput: {split} messages produced and taken in {secs:.2} s: {:.0} events/s",
        split as f64 / secs
    );

    // 2. Latency at the incident's pace.
    let started = Instant::now();
    let from = lines[split].1.ts_ms;
    let mut sent_at: Vec<Option<Instant>> = vec![None; lines.len()];
    let mut behind = Duration::ZERO;
    // When the engine's count of taken messages moved, sampled every millisecond: the
    // merge releases in event-time order, which is the order produced, so message `i` was
    // taken when the count first reached `i + 1`.
    let total = lines.len() as u64;
    let poller = {
        let stats = run.stats.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut last = 0;
            let deadline = Instant::now() + PHASE_LIMIT;
            while last < total && Instant::now() < deadline {
                let now = LiveStats::get(&stats.taken);
                if now != last {
                    seen.push((now, Instant::now()));
                    last = now;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            seen
        })
    };
    for (i, (line, e)) in lines.iter().enumerate().skip(split) {
        let due = Duration::from_secs_f64(((e.ts_ms - from) as f64 / 1000.0 / args.speed).max(0.0));
        let now = started.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            behind = behind.max(now - due);
        }
        sent_at[i] = Some(Instant::now());
        send(&p, line, e.topic.as_deref().unwrap_or(""));
    }
    p.flush(Duration::from_secs(60)).context("flush")?;
    wait_for("the incident day", || {
        LiveStats::get(&run.stats.taken) >= lines.len() as u64
    })?;
    let seen = poller.join().expect("poller");
    let mut taken_after: Vec<f64> = (split..lines.len())
        .filter_map(|i| {
            let k = seen.partition_point(|(n, _)| *n < i as u64 + 1);
            let (_, at) = seen.get(k)?;
            Some(at.checked_duration_since(sent_at[i]?)?.as_secs_f64() * 1000.0)
        })
        .collect();
    taken_after.sort_by(f64::total_cmp);
    // The last buckets close by the idle clock: give them a moment.
    std::thread::sleep(Duration::from_secs(2));
    let _ = run.stop.send(Stop::Drain);
    let summary = rt.block_on(run.task)??;
    let snapshot_bytes = metric(&run.metrics, "ondata_snapshot_bytes");
    let snapshot_secs = metric(&run.metrics, "ondata_snapshot_seconds");
    println!(
        "incident day produced in {:.1} s (the producer fell behind its schedule by at most {} ms)",
        started.elapsed().as_secs_f64(),
        behind.as_millis()
    );
    println!("{summary}");

    let received = sink.0.lock().unwrap().clone();
    let mut latencies = Vec::new();
    let mut early = 0;
    let mut unmatched = 0;
    for (k, at) in &received {
        let Some(&i) = trigger.get(k) else {
            unmatched += 1;
            continue;
        };
        let Some(sent) = sent_at[i] else { continue };
        match at.checked_duration_since(sent) {
            Some(d) => latencies.push(d.as_secs_f64() * 1000.0),
            None => early += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "latency, triggering message produced -> alert at the sink, {} incident-day alerts: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms{}{}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        if early > 0 { format!(" ({early} fired by the idle clock before their trigger)") } else { String::new() },
        if unmatched > 0 { format!(" ({unmatched} alerts not in the offline run)") } else { String::new() },
    );

    println!(
        "latency, message produced -> taken by the engine (sampled every 1 ms), {} incident-day messages: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        taken_after.len(),
        percentile(&taken_after, 0.5),
        percentile(&taken_after, 0.99),
        taken_after.last().copied().unwrap_or(f64::NAN),
    );

    // 3. Restart: a new process in the same group, after the graceful stop committed and
    // wrote its snapshot.
    let history = LiveStats::get(&run.stats.taken);
    let sink2 = Timed::default();
    let restarted = Instant::now();
    let run2 = start(&rt, &config, &sink2);
    wait_for("the restart", || {
        LiveStats::get(&run2.stats.rebuilds) > 0 && run2.stats.ready.load(Ordering::SeqCst)
    })?;
    println!(
        "restart from a snapshot: ready {:.2} s after the start (the mock group's hand-over included), restore {:.2} s, {} messages read back of {history} consumed; the snapshot was {:.1} MB, written in {:.0} ms",
        restarted.elapsed().as_secs_f64(),
        metric(&run2.metrics, "ondata_restore_seconds"),
        metric(&run2.metrics, "ondata_restore_messages_total"),
        snapshot_bytes / 1e6,
        snapshot_secs * 1000.0
    );
    let _ = run2.stop.send(Stop::Drain);
    rt.block_on(run2.task)??;

    // 4. Rebuild: the same without snapshots.
    config.kafka.snapshot_secs = 0;
    let sink2 = Timed::default();
    let run2 = start(&rt, &config, &sink2);
    wait_for("the rebuild", || {
        LiveStats::get(&run2.stats.rebuilds) > 0 && run2.stats.ready.load(Ordering::SeqCst)
    })?;
    let secs = LiveStats::get(&run2.stats.rebuild_ms) as f64 / 1000.0;
    let rebuilt = LiveStats::get(&run2.stats.rebuilt_events);
    println!(
        "rebuild: {rebuilt} events of history (what the mock broker retains) read back and replayed in {secs:.2} s: {:.0} events/s",
        rebuilt as f64 / secs
    );
    let _ = run2.stop.send(Stop::Drain);
    rt.block_on(run2.task)??;
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}
