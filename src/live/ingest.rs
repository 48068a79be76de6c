//! The ingesting stage of a repartition (`kafka.repartition_partitions`), as Kafka Streams
//! repartitions before an aggregation: it reads the input topics in the group, rejects bad
//! messages to the dead letter, resolves each comment's topics (its own and every keyword
//! rule's that matches; `other` when none) and writes one record per topic to the internal
//! topic `<group_id>.by-topic`, keyed by that topic. The detecting stage then owns whole
//! topics, whoever produced the comments and however they keyed them.
//!
//! At least once: an input offset is stored only after the broker has acknowledged every
//! record written before it (the producer is flushed first), and its dead letter if it had
//! one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio::sync::watch;

use super::Stop;
use crate::config::{Config, KafkaConfig};
use crate::engine::OTHER_TOPIC;
use crate::error::{Context as _, Error, Result};
use crate::event::parse_event;
use crate::metrics::Metrics;
use crate::source::dead_letter::DeadLetters;
use crate::source::kafka::{self, OwnedMessage, Partition};
use crate::text::topics::TopicMatcher;

/// How often what was written is flushed and the input offsets stored and committed.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// The internal topic of a group.
pub fn internal_topic(kafka: &KafkaConfig) -> String {
    format!("{}.by-topic", kafka.group_id)
}

/// The configuration the detecting stage runs with: the internal topic, its own group,
/// events already routed.
pub fn detect_config(config: &Config) -> Config {
    let mut c = config.clone();
    c.kafka.topics = vec![internal_topic(&config.kafka)];
    c.kafka.group_id = format!("{}.detect", config.kafka.group_id);
    c.engine.routed = true;
    // The internal topic is ondata's own: a new detecting group reads it from its start.
    c.kafka
        .client
        .insert("auto.offset.reset".into(), "earliest".into());
    c
}

/// What the ingesting stage did.
#[derive(Debug, Default, Clone, Copy)]
pub struct IngestSummary {
    pub messages: u64,
    pub records: u64,
    pub dead_lettered: u64,
}

