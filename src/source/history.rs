//! Reading Kafka history back, outside the consumer group: where each partition's history
//! to rebuild from begins, offsets for times, and the group-less reader that fetches it (for
//! rebuilds, `record` and `replay --kafka`). It never commits, so the live group is never
//! touched.

use std::time::{Duration, Instant};

use crate::error::{Context as _, Result};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::kafka::{base_client_config, log_librdkafka, LiveContext, Partition, METADATA_TIMEOUT};
use crate::config::KafkaConfig;

/// Where live consumption of each partition starts and where its history begins.
#[derive(Debug, Clone)]
pub struct RebuildRange {
    pub at: Partition,
    /// First offset of the history to read back.
    pub start: i64,
    /// The offset live consumption resumes from: history is `start..end`.
    pub end: i64,
}

/// A plain (group-less) consumer for metadata and for reading history back.
/// The context of history readers: reaching a partition's end is what they are for, not an
/// error (librdkafka reports ends it delivers after the reader stopped polling as errors).
pub struct HistoryContext;

impl ClientContext for HistoryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_librdkafka(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!("history: {error}: {reason}");
        } else {
            tracing::warn!("kafka (history reader): {error}: {reason}");
        }
    }
}

impl ConsumerContext for HistoryContext {}

/// A consumer outside the group that reads partitions' history and asks their ends.
pub type HistoryReader = BaseConsumer<HistoryContext>;

pub fn history_consumer(kafka: &KafkaConfig) -> Result<HistoryReader> {
    reader_named(kafka, "rebuild")
}

/// A history reader whose `group.id` is the live group's with `.{purpose}` appended. It
/// only assigns partitions and never commits, so the live group is never touched.
pub fn reader_named(kafka: &KafkaConfig, purpose: &str) -> Result<HistoryReader> {
    let mut cfg = base_client_config(kafka)?;
    cfg.set("group.id", format!("{}.{purpose}", kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    cfg.create_with_context(HistoryContext)
        .context("cannot create the Kafka history reader")
}

/// The offset live consumption of a newly assigned partition resumes from: the group's
/// committed offset, or with none the end or the beginning of the partition, as
/// `auto.offset.reset` says (librdkafka's default: the end).
pub fn resume_offsets(
    group: &impl Consumer<LiveContext>,
    reader: &HistoryReader,
    parts: &[Partition],
    reset_to_earliest: bool,
) -> KafkaResult<Vec<(Partition, i64)>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        tpl.add_partition(&p.topic, p.partition);
    }
    let committed = group.committed_offsets(tpl, METADATA_TIMEOUT)?;
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let c = committed
            .find_partition(&p.topic, p.partition)
            .map(|e| e.offset());
        let (low, high) = reader.fetch_watermarks(&p.topic, p.partition, METADATA_TIMEOUT)?;
        let resume = match c {
            Some(Offset::Offset(o)) => o.clamp(low, high),
            _ if reset_to_earliest => low,
            _ => high,
        };
        out.push((p.clone(), resume));
    }
    Ok(out)
}

/// The broker timestamp of the first message at or after `offset` (a fresh reader each
/// time, so nothing left from an earlier read can answer).
fn ts_at(kafka: &KafkaConfig, p: &Partition, offset: i64) -> Option<i64> {
    let reader = history_consumer(kafka).ok()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(offset))
        .ok()?;
    reader.assign(&tpl).ok()?;
    let deadline = Instant::now() + METADATA_TIMEOUT;
    while Instant::now() < deadline {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(m)) if m.offset() >= offset => return m.timestamp().to_millis(),
            Some(Ok(_)) => {}
            Some(Err(KafkaError::PartitionEOF(_))) => return None,
            Some(Err(e)) => tracing::debug!("reading {p}@{offset}: {e}"),
            None => {}
        }
    }
    None
}

/// The first offset in `low..end` whose broker timestamp is at least `from`: the broker's
/// own index (ListOffsets by time) when it answers, else a binary search reading
/// timestamps (brokers and test clusters without a time index).
pub fn offset_for_time(
    kafka: &KafkaConfig,
    reader: &HistoryReader,
    p: &Partition,
    low: i64,
    end: i64,
    from: i64,
) -> KafkaResult<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(from))?;
    let found = reader.offsets_for_times(tpl, METADATA_TIMEOUT)?;
    if let Some(Offset::Offset(o)) = found
        .find_partition(&p.topic, p.partition)
        .map(|e| e.offset())
    {
        return Ok(o.clamp(low, end));
    }
    // Without a time index (or with a broker that does not answer by time), search by
    // reading. Usually the whole retained log is recent enough, or all of it older: one
    // read settles it.
    if low >= end || ts_at(kafka, p, low).is_some_and(|ts| ts >= from) {
        return Ok(low);
    }
    if ts_at(kafka, p, end - 1).is_some_and(|ts| ts < from) {
        return Ok(end);
    }
    let (mut lo, mut hi) = (low, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match ts_at(kafka, p, mid) {
            Some(ts) if ts >= from => hi = mid,
            Some(_) => lo = mid + 1,
            None => break,
        }
    }
    Ok(lo)
}

/// For each partition, the range of history to read back: `hours` before the broker time of
/// the last message taken, up to the resume offset. Measured on the broker's timestamps, not
/// on the wall clock, so old data pushed through Kafka rebuilds as well as live data.
pub fn rebuild_ranges(
    kafka: &KafkaConfig,
    reader: &HistoryReader,
    resume: &[(Partition, i64)],
    hours: u32,
) -> KafkaResult<Vec<RebuildRange>> {
    let mut out = Vec::new();
    for (p, end) in resume {
        let (low, _) = reader.fetch_watermarks(&p.topic, p.partition, METADATA_TIMEOUT)?;
        let mut start = *end;
        if hours > 0 && *end > low {
            start = match ts_at(kafka, p, end - 1) {
                Some(ts) => {
                    let from = ts - i64::from(hours) * 3_600_000;
                    offset_for_time(kafka, reader, p, low, *end, from)?
                }
                None => low,
            };
        }
        out.push(RebuildRange {
            at: p.clone(),
            start,
            end: *end,
        });
    }
    Ok(out)
}
