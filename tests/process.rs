//! The `ondata` binary as a process, against a Kafka-protocol broker in this test process
//! (librdkafka's mock cluster, on loopback): killed with SIGKILL mid-stream and started again,
//! and checked for secrets in everything it shows. When the tests run as root (as CI does)
//! the processes run as `nobody` (through `setpriv`), so they also show that ondata needs no
//! privilege. Every wait is bounded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use serde_json::Value;

use common::kafka::{produce, stream, unique};
use common::{free_port, runtime, wait_until, Killed};
use ondata::config::Config;
use ondata::metrics::Metrics;
use ondata::replay::{replay, Observe, ReplayOptions};
use ondata::simulate::Scenario;
use ondata::status::Board;

const BIN: &str = env!("CARGO_BIN_EXE_ondata");
const WAIT: Duration = Duration::from_secs(120);
const WEBHOOK_KEY: &str = "T0WEBHOOK-k3y-4c1d";
const KAFKA_PASSWORD: &str = "kafka-pa55word-9f2e";
const ADMIN_TOKEN: &str = "adm1n-t0ken-77ab";

/// Whether this process runs as root (then ondata is started as `nobody`).
fn as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `ondata ARGS`, as `nobody` when the test runs as root.
fn ondata(args: &[&str]) -> Command {
    if as_root() && Path::new("/usr/bin/setpriv").exists() {
        let mut c = Command::new("/usr/bin/setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
        ]);
        c.args(args);
        c
    } else {
        let mut c = Command::new(BIN);
        c.args(args);
        c
    }
}

/// The effective uid of a running process.
fn uid_of(child: &Child) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// A webhook receiver that fails (503) while `failing` is set, else records the bodies.
#[derive(Clone, Default)]
struct Hook {
    failing: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

async fn receive(State(h): State<Hook>, body: String) -> StatusCode {
    if h.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match serde_json::from_str(&body) {
        Ok(v) => {
            h.bodies.lock().unwrap().push(v);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

fn start_hook(rt: &tokio::runtime::Runtime, hook: &Hook) -> SocketAddr {
    let app = Router::new()
        .route("/services/{key}", post(receive))
        .with_state(hook.clone());
    common::serve(rt, app)
}

/// One test's world: a broker with the stream in its topic, a webhook, a directory.
struct World {
    _mock: MockCluster<'static, DefaultProducerContext>,
    dir: tempfile::TempDir,
    config_path: String,
    config_text: String,
    lines: Vec<Vec<u8>>,
    hook: Hook,
    hook_addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

impl World {
    fn new(scenario: Scenario, days: u32, seed: u64) -> Self {
        let topic = unique("comments");
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic(&topic, 3, 1).expect("topic");
        let brokers = mock.bootstrap_servers();
        let lines = stream(scenario, days, seed);
        produce(&brokers, &topic, &lines);
        let rt = runtime();
        let hook = Hook::default();
        let hook_addr = start_hook(&rt, &hook);
        let dir = tempfile::tempdir().unwrap();
        // The processes may run as nobody: the directory is theirs to write.
        let _ = Command::new("chmod")
            .args(["0777", &dir.path().display().to_string()])
            .status();
        let d = dir.path().display();
        let config_text = format!(
            r#"[kafka]
brokers = "{brokers}"
topics = ["{topic}"]
group_id = "{group}"
dead_letter_topic = "{topic}.dlq"
rebuild_hours = 48
state_dir = "{d}/state"
snapshot_secs = 1
[kafka.client]
"auto.offset.reset" = "earliest"
# A killed member holds its partitions until its session times out (45 s by default).
"session.timeout.ms" = "6000"
"sasl.password" = "env:TEST_KAFKA_PASSWORD"
[http]
listen = "127.0.0.1:{port}"
[alerts]
outbox_dir = "{d}/outbox"
[[alerts.sinks]]
type = "file"
path = "{d}/alerts.ndjson"
[[alerts.sinks]]
type = "webhook"
url = "env:TEST_WEBHOOK_URL"
rate_limit_per_min = 0
timeout_ms = 2000
"#,
            group = unique("g"),
            port = free_port(),
        );
        let config_path = format!("{d}/ondata.toml");
        std::fs::write(&config_path, &config_text).unwrap();
        Self {
            _mock: mock,
            dir,
            config_path,
            config_text,
            lines,
            hook,
            hook_addr,
            _rt: rt,
        }
    }

    fn webhook_url(&self) -> String {
        format!("http://{}/services/{WEBHOOK_KEY}", self.hook_addr)
    }

    fn env(&self, c: &mut Command) {
        c.env("TEST_WEBHOOK_URL", self.webhook_url())
            .env("TEST_KAFKA_PASSWORD", KAFKA_PASSWORD)
            .env("ONDATA_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1");
    }

    fn config(&self) -> Config {
        Config::from_toml_with_env(&self.config_text, "test", []).unwrap()
    }

    fn http(&self) -> String {
        self.config().http.listen
    }

    /// `ondata run`, its stderr collected in a file of the directory.
    fn run(&self, name: &str) -> (Killed, String) {
        let log = self.dir.path().join(format!("{name}.log"));
        let mut c = ondata(&["run", "--config", &self.config_path]);
        self.env(&mut c);
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start ondata");
        (Killed(child), log.display().to_string())
    }

    /// Alerts a replay of the stream gives (the live runs must match them), and the comments
    /// (all, negative) its windows hold per topic, keyword topics included.
    fn expected(&self) -> (Vec<Value>, BTreeMap<String, (u64, u64)>) {
        let path = self.dir.path().join("stream.ndjson");
        let mut f = std::fs::File::create(&path).unwrap();
        for l in &self.lines {
            f.write_all(l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let mut out = Vec::new();
        let board = Arc::new(Board::new());
        replay(
            &self.config(),
            &ReplayOptions {
                inputs: vec![path.display().to_string()],
                progress: false,
                observe: Some(Observe {
                    metrics: Arc::new(Metrics::new()),
                    board: board.clone(),
                }),
                ..ReplayOptions::default()
            },
            &mut ondata::deliver::NdjsonSink::new(&mut out),
            &mut std::io::sink(),
        )
        .expect("replay");
        let alerts = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let board = serde_json::to_value(board.topics(None, 10_000, 1)).unwrap();
        (alerts, per_topic(&board))
    }
}

fn http_get(base: &str, path: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut r = agent.get(format!("http://{base}{path}")).call().ok()?;
    r.body_mut().read_to_string().ok()
}

/// (comments, negative comments) per topic in `/api/topics`'s answer.
fn per_topic(topics: &Value) -> BTreeMap<String, (u64, u64)> {
    topics
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let t = &t["topic"];
            let n = |k: &str| t[k].as_u64().unwrap_or(0);
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                (n("events"), n("negative")),
            )
        })
        .collect()
}

/// What the windows of the process serving `base` hold, per topic.
fn windows(base: &str) -> BTreeMap<String, (u64, u64)> {
    let body = http_get(base, "/api/topics?limit=10000&points=1").unwrap_or_default();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    per_topic(&v["topics"])
}

/// The samples of the exposition `text` whose line starts with `prefix`, by series.
fn samples(text: &str, prefix: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse::<f64>().ok()?))
        })
        .collect()
}

