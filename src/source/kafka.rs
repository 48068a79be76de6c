//! Kafka plumbing for the live path: client configuration, the consumer context that commits
//! on revoke and reports assignments, owned messages handed to the engine thread, and the
//! dead-letter producer. Reading history back is in [`super::history`].
//!
//! Nothing here decides anything about comments; the `live` module drives it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::config::KafkaConfig;

/// Timeout of the blocking metadata calls (committed offsets, watermarks, offsets for times).
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A message copied out of librdkafka's buffers, so it can cross to the engine thread.
#[derive(Debug, Clone)]
pub struct OwnedMessage {
    pub at: Partition,
    pub offset: i64,
    /// The broker's timestamp (create or log-append time), milliseconds since the epoch.
    pub kafka_ts_ms: Option<i64>,
    pub payload: Vec<u8>,
}

impl OwnedMessage {
    pub fn from_message<M: Message>(m: &M, topic: Arc<str>) -> Self {
        Self {
            at: Partition {
                topic,
                partition: m.partition(),
            },
            offset: m.offset(),
            kafka_ts_ms: m.timestamp().to_millis(),
            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }
}

/// The client properties every ondata client starts from: brokers, then `[kafka.client]`
/// with `env:NAME` values read from the environment. Errors name the property.
pub fn base_client_config(kafka: &KafkaConfig) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &kafka.brokers)
        .set("client.id", "ondata")
        .set_log_level(RDKafkaLogLevel::Warning);
    for (key, value) in resolved_client_properties(kafka)? {
        cfg.set(key, value);
    }
    Ok(cfg)
}

/// What would fail when the live consumer starts, checked without connecting: an `env:`
/// value whose variable is unset, a property librdkafka does not know or refuses.
pub fn check_client(kafka: &KafkaConfig) -> Result<()> {
    let cfg = consumer_config(kafka)?;
    cfg.create::<rdkafka::consumer::BaseConsumer>()
        .map(drop)
        .map_err(|e| Error::setting(format!("kafka.client: {e}")))
}

/// `[kafka.client]` with secrets resolved.
fn resolved_client_properties(kafka: &KafkaConfig) -> Result<BTreeMap<String, String>> {
    kafka
        .client
        .iter()
        .map(|(k, v)| {
            let value = crate::secret::resolve(v, &format!("kafka.client.\"{k}\""))?;
            Ok((k.clone(), value))
        })
        .collect()
}

/// The group consumer's properties: at-least-once offsets (stored by ondata once the engine
/// has taken a message, committed by ondata every second, on revoke and on shutdown),
/// cooperative rebalancing, low fetch latency, a 10 s session; `[kafka.client]` overrides
/// these.
pub fn consumer_config(kafka: &KafkaConfig) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &kafka.brokers)
        .set("client.id", "ondata")
        .set("group.id", &kafka.group_id)
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("fetch.wait.max.ms", "20")
        // Kafka's default before 3.0: a crashed instance's partitions move within 10 s, not
        // 45. Heartbeats come from librdkafka's own thread, so a busy engine is never
        // evicted by it (`max.poll.interval.ms` covers that).
        .set("session.timeout.ms", "10000")
        // Consumer lag for /metrics comes from librdkafka's statistics.
        .set("statistics.interval.ms", "5000")
        .set_log_level(RDKafkaLogLevel::Warning);
    for (key, value) in resolved_client_properties(kafka)? {
        cfg.set(key, value);
    }
    if cfg.get("enable.auto.offset.store") != Some("false") {
        return Err(Error::setting("kafka.client.\"enable.auto.offset.store\" must stay false: ondata stores an offset only after the engine has taken the message (at-least-once)"));
    }
    Ok(cfg)
}

/// What the rebalance callbacks tell the consumer task: the current assignment and a
/// generation number that changes with it.
#[derive(Default)]
pub struct AssignmentState {
    pub generation: AtomicU64,
    pub partitions: Mutex<Vec<Partition>>,
}

impl AssignmentState {
    pub fn snapshot(&self) -> (u64, Vec<Partition>) {
        let parts = self
            .partitions
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        (self.generation.load(Ordering::SeqCst), parts)
    }
}

/// Consumer context: synchronous commit of stored offsets before partitions are revoked,
/// assignment changes recorded for the engine, librdkafka's log and errors into tracing.
pub struct LiveContext {
    pub assignment: Arc<AssignmentState>,
    /// Set when the process is to stop as if it died: no commit on the way out.
    pub aborting: Arc<std::sync::atomic::AtomicBool>,
    /// Receives consumer lag from librdkafka's statistics (`statistics.interval.ms`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// librdkafka's own log lines, at their level, under the `librdkafka` target.
pub(super) fn log_librdkafka(level: RDKafkaLogLevel, fac: &str, log_message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", "{fac}: {log_message}")
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", "{fac}: {log_message}")
        }
        _ => tracing::debug!(target: "librdkafka", "{fac}: {log_message}"),
    }
}

impl ClientContext for LiveContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_librdkafka(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!("kafka: {error}: {reason} (librdkafka retries by itself)");
        if let Some(m) = &self.metrics {
            m.kafka_error("client");
        }
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 {
                    continue; // librdkafka's internal "unassigned" partition
                }
                // -1 (unknown) for partitions not assigned or not yet fetched.
                let lag = (p.consumer_lag >= 0).then_some(p.consumer_lag);
                metrics.lag(topic, partition, lag);
            }
        }
    }
}

