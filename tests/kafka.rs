//! The live path against a real Kafka-protocol broker in-process (librdkafka's mock
//! cluster), with random topic and group names. Each test drives `ondata::live::run`, the
//! function `ondata run` and `ondata demo` run, and compares its alerts with `replay` of the
//! same events. Every wait is bounded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::Message;

use ondata::config::Config;
use ondata::event::parse_event;
use ondata::live::{LiveStats, Stop};
use ondata::metrics::Metrics;
use ondata::range::{self, TimeRange};
use ondata::replay::ReplayOptions;
use ondata::simulate::Scenario;
use ondata::source::kafka::header_map;

use common::kafka::{produce, produce_stamped, stream, unique};
use common::live::*;

#[test]
fn live_alerts_equal_replay_and_offsets_are_committed() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let lines = stream(Scenario::ClickDay, 2, 3);
    let group = unique("g");
    let cfg = earliest(config(&brokers, &topic, &group));
    let expected = replay_alerts(&cfg, &lines);
    assert!(expected.len() >= 4, "the scenario fires: {expected:?}");

    let run = start(cfg, Vec::new());
    produce(&brokers, &topic, &lines);
    wait_until("every message taken", || run.taken() >= lines.len() as u64);
    let alerts = run.alerts.clone();
    let summary = run.stop(Stop::Drain);
    assert_eq!(summary.events, lines.len() as u64);
    assert_eq!(summary.late, 0);
    assert_eq!(alerts.sorted(), expected);
    // The group's own offsets: everything taken was committed, on every partition.
    let offsets = committed_and_ends(&brokers, &topic, &group, 3);
    assert!(offsets.iter().all(|(_, end)| *end > 0), "{offsets:?}");
    for (committed, end) in offsets {
        assert_eq!(committed, end, "committed up to the end");
    }
}

#[test]
fn a_consumer_dropped_without_commit_resumes_with_nothing_missing_or_repeated() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let lines = stream(Scenario::ClickDay, 2, 5);
    let group = unique("g");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.ndjson").display().to_string();
    let mut cfg = earliest(config(&brokers, &topic, &group));
    cfg.kafka.rebuild_hours = 48;
    let expected = replay_alerts(&cfg, &lines);
    produce(&brokers, &topic, &lines);

    // First process: taken about half, then gone without draining or committing on the way
    // out (the periodic commits before that stand, as after a crash).
    let first = start(
        cfg.clone(),
        vec![Box::new(ondata::deliver::file_sink(&file).unwrap())],
    );
    let half = lines.len() as u64 / 2;
    wait_until("half the stream taken", || first.taken() >= half);
    let first_collected = first.alerts.clone();
    first.stop(Stop::Abort);
    // What it sent up to the moment it died (it ran on while we looked).
    let first_alerts = first_collected.sorted();
    let after_crash = committed_and_ends(&brokers, &topic, &group, 3);
    let committed: i64 = after_crash.iter().map(|(c, _)| (*c).max(0)).sum();
    assert!(
        committed < lines.len() as i64,
        "some messages were taken but not committed: {after_crash:?}"
    );

    // Second process: same group and alert file.
    let second = start(
        cfg.clone(),
        vec![Box::new(ondata::deliver::file_sink(&file).unwrap())],
    );
    wait_until("the rest taken", || {
        LiveStats::get(&second.stats.rebuilt_events) + LiveStats::get(&second.stats.events)
            >= lines.len() as u64
    });
    let stats = second.stats.clone();
    let second_alerts = second.alerts.clone();
    second.stop(Stop::Drain);
    // Nothing missing from the windows, nothing counted twice: the rebuilt history and the
    // live events together are the stream, once.
    assert_eq!(
        LiveStats::get(&stats.rebuilt_events) + LiveStats::get(&stats.events),
        lines.len() as u64
    );
    // The alert file holds each alert once, and they are the uninterrupted run's.
    let written = std::fs::read_to_string(&file).unwrap();
    let mut in_file: Vec<String> = written.lines().map(str::to_string).collect();
    let distinct: BTreeSet<&String> = in_file.iter().collect();
    assert_eq!(distinct.len(), in_file.len(), "an alert was written twice");
    in_file.sort();
    assert_eq!(in_file, expected);
    // What each process sent, together, is the uninterrupted run's.
    let mut both: Vec<String> = first_alerts;
    both.extend(second_alerts.sorted());
    both.sort();
    both.dedup();
    assert_eq!(both, expected);
}