/// The sum of a metric's samples whose line starts with `prefix`.
fn metric(base: &str, prefix: &str) -> f64 {
    samples(&http_get(base, "/metrics").unwrap_or_default(), prefix)
        .values()
        .sum()
}

/// What a notifying sink must send of `records` (in the order raised): each incident's first
/// record and, once all its episodes have resolved, the resolution of the last.
fn must_notify(records: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut open: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in records {
        let incident = r["incident"].as_str().unwrap_or_default().to_string();
        let id = r["id"].as_str().unwrap_or_default().to_string();
        if r["status"] == "firing" {
            let episodes = open.entry(incident).or_default();
            if episodes.is_empty() {
                out.insert(key(r));
            }
            episodes.insert(id);
        } else if let Some(episodes) = open.get_mut(&incident) {
            episodes.remove(&id);
            if episodes.is_empty() {
                out.insert(key(r));
                open.remove(&incident);
            }
        }
    }
    out
}

/// (id, status, at) of an alert record.
fn key(v: &Value) -> (String, String, String) {
    (
        v["id"].as_str().unwrap_or_default().to_string(),
        v["status"].as_str().unwrap_or_default().to_string(),
        v["at"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits (bounded) until `cond` is Ok; on timeout fails with its last word and the log.
fn wait_logged(what: &str, log: &str, mut cond: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let last = match cond() {
            Ok(()) => return,
            Err(e) => e,
        };
        if std::time::Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().filter(|l| !l.contains("DEBUG")).collect();
            panic!(
                "timed out waiting for {what}: {last}; log:\n{}",
                tail[tail.len().saturating_sub(40)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm_and_wait(child: &mut Killed) -> i32 {
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    for _ in 0..600 {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("ondata did not stop within 30 s of SIGTERM");
}

#[test]
fn killed_mid_stream_and_restarted_nothing_is_missing_or_notified_twice() {
    let world = World::new(Scenario::ClickDay, 2, 5);
    let (expected, held) = world.expected();
    let total = held.values().map(|c| c.0).sum::<u64>() as f64;
    assert!(expected.len() >= 4, "the scenario fires: {expected:?}");
    let http = world.http();

    // First process: the webhook is down, so alerts wait in the outbox; killed (SIGKILL)
    // half-way through the stream with some of them pending.
    world.hook.failing.store(true, Ordering::SeqCst);
    let (mut first, first_log) = world.run("first");
    wait_logged(
        "half the stream taken and an alert pending",
        &first_log,
        || {
            let taken = metric(&http, "ondata_events_total{");
            let pending = metric(&http, "ondata_alert_outbox_pending{");
            let snapshot = metric(&http, "ondata_snapshot_bytes");
            (taken >= total / 2.0 && pending >= 1.0 && snapshot > 0.0)
                .then_some(())
                .ok_or(format!(
                    "taken {taken} of {total}, {pending} pending, snapshot of {snapshot} bytes"
                ))
        },
    );
    if as_root() {
        assert_eq!(uid_of(&first.0), Some(65534), "runs as nobody");
    }
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    let pending_at_kill: BTreeSet<_> =
        std::fs::read_to_string(world.dir.path().join("alerts.ndjson"))
            .unwrap()
            .lines()
            .map(|l| key(&serde_json::from_str(l).unwrap()))
            .collect();
    assert!(!pending_at_kill.is_empty());

    // The receiver is back; a second process takes over the group and the outbox.
    world.hook.failing.store(false, Ordering::SeqCst);
    let (mut second, second_log) = world.run("second");
    wait_logged("the whole stream in the windows", &second_log, || {
        let now = windows(&http);
        let taken = now.values().map(|c| c.0).sum::<u64>() as f64;
        (taken >= total)
            .then_some(())
            .ok_or(format!("windows hold {taken} of {total}"))
    });
    // The webhook tells people once per incident and then only what changes it; whatever
    // the restart, each incident's first record and its end must reach them.
    let must = must_notify(&expected);
    wait_logged("the outbox delivered", &second_log, || {
        let pending = metric(&http, "ondata_alert_outbox_pending{");
        let got: BTreeSet<_> = world.hook.bodies.lock().unwrap().iter().map(key).collect();
        let missing = must.difference(&got).count();
        (pending == 0.0 && missing == 0)
            .then_some(())
            .ok_or(format!(
                "{pending} pending, {missing} of {} incident messages missing",
                must.len()
            ))
    });
    std::thread::sleep(Duration::from_millis(1500));
    // Nothing missing from the windows and nothing counted twice: the rebuilt history and
    // the events taken live are the stream, once.
    assert_eq!(
        windows(&http),
        held,
        "comments per topic, as in one uninterrupted replay"
    );
    assert_eq!(metric(&http, "ondata_events_late_total"), 0.0);
    assert_eq!(metric(&http, "ondata_events_ahead_total"), 0.0);
    assert_eq!(sigterm_and_wait(&mut second), 0, "a clean stop");

    // The alert file holds each alert once: those of an uninterrupted run.
    let written = std::fs::read_to_string(world.dir.path().join("alerts.ndjson")).unwrap();
    let in_file: Vec<_> = written
        .lines()
        .map(|l| key(&serde_json::from_str(l).unwrap()))
        .collect();
    let distinct: BTreeSet<_> = in_file.iter().cloned().collect();
    assert_eq!(distinct.len(), in_file.len(), "an alert written twice");
    let want: BTreeSet<_> = expected.iter().map(key).collect();
    assert_eq!(distinct, want);
    // The webhook told of every incident (its first record and its end), only of records
    // the stream raised, and of none twice.
    let bodies = world.hook.bodies.lock().unwrap().clone();
    let mut seen = BTreeMap::new();
    for b in &bodies {
        *seen.entry(key(b)).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "notified twice: {twice:?}");
    let got: BTreeSet<_> = seen.keys().cloned().collect();
    assert!(got.is_subset(&want), "{got:?} not all in {want:?}");
    assert!(must.is_subset(&got), "{must:?} not all in {got:?}");
    assert!(pending_at_kill.is_subset(&want));
    let second_text = std::fs::read_to_string(&second_log).unwrap();
    // The windows above came from the first process's last snapshot and the messages after it.
    assert!(
        second_text.contains("state snapshot of") && second_text.contains("loaded"),
        "the second process starts from the first one's snapshot:\n{second_text}"
    );
    assert!(
        second_text.contains("from the outbox"),
        "the second process says it delivers the outbox first:\n{second_text}"
    );
}

#[test]
fn no_secret_appears_in_logs_api_check_config_or_alerts() {
    let world = World::new(Scenario::TrollWave, 1, 12);
    let total = world.expected().1.values().map(|c| c.0).sum::<u64>() as f64;
    let http = world.http();
    // The receiver fails throughout: its URL is in every retry's log line.
    world.hook.failing.store(true, Ordering::SeqCst);
    let (mut proc_, log) = world.run("run");
    wait_until("the stream taken and an alert retried", WAIT, || {
        metric(&http, "ondata_events_total{") >= total
            && metric(&http, "ondata_alert_deliveries_total{outcome=\"error\"") >= 2.0
    });
    let mut shown = String::new();
    for path in [
        "/",
        "/metrics",
        "/api/topics",
        "/api/alerts",
        "/api/stream",
        "/healthz",
    ] {
        let body = http_get(&http, path).unwrap_or_default();
        assert!(!body.is_empty(), "{path} answered");
        shown.push_str(&body);
    }
    // The admin API itself, with the token.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(format!("http://{http}/api/silences"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    shown.push_str(&r.body_mut().read_to_string().unwrap());
    assert_eq!(sigterm_and_wait(&mut proc_), 0);
    let mut logged = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    assert!(
        logged.contains(&format!("http://{}/…", world.hook_addr)),
        "the log names the receiver by host:\n{logged}"
    );
    let alerts = std::fs::read_to_string(world.dir.path().join("alerts.ndjson")).unwrap();
    assert!(!alerts.is_empty(), "the scenario fires");
    let outbox: String = std::fs::read_dir(world.dir.path().join("outbox"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();

    // check-config of a file that breaks the rule and holds secrets itself.
    let careless = world
        .config_text
        .replace(
            "\"auto.offset.reset\"",
            &format!("\"ssl.key.password\" = \"{KAFKA_PASSWORD}\"\n\"auto.offset.reset\""),
        )
        .replace("env:TEST_WEBHOOK_URL", &world.webhook_url());
    let careless_path = world.dir.path().join("careless.toml");
    std::fs::write(&careless_path, careless).unwrap();
    let mut c = ondata(&["check-config", &careless_path.display().to_string()]);
    world.env(&mut c);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("<redacted>"), "{printed}");

    for (what, text) in [
        ("the log", &logged),
        ("HTTP", &shown),
        ("the alert file", &alerts),
        ("the outbox", &outbox),
        ("check-config", &printed),
    ] {
        for secret in [WEBHOOK_KEY, KAFKA_PASSWORD, ADMIN_TOKEN] {
            assert!(!text.contains(secret), "{what} shows a secret ({secret})");
        }
    }
}

#[test]
fn the_tls_and_sasl_example_is_accepted_by_librdkafka_and_shows_no_secret() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/examples/kafka-sasl-ssl.toml"
    );
    let secret_url = format!("https://hooks.slack.com/services/T000/B000/{WEBHOOK_KEY}");
    let mut c = ondata(&["check-config", path]);
    c.env("KAFKA_PASSWORD", KAFKA_PASSWORD)
        .env("ONDATA_WEBHOOK_URL", &secret_url);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(r#""security.protocol" = "sasl_ssl""#),
        "{printed}"
    );
    assert!(!printed.contains(KAFKA_PASSWORD) && !printed.contains(WEBHOOK_KEY));

    // librdkafka takes every property (TLS and SCRAM are built in), the password from the
    // environment; the brokers are pointed at a closed loopback port.
    let text = std::fs::read_to_string(path).unwrap();
    let mut config = Config::from_toml_with_env(
        &text,
        path,
        [(
            "ONDATA__KAFKA__BROKERS".to_string(),
            "127.0.0.1:9".to_string(),
        )],
    )
    .unwrap();
    if !Path::new(&config.kafka.client["ssl.ca.location"]).exists() {
        config.kafka.client.remove("ssl.ca.location");
    }
    // A variable that is not set is named in the error; then the password itself.
    let mut props = config.kafka.clone();
    props.client.insert(
        "sasl.password".into(),
        "env:ONDATA_TEST_EXAMPLE_PASSWORD".into(),
    );
    let missing = ondata::source::kafka::consumer_config(&props).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("ONDATA_TEST_EXAMPLE_PASSWORD is not set"),
        "{missing:#}"
    );
    props
        .client
        .insert("sasl.password".into(), KAFKA_PASSWORD.into());
    let consumer: Result<rdkafka::consumer::BaseConsumer, _> =
        ondata::source::kafka::consumer_config(&props)
            .unwrap()
            .create();
    assert!(consumer.is_ok(), "{:?}", consumer.err());
}
