//! Noise control and "nothing lost", end to end through the sinks `[alerts]` configures:
//! the outbox across a restart of ondata, a storm of 500 alerts against a rate limit, and
//! silences through the HTTP admin API, with a manual clock where time matters.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use common::{runtime, wait_until};
use ondata::alert::{Alert, AlertStatus, Severity};
use ondata::config::{Config, SinkConfig, SinkKind};
use ondata::deliver::clock::Clock;
use ondata::deliver::delivery::{Delivery, Router as Routes};
use ondata::deliver::silence::Silences;
use ondata::deliver::sinks_from_config;
use ondata::live::{LiveStats, Stop};
use ondata::metrics::Metrics;
use ondata::status::Board;

/// A webhook receiver on a loopback port: keeps every body it is sent.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
}

impl Receiver {
    fn bodies(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, body: String) -> StatusCode {
    r.requests.fetch_add(1, Ordering::SeqCst);
    r.got
        .lock()
        .unwrap()
        .push(serde_json::from_str(&body).unwrap_or(Value::Null));
    StatusCode::OK
}

fn listen(rt: &tokio::runtime::Runtime, r: &Receiver, addr: &str) -> SocketAddr {
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    addr
}

fn webhook(url: String, rate_limit_per_min: u32) -> SinkConfig {
    let mut s = SinkConfig::new(SinkKind::Webhook);
    s.url = Some(url);
    s.rate_limit_per_min = Some(rate_limit_per_min);
    s
}

fn file(path: &str) -> SinkConfig {
    let mut s = SinkConfig::new(SinkKind::File);
    s.path = Some(path.to_string());
    s
}

const T0: i64 = 1_763_800_000_000;

fn delivery(config: &Config, silences: Option<Arc<Silences>>) -> (Delivery, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let sinks = sinks_from_config(config, false, silences).unwrap();
    let d = Delivery::new(sinks)
        .routed(Routes::from_config(&config.alerts))
        .observed(Some(metrics.clone()), None);
    (d, metrics)
}

/// A counter of `/metrics` text, by its full series name.
fn sample(metrics: &Metrics, series: &str) -> f64 {
    metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_receiver_down_gets_every_alert_after_ondata_restarts() {
    let rt = runtime();
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.alerts.outbox_dir = dir.path().join("outbox").display().to_string();
    config.alerts.sinks = vec![webhook(format!("http://127.0.0.1:{port}/hook"), 0)];
    let alerts: Vec<Alert> = (0..6)
        .map(|i| {
            let status = if i % 2 == 0 {
                AlertStatus::Firing
            } else {
                AlertStatus::Resolved
            };
            Alert::example(
                &format!("{:016x}", i / 2),
                "bonus-600",
                status,
                Severity::Warning,
                T0 + i * 60_000,
            )
        })
        .collect();

    // First process: the receiver is down; at shutdown the alerts stay in the outbox.
    let (mut first, _) = delivery(&config, None);
    for a in &alerts {
        assert!(first.send(a));
    }
    drop(first);

    // The receiver comes up; a new process delivers the outbox, in order, once, even when
    // the rebuild hands it the same alerts again.
    let r = Receiver::default();
    listen(&rt, &r, &format!("127.0.0.1:{port}"));
    let (mut second, metrics) = delivery(&config, None);
    for a in &alerts {
        assert!(!second.send(a), "already in the outbox: not queued again");
    }
    wait_until("the outbox delivered", Duration::from_secs(20), || {
        r.bodies().len() >= alerts.len()
    });
    drop(second);
    let got: Vec<(String, String)> = r
        .bodies()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let sent: Vec<(String, String)> = alerts
        .iter()
        .map(|a| (a.id.clone(), a.status.as_str().to_string()))
        .collect();
    assert_eq!(got, sent, "every alert, once, in order");
    assert_eq!(
        sample(&metrics, "ondata_alert_outbox_pending{sink=\"webhook\"}"),
        0.0
    );

    // A third start has nothing left to send.
    let (third, _) = delivery(&config, None);
    drop(third);
    assert_eq!(r.requests.load(Ordering::SeqCst), alerts.len());
}

#[test]
fn a_storm_of_500_alerts_gives_the_limit_plus_summaries_and_the_file_keeps_all() {
    let rt = runtime();
    let r = Receiver::default();
    let addr = listen(&rt, &r, "127.0.0.1:0");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("alerts.ndjson").display().to_string();
    let mut config = Config::default();
    config.alerts.outbox_dir = dir.path().join("outbox").display().to_string();
    config.alerts.summary_interval_mins = 5;
    config.alerts.sinks = vec![file(&log), webhook(format!("http://{addr}/hook"), 10)];
    let clock = Clock::manual(T0);
    let silences = Arc::new(Silences::in_memory(clock.clone()));
    let (mut d, metrics) = delivery(&config, Some(silences));

    // 500 transitions inside one minute: 250 episodes on 50 topics fire, half of them fire
    // again (same episode, later), the other half resolve.
    let mut storm = Vec::new();
    for e in 0..250 {
        let topic = format!("topic-{}", e % 50);
        let id = format!("{e:016x}");
        storm.push(Alert::example(
            &id,
            &topic,
            AlertStatus::Firing,
            Severity::Warning,
            T0 + e,
        ));
        let status = if e % 2 == 0 {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        storm.push(Alert::example(
            &id,
            &topic,
            status,
            Severity::Warning,
            T0 + 1_000 + e,
        ));
    }
    for a in &storm {
        assert!(d.send(a));
        clock.advance(Duration::from_millis(100)); // 500 × 0.1 s = 50 s
    }
    let handled = |m: &Metrics| {
        sample(
            m,
            "ondata_alert_deliveries_total{outcome=\"ok\",sink=\"webhook\"}",
        ) + sample(
            m,
            "ondata_alert_notifications_suppressed_total{reason=\"repeat\",sink=\"webhook\"}",
        ) + sample(
            m,
            "ondata_alert_notifications_suppressed_total{reason=\"rate_limited\",sink=\"webhook\"}",
        )
    };
    wait_until(
        "the worker to take the storm",
        Duration::from_secs(30),
        || handled(&metrics) >= 500.0,
    );
    let notified = r.bodies().len();
    assert!(
        (5..=10).contains(&notified),
        "{notified} notifications within the minute, limit 10"
    );
    // Five minutes after the first held-back alert, one summary lists the rest.
    clock.advance(Duration::from_secs(5 * 60));
    wait_until("the overflow summary", Duration::from_secs(10), || {
        r.bodies().len() > notified
    });
    drop(d);
    let bodies = r.bodies();
    let summaries: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["type"] == "suppressed")
        .collect();
    assert_eq!(summaries.len(), 1, "one summary per interval");
    let listed = summaries[0]["count"].as_u64().unwrap() as usize;
    let text = summaries[0]["summary"].as_str().unwrap();
    // The clock jumped 5 minutes after a storm of 50 s: the summary covers 5 or 6 minutes.
    assert!(
        ["5", "6"].iter().any(|m| text.starts_with(&format!(
            "{listed} more alerts suppressed in the last {m} minutes. This channel gets at most 10 notifications a minute."
        ))),
        "{text}"
    );
    assert_eq!(summaries[0]["alerts"].as_array().unwrap().len(), listed);
    let repeats = sample(
        &metrics,
        "ondata_alert_notifications_suppressed_total{reason=\"repeat\",sink=\"webhook\"}",
    ) as usize;
    eprintln!("storm: {notified} notifications, {listed} in the summary, {repeats} repeats");
    assert_eq!(
        notified + listed + repeats,
        500,
        "each alert notified, listed in a summary, or a repeat of a notified episode"
    );
    // The file sink records everything.
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(written.lines().count(), 500);
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut r = match (method, body) {
        ("POST", Some(b)) => {
            let mut req = agent.post(url).header("content-type", "application/json");
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.send(b.to_string().as_bytes())
        }
        ("POST", None) => {
            let mut req = agent.post(url).header("content-type", "application/json");
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.send(&b"{not json"[..])
        }
        ("DELETE", _) => {
            let mut req = agent.delete(url);
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.call()
        }
        _ => {
            let mut req = agent.get(url);
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.call()
        }
    }
    .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn silences_over_the_admin_api_with_a_token_and_an_expiry() {
    let rt = runtime();
    let r = Receiver::default();
    let hook = listen(&rt, &r, "127.0.0.1:0");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("alerts.ndjson").display().to_string();
    let mut config = Config::default();
    config.alerts.outbox_dir = dir.path().join("outbox").display().to_string();
    config.alerts.sinks = vec![file(&log), webhook(format!("http://{hook}/hook"), 0)];
    let clock = Clock::manual(T0);
    let silences = Arc::new(Silences::open(
        std::path::Path::new(&config.alerts.outbox_dir),
        clock.clone(),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(Stop::Run);
    let serve = |admin| {
        rt.block_on(ondata::http::serve(
            "127.0.0.1:0",
            Arc::new(Metrics::new()),
            Arc::new(Board::new()),
            Arc::new(LiveStats::default()),
            admin,
            stopped.clone(),
        ))
        .unwrap()
        .0
    };
    let api = serve(ondata::http::Admin::new(
        Some("s3cret-token".into()),
        silences.clone(),
    ));
    let off = serve(ondata::http::Admin::new(None, silences.clone()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("http://{api}/api/silences");
    let good = json!({"kind": "surge", "topic": "bonus-600", "author": "Giulia (social)",
                      "comment": "statement published, replies handled by hand", "duration_mins": 30});

    // The token is required, a wrong one refused; without a token set, the API is off.
    let (status, body) = call(&agent, "POST", &url, None, Some(good.clone()));
    assert_eq!(status, 401, "{body}");
    let (status, body) = call(
        &agent,
        "POST",
        &url,
        Some("s3cret-tokem"),
        Some(good.clone()),
    );
    assert_eq!((status, body.trim()), (401, "unauthorized: wrong token"));
    let (status, _) = call(&agent, "GET", &url, Some("s3cret"), None);
    assert_eq!(status, 401, "a prefix of the token is wrong too");
    let (status, body) = call(
        &agent,
        "POST",
        &format!("http://{off}/api/silences"),
        Some("s3cret-token"),
        Some(good.clone()),
    );
    assert_eq!(status, 403);
    assert!(body.contains("ONDATA_ADMIN_TOKEN"), "{body}");
    assert!(
        silences.list().is_empty(),
        "nothing added by refused requests"
    );

    // Bad requests say why.
    let token = Some("s3cret-token");
    let mut no_expiry = good.clone();
    no_expiry.as_object_mut().unwrap().remove("duration_mins");
    let (status, body) = call(&agent, "POST", &url, token, Some(no_expiry));
    assert_eq!(status, 400);
    assert!(body.contains("expiry is required"), "{body}");
    let (status, _) = call(&agent, "POST", &url, token, None);
    assert_eq!(status, 400, "not JSON");
    let mut typo = good.clone();
    typo["topci"] = json!("x");
    let (status, body) = call(&agent, "POST", &url, token, Some(typo));
    assert_eq!(status, 400);
    assert!(body.contains("topci"), "{body}");

    let (status, body) = call(&agent, "POST", &url, token, Some(good));
    assert_eq!(status, 201, "{body}");
    let made: Value = serde_json::from_str(&body).unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["state"], "active");
    assert_eq!(made["author"], "Giulia (social)");

    // While it lasts, matching alerts are recorded but not notified.
    let (mut d, metrics) = delivery(&config, Some(silences.clone()));
    let at = |mins: i64| T0 + mins * 60_000;
    let quiet = Alert::example(
        "aaaa000000000001",
        "bonus-600",
        AlertStatus::Firing,
        Severity::Critical,
        at(1),
    );
    let other = Alert::example(
        "aaaa000000000002",
        "pensioni",
        AlertStatus::Firing,
        Severity::Warning,
        at(1),
    );
    assert!(d.send(&quiet));
    assert!(d.send(&other));
    wait_until("the other topic notified", Duration::from_secs(10), || {
        r.bodies().len() == 1
    });
    wait_until("the silenced one counted", Duration::from_secs(10), || {
        sample(
            &metrics,
            "ondata_alert_notifications_suppressed_total{reason=\"silenced\",sink=\"webhook\"}",
        ) == 1.0
    });
    assert_eq!(r.bodies()[0]["topic"], "pensioni");

    // Expired after 30 minutes (the clock is the test's): notified again, and listed as expired.
    clock.advance(Duration::from_secs(30 * 60));
    let later = Alert::example(
        "aaaa000000000003",
        "bonus-600",
        AlertStatus::Firing,
        Severity::Warning,
        at(31),
    );
    assert!(d.send(&later));
    wait_until("notified after expiry", Duration::from_secs(10), || {
        r.bodies().len() == 2
    });
    let (status, body) = call(&agent, "GET", &url, token, None);
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["silences"][0]["id"], id.as_str());
    assert_eq!(list["silences"][0]["state"], "expired");
    drop(d);
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        written.lines().count(),
        3,
        "the file records the silenced alert too"
    );

    let one = format!("{url}/{id}");
    assert_eq!(call(&agent, "DELETE", &one, Some("nope"), None).0, 401);
    assert_eq!(call(&agent, "DELETE", &one, token, None).0, 204);
    assert_eq!(call(&agent, "DELETE", &one, token, None).0, 404);
    let _ = stop.send(Stop::Drain);
}