#[test]
fn poison_messages_are_dead_lettered_with_headers_and_their_offsets_advance() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 1);
    let brokers = mock.bootstrap_servers();
    let mut lines = stream(Scenario::Quiet, 0, 2);
    lines.truncate(2_000);
    let poison: Vec<Vec<u8>> = vec![
        b"not json at all".to_vec(),
        br#"{"text":"no time","author":"x"}"#.to_vec(),
        br#"{"ts":"yesterday","text":"bad time","author":"x"}"#.to_vec(),
        Vec::new(),
        vec![0xff; 4096],
    ];
    let mut mixed = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        mixed.push(l.clone());
        if i % 400 == 7 {
            mixed.push(poison[(i / 400) % poison.len()].clone());
        }
    }
    let bad = mixed.len() - lines.len();
    let group = unique("g");
    let cfg = earliest(config(&brokers, &topic, &group));
    produce(&brokers, &topic, &mixed);
    let run = start(cfg, Vec::new());
    wait_until("every message taken", || run.taken() >= mixed.len() as u64);
    let summary = run.stop(Stop::Drain);
    assert_eq!(summary.events, lines.len() as u64);
    assert_eq!(summary.dead_lettered, bad as u64);
    assert_eq!(
        committed_and_ends(&brokers, &topic, &group, 1),
        vec![(mixed.len() as i64, mixed.len() as i64)],
        "committed to the end, dead letters included"
    );

    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", unique("dlq"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < bad && Instant::now() < deadline {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(200)) {
            got.push((m.payload().unwrap_or_default().to_vec(), header_map(&m)));
        }
    }
    assert_eq!(got.len(), bad);
    let reasons: BTreeSet<String> = got.iter().map(|(_, h)| h["reason"].clone()).collect();
    assert!(reasons.len() >= 3, "{reasons:?}");
    for (payload, h) in &got {
        assert_eq!(h["original_topic"], topic);
        assert_eq!(h["original_partition"], "0");
        let offset: usize = h["original_offset"].parse().unwrap();
        assert_eq!(
            &mixed[offset], payload,
            "the dead letter is the message as it came"
        );
    }
}

/// One producer's clock an hour fast: its event goes to the dead letter as `ts_ahead`, and
/// every other event is taken (none late).
#[test]
fn an_event_ahead_of_the_wall_clock_is_dead_lettered_and_moves_nothing() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 1);
    let brokers = mock.bootstrap_servers();
    let mut lines = stream(Scenario::Quiet, 0, 3);
    lines.truncate(1_000);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let fast = format!(
        r#"{{"ts":{},"id":"fast-clock","author":"x","topic":"t","text":"dal futuro"}}"#,
        now_ms + 3_600_000
    );
    let mut mixed = lines.clone();
    mixed.insert(500, fast.into_bytes());
    let group = unique("g");
    produce(&brokers, &topic, &mixed);
    let run = start(earliest(config(&brokers, &topic, &group)), Vec::new());
    wait_until("every message taken", || run.taken() >= mixed.len() as u64);
    let summary = run.stop(Stop::Drain);
    assert_eq!(summary.dead_lettered, 1);
    assert_eq!(summary.late, 0, "no event late behind the fast clock");
    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", unique("dlq"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut reason = None;
    while reason.is_none() && Instant::now() < deadline {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(200)) {
            reason = Some(header_map(&m)["reason"].clone());
        }
    }
    assert_eq!(reason.as_deref(), Some("ts_ahead"));
}

