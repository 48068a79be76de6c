//! Escalation and incidents as people receive them: the engine's alert records go through
//! the configured routes and the real webhook sinks (outbox, noise control) to receivers on
//! loopback ports.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use axum::Router as HttpRouter;
use serde_json::Value;

use common::runtime;
use ondata::alert::{Alert, AlertKind, AlertStatus, Severity};
use ondata::deliver::delivery::{Delivery, Router};
use ondata::deliver::sinks_from_config;
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::{parse_event, Config, Engine};

/// What each receiver path was sent, in order.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn receive(State(r): State<Receiver>, uri: Uri, body: String) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((uri.path().to_string(), v));
    StatusCode::OK
}

fn start_receiver(rt: &tokio::runtime::Runtime, r: &Receiver) -> SocketAddr {
    let app = HttpRouter::new()
        .route("/{*path}", post(receive))
        .with_state(r.clone());
    common::serve(rt, app)
}

impl Receiver {
    fn at(&self, path: &str) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Alert records of a stream of JSON lines, in the order raised.
fn alerts_of(config: &Config, lines: &[String]) -> Vec<Alert> {
    let mut engine = Engine::new(config);
    let mut out = Vec::new();
    for line in lines {
        engine.ingest_into(
            &parse_event(line.as_bytes(), &config.input).unwrap(),
            &mut out,
        );
    }
    out.extend(engine.finish());
    out
}

/// Sends `alerts` through the sinks and routes of `toml` (webhooks to `addr`), and waits
/// until every sink has delivered what it will.
fn deliver(toml: &str, alerts: &[Alert]) {
    let config = Config::from_toml_with_env(toml, "test", []).unwrap();
    let sinks = sinks_from_config(&config, false, None).unwrap();
    let mut d = Delivery::new(sinks).routed(Router::from_config(&config.alerts));
    for a in alerts {
        d.send(a);
    }
    d.flush();
    drop(d); // each webhook sink drains its queue before it goes
}

fn record(v: &Value) -> (String, String, String, String) {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    (s("id"), s("status"), s("severity"), s("at"))
}

#[test]
fn an_escalation_reaches_a_critical_only_route_while_firing() {
    // A day and three hours at 5 comments a minute (a topic with a day of its own history),
    // then 15 a minute for 3 minutes (a warning), then 60 a minute for 20 minutes
    // (critical), then calm again for two hours.
    let mut lines = Vec::new();
    let t0: i64 = 1_585_627_200_000; // 2020-03-31T04:00:00Z
    const DAY: i64 = 1440;
    for minute in 0..DAY + 320 {
        let rate = match minute - DAY {
            180..183 => 15,
            183..203 => 60,
            _ => 5,
        };
        for k in 0..rate {
            let ts = t0 + minute * 60_000 + k * 60_000 / rate;
            lines.push(format!(
                r#"{{"ts":{ts},"text":"il sito non va","author":"u{minute}_{k}","topic":"bonus-600","sentiment":0}}"#
            ));
        }
    }
    let config = Config::default();
    let alerts = alerts_of(&config, &lines);
    let surge: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Surge)
        .collect();
    let seen: Vec<_> = surge.iter().map(|a| (a.status, a.severity)).collect();
    assert_eq!(
        seen,
        [
            (AlertStatus::Firing, Severity::Warning),
            (AlertStatus::Firing, Severity::Critical),
            (AlertStatus::Resolved, Severity::Critical)
        ],
        "{surge:#?}"
    );

    let rt = runtime();
    let r = Receiver::default();
    let addr = start_receiver(&rt, &r);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[alerts]
outbox_dir = "{outbox}"
[[alerts.sinks]]
type = "webhook"
name = "pager"
url = "http://{addr}/pager"
rate_limit_per_min = 0
[[alerts.sinks]]
type = "webhook"
name = "team"
url = "http://{addr}/team"
rate_limit_per_min = 0
[[alerts.routes]]
severities = ["critical"]
sinks = ["pager"]
continue = true
[[alerts.routes]]
sinks = ["team"]
"#,
        outbox = dir.path().display()
    );
    deliver(&toml, &alerts);
    let pager: Vec<_> = r.at("/pager").iter().map(record).collect();
    let team: Vec<_> = r.at("/team").iter().map(record).collect();
    let (first, escalation, resolved) = (
        record_of(surge[0]),
        record_of(surge[1]),
        record_of(surge[2]),
    );
    // The pager hears of the episode while it is firing, from its critical record, and
    // of its end; the team of all three.
    assert_eq!(pager, [escalation.clone(), resolved.clone()], "{pager:?}");
    assert_eq!(escalation.0, first.0, "the same episode (id)");
    assert!(escalation.3 < resolved.3, "while firing");
    assert_eq!(team, [first, escalation, resolved], "{team:?}");
}

