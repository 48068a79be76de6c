//! ondata in its monitoring stack, against the real servers and tools: the HTTP API with a
//! real client, the shipped Prometheus rules and Grafana dashboard evaluated by the real
//! Prometheus scraping a live ondata, `promtool check metrics`, and the status page drawn by
//! headless Chromium.
//!
//! Prometheus and Chromium come from Debian's packages (`prometheus`, `chromium`), which
//! `.ci/run` installs: the tests that need them are ignored by a plain `cargo test` (listed
//! as such) and run with `cargo test -- --ignored`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kafka::unique;

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio::sync::watch;

use common::{free_port, tool, Killed};
use ondata::config::Config;
use ondata::deliver::NdjsonSink;
use ondata::event::parse_event;
use ondata::live::{self, LiveStats, Stop};
use ondata::metrics::Metrics;
use ondata::replay::{replay, Observe, ReplayOptions};
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::status::Board;

const DAY_MS: i64 = 86_400_000;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().expect("request");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

fn lines_of(stream: &[u8]) -> Vec<Vec<u8>> {
    stream
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A replay of `lines` served on a loopback port, as `replay --serve` does; the server
/// stops when the returned guard is dropped.
struct Served {
    base: String,
    stop: watch::Sender<Stop>,
    _rt: tokio::runtime::Runtime,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop.send(Stop::Drain);
    }
}

fn served_replay(lines: &[Vec<u8>]) -> Served {
    served_replay_with(&Config::default(), lines)
}

/// [`served_replay`] with `config`'s settings, its language and time zone on the page.
fn served_replay_with(config: &Config, lines: &[Vec<u8>]) -> Served {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let observe = Observe {
        metrics: Arc::new(Metrics::new()),
        board: Arc::new(Board::with_locale(
            ondata::render::Renderer::from_config(config).locale(),
        )),
    };
    let stats = Arc::new(LiveStats::default());
    stats.ready.store(true, Ordering::SeqCst);
    let (stop, stopped) = watch::channel(Stop::Run);
    let (addr, _) = rt
        .block_on(ondata::http::serve(
            "127.0.0.1:0",
            observe.metrics.clone(),
            observe.board.clone(),
            stats,
            ondata::http::Admin::disabled(),
            stopped,
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    for l in lines {
        f.write_all(l).unwrap();
        f.write_all(b"\n").unwrap();
    }
    drop(f);
    let mut sink = NdjsonSink::new(Vec::new());
    replay(
        config,
        &ReplayOptions {
            inputs: vec![path.display().to_string()],
            progress: false,
            observe: Some(observe),
            ..ReplayOptions::default()
        },
        &mut sink,
        &mut std::io::sink(),
    )
    .unwrap();
    Served {
        base: format!("http://{addr}"),
        stop,
        _rt: rt,
    }
}

/// The click day cut a few minutes into the troll campaign, so alerts are firing.
fn click_day_until_campaign() -> Vec<Vec<u8>> {
    let mut stream = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed: 1,
        days: 2,
        ..SimOptions::default()
    };
    let summary = simulate(&opts, &mut stream).unwrap();
    let campaign = summary
        .incidents
        .iter()
        .find(|i| i.kind == "troll_burst")
        .unwrap();
    let cut = campaign.start_ms + 6 * 60_000;
    lines_of(&stream)
        .into_iter()
        .filter(|l| parse_event(l, &Config::default().input).is_ok_and(|e| e.ts_ms < cut))
        .collect()
}

#[test]
fn http_endpoints_answer_with_a_real_client_and_refuse_bad_requests() {
    let served = served_replay(&click_day_until_campaign());
    let base = &served.base;

    let (status, body) = get(&format!("{base}/api/stream"));
    assert_eq!(status, 200, "{body}");
    let stream: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stream["mode"], "replay");
    assert!(stream["taken"].as_u64().unwrap() > 10_000);

    let (status, body) = get(&format!("{base}/api/alerts"));
    assert_eq!(status, 200);
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let firing = alerts["firing"].as_array().unwrap();
    let troll = firing
        .iter()
        .find(|a| a["kind"] == "troll_burst")
        .expect("the campaign fires a troll burst");
    assert!(troll["details"]["messages"].as_u64().unwrap() >= 10);
    assert!(!troll["samples"].as_array().unwrap().is_empty());

    let (status, body) = get(&format!("{base}/api/topics?limit=2&points=30"));
    assert_eq!(status, 200);
    let topics: serde_json::Value = serde_json::from_str(&body).unwrap();
    let topics = topics["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 2);
    let series = topics[0]["series"].as_array().unwrap();
    assert_eq!(series.len(), 30, "a served replay keeps the series whole");
    let topic = troll["topic"].as_str().unwrap();
    let (status, body) = get(&format!("{base}/api/topics?topic={topic}"));
    assert_eq!(status, 200);
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["topics"][0]["name"], topic);
    assert_eq!(
        one["topics"][0]["troll_bursts_firing"][0], troll["id"],
        "{body}"
    );

    let (status, body) = get(&format!("{base}/metrics"));
    assert_eq!(status, 200);
    assert!(body.contains("ondata_alerts_firing{kind=\"troll_burst\""));
    assert_eq!(get(&format!("{base}/healthz")).0, 200);
    assert_eq!(get(&format!("{base}/readyz")).0, 200);
    // `/` serves the status page itself (what it draws is the Chromium test's to check).
    let (status, page) = get(&format!("{base}/"));
    assert_eq!(status, 200);
    assert_eq!(page, include_str!("../src/status.html"), "the status page");

    // Bad requests: a 4xx with a reason, and the server carries on.
    for (path, code, reason) in [
        (
            "/api/topics?limit=abc",
            400,
            "`limit` must be a whole number",
        ),
        ("/api/topics?limit=0", 400, "`limit` must be a whole number"),
        ("/api/topics?points=99999999", 400, "`points`"),
        ("/api/topics?colour=blue", 400, "unknown parameter `colour`"),
        ("/api/alerts?limit=-1", 400, "`limit`"),
        ("/api/stream?x=1", 400, "unknown parameter `x`"),
        ("/api/topics?limit=%ZZ", 400, "bad request"),
        (
            "/api/topics?topic=no-such-topic",
            404,
            "no topic named `no-such-topic`",
        ),
        ("/api/nothing", 404, "not found: /api/nothing"),
        ("/../../etc/passwd", 404, "not found"),
    ] {
        let (status, body) = get(&format!("{base}{path}"));
        assert_eq!(status, code, "{path}: {body}");
        assert!(body.contains(reason), "{path}: {body}");
    }
    let mut r = agent()
        .post(&format!("{base}/api/topics"))
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("method not allowed"));
    assert_eq!(get(&format!("{base}/healthz")).0, 200, "still serving");
}

