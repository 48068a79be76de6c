//! Dead letters: a poison message as it came, with headers naming why and where from, sent to
//! `kafka.dead_letter_topic`. A dead letter is in flight until the broker acknowledges it; a
//! failed one is sent again. The live path stores no offset of a partition at or past a dead
//! letter still in flight, so a poison message is never lost: it is either acknowledged in the
//! dead-letter topic or read again after a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, NoCustomPartitioner, Producer, ProducerContext, ThreadedProducer,
};

use super::kafka::METADATA_TIMEOUT;
use super::kafka::{base_client_config, log_librdkafka, producer_config, OwnedMessage, Partition};
use crate::config::KafkaConfig;
use crate::error::{Context as _, Error, Result};
use crate::metrics::Metrics;

/// How long creating the dead-letter topic may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);
/// A failed dead letter is sent again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the producer's thread reports of each dead letter: its number and, if it failed, why.
#[derive(Default)]
pub struct Acks(Mutex<Vec<(usize, Option<String>)>>);

/// The dead-letter producer's context: delivery reports go to [`Acks`].
pub struct DeadLetterContext {
    acks: Arc<Acks>,
}

impl ClientContext for DeadLetterContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_librdkafka(level, fac, log_message);
    }
}

impl ProducerContext<NoCustomPartitioner> for DeadLetterContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let failed = result.as_ref().err().map(|(e, _)| e.to_string());
        if let Ok(mut acks) = self.acks.0.lock() {
            acks.push((id, failed));
        }
    }
}

/// A dead letter kept until the broker has it.
struct Letter {
    message: OwnedMessage,
    reason: String,
    detail: String,
    failures: u32,
    /// When a failed letter is due to be sent again.
    retry_at: Option<Instant>,
}

pub struct DeadLetters {
    producer: ThreadedProducer<DeadLetterContext>,
    acks: Arc<Acks>,
    topic: String,
    next_id: usize,
    in_flight: BTreeMap<usize, Letter>,
    metrics: Option<Arc<Metrics>>,
}

impl DeadLetters {
    pub fn new(kafka: &KafkaConfig, metrics: Option<Arc<Metrics>>) -> Result<Self> {
        let acks = Arc::new(Acks::default());
        Ok(Self {
            producer: producer_config(kafka)?
                .create_with_context(DeadLetterContext { acks: acks.clone() })
                .context("cannot create the dead-letter producer")?,
            acks,
            topic: kafka.dead_letter_topic.clone(),
            next_id: 0,
            in_flight: BTreeMap::new(),
            metrics,
        })
    }

    /// Queues one dead letter; it stays in flight until the broker acknowledges it.
    pub fn send(&mut self, m: &OwnedMessage, reason: &str, detail: &str) {
        let id = self.next_id;
        self.next_id += 1;
        let letter = Letter {
            message: m.clone(),
            reason: reason.to_string(),
            detail: detail.to_string(),
            failures: 0,
            retry_at: None,
        };
        self.produce(id, &letter);
        self.in_flight.insert(id, letter);
    }