/// Runs the ingesting stage until `shutdown` says stop; then flushes and commits (not on
/// an abort).
pub async fn run(
    config: Config,
    metrics: Option<Arc<Metrics>>,
    mut shutdown: watch::Receiver<Stop>,
) -> Result<IngestSummary> {
    let consumer: StreamConsumer = kafka::consumer_config(&config.kafka)?
        .create()
        .context("cannot create the ingesting Kafka consumer")?;
    let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .with_context(|| format!("cannot subscribe to {topics:?}"))?;
    let producer: ThreadedProducer<DefaultProducerContext> = kafka::producer_config(&config.kafka)?
        .set("enable.idempotence", "true")
        // Never given up: a record not written holds its input offset back.
        .set("message.timeout.ms", "0")
        .create()
        .context("cannot create the repartition producer")?;
    let mut dead = DeadLetters::new(&config.kafka, metrics.clone())?;
    let mut matcher = TopicMatcher::new(&config.topics.rules);
    let internal = internal_topic(&config.kafka);
    let mut names: BTreeMap<String, Arc<str>> = BTreeMap::new();
    // Per input partition: the last offset read whose records are not yet flushed.
    let mut read: BTreeMap<Partition, i64> = BTreeMap::new();
    let mut summary = IngestSummary::default();
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    let mut last_commit = Instant::now();
    tracing::info!(
        "ingesting {topics:?} as group {} into {internal}",
        config.kafka.group_id
    );
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() != Stop::Run {
                    break;
                }
            }
            _ = tick.tick() => {}
            received = consumer.recv() => match received {
                Ok(m) => {
                    let topic = names
                        .entry(m.topic().to_string())
                        .or_insert_with(|| Arc::from(m.topic()))
                        .clone();
                    let owned = OwnedMessage::from_message(&m, topic);
                    drop(m);
                    summary.messages += 1;
                    match route(&owned, &config, &mut matcher, &producer, &internal, &mut dead) {
                        Some(records) => {
                            summary.records += records;
                            if let Some(m) = &metrics {
                                m.ingested(records);
                            }
                        }
                        None => summary.dead_lettered += 1,
                    }
                    read.insert(owned.at.clone(), owned.offset);
                }
                Err(e) => {
                    tracing::warn!("kafka: {e}");
                    if let Some(m) = &metrics {
                        m.kafka_error("fetch");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
        if last_commit.elapsed() >= COMMIT_EVERY {
            last_commit = Instant::now();
            commit(&consumer, &producer, &mut dead, &mut read);
        }
    }
    if *shutdown.borrow() == Stop::Abort {
        return Ok(summary);
    }
    dead.flush(Duration::from_secs(5));
    commit(&consumer, &producer, &mut dead, &mut read);
    kafka::commit_stored(&consumer);
    consumer.unsubscribe();
    Ok(summary)
}

/// Writes a message's records; returns how many, or None when it went to the dead letter.
fn route(
    m: &OwnedMessage,
    config: &Config,
    matcher: &mut TopicMatcher,
    producer: &ThreadedProducer<DefaultProducerContext>,
    internal: &str,
    dead: &mut DeadLetters,
) -> Option<u64> {
    let mut event = match parse_event(&m.payload, &config.input) {
        Ok(e) => e,
        Err(rejection) => {
            dead.send(m, rejection.reason.as_str(), &rejection.detail);
            return None;
        }
    };
    let mut topics: Vec<String> = Vec::new();
    if let Some(own) = event.topic.as_deref().map(str::trim) {
        if !own.is_empty() {
            topics.push(own.to_string());
        }
    }
    let rules = matcher.rule_names().to_vec();
    matcher.for_each_match(&event.text, |r| {
        if !topics.contains(&rules[r]) {
            topics.push(rules[r].clone());
        }
    });
    if topics.is_empty() {
        topics.push(OTHER_TOPIC.to_string());
    }
    let n = topics.len() as u64;
    for topic in topics {
        event.topic = Some(std::borrow::Cow::Owned(topic.clone()));
        let line = event.to_json_line();
        let mut record = BaseRecord::<str, str>::to(internal)
            .key(&topic)
            .payload(&line);
        if let Some(ts) = m.kafka_ts_ms {
            record = record.timestamp(ts);
        }
        let mut record = Some(record);
        while let Some(r) = record.take() {
            if let Err((e, back)) = producer.send(r) {
                // The local queue is full: let it drain.
                tracing::debug!("repartition producer: {e}; waiting");
                producer.poll(Duration::from_millis(50));
                record = Some(back);
            }
        }
    }
    Some(n)
}

/// Flushes the records written, then stores and commits each input partition's offset (up
/// to just before its first dead letter still in flight).
fn commit(
    consumer: &StreamConsumer,
    producer: &ThreadedProducer<DefaultProducerContext>,
    dead: &mut DeadLetters,
    read: &mut BTreeMap<Partition, i64>,
) {
    dead.poll();
    if read.is_empty() {
        return;
    }
    if let Err(e) = producer.flush(Duration::from_secs(10)) {
        tracing::warn!("the repartition topic has not taken every record yet: {e}");
        return;
    }
    let mut done = Vec::new();
    for (p, &last) in read.iter() {
        let upto = match dead.first_in_flight(p) {
            Some(first) => last.min(first - 1),
            None => last,
        };
        if upto < 0 {
            continue;
        }
        if let Err(e) = consumer.store_offset(&p.topic, p.partition, upto) {
            tracing::debug!("offset {} of {p} not stored: {e}", upto + 1);
            continue;
        }
        if upto == last {
            done.push(p.clone());
        }
    }
    for p in done {
        read.remove(&p);
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Async) {
        tracing::debug!("ingest commit: {e}");
    }
}

/// Makes sure the internal topic exists with `kafka.repartition_partitions` partitions.
pub async fn ensure_internal_topic(kafka: &KafkaConfig) -> Result<()> {
    let topic = internal_topic(kafka);
    crate::source::dead_letter::ensure_topic(
        kafka,
        &topic,
        kafka.repartition_partitions as i32,
        kafka.repartition_replication,
    )
    .await
    .map_err(|why| {
        Error::setting(format!(
            "the repartition topic {topic:?} does not exist and cannot be created ({why}): create it with {} partitions",
            kafka.repartition_partitions
        ))
    })
}