/// The page at `url` as headless Chromium leaves it after its scripts ran (5 s of virtual
/// time). With `ONDATA_SCREENSHOTS=DIR` set, it also saves `DIR/NAME.png` (the pictures in
/// the docs are made so).
fn chromium_dom_shot(url: &str, name: Option<&str>) -> String {
    let chromium = tool(&["chromium"], "chromium");
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--virtual-time-budget=5000",
                "--window-size=1280,2600",
            ])
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stderr(Stdio::null())
            .output()
            .expect("chromium runs")
    };
    if let (Ok(dir), Some(name)) = (std::env::var("ONDATA_SCREENSHOTS"), name) {
        let path = Path::new(&dir).join(format!("{name}.png"));
        let out = run(&[format!("--screenshot={}", path.display())]);
        assert!(out.status.success() && path.exists(), "screenshot {name}");
    }
    let out = run(&["--dump-dom".to_string()]);
    assert!(out.status.success(), "chromium exited with {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn chromium_dom(url: &str) -> String {
    chromium_dom_shot(url, Some("status-page"))
}

#[test]
#[ignore = "needs Debian's chromium; run with: cargo test -- --ignored"]
fn the_status_page_draws_charts_and_alerts_in_headless_chromium() {
    let served = served_replay(&click_day_until_campaign());
    let dom = chromium_dom(&format!("{}/", served.base));
    assert!(
        dom.contains("data-loaded=\"yes\""),
        "the page loaded its data"
    );
    // Volume and negativity drawn for the topics: paths with real coordinates.
    let drawn = |class: &str| {
        dom.split(&format!("class=\"{class}\" d=\"M"))
            .skip(1)
            .filter(|rest| {
                rest.split('"')
                    .next()
                    .is_some_and(|d| d.matches('L').count() >= 10)
            })
            .count()
    };
    assert!(drawn("volume") >= 5, "volume charts: {}", drawn("volume"));
    assert!(drawn("negativity") >= 5, "negativity charts");
    assert!(dom.contains("class=\"baseline\""));
    // The firing troll burst, with its evidence.
    assert!(
        dom.contains("card alert warning firing") || dom.contains("card alert critical firing")
    );
    assert!(
        dom.contains("near-identical messages from"),
        "troll evidence"
    );
    assert!(dom.contains("TROLL BURST"));
    assert!(
        dom.contains("id=\"error\"></span>"),
        "the page reports an error"
    );
}

