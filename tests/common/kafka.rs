//! Kafka helpers shared by the tests that use librdkafka's mock cluster: unique names,
//! simulated streams, producing them keyed by topic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use ondata::config::Config;
use ondata::event::parse_event;
use ondata::simulate::{simulate, Scenario, SimOptions};

const WAIT: Duration = Duration::from_secs(120);

/// A name no other test (or earlier run) uses: topics and groups are never shared.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn stream(scenario: Scenario, days: u32, seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario,
        seed,
        days,
        ..SimOptions::default()
    };
    simulate(&opts, &mut out).expect("simulate");
    let mut lines: Vec<Vec<u8>> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let last = lines
        .iter()
        .filter_map(|l| {
            parse_event(l, &Config::default().input)
                .ok()
                .map(|e| e.ts_ms)
        })
        .max()
        .expect("events");
    let close = (last / 60_000 + 10) * 60_000;
    lines.push(
        format!(r#"{{"ts":{close},"text":"fine giornata","author":"test","topic":"zz-end"}}"#)
            .into_bytes(),
    );
    lines
}

pub fn key_of(line: &[u8]) -> String {
    parse_event(line, &Config::default().input)
        .ok()
        .and_then(|e| e.topic.map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// Produces lines keyed by their topic (as ondata's README asks), then checks that the
/// topic holds them all.
pub fn produce(brokers: &str, topic: &str, lines: &[Vec<u8>]) {
    produce_stamped(brokers, topic, lines, false)
}

/// The same; with `at_event_time` each message's timestamp is its comment's time (as a
/// producer that stamps messages with `ts` does), so Kafka time ranges are event time.
pub fn produce_stamped(brokers: &str, topic: &str, lines: &[Vec<u8>], at_event_time: bool) {
    let producer = test_producer(brokers);
    let before = total_messages(brokers, topic);
    for line in lines {
        let key = key_of(line);
        let mut record = BaseRecord::to(topic).key(key.as_bytes()).payload(&line[..]);
        if at_event_time {
            if let Ok(e) = parse_event(line, &Config::default().input) {
                record = record.timestamp(e.ts_ms);
            }
        }
        send(&producer, record);
    }
    all_in_topic(&producer, brokers, topic, before, lines.len());
}

/// Produces lines without a key, as a producer that does not key by topic: librdkafka
/// spreads them over the partitions at random. Checks that the topic holds them all.
#[allow(dead_code)]
pub fn produce_unkeyed(brokers: &str, topic: &str, lines: &[Vec<u8>]) {
    let producer = test_producer(brokers);
    let before = total_messages(brokers, topic);
    for line in lines {
        send(
            &producer,
            BaseRecord::<[u8], [u8]>::to(topic).payload(&line[..]),
        );
    }
    all_in_topic(&producer, brokers, topic, before, lines.len());
}

fn test_producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer")
}

/// Flushes `producer` and waits until `topic` holds `n` more messages than `before`.
fn all_in_topic(
    producer: &ThreadedProducer<DefaultProducerContext>,
    brokers: &str,
    topic: &str,
    before: i64,
    n: usize,
) {
    producer.flush(Duration::from_secs(60)).expect("flush");
    super::wait_until("every message in the topic", WAIT, || {
        total_messages(brokers, topic) >= before + n as i64
    });
}

/// Messages in all partitions of `topic` (sum of high watermarks).
pub fn total_messages(brokers: &str, topic: &str) -> i64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            c.fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .map(|(_, h)| h)
                .unwrap_or(0)
        })
        .sum()
}

/// Sends `record`, waiting while the producer's queue is full (bounded).
pub fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut record: BaseRecord<[u8], [u8]>,
) {
    let mut tries = 0;
    while let Err((e, r)) = producer.send(record) {
        tries += 1;
        assert!(tries < 10_000, "cannot produce: {e}");
        record = r;
        std::thread::sleep(Duration::from_millis(1));
    }
}
