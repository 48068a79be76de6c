//! A restart starts from the state snapshot instead of reading history back: on librdkafka's
//! mock cluster with 12 partitions, three simulated days consumed, the process stopped and
//! started again, ready within seconds having read back only what came after its snapshot,
//! and every incident planted in the crisis day that follows found, with no firing alert
//! written twice.
//!
//! The stream and its planted incidents are the project's simulator (written beside the
//! detectors: it shares the event format and the topic names, nothing of the detection).
//! A restart that lost the state would miss them: the surge and negativity baselines need
//! the days before. That the loaded state is exactly the saved one is the engine's unit
//! test; here the live path finds, loads and resumes after the right snapshot.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ondata::alert::{Alert, AlertStatus};
use ondata::config::Config;
use ondata::event::parse_event;
use ondata::incident::backtest;
use ondata::live::Stop;
use ondata::metrics::Metrics;
use ondata::simulate::{simulate, Scenario, SimOptions};

use common::kafka::{produce, produce_unkeyed, unique};
use common::live::*;

const PARTITIONS: i32 = 12;

/// Commits the end of every partition for `group`, as a member that had read them all.
fn commit_ends(brokers: &str, topic: &str, group: &str, partitions: i32) {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (_, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .unwrap();
        tpl.add_partition_offset(topic, p, Offset::Offset(high))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).unwrap();
}

/// Three ordinary days at 2.7 times the simulator's rates (about 115,000 comments), then
/// the click day and a closing event; and the planted incidents.
fn days() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<backtest::Label>) {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed: 11,
        days: 3,
        scale: 2.7,
        ..SimOptions::default()
    };
    let summary = simulate(&opts, &mut out).unwrap();
    let labels =
        backtest::parse_labels(&serde_json::to_string(&summary.incidents).unwrap()).unwrap();
    let limits = Config::default().input;
    let lines: Vec<Vec<u8>> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let ts: Vec<i64> = lines
        .iter()
        .map(|l| parse_event(l, &limits).unwrap().ts_ms)
        .collect();
    let last = *ts.iter().max().unwrap();
    let crisis_day = last.div_euclid(86_400_000) * 86_400_000;
    let cut = ts.iter().position(|&t| t >= crisis_day).unwrap();
    let mut crisis = lines[cut..].to_vec();
    let close = (last / 60_000 + 10) * 60_000;
    crisis.push(
        format!(r#"{{"ts":{close},"text":"fine giornata","author":"test","topic":"zz-end"}}"#)
            .into_bytes(),
    );
    (lines[..cut].to_vec(), crisis, labels)
}

/// Produces in chunks, never more than 15,000 messages ahead of the consumer: the mock
/// cluster keeps only ~5 MB a partition, and the busiest topic of these days alone is more.
/// Never letting it run dry either: a stream that stops and starts again in wall time while
/// jumping hours in event time is no producer's, and the merge of partitions would not see
/// it as one stream.
fn produce_paced(run: &Running, brokers: &str, topic: &str, lines: &[Vec<u8>]) {
    let base = run.taken();
    let mut done = 0u64;
    for chunk in lines.chunks(5_000) {
        wait_until("the consumer within 10,000 messages", || {
            run.taken() + 10_000 >= base + done
        });
        produce(brokers, topic, chunk);
        done += chunk.len() as u64;
    }
    wait_until("every message consumed", || run.taken() >= base + done);
}