    /// Hands a letter to librdkafka; a full queue or a refusal counts as a failed delivery.
    fn produce(&self, id: usize, letter: &Letter) {
        let m = &letter.message;
        let offset = m.offset.to_string();
        let partition = m.at.partition.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "reason",
                value: Some(&letter.reason),
            })
            .insert(Header {
                key: "detail",
                value: Some(&letter.detail),
            })
            .insert(Header {
                key: "original_topic",
                value: Some(&*m.at.topic),
            })
            .insert(Header {
                key: "original_partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "original_offset",
                value: Some(&offset),
            });
        let mut record: BaseRecord<'_, (), [u8], usize> =
            BaseRecord::with_opaque_to(&self.topic, id)
                .payload(&m.payload[..])
                .headers(headers);
        for _ in 0..100 {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => return self.report(id, e.to_string()),
            }
        }
        self.report(id, "the producer's queue stayed full".into());
    }

    fn report(&self, id: usize, why: String) {
        if let Ok(mut acks) = self.acks.0.lock() {
            acks.push((id, Some(why)));
        }
    }

    /// Takes the broker's answers: acknowledged letters are done, failed ones are logged,
    /// counted and sent again after [`RETRY_AFTER`].
    pub fn poll(&mut self) {
        let answers = match self.acks.0.lock() {
            Ok(mut acks) => std::mem::take(&mut *acks),
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        for (id, failed) in answers {
            let Some(why) = failed else {
                self.in_flight.remove(&id);
                continue;
            };
            let Some(letter) = self.in_flight.get_mut(&id) else {
                continue;
            };
            letter.failures += 1;
            letter.retry_at = Some(now + RETRY_AFTER);
            if letter.failures == 1 || letter.failures % 60 == 0 {
                tracing::error!(
                    "dead letter of {}@{} not accepted by {} ({} tries): {why}; its offset is not committed until it is",
                    letter.message.at,
                    letter.message.offset,
                    self.topic,
                    letter.failures
                );
            }
            if let Some(m) = &self.metrics {
                m.kafka_error("dead_letter");
            }
        }
        let due: Vec<usize> = self
            .in_flight
            .iter()
            .filter(|(_, l)| l.retry_at.is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for old in due {
            if let Some(mut letter) = self.in_flight.remove(&old) {
                letter.retry_at = None;
                let id = self.next_id;
                self.next_id += 1;
                self.produce(id, &letter);
                self.in_flight.insert(id, letter);
            }
        }
    }

    /// The lowest offset of `p` whose dead letter is still in flight.
    pub fn first_in_flight(&self, p: &Partition) -> Option<i64> {
        self.in_flight
            .values()
            .filter(|l| &l.message.at == p)
            .map(|l| l.message.offset)
            .min()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Forgets the letters of partitions no longer ours: the next owner reads them again
    /// from the last commit, which never passed them.
    pub fn forget_except(&mut self, kept: &std::collections::BTreeSet<Partition>) {
        self.in_flight.retain(|_, l| kept.contains(&l.message.at));
    }

    /// Waits up to `timeout` for every letter to be acknowledged, sending failed ones again.
    pub fn flush(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let _ = self.producer.flush(Duration::from_millis(100));
            self.poll();
            if self.in_flight.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "{} dead letter(s) not acknowledged within {timeout:?}: their messages are read again at the next start",
                    self.in_flight.len()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Makes sure the dead-letter topic exists before anything is consumed. A missing one is
/// asked of the brokers as a producer's first use would (they create it where
/// `auto.create.topics.enable` allows), then created with CreateTopics (1 partition, the
/// brokers' default replication); if neither works, it is an error at start.
pub async fn ensure_dead_letter_topic(kafka: &KafkaConfig) -> Result<()> {
    let topic = kafka.dead_letter_topic.as_str();
    if topic_exists(kafka, topic, true).await? {
        return Ok(());
    }
    match ensure_topic(kafka, topic, 1, -1).await {
        Ok(()) => Ok(()),
        Err(why) => Err(Error::setting(format!(
            "the dead-letter topic {topic:?} does not exist and cannot be created ({why}): create it, or set kafka.dead_letter_topic to one that exists"
        ))),
    }
}

/// Makes sure `topic` exists: known to the brokers, or created with CreateTopics
/// (`replication` -1: the brokers' default). The error says why it cannot be.
pub async fn ensure_topic(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: i32,
    replication: i32,
) -> std::result::Result<(), String> {
    match topic_exists(kafka, topic, false).await {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(e) => return Err(e.to_string()),
    }
    let admin: AdminClient<DefaultClientContext> = producer_config(kafka)
        .map_err(|e| e.to_string())?
        .create()
        .map_err(|e| format!("cannot create the Kafka admin client: {e}"))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    let options = AdminOptions::new()
        .operation_timeout(Some(CREATE_TIMEOUT))
        .request_timeout(Some(CREATE_TIMEOUT));
    let created = match admin.create_topics([&new], &options).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
            Some(Err((_, code))) => Err(code.to_string()),
            None => Err("no answer".to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    if created.is_ok() {
        tracing::info!("created the topic {topic} ({partitions} partition(s))");
    }
    created
}

/// Whether the brokers know `topic`; with `auto_create`, asking as a producer does (which
/// creates it where the brokers allow that).
async fn topic_exists(kafka: &KafkaConfig, topic: &str, auto_create: bool) -> Result<bool> {
    let mut cfg = base_client_config(kafka)?;
    cfg.set(
        "allow.auto.create.topics",
        if auto_create { "true" } else { "false" },
    );
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = cfg
            .create()
            .context("cannot create a Kafka metadata client")?;
        let md = client
            .fetch_metadata(Some(&topic), METADATA_TIMEOUT)
            .with_context(|| format!("cannot read the metadata of topic {topic:?}"))?;
        Ok(md
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
    })
    .await
    .map_err(|e| Error::failed(format!("metadata lookup stopped: {e}")))?
}