fn record_of(a: &Alert) -> (String, String, String, String) {
    (
        a.id.clone(),
        a.status.as_str().to_string(),
        a.severity.as_str().to_string(),
        a.at.clone(),
    )
}

#[test]
fn a_campaign_and_what_it_causes_are_one_incident_one_message_and_its_updates() {
    // The simulator's troll-wave day: campaigns on several topics, each bringing a surge
    // and a turn to negativity with it.
    let mut stream = Vec::new();
    simulate(
        &SimOptions {
            scenario: Scenario::TrollWave,
            seed: 12,
            // An ordinary day first: topics with a day of their own history.
            days: 1,
            ..SimOptions::default()
        },
        &mut stream,
    )
    .unwrap();
    let lines: Vec<String> = String::from_utf8(stream)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let config = Config::default();
    let alerts = alerts_of(&config, &lines);

    // On a topic with a campaign, the surge and negativity that overlap it are its incident.
    let trolls: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::TrollBurst && a.status == AlertStatus::Firing)
        .collect();
    assert!(!trolls.is_empty());
    let mut joined = 0;
    for t in &trolls {
        let caused: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.topic == t.topic && a.kind != AlertKind::TrollBurst)
            .filter(|a| (a.at_ms - t.at_ms).abs() <= 5 * 60_000)
            .collect();
        for a in &caused {
            assert_eq!(a.incident, t.incident, "{a:#?} vs {t:#?}");
            joined += 1;
        }
    }
    assert!(
        joined >= 2,
        "the campaigns bring surges and negativity with them"
    );
    // A surge a campaign explains says how much of it the campaign is.
    assert!(alerts.iter().any(|a| a.kind == AlertKind::Surge
        && a.status == AlertStatus::Firing
        && a.incident != a.id
        && a.summary.contains("coordinated campaign")));

    // The webhook: one message per incident, then only what changes it.
    let rt = runtime();
    let r = Receiver::default();
    let addr = start_receiver(&rt, &r);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[alerts]
outbox_dir = "{outbox}"
[[alerts.sinks]]
type = "webhook"
url = "http://{addr}/hook"
rate_limit_per_min = 0
"#,
        outbox = dir.path().display()
    );
    deliver(&toml, &alerts);
    let got = r.at("/hook");
    // What the messages should be, worked out from the records: an incident's first record;
    // a record of a kind the incident had not had; a severity above what it had reached;
    // the resolution of its last open episode.
    let mut want = Vec::new();
    let mut state: std::collections::HashMap<&str, (Vec<AlertKind>, Severity, Vec<&str>)> =
        Default::default();
    for a in &alerts {
        let s =
            state
                .entry(a.incident.as_str())
                .or_insert((Vec::new(), Severity::Warning, Vec::new()));
        match a.status {
            AlertStatus::Firing => {
                let news = s.0.is_empty() || !s.0.contains(&a.kind) || a.severity > s.1;
                if !s.0.contains(&a.kind) {
                    s.0.push(a.kind);
                }
                s.1 = s.1.max(a.severity);
                if !s.2.contains(&a.id.as_str()) {
                    s.2.push(&a.id);
                }
                if news {
                    want.push(record_of(a));
                }
            }
            AlertStatus::Resolved => {
                s.2.retain(|id| *id != a.id);
                if s.2.is_empty() {
                    want.push(record_of(a));
                    state.remove(a.incident.as_str());
                }
            }
        }
    }
    let mut sent: Vec<_> = got.iter().map(record).collect();
    sent.sort();
    want.sort();
    assert_eq!(sent, want);
    let incidents: std::collections::BTreeSet<&str> =
        alerts.iter().map(|a| a.incident.as_str()).collect();
    assert!(
        sent.len() < alerts.len(),
        "{} messages for {} records in {} incidents",
        sent.len(),
        alerts.len(),
        incidents.len()
    );
    // Each incident's first message is its first record.
    for inc in &incidents {
        let first = alerts.iter().find(|a| a.incident == *inc).unwrap();
        assert!(sent.contains(&record_of(first)), "{inc}");
    }
}