#[test]
fn a_restart_reads_back_only_what_came_after_its_snapshot() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, PARTITIONS);
    let brokers = mock.bootstrap_servers();
    let (history, crisis, labels) = days();
    assert!(
        history.len() > 100_000,
        "three days of history: {}",
        history.len()
    );
    let cfg = earliest(config(&brokers, &topic, &unique("g")));

    let first = Arc::new(Metrics::new());
    let run = start_observed(cfg.clone(), Vec::new(), Some(first.clone()));
    wait_until("the partitions assigned", || {
        run.stats.ready.load(Ordering::SeqCst)
    });
    produce_paced(&run, &brokers, &topic, &history);
    let before = run.alerts.clone();
    // The topics' learned volume (the surge baseline), as published each second.
    const BASELINE: &str = "ondata_topic_baseline_per_minute{";
    std::thread::sleep(Duration::from_millis(1500));
    let learned = metric_sum(&first, BASELINE);
    // As on SIGTERM: drain, commit, write the snapshot, leave the group.
    run.stop(Stop::Drain);

    let restarted = Instant::now();
    let metrics = Arc::new(Metrics::new());
    let run = start_observed(cfg.clone(), Vec::new(), Some(metrics.clone()));
    wait_until("ready again", || run.stats.ready.load(Ordering::SeqCst));
    let took = restarted.elapsed();
    let read_back = metric_sum(&metrics, "ondata_restore_messages_total");
    wait_until("the baselines published", || {
        metric_sum(&metrics, BASELINE) > 0.0
    });
    let restored = metric_sum(&metrics, BASELINE);
    produce_paced(&run, &brokers, &topic, &crisis);
    let after = run.alerts.clone();
    run.stop(Stop::Drain);

    eprintln!("ready after {took:?}, {read_back} messages read back");
    assert!(took < Duration::from_secs(15), "ready after {took:?}");
    assert!(
        read_back <= history.len() as f64 * 0.05,
        "{read_back} of {} messages read back",
        history.len()
    );
    // What the three days taught is there at once, not learned again.
    assert!(learned > 0.0);
    assert!(
        (restored - learned).abs() <= learned * 0.05,
        "baselines {restored} after the restart, {learned} before"
    );
    let parse = |lines: Vec<String>| -> Vec<Alert> {
        lines.iter().map(|l| Alert::from_json(l).unwrap()).collect()
    };
    // In the order they were sent: an episode's first record comes first.
    let after = parse(after.0.lock().unwrap().clone());
    let score = backtest::score("after the restart", &labels, &after, &cfg);
    // Every incident planted, and at least what one uninterrupted replay of the same lines
    // finds.
    let mut all = history.clone();
    all.extend(crisis.iter().cloned());
    let mut replayed = parse(replay_alerts(&cfg, &all));
    replayed.sort_by_key(|a| a.at_ms);
    let bar = backtest::score("one replay", &labels, &replayed, &cfg);
    let table = backtest::table(&[score.clone(), bar.clone()]);
    assert_eq!(
        score.found(),
        labels.len(),
        "every planted incident found after the restart: {table}"
    );
    for (after, replay) in score.detections.iter().zip(&bar.detections) {
        assert!(
            replay.delay_ms.is_none() || after.delay_ms.is_some(),
            "{} found after the restart as by one replay: {table}",
            after.label.name()
        );
    }
    // A firing record again (an escalation is a new record: same id, higher severity).
    let mut firing: Vec<(String, String)> = parse(before.0.lock().unwrap().clone())
        .into_iter()
        .chain(after)
        .filter(|a| a.status == AlertStatus::Firing)
        .map(|a| (a.id, format!("{:?}", a.severity)))
        .collect();
    let n = firing.len();
    firing.sort();
    firing.dedup();
    assert_eq!(firing.len(), n, "no firing record written twice");
}