#[test]
fn broker_faults_are_survived_without_loss() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(3, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let group = unique("g");
    // Broker 2, taken down below, leads a partition and coordinates the group, so the
    // consumer is connected to it when it goes: the mock otherwise places leaders and the
    // coordinator at random, and a broker the consumer never talks to fails unseen.
    for partition in 0..3 {
        mock.partition_leader(&topic, partition, Some(partition + 1))
            .unwrap();
    }
    mock.coordinator(MockCoordinator::Group(group.clone()), 2)
        .unwrap();
    let lines = stream(Scenario::ClickDay, 2, 7);
    let cfg = earliest(config(&brokers, &topic, &group));
    let expected = replay_alerts(&cfg, &lines);
    let metrics = Arc::new(Metrics::new());
    let run = start_observed(cfg, Vec::new(), Some(metrics.clone()));
    let (first, rest) = lines.split_at(lines.len() / 3);
    produce(&brokers, &topic, first);
    wait_until("a third taken", || run.taken() >= first.len() as u64 / 2);
    // Request errors on fetches and commits, then a broker down and back.
    let errors = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; 8];
    mock.request_errors(RDKafkaApiKey::Fetch, &errors);
    mock.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; 4],
    );
    mock.broker_down(2).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    mock.broker_up(2).unwrap();
    produce(&brokers, &topic, rest);
    wait_until("every message taken", || run.taken() >= lines.len() as u64);
    // The faults are visible in /metrics, and the lag of every partition drains to zero
    // (librdkafka's statistics come every five seconds).
    let errors = |text: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("ondata_kafka_errors_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    wait_until("the faults counted", || errors(&metrics.render()) > 0.0);
    wait_until("every partition's lag reported at zero", || {
        let text = metrics.render();
        let lags: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ondata_kafka_consumer_lag{"))
            .collect();
        lags.len() == 3 && lags.iter().all(|l| l.ends_with(" 0"))
    });
    let alerts = run.alerts.clone();
    let summary = run.stop(Stop::Drain);
    assert_eq!(summary.events, lines.len() as u64, "nothing lost");
    assert_eq!(summary.late, 0, "the stalled partition was waited for");
    assert_eq!(alerts.sorted(), expected);
}

#[test]
fn a_consumer_started_after_the_incident_reports_what_is_still_firing_once() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    // The stream up to the middle of the click-day surge (first alert + 30 min).
    let full = stream(Scenario::ClickDay, 2, 3);
    let cfg = config(&brokers, &topic, &unique("g"));
    let firing_at = |lines: &[Vec<u8>]| -> BTreeMap<String, String> {
        // Records come sorted as text: order them by event time (an escalation's firing
        // record follows the first), resolutions last.
        let mut records: Vec<(String, bool, String, String)> = replay_alerts(&cfg, lines)
            .into_iter()
            .map(|a| {
                let v: serde_json::Value = serde_json::from_str(&a).unwrap();
                let at = v["at"].as_str().unwrap().to_string();
                let resolved = v["status"] == "resolved";
                (at, resolved, v["id"].as_str().unwrap().to_string(), a)
            })
            .collect();
        records.sort();
        let mut open = BTreeMap::new();
        for (_, resolved, id, a) in records {
            if resolved {
                open.remove(&id);
            } else {
                open.insert(id, a);
            }
        }
        open
    };
    let first_alert_ts = {
        let all = replay_alerts(&cfg, &full);
        let v: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
        chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let cut: Vec<Vec<u8>> = full
        .iter()
        .filter(|l| {
            parse_event(l, &cfg.input).is_ok_and(|e| e.ts_ms <= first_alert_ts + 30 * 60_000)
        })
        .cloned()
        .collect();
    let still_firing = firing_at(&cut);
    assert!(!still_firing.is_empty(), "the cut ends inside an incident");
    produce(&brokers, &topic, &cut);

    // A new group, at the end of the topic (librdkafka's default), rebuilds from history.
    let run = start(cfg.clone(), Vec::new());
    wait_until("the rebuild", || run.stats.ready.load(Ordering::SeqCst));
    std::thread::sleep(Duration::from_millis(500));
    let stats = run.stats.clone();
    let alerts = run.alerts.clone();
    run.stop(Stop::Drain);
    assert_eq!(LiveStats::get(&stats.rebuilt_events), cut.len() as u64);
    assert_eq!(LiveStats::get(&stats.events), 0, "nothing new was produced");
    let sent = alerts.sorted();
    let mut want: Vec<String> = still_firing.into_values().collect();
    want.sort();
    let short = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|a| {
                let v: serde_json::Value = serde_json::from_str(a).unwrap();
                format!("{} {} {} {}", v["id"], v["kind"], v["severity"], v["at"])
            })
            .collect()
    };
    assert_eq!(
        sent,
        want,
        "each condition still firing, once; nothing that ended: sent {:?}, want {:?}",
        short(&sent),
        short(&want)
    );
}

fn event_times(lines: &[Vec<u8>]) -> Vec<i64> {
    lines
        .iter()
        .filter_map(|l| {
            parse_event(l, &Config::default().input)
                .ok()
                .map(|e| e.ts_ms)
        })
        .collect()
}

