//! The live path's helpers for the tests that run it against librdkafka's mock cluster:
//! alerts collected from a running `ondata::live::run`, replay's alerts to compare with,
//! clusters, bounded waits and committed offsets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use ondata::alert::Alert;
use ondata::config::Config;
use ondata::deliver::AlertSink;
use ondata::live::{self, LiveStats, LiveSummary, Stop};
use ondata::metrics::Metrics;
use ondata::replay::{replay, ReplayOptions};

pub const WAIT: Duration = Duration::from_secs(120);

/// Live tests of one process run one at a time: side by side on two cores, each with its
/// mock cluster, consumer group and producer, they took longer in all than one after the
/// other (180 s against 92 s for `tests/kafka.rs` here). Held for the whole test; a failed
/// test does not block the others.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Alerts as JSON lines, shared with the test.
#[derive(Clone, Default)]
pub struct Collected(pub Arc<Mutex<Vec<String>>>);

impl AlertSink for Collected {
    fn send(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.0.lock().unwrap().push(alert.to_json_line());
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Collected {
    pub fn sorted(&self) -> Vec<String> {
        let mut v = self.0.lock().unwrap().clone();
        v.sort();
        v
    }
}

/// A simulated stream, one event per line, ending with one quiet event ten minutes after the
/// last, so every bucket that holds the incident closes on event time in both paths alike.
pub fn replay_alerts(config: &Config, lines: &[Vec<u8>]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    for l in lines {
        f.write_all(l).unwrap();
        f.write_all(b"\n").unwrap();
    }
    drop(f);
    replay_file_alerts(config, &path)
}

pub fn replay_file_alerts(config: &Config, path: &std::path::Path) -> Vec<String> {
    let sink = Collected::default();
    let mut s = sink.clone();
    replay(
        config,
        &ReplayOptions {
            inputs: vec![path.display().to_string()],
            progress: false,
            observe: None,
            ..ReplayOptions::default()
        },
        &mut s,
        &mut std::io::sink(),
    )
    .expect("replay");
    sink.sorted()
}

/// What makes an alert the same alert: its transition, not its evidence.
pub fn identity(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    [
        "id",
        "kind",
        "status",
        "topic",
        "severity",
        "at",
        "started_at",
    ]
    .iter()
    .map(|k| v[k].to_string())
    .collect::<Vec<_>>()
    .join(" ")
}

pub fn config(brokers: &str, topic: &str, group: &str) -> Config {
    let mut c = Config::default();
    c.kafka.brokers = brokers.into();
    c.kafka.topics = vec![topic.into()];
    c.kafka.group_id = group.into();
    c.kafka.dead_letter_topic = format!("{topic}.dlq");
    // Simulated days are in 2020; history is measured on broker time, which is now.
    c.kafka.rebuild_hours = 24;
    // Snapshots on, as by default, in a folder per group (groups are unique per test).
    c.kafka.state_dir = state_root().display().to_string();
    c.http.listen = "127.0.0.1:0".into();
    c.alerts.sinks.clear();
    c
}

/// Where this test process keeps its live runs' snapshots: a folder per process under the
/// system temp dir. The first call removes the folders of test processes that have ended
/// (on Linux, where /proc says which are alive), so snapshots left by earlier runs do not
/// pile up (a run leaves at most its own).
pub fn state_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join("ondata-test-state");
        // Whether a process is alive is read from /proc: without it nothing is removed.
        let entries = Path::new("/proc/self")
            .exists()
            .then(|| std::fs::read_dir(&base));
        for entry in entries.into_iter().flatten().flatten().flatten() {
            let alive = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
                .is_some_and(|pid| Path::new("/proc").join(pid.to_string()).exists());
            if !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        base.join(std::process::id().to_string())
    })
}

pub fn earliest(mut c: Config) -> Config {
    c.kafka
        .client
        .insert("auto.offset.reset".into(), "earliest".into());
    c
}

pub struct Running {
    pub rt: tokio::runtime::Runtime,
    pub task: tokio::task::JoinHandle<ondata::error::Result<LiveSummary>>,
    pub stop: watch::Sender<Stop>,
    pub stats: Arc<LiveStats>,
    pub alerts: Collected,
}

pub fn start(config: Config, extra: Vec<Box<dyn AlertSink + Send>>) -> Running {
    start_observed(config, extra, None)
}

pub fn start_observed(
    config: Config,
    extra: Vec<Box<dyn AlertSink + Send>>,
    metrics: Option<Arc<Metrics>>,
) -> Running {
    // RUST_LOG=ondata=debug shows what the live path did.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let alerts = Collected::default();
    let mut sinks: Vec<Box<dyn AlertSink + Send>> = vec![Box::new(alerts.clone())];
    sinks.extend(extra);
    let stats = Arc::new(LiveStats::default());
    let (stop, stopped) = watch::channel(Stop::Run);
    let task = rt.spawn(live::run(
        config,
        sinks,
        live::Observers {
            stats: stats.clone(),
            metrics,
            board: None,
        },
        stopped,
        Duration::from_secs(20),
    ));
    Running {
        rt,
        task,
        stop,
        stats,
        alerts,
    }
}

impl Running {
    pub fn taken(&self) -> u64 {
        LiveStats::get(&self.stats.taken)
    }

    pub fn stop(self, how: Stop) -> LiveSummary {
        self.stop.send(how).unwrap();
        let summary = self.rt.block_on(self.task).unwrap().expect("live run");
        self.rt.shutdown_timeout(Duration::from_secs(5));
        summary
    }
}

/// The sum of the samples of `metrics` whose line starts with `prefix` (a name, or a name
/// with the start of its labels).
pub fn metric_sum(metrics: &Metrics, prefix: &str) -> f64 {
    metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Committed offsets of `group` on every partition of `topic`, and the partitions' ends.
pub fn committed_and_ends(
    brokers: &str,
    topic: &str,
    group: &str,
    partitions: i32,
) -> Vec<(i64, i64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    (0..partitions)
        .map(|p| {
            let off = match committed.find_partition(topic, p).unwrap().offset() {
                Offset::Offset(o) => o,
                _ => -1,
            };
            let (_, high) = c
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap();
            (off, high)
        })
        .collect()
}

/// A mock cluster that lives as long as the test process: a Kafka client of an earlier
/// test still closing must never find a later test's broker listening on its old port.
pub fn cluster(
    brokers: i32,
    topic: &str,
    partitions: i32,
) -> &'static MockCluster<'static, DefaultProducerContext> {
    let c = MockCluster::new(brokers).expect("mock cluster");
    c.create_topic(topic, partitions, 1).expect("topic");
    Box::leak(Box::new(c))
}