/// A crash writes no last snapshot: the next process loads the periodic one and reads back
/// only the messages after it, up to where the crashed one had committed.
#[test]
fn after_a_crash_only_the_messages_after_the_last_snapshot_are_read_back() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, PARTITIONS);
    let brokers = mock.bootstrap_servers();
    let (history, crisis, _) = days();
    let mut cfg = earliest(config(&brokers, &topic, &unique("g")));
    cfg.kafka.snapshot_secs = 1;
    let first = Arc::new(Metrics::new());
    let run = start_observed(cfg.clone(), Vec::new(), Some(first.clone()));
    wait_until("the partitions assigned", || {
        run.stats.ready.load(Ordering::SeqCst)
    });
    produce_paced(&run, &brokers, &topic, &history);
    wait_until("a snapshot written", || {
        metric_sum(&first, "ondata_snapshot_bytes") > 0.0
    });
    // More after the last snapshot, then the process dies: no drain, no last snapshot.
    produce_paced(&run, &brokers, &topic, &crisis[..5_000]);
    run.stop(Stop::Abort);

    let restarted = Instant::now();
    let metrics = Arc::new(Metrics::new());
    let run = start_observed(cfg, Vec::new(), Some(metrics.clone()));
    wait_until("ready again", || run.stats.ready.load(Ordering::SeqCst));
    let took = restarted.elapsed();
    let read_back = metric_sum(&metrics, "ondata_restore_messages_total");
    produce_paced(&run, &brokers, &topic, &crisis[5_000..]);
    let taken = run.taken();
    run.stop(Stop::Drain);

    eprintln!("ready after {took:?}, {read_back} messages read back");
    assert!(took < Duration::from_secs(15), "ready after {took:?}");
    let consumed = (history.len() + 5_000) as f64;
    assert!(
        read_back <= consumed * 0.05,
        "{read_back} of {consumed} messages read back"
    );
    // Every message after the commit taken live again: nothing skipped.
    assert!(
        taken >= (crisis.len() - 5_000) as u64,
        "{taken} messages taken after the crash"
    );
}

/// A rebuild from history longer than `max.poll.interval.ms`, with messages arriving
/// meanwhile: the consumer keeps polling (its partitions paused), so the member is not
/// dropped from the group and the rebuild is not started over; every message is taken.
#[test]
fn a_long_rebuild_keeps_polling_and_is_not_started_over() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    // The mock keeps only ~5 MB a partition: 24 of them hold enough for a rebuild of
    // several seconds.
    let mock = cluster(1, &topic, 24);
    let brokers = mock.bootstrap_servers();
    let (days, crisis, _) = days();
    // Four times the days (the copies' ids are the same: dropped as redeliveries, still read).
    let history: Vec<Vec<u8>> = (0..4).flat_map(|_| days.iter().cloned()).collect();
    let group = unique("g");
    let mut cfg = earliest(config(&brokers, &topic, &group));
    // No snapshot: the start rebuilds from all the history the mock retains (it keeps the
    // last ~5 MB of each partition), before where the group has committed: its end.
    cfg.kafka.snapshot_secs = 0;
    // Spread over all the partitions, so more of it is retained.
    for chunk in history.chunks(20_000) {
        produce_unkeyed(&brokers, &topic, chunk);
    }
    commit_ends(&brokers, &topic, &group, 24);

    // A member that does not poll for 3 s is dropped from the group (the mock answers a new
    // group's first join only after 3 s: no shorter session lets it in).
    for (k, v) in [
        ("session.timeout.ms", "3000"),
        ("heartbeat.interval.ms", "500"),
        ("max.poll.interval.ms", "3000"),
    ] {
        cfg.kafka.client.insert(k.into(), v.into());
    }
    let run = start(cfg, Vec::new());
    // Waiting for it as the rebuild begins: more than the channel to the engine holds.
    let arriving = &crisis[..10_000];
    produce(&brokers, &topic, arriving);
    wait_until("ready", || run.stats.ready.load(Ordering::SeqCst));
    wait_until("every message taken", || {
        run.taken() >= arriving.len() as u64
    });
    let rebuilt_ms = ondata::live::LiveStats::get(&run.stats.rebuild_ms);
    let rebuilds = ondata::live::LiveStats::get(&run.stats.rebuilds);
    let taken = run.taken();
    run.stop(Stop::Drain);
    eprintln!("{rebuilds} rebuild(s), {rebuilt_ms} ms in all, {taken} taken");
    assert!(
        rebuilt_ms > 4_500,
        "the rebuild outlasts max.poll.interval.ms: {rebuilt_ms} ms"
    );
    assert_eq!(rebuilds, 1, "one rebuild, never started over");
    assert_eq!(taken, arriving.len() as u64, "each message taken once");
}
