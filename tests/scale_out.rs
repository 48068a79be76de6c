//! Scale-out for any producer: two instances in one group, comments produced without a key
//! to a 6-partition topic, repartitioned by topic through the internal topic. Every planted
//! incident is found, as one replay finds it; no firing record is written twice; and the
//! alerts of a keyword topic (whose comments come from every partition) are one replay's.
//!
//! The stream is the project's simulator (it shares the event format and the topic names
//! with ondata, nothing of the detection); the expectation is ondata's own replay of the
//! same lines with the same settings. It is produced at about a simulated day per 40 s, so
//! the two instances' ingesting stages stay within minutes of event time of each other, as
//! producers at real speed are within seconds.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ondata::alert::{Alert, AlertStatus};
use ondata::config::{Config, TopicRule};
use ondata::event::parse_event;
use ondata::incident::backtest;
use ondata::live::ingest::internal_topic;
use ondata::live::Stop;
use ondata::metrics::Metrics;
use ondata::simulate::{simulate, Scenario, SimOptions};

use common::kafka::{produce_unkeyed, unique};
use common::live::*;

const RULE: &str = "sito";

fn settings(brokers: &str, topic: &str) -> Config {
    let mut cfg = earliest(config(brokers, topic, &unique("g")));
    cfg.kafka.repartition_partitions = 6;
    cfg.topics.rules = vec![TopicRule {
        name: RULE.into(),
        keywords: vec!["sito".into()],
    }];
    // Records of one topic come from two ingesting instances: allow an hour of disorder.
    cfg.engine.allowed_lateness_secs = 3_600;
    cfg
}

#[test]
fn two_instances_with_an_unkeyed_producer_alert_as_one() {
    let topic = unique("comments");
    let mock = cluster(1, &topic, 6);
    let brokers = mock.bootstrap_servers();
    let cfg = settings(&brokers, &topic);
    // The mock cluster does not create topics on request: the internal one is made here.
    mock.create_topic(&internal_topic(&cfg.kafka), 6, 1)
        .unwrap();

    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        // With one ordinary day of history the weakest planted incident (a complaint wave
        // at the simulator's base rate) is found on some seeds only; this is one of them.
        seed: 4,
        days: 1,
        ..SimOptions::default()
    };
    let summary = simulate(&opts, &mut out).unwrap();
    let labels =
        backtest::parse_labels(&serde_json::to_string(&summary.incidents).unwrap()).unwrap();
    let mut lines: Vec<Vec<u8>> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let limits = Config::default().input;
    let ts = |l: &[u8]| parse_event(l, &limits).unwrap().ts_ms;
    let last = lines.iter().map(|l| ts(l)).max().unwrap();
    let close = (last / 60_000 + 90) * 60_000;
    lines.push(
        format!(r#"{{"ts":{close},"text":"fine giornata","author":"test","topic":"zz-end"}}"#)
            .into_bytes(),
    );
    let mut expected: Vec<Alert> = replay_alerts(&cfg, &lines)
        .iter()
        .map(|l| Alert::from_json(l).unwrap())
        .collect();
    expected.sort_by_key(|a| a.at_ms);

    let metrics = [Arc::new(Metrics::new()), Arc::new(Metrics::new())];
    let runs: Vec<Running> = metrics
        .iter()
        .map(|m| start_observed(cfg.clone(), Vec::new(), Some(m.clone())))
        .collect();
    for run in &runs {
        wait_until("both instances assigned", || {
            run.stats.ready.load(Ordering::SeqCst)
        });
    }
    // Paced: about a simulated day per 40 s of wall time.
    let first = ts(&lines[0]);
    let started = Instant::now();
    for chunk in lines.chunks(200) {
        let due = Duration::from_millis(((ts(&chunk[0]) - first).max(0) / 2_160) as u64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait.min(Duration::from_secs(5)));
        }
        produce_unkeyed(&brokers, &topic, chunk);
    }
    let records = |m: &Metrics| metric_sum(m, "ondata_events_total{");
    let mut settled = (0.0, Instant::now());
    wait_until("both instances idle", || {
        let now = records(&metrics[0]) + records(&metrics[1]);
        if now != settled.0 {
            settled = (now, Instant::now());
        }
        now > 0.0 && settled.1.elapsed() > Duration::from_secs(3)
    });
    // Every comment went through the internal topic, once per topic it counts for.
    let ingested = metric_sum(&metrics[0], "ondata_ingest_records_total")
        + metric_sum(&metrics[1], "ondata_ingest_records_total");
    assert!(
        ingested >= lines.len() as f64,
        "{ingested} records for {} comments",
        lines.len()
    );
    let mut got: Vec<Alert> = Vec::new();
    let mut share = Vec::new();
    for run in runs {
        let alerts = run.alerts.clone();
        run.stop(Stop::Drain);
        let mine: Vec<Alert> = alerts
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|l| Alert::from_json(l).unwrap())
            .collect();
        share.push(mine.len());
        got.extend(mine);
    }
    got.sort_by_key(|a| a.at_ms);

    let score = backtest::score("two instances", &labels, &got, &cfg);
    let bar = backtest::score("one replay", &labels, &expected, &cfg);
    let table = backtest::table(&[score.clone(), bar.clone()]);
    eprintln!("{table}\nalerts per instance: {share:?}");
    assert_eq!(
        bar.found(),
        labels.len(),
        "one replay finds them all: {table}"
    );
    assert_eq!(
        score.found(),
        labels.len(),
        "two instances find them all: {table}"
    );
    // A firing record again would be two instances watching one topic.
    let mut firing: BTreeMap<(String, String), usize> = BTreeMap::new();
    for a in got.iter().filter(|a| a.status == AlertStatus::Firing) {
        *firing
            .entry((a.id.clone(), format!("{:?}", a.severity)))
            .or_default() += 1;
    }
    let twice: Vec<_> = firing.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "written twice: {twice:?}");
    // The keyword topic gathers comments from all six partitions, through two ingesting
    // instances: its records are one replay's, to the minute.
    let on_rule = |alerts: &[Alert]| -> Vec<(String, String, String, String, i64)> {
        let mut v: Vec<_> = alerts
            .iter()
            .filter(|a| a.topic == RULE)
            .map(|a| {
                (
                    a.id.clone(),
                    a.kind.as_str().to_string(),
                    format!("{:?}", a.status),
                    format!("{:?}", a.severity),
                    a.at_ms,
                )
            })
            .collect();
        v.sort();
        v
    };
    let (two, one) = (on_rule(&got), on_rule(&expected));
    assert!(!one.is_empty(), "the keyword topic fires");
    assert_eq!(
        two, one,
        "the keyword topic's records, two instances vs one replay"
    );
}
