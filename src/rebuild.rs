//! State rebuild: reading partitions' recent history back into a fresh engine, merged by
//! event time, without sending the alerts it raises.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Context as _, Result};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::alert::{Alert, AlertStatus};
use crate::config::Config;
use crate::engine::Engine;
use crate::merge::{pending_of, Aligner, Item, Pending, Timed};
use crate::source::history::{HistoryReader, RebuildRange};
use crate::source::kafka::{self, OwnedMessage, Partition};

/// While reading history every partition has data until its end: wait for each.
const IDLE_HISTORY: Duration = Duration::from_secs(5);

/// What the history left behind: its newest event time and the conditions still firing.
#[derive(Default)]
pub struct HistoryEnd {
    pub max_ts: Option<i64>,
    pub firing: BTreeMap<String, Alert>,
}

impl HistoryEnd {
    /// Keeps the firing set up to date with one alert.
    pub fn follow(&mut self, alert: &Alert) {
        match alert.status {
            AlertStatus::Firing => {
                self.firing.insert(alert.id.clone(), alert.clone());
            }
            AlertStatus::Resolved => {
                self.firing.remove(&alert.id);
            }
        }
    }
}

/// How often a long rebuild logs how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Reads `start..end` of every range, merged by event time, into `engine`; alerts are not
/// sent but followed from `end` (what was firing before), so the ones still firing at the
/// end are known. Stops early when `stop` says so (a shutdown); logs its progress every few
/// seconds. Returns the events taken and the messages read.
pub fn read_history(
    reader: &HistoryReader,
    ranges: &[RebuildRange],
    config: &Config,
    engine: &mut Engine,
    mut end: HistoryEnd,
    stop: &dyn Fn() -> bool,
) -> Result<(u64, u64, HistoryEnd)> {
    let mut alerts = Vec::new();
    let mut events = 0u64;
    let mut seen = 0u64;
    let total: i64 = ranges.iter().map(|r| (r.end - r.start).max(0)).sum();
    let started = Instant::now();
    let mut logged = Instant::now();
    let read = read_ranges(
        reader,
        ranges,
        config,
        pending_of,
        stop,
        &mut |_, pending| {
            seen += 1;
            if seen % 4096 == 0 && logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                tracing::info!(
                    "rebuilding: {seen} of {total} messages read back ({:.0}%) in {:.0} s",
                    seen as f64 * 100.0 / total.max(1) as f64,
                    started.elapsed().as_secs_f64()
                );
            }
            if let Item::Event(e) = pending.item {
                alerts.clear();
                engine.ingest_into(&e, &mut alerts);
                events += 1;
                end.max_ts = Some(end.max_ts.map_or(e.ts_ms, |m| m.max(e.ts_ms)));
                for a in alerts.drain(..) {
                    end.follow(&a);
                }
            }
            Ok(())
        },
    )?;
    Ok((events, read, end))
}

/// Reads `start..end` of every range and hands each message to `on`, read by `read_as` (as
/// [`Item`]s by [`pending_of`], or as recorded bytes by `merge::recorded_of`) and merged by
/// event time across partitions (offset order within one); messages without an event time
/// go as they come. Stops early when `stop` says so. Returns the messages read.
pub fn read_ranges<I: Timed>(
    reader: &HistoryReader,
    ranges: &[RebuildRange],
    config: &Config,
    read_as: fn(OwnedMessage, &Config) -> (Partition, Pending<I>),
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(&Partition, Pending<I>) -> Result<()>,
) -> Result<u64> {
    let todo: Vec<&RebuildRange> = ranges.iter().filter(|r| r.start < r.end).collect();
    if todo.is_empty() {
        return Ok(0);
    }
    let mut tpl = TopicPartitionList::new();
    for r in &todo {
        tpl.add_partition_offset(&r.at.topic, r.at.partition, Offset::Offset(r.start))?;
    }
    reader
        .assign(&tpl)
        .context("assigning history partitions")?;
    let ends: BTreeMap<Partition, i64> = todo.iter().map(|r| (r.at.clone(), r.end)).collect();
    let mut aligner: Aligner<I> = Aligner::new(IDLE_HISTORY, IDLE_HISTORY);
    let now = Instant::now();
    for r in &todo {
        aligner.ensure(&r.at, now);
    }
    let mut topics: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut read = 0u64;
    let mut last_progress = Instant::now();
    let mut open = todo.len();
    let mut feed = |aligner: &mut Aligner<I>, force: bool| -> Result<()> {
        while let Some((p, pending)) = aligner.pop(Instant::now(), force) {
            on(&p, pending)?;
        }
        Ok(())
    };
    while open > 0 && !stop() {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let topic = topics
                    .entry(m.topic().to_string())
                    .or_insert_with(|| Arc::from(m.topic()))
                    .clone();
                let owned = OwnedMessage::from_message(&m, topic);
                let stop_at = ends.get(&owned.at).copied().unwrap_or(i64::MIN);
                let at = owned.at.clone();
                if owned.offset < stop_at {
                    read += 1;
                    let (p, pending) = read_as(owned.clone(), config);
                    aligner.push(&p, pending, Instant::now());
                }
                if owned.offset + 1 >= stop_at {
                    if let Some(q) = aligner.queues.get_mut(&at) {
                        if !q.done {
                            q.done = true;
                            open -= 1;
                        }
                    }
                }
            }
            Some(Err(KafkaError::PartitionEOF(part))) => {
                // Without the topic, an end-of-partition marks each queue of that number whose
                // end offset the reader has passed; others wait for their messages.
                let positions = reader.position().ok();
                for (p, q) in aligner.queues.iter_mut() {
                    if p.partition == part && !q.done {
                        let pos = positions
                            .as_ref()
                            .and_then(|t| t.find_partition(&p.topic, p.partition))
                            .and_then(|e| e.offset().to_raw());
                        if pos.is_some_and(|o| o >= ends.get(p).copied().unwrap_or(0)) {
                            q.done = true;
                            open -= 1;
                        }
                    }
                }
            }
            Some(Err(e)) => tracing::debug!("reading history: {e}"),
            None => {}
        }
        feed(&mut aligner, false)?;
        if last_progress.elapsed() > kafka::METADATA_TIMEOUT * 3 {
            return Err(crate::error::Error::failed(format!(
                "reading history made no progress for 30 s ({open} partition(s) unfinished)"
            )));
        }
    }
    feed(&mut aligner, true)?;
    reader.unassign().ok();
    Ok(read)
}