/// The comms team's settings: Italian, Rome time, a public address for links.
fn italian_in_rome() -> Config {
    let mut config = Config::default();
    config.alerts.language = ondata::config::Language::It;
    config.display.timezone = "Europe/Rome".into();
    config.http.public_url = "https://ondata.example.org/".into();
    config
}

/// `2020-04-01 09:14 CEST` → (UTC milliseconds read as if the clock were UTC, zone).
fn shown_time(shown: &str) -> (i64, String) {
    let (clock, zone) = shown.rsplit_once(' ').expect("a zone after the time");
    let naive = chrono::NaiveDateTime::parse_from_str(clock, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("`{clock}`: {e}"));
    (naive.and_utc().timestamp_millis(), zone.to_string())
}

#[test]
fn the_api_writes_times_in_the_configured_zone_and_alerts_link_to_their_card() {
    let served = served_replay_with(&italian_in_rome(), &click_day_until_campaign());
    let base = &served.base;
    let (_, body) = get(&format!("{base}/api/stream"));
    let stream: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stream["language"], "it");
    assert_eq!(stream["timezone"], "Europe/Rome");
    // The click day is 1 April 2020: Italy is on summer time (CEST, UTC+2) since 29 March.
    let utc = ondata::event::parse_time_arg(stream["event_time"].as_str().unwrap()).unwrap();
    let (local, zone) = shown_time(stream["event_time_shown"].as_str().unwrap());
    assert_eq!(zone, "CEST");
    assert_eq!(local - utc, 2 * 3_600_000, "{stream}");

    let (_, body) = get(&format!("{base}/api/alerts"));
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let firing = alerts["firing"].as_array().unwrap();
    assert!(!firing.is_empty());
    for a in firing {
        let id = a["id"].as_str().unwrap();
        assert_eq!(
            a["url"],
            format!("https://ondata.example.org/#alert-{id}"),
            "{a}"
        );
        let utc = ondata::event::parse_time_arg(a["started_at"].as_str().unwrap()).unwrap();
        let utc = utc - utc.rem_euclid(60_000);
        let (local, zone) = shown_time(a["shown"]["started_at"].as_str().unwrap());
        assert_eq!((local - utc, zone.as_str()), (2 * 3_600_000, "CEST"));
    }
    let troll = firing.iter().find(|a| a["kind"] == "troll_burst").unwrap();
    assert!(
        troll["summary"].as_str().unwrap().contains("account"),
        "Italian summary: {troll}"
    );
    // What people say on each busy topic: phrases with their share.
    let (_, body) = get(&format!("{base}/api/topics?topic=bonus-600"));
    let topics: serde_json::Value = serde_json::from_str(&body).unwrap();
    let talk = topics["topics"][0]["talk"].as_array().unwrap();
    assert!(!talk.is_empty(), "{body}");
    assert!(talk
        .iter()
        .all(|p| p["share"].as_f64().unwrap() > 0.0 && !p["phrase"].as_str().unwrap().is_empty()));
    // The topic's own name is said by all its comments: not listed.
    assert!(talk.iter().all(|p| p["phrase"] != "bonus"), "{body}");
}

