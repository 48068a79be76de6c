//! The live path loses nothing it cannot hand on: dead letters the broker refuses are sent
//! again and hold their offsets back, a dead-letter topic that cannot exist stops the start,
//! and a graceful stop hands the partitions over. Against librdkafka's mock cluster, with
//! random topic and group names; every wait is bounded.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::Message;

use ondata::live::Stop;
use ondata::metrics::Metrics;
use ondata::simulate::Scenario;

use common::kafka::{produce, stream, unique};
use common::live::*;

/// Every message of `topic` (from the start), waiting up to [`WAIT`] for `want` of them.
fn read_all(brokers: &str, topic: &str, want: usize) -> Vec<Vec<u8>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            got.push(m.payload().unwrap_or_default().to_vec());
        }
    }
    got
}

#[test]
fn dead_letters_the_broker_refuses_are_sent_again_and_none_is_lost() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 1);
    let brokers = mock.bootstrap_servers();
    let mut lines = stream(Scenario::Quiet, 0, 4);
    lines.truncate(1_500);
    let mut mixed = Vec::new();
    let mut poison = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        mixed.push(l.clone());
        if i % 300 == 11 {
            let p = format!("not json {i}").into_bytes();
            poison.push(p.clone());
            mixed.push(p);
        }
    }
    let group = unique("g");
    let cfg = earliest(config(&brokers, &topic, &group));
    produce(&brokers, &topic, &mixed);
    // The broker refuses the first produce requests outright (no permission on the topic),
    // as it would while an operator fixes its ACLs.
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 6],
    );
    let metrics = Arc::new(Metrics::new());
    let run = start_observed(cfg, Vec::new(), Some(metrics.clone()));
    wait_until("every message taken", || run.taken() >= mixed.len() as u64);
    wait_until("the refusals counted", || {
        metric_sum(&metrics, "ondata_kafka_errors_total{kind=\"dead_letter\"}") > 0.0
    });
    let got = read_all(&brokers, &format!("{topic}.dlq"), poison.len());
    let summary = run.stop(Stop::Drain);
    let mut got_sorted = got.clone();
    got_sorted.sort();
    got_sorted.dedup();
    let mut want = poison.clone();
    want.sort();
    assert_eq!(
        got_sorted, want,
        "every poison message is in the dead-letter topic"
    );
    assert_eq!(summary.dead_lettered, poison.len() as u64);
    assert_eq!(
        committed_and_ends(&brokers, &topic, &group, 1),
        vec![(mixed.len() as i64, mixed.len() as i64)],
        "committed to the end once the dead letters were acknowledged"
    );
}

#[test]
fn a_dead_letter_topic_that_cannot_exist_stops_the_start_with_its_name() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 1);
    let brokers = mock.bootstrap_servers();
    let cfg = config(&brokers, &topic, &unique("g"));
    // The brokers neither know it nor create it (the mock takes no CreateTopics either).
    mock.topic_error(
        &cfg.kafka.dead_letter_topic,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
    )
    .unwrap();
    let run = start(cfg.clone(), Vec::new());
    let err = run
        .rt
        .block_on(run.task)
        .unwrap()
        .expect_err("no start without a dead-letter topic");
    let text = err.to_string();
    assert!(
        text.contains(&cfg.kafka.dead_letter_topic) && text.contains("cannot be created"),
        "{text}"
    );
}

/// librdkafka's mock cluster keeps a group rebalancing for a session timeout after its last
/// member leaves (a real broker does not), so the hand-over takes about `session.timeout.ms`
/// there: ondata's 10 s instead of librdkafka's 45 s.
#[test]
fn a_graceful_stop_hands_the_partitions_over_within_seconds() {
    let _serial = one_at_a_time();
    let topic = unique("comments");
    let mock = cluster(1, &topic, 3);
    let brokers = mock.bootstrap_servers();
    let mut lines = stream(Scenario::Quiet, 0, 5);
    lines.truncate(500);
    let mut cfg = earliest(config(&brokers, &topic, &unique("g")));
    // No snapshot: the restart rebuilds from history.
    cfg.kafka.snapshot_secs = 0;
    let run = start(cfg.clone(), Vec::new());
    produce(&brokers, &topic, &lines);
    wait_until("every message taken", || run.taken() >= lines.len() as u64);
    run.stop(Stop::Drain);
    let restarted = Instant::now();
    let metrics = Arc::new(Metrics::new());
    let run = start_observed(cfg, Vec::new(), Some(metrics.clone()));
    wait_until("the partitions assigned again", || {
        run.stats.ready.load(Ordering::SeqCst)
    });
    let took = restarted.elapsed();
    run.stop(Stop::Drain);
    assert!(took < Duration::from_secs(15), "ready after {took:?}");
    // Without a snapshot, the state is rebuilt from the history it covers: every message
    // read back once.
    assert_eq!(
        metric_sum(&metrics, "ondata_restore_messages_total"),
        lines.len() as f64
    );
    assert!(metric_sum(&metrics, "ondata_restore_seconds") > 0.0);
}