#[test]
fn record_and_replay_from_kafka_give_the_alerts_of_live_processing() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let mut lines = stream(Scenario::ClickDay, 2, 5);
    // A message that is not an event: recorded as it is, dead-lettered by every path.
    lines.insert(100, b"{\"ts\": \"not a time\"}".to_vec());
    let group = unique("g");
    let cfg = earliest(config(&brokers, &topic, &group));
    produce_stamped(&brokers, &topic, &lines, true);

    let run = start(cfg.clone(), Vec::new());
    wait_until("every message taken", || run.taken() >= lines.len() as u64);
    let live = run.alerts.clone();
    run.stop(Stop::Drain);
    let live = live.sorted();
    assert!(live.len() >= 4, "the scenario fires: {live:?}");
    let committed = committed_and_ends(&brokers, &topic, &group, 3);

    let times = event_times(&lines);
    let (first, last) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let all = TimeRange {
        from_ms: first,
        to_ms: last + 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incident.ndjson.zst");
    let never = AtomicBool::new(false);
    let summary = range::record(&cfg, all, &file, &never, false).expect("record");
    assert_eq!(summary.messages, lines.len() as u64, "{summary}");
    assert_eq!(summary.invalid, 1);
    assert!(!summary.interrupted);
    assert_eq!(
        replay_file_alerts(&cfg, &file),
        live,
        "record, then replay = live"
    );

    let sink = Collected::default();
    let mut s = sink.clone();
    let replayed = range::replay_kafka(
        &cfg,
        &ReplayOptions::default(),
        all,
        &mut s,
        &mut std::io::sink(),
        &never,
    )
    .expect("replay --kafka");
    assert_eq!(replayed.lines, lines.len() as u64);
    assert_eq!(replayed.rejected_total(), 1);
    assert_eq!(sink.sorted(), live, "replay --kafka = live");

    // Neither touched the live group's offsets, and neither committed any of its own.
    assert_eq!(committed_and_ends(&brokers, &topic, &group, 3), committed);
    for purpose in ["record", "replay"] {
        for (off, _) in committed_and_ends(&brokers, &topic, &format!("{group}.{purpose}"), 3) {
            assert_eq!(off, -1, "{purpose} committed an offset");
        }
    }

    // A narrower range: the events inside it, nothing far outside (messages are stamped
    // with their comment's time, which the simulator lets run a little out of order).
    let day = TimeRange {
        from_ms: first + 86_400_000,
        to_ms: first + 2 * 86_400_000,
    };
    let part = dir.path().join("day.ndjson");
    let summary = range::record(&cfg, day, &part, &never, false).expect("record a day");
    let text = std::fs::read(&part).unwrap();
    let recorded: Vec<Vec<u8>> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(recorded.len() as u64, summary.messages);
    let got = event_times(&recorded);
    let slack = 5 * 60_000;
    assert!(got
        .iter()
        .all(|t| *t >= day.from_ms - slack && *t < day.to_ms + slack));
    let inner = |ts: &[i64]| {
        ts.iter()
            .filter(|t| **t >= day.from_ms + slack && **t < day.to_ms - slack)
            .count()
    };
    assert_eq!(
        inner(&got),
        inner(&times),
        "the inside of the range is complete"
    );
    assert!(inner(&got) > 1000);
}

#[test]
fn an_interrupted_recording_leaves_a_complete_file() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let lines = stream(Scenario::ClickDay, 3, 6);
    let cfg = config(&brokers, &topic, &unique("g"));
    produce_stamped(&brokers, &topic, &lines, true);
    let times = event_times(&lines);
    let all = TimeRange {
        from_ms: *times.iter().min().unwrap(),
        to_ms: times.iter().max().unwrap() + 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.ndjson.zst");
    let stop = AtomicBool::new(false);
    let summary = std::thread::scope(|scope| {
        scope.spawn(|| {
            // Ctrl-C once the recording is under way.
            let deadline = Instant::now() + WAIT;
            while std::fs::metadata(&file).map_or(0, |m| m.len()) < 32 * 1024
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            stop.store(true, Ordering::SeqCst);
        });
        range::record(&cfg, all, &file, &stop, false).expect("record")
    });
    assert!(summary.interrupted, "{summary}");
    assert!(
        summary.messages > 0 && summary.messages < lines.len() as u64,
        "{summary}"
    );
    let text = zstd::decode_all(std::fs::File::open(&file).unwrap()).expect("a complete zstd file");
    let recorded: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(recorded.len() as u64, summary.messages);
    assert!(
        recorded
            .iter()
            .all(|l| parse_event(l, &Config::default().input).is_ok()),
        "every line whole"
    );
}