#[test]
#[ignore = "needs Debian's chromium; run with: cargo test -- --ignored"]
fn the_status_page_speaks_italian_in_rome_time_in_headless_chromium() {
    let served = served_replay_with(&italian_in_rome(), &click_day_until_campaign());
    let (_, body) = get(&format!("{}/api/alerts", served.base));
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let troll = alerts["firing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "troll_burst")
        .unwrap()
        .clone();
    let id = troll["id"].as_str().unwrap();
    let whole = chromium_dom_shot(&format!("{}/", served.base), Some("status-page-it"));
    assert!(whole.contains("Avvisi in corso"));
    // Opened from the alert's link, as a notification's reader does.
    let dom = chromium_dom_shot(&format!("{}/#alert-{id}", served.base), None);
    assert!(dom.contains("data-loaded=\"yes\""));
    assert!(
        dom.contains("<html lang=\"it\""),
        "the page says it is Italian"
    );
    for label in [
        "Avvisi in corso",
        "Argomenti",
        "Avvisi recenti",
        "ora degli eventi",
        "CAMPAGNA COORDINATA",
        "messaggi quasi identici da",
        "di cosa si parla",
        "commenti/min",
    ] {
        assert!(dom.contains(label), "no «{label}» on the page");
    }
    // The page's words for both languages are in its script: the rest must be Italian.
    let shown = dom.split("<script>").next().unwrap();
    for english in [
        "Firing alerts",
        "Recent alerts",
        "near-identical messages",
        "TROLL BURST",
    ] {
        assert!(!shown.contains(english), "«{english}» left in English");
    }
    // The alert's card, under the id its link names, with its start in Rome time.
    assert!(dom.contains(&format!("id=\"alert-{id}\"")));
    let utc = ondata::event::parse_time_arg(troll["started_at"].as_str().unwrap()).unwrap();
    let rome =
        chrono::DateTime::from_timestamp_millis(utc - utc.rem_euclid(60_000) + 2 * 3_600_000)
            .unwrap()
            .format("dal %Y-%m-%d %H:%M CEST")
            .to_string();
    assert!(dom.contains(&rome), "no «{rome}» on the page");
}

/// Every PromQL expression of the dashboard and of the rules file, ready to evaluate:
/// Grafana's variables replaced, and each alert's threshold comparison left out (its
/// left-hand side must have data; the comparison is what a healthy ondata keeps empty).
fn shipped_expressions(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("dashboards/ondata.json")).unwrap(),
    )
    .unwrap();
    let grafana = |e: &str| {
        e.replace("$__rate_interval", "1m")
            .replace("$__range", "5m")
            .replace("$topic", ".*")
    };
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            out.push((
                format!("dashboard panel \"{}\"", panel["title"].as_str().unwrap()),
                grafana(expr),
            ));
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            // label_values(metric, label) is Grafana's; Prometheus answers the same with:
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap();
            let (metric, label) = inner.split_once(',').unwrap();
            out.push((
                format!("dashboard variable {}", var["name"]),
                format!("group by ({}) ({})", label.trim(), metric.trim()),
            ));
        }
    }
    let rules = std::fs::read_to_string(root.join("prometheus/rules.yml")).unwrap();
    let mut kind = "";
    let mut name = String::new();
    let mut lines = rules.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("- record: ") {
            kind = "record";
            name = n.to_string();
        } else if let Some(n) = t.strip_prefix("- alert: ") {
            kind = "alert";
            name = n.to_string();
        } else if let Some(e) = t.strip_prefix("expr:") {
            let mut expr = e.trim().to_string();
            if expr == ">" {
                // A folded block: the lines indented deeper than `expr:`.
                expr.clear();
                let indent = line.len() - line.trim_start().len();
                while let Some(next) = lines.peek() {
                    if next.len() - next.trim_start().len() <= indent || next.trim().is_empty() {
                        break;
                    }
                    expr.push(' ');
                    expr.push_str(next.trim());
                    lines.next();
                }
            }
            if kind == "alert" {
                let cut = [" == ", " > ", " < ", " >= ", " <= ", " != "]
                    .iter()
                    .filter_map(|op| expr.find(op))
                    .min()
                    .unwrap();
                expr.truncate(cut);
            }
            out.push((format!("rule {name}"), expr.trim().to_string()));
        }
    }
    out
}