impl LiveContext {
    fn publish(&self, parts: Vec<Partition>) {
        tracing::info!(
            "assignment now {} partition(s): {}",
            parts.len(),
            parts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Ok(mut p) = self.assignment.partitions.lock() {
            if *p == parts {
                return;
            }
            *p = parts;
        }
        self.assignment.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl ConsumerContext for LiveContext {
    /// Asynchronous commits report here: a failed one is counted (and retried with the next).
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => {
                tracing::warn!("offset commit failed: {e} (retried with the next commit)");
                if let Some(m) = &self.metrics {
                    m.kafka_error("commit");
                }
            }
        }
    }

    /// The new assignment is published before librdkafka applies it, so the engine hears of
    /// a partition before any of its messages (they can be fetched as soon as it is applied).
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let current: Vec<Partition> = self
            .assignment
            .partitions
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        match rebalance {
            Rebalance::Revoke(tpl) => {
                tracing::info!("partitions revoked: {}", describe(tpl));
                if !self.aborting.load(Ordering::SeqCst) {
                    commit_stored(consumer);
                }
                let gone = partitions_of(tpl);
                let left = if cooperative {
                    current.into_iter().filter(|p| !gone.contains(p)).collect()
                } else {
                    Vec::new()
                };
                self.publish(left);
            }
            Rebalance::Assign(tpl) => {
                let mut parts = partitions_of(tpl);
                if cooperative {
                    parts.extend(current);
                    parts.sort();
                    parts.dedup();
                }
                self.publish(parts);
            }
            Rebalance::Error(_) => {}
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(e) = rebalance {
            tracing::warn!("rebalance error: {e}");
        }
        match consumer.assignment() {
            Ok(tpl) => self.publish(partitions_of(&tpl)),
            Err(e) => tracing::warn!("cannot read the assignment after a rebalance: {e}"),
        }
    }
}

/// Commits the stored offsets synchronously; "nothing to commit" is not an error.
pub fn commit_stored<C: ConsumerContext>(consumer: &impl Consumer<C>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(
            "offset commit failed: {e} (the next owner re-reads from the last commit)"
        ),
    }
}

pub fn partitions_of(tpl: &TopicPartitionList) -> Vec<Partition> {
    let mut v: Vec<Partition> = tpl
        .elements()
        .iter()
        .map(|e| Partition {
            topic: Arc::from(e.topic()),
            partition: e.partition(),
        })
        .collect();
    v.sort();
    v
}

fn describe(tpl: &TopicPartitionList) -> String {
    partitions_of(tpl)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// librdkafka properties a producer does not take (CONFIGURATION.md, scope C).
const CONSUMER_ONLY: &[&str] = &[
    "group.id",
    "group.instance.id",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.protocol.type",
    "group.protocol",
    "group.remote.assignor",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.queue.backoff.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "allow.auto.create.topics",
    "auto.offset.reset",
    "offset.store.method",
    "consume.callback.max.messages",
];

/// A producer's configuration (dead letters, the kafka alert sink): `[kafka.client]` is mostly for the consumer,
/// and a producer warns of each consumer property it is given, so those are left out.
pub fn producer_config(kafka: &KafkaConfig) -> Result<ClientConfig> {
    let mut cfg = base_client_config(kafka)?;
    for key in CONSUMER_ONLY {
        cfg.remove(key);
    }
    cfg.set("linger.ms", "5");
    Ok(cfg)
}

/// Headers of a message as (key, value) strings, for tests and tools.
pub fn header_map<M: Message>(m: &M) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(h) = m.headers() {
        for i in 0..h.count() {
            let x = h.get(i);
            out.insert(
                x.key.to_string(),
                x.value
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(client: &[(&str, &str)]) -> KafkaConfig {
        let mut k = crate::config::Config::default().kafka;
        for (key, value) in client {
            k.client.insert((*key).into(), (*value).into());
        }
        k
    }

    #[test]
    fn the_consumer_keeps_offsets_stored_by_hand() {
        let cfg = consumer_config(&kafka(&[("security.protocol", "ssl")])).unwrap();
        assert_eq!(cfg.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(cfg.get("security.protocol"), Some("ssl"));
        let err = consumer_config(&kafka(&[("enable.auto.offset.store", "true")])).unwrap_err();
        assert!(err.to_string().contains("at-least-once"), "{err}");
    }

    #[test]
    fn the_dead_letter_producer_gets_no_consumer_properties() {
        let k = kafka(&[
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "6000"),
            ("security.protocol", "sasl_ssl"),
        ]);
        let cfg = producer_config(&k).unwrap();
        assert_eq!(cfg.get("auto.offset.reset"), None);
        assert_eq!(cfg.get("session.timeout.ms"), None);
        assert_eq!(cfg.get("security.protocol"), Some("sasl_ssl"));
    }

    #[test]
    fn secrets_come_from_the_environment() {
        let err = base_client_config(&kafka(&[(
            "sasl.password",
            "env:ONDATA_TEST_SURELY_UNSET_VARIABLE",
        )]))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("ONDATA_TEST_SURELY_UNSET_VARIABLE"),
            "{err}"
        );
    }
}