#[test]
#[ignore = "needs Debian's prometheus; run with: cargo test -- --ignored"]
fn prometheus_evaluates_every_dashboard_and_rule_expression_against_live_ondata() {
    let prometheus = tool(&["prometheus"], "prometheus");
    let promtool = tool(&["promtool"], "prometheus");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exprs = shipped_expressions(&root);
    assert!(exprs.len() >= 30, "{} expressions found", exprs.len());

    // A live ondata on the mock cluster, today's events (so the delay histogram is real).
    let topic = unique("comments");
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(&topic, 3, 1).unwrap();
    let brokers = mock.bootstrap_servers();
    let mut config = Config::default();
    config.kafka.brokers = brokers.clone();
    config.kafka.topics = vec![topic.clone()];
    config.kafka.group_id = unique("g");
    config.kafka.dead_letter_topic = format!("{topic}.dlq");
    config.kafka.rebuild_hours = 0;
    for (k, v) in [
        ("auto.offset.reset", "earliest"),
        ("statistics.interval.ms", "1000"),
    ] {
        config.kafka.client.insert(k.into(), v.into());
    }
    let dir = tempfile::tempdir().unwrap();
    // Snapshots in the test's folder, not the repository's.
    config.kafka.state_dir = dir.path().join("state").display().to_string();
    let alerts_file = dir.path().join("alerts.ndjson").display().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    let board = Arc::new(Board::new());
    let stats = Arc::new(LiveStats::default());
    let (stop, stopped) = watch::channel(Stop::Run);
    let (addr, _) = rt
        .block_on(ondata::http::serve(
            "127.0.0.1:0",
            metrics.clone(),
            board.clone(),
            stats.clone(),
            ondata::http::Admin::disabled(),
            stopped.clone(),
        ))
        .unwrap();
    let task = rt.spawn(live::run(
        config.clone(),
        vec![Box::new(ondata::deliver::file_sink(&alerts_file).unwrap())],
        live::Observers {
            stats: stats.clone(),
            metrics: Some(metrics),
            board: Some(board),
        },
        stopped,
        Duration::from_secs(20),
    ));

    // Prometheus scraping it every second, with the shipped rules.
    let prom_port = free_port();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: ondata\n    static_configs:\n      - targets: [\"{addr}\"]\n",
            root.join("prometheus/rules.yml").display()
        ),
    )
    .unwrap();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let prom = format!("http://127.0.0.1:{prom_port}");

    // Two days and the incident day, produced over about 15 s while Prometheus scrapes.
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / DAY_MS
        * DAY_MS;
    let mut raw = Vec::new();
    simulate(
        &SimOptions {
            scenario: Scenario::ClickDay,
            seed: 3,
            days: 2,
            // The incident day is yesterday: an event stamped ahead of the wall clock is
            // dead-lettered live, so no hour of the stream may lie in the future.
            start_ms: today - 3 * DAY_MS,
            ..SimOptions::default()
        },
        &mut raw,
    )
    .unwrap();
    let mut lines = lines_of(&raw);
    lines.push(b"{\"this is\": \"not an event\"}".to_vec());
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let chunks = 30;
    let per_chunk = lines.len().div_ceil(chunks);
    for chunk in lines.chunks(per_chunk) {
        for line in chunk {
            let key = parse_event(line, &config.input)
                .ok()
                .and_then(|e| e.topic.map(|t| t.into_owned()))
                .unwrap_or_default();
            let record = BaseRecord::to(&topic)
                .key(key.as_bytes())
                .payload(&line[..]);
            common::kafka::send(&producer, record);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while LiveStats::get(&stats.taken) < lines.len() as u64 {
        assert!(Instant::now() < deadline, "the stream was not taken");
        std::thread::sleep(Duration::from_millis(100));
    }

    // promtool lints the exposition ondata serves.
    let (_, exposition) = get(&format!("http://{addr}/metrics"));
    let mut lint = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    // Every expression returns data (rates need a few scrapes: retried for up to 60 s).
    let mut missing = exprs.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !missing.is_empty() && Instant::now() < deadline {
        missing.retain(|(_, expr)| {
            let mut r = match agent()
                .get(&format!("{prom}/api/v1/query"))
                .query("query", expr)
                .call()
            {
                Ok(r) => r,
                Err(_) => return true,
            };
            let body = r.body_mut().read_to_string().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if v["status"] == "error" {
                panic!("Prometheus refuses `{expr}`: {}", v["error"]);
            }
            v["data"]["result"].as_array().is_none_or(Vec::is_empty)
        });
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = stop.send(Stop::Drain);
    rt.block_on(task).unwrap().unwrap();
    assert!(
        missing.is_empty(),
        "no data from Prometheus for: {:#?}",
        missing
    );
}

/// Redeliveries and events stamped too far ahead are counted on /metrics.
#[test]
fn redeliveries_and_events_ahead_are_counted() {
    let config = ondata::Config::default();
    let mut engine = ondata::Engine::new(&config);
    let metrics = ondata::metrics::Metrics::new();
    let line =
        |ms: i64, id: &str| format!(r#"{{"ts":{ms},"id":"{id}","author":"a","text":"ciao"}}"#);
    let t0 = 1_585_728_000_000i64;
    let mut lines: Vec<String> = (0..20)
        .map(|i| line(t0 + i * 1000, &i.to_string()))
        .collect();
    lines.push(line(t0 + 21_000, "3"));
    lines.push(line(t0 + 21_000 + 86_400_000, "far"));
    for l in &lines {
        engine.ingest(&ondata::parse_event(l.as_bytes(), &config.input).unwrap());
    }
    engine.finish();
    metrics.observe(&engine);
    let text = metrics.render();
    assert!(text.contains("ondata_events_duplicate_total 1"), "{text}");
    assert!(text.contains("ondata_events_ahead_total 1"), "{text}");
}
