//! Time ranges of the Kafka topics, after the fact: `ondata record` copies one into a
//! recorded file, `ondata replay --kafka` replays one through the engine. Both read outside
//! the live consumer group (assigned partitions, nothing committed) and merge partitions by
//! event time, as the live path does, so what they give equals live processing.
//!
//! The range is chosen on the Kafka message timestamps (what brokers index): the producer's
//! create time, or the broker's append time. Producers that stamp messages with the
//! comment's own time make the range an event-time range.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use rdkafka::consumer::Consumer;

use crate::config::Config;
use crate::deliver::sink::AlertSink;
use crate::event::{format_ts, Rejection};
use crate::merge::{pending_of, recorded_of, Item};
use crate::rebuild::read_ranges;
use crate::replay::{Pipeline, ReplayOptions, ReplaySummary};
use crate::source::history;
use crate::source::history::{HistoryReader, RebuildRange};
use crate::source::kafka::{self, Partition};
use crate::source::output::open_output;

/// `[from, to)` in ms since the epoch, on Kafka message timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl TimeRange {
    /// From the command line's `--from`/`--to` (RFC 3339 or epoch ms).
    pub fn parse(from: &str, to: &str) -> Result<Self, String> {
        let from_ms =
            crate::event::parse_time_arg(from).map_err(|e| format!("--from {from}: {e}"))?;
        let to_ms = crate::event::parse_time_arg(to).map_err(|e| format!("--to {to}: {e}"))?;
        if to_ms <= from_ms {
            return Err(format!("--to {to} must be after --from {from}"));
        }
        Ok(Self { from_ms, to_ms })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", format_ts(self.from_ms), format_ts(self.to_ms))
    }
}

/// Every partition of the configured topics, with the offsets that hold `range`.
pub fn offsets_for(
    config: &Config,
    reader: &HistoryReader,
    range: TimeRange,
) -> Result<Vec<RebuildRange>> {
    let kafka = &config.kafka;
    let mut out = Vec::new();
    for topic in &kafka.topics {
        let md = reader
            .fetch_metadata(Some(topic), kafka::METADATA_TIMEOUT)
            .with_context(|| {
                format!(
                    "cannot read the metadata of topic {topic} from {}",
                    kafka.brokers
                )
            })?;
        let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
            return Err(Error::setting(format!(
                "topic {topic} is not on {}",
                kafka.brokers
            )));
        };
        if t.error().is_some() || t.partitions().is_empty() {
            return Err(Error::setting(format!(
                "topic {topic} is not on {} (kafka.topics)",
                kafka.brokers
            )));
        }
        for p in t.partitions() {
            let at = Partition {
                topic: topic.as_str().into(),
                partition: p.id(),
            };
            let (low, high) = reader
                .fetch_watermarks(topic, p.id(), kafka::METADATA_TIMEOUT)
                .with_context(|| format!("cannot read the offsets of {at}"))?;
            let start = history::offset_for_time(kafka, reader, &at, low, high, range.from_ms)?;
            let end = history::offset_for_time(kafka, reader, &at, start, high, range.to_ms)?;
            out.push(RebuildRange { at, start, end });
        }
    }
    Ok(out)
}

/// What `record` did.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    pub range: Option<TimeRange>,
    pub partitions: usize,
    /// Messages in the range (the work to do).
    pub expected: u64,
    pub messages: u64,
    /// Messages that are not valid events (recorded all the same: replay dead-letters them).
    pub invalid: u64,
    pub first_ts_ms: Option<i64>,
    pub last_ts_ms: Option<i64>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl fmt::Display for RecordSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ondata record: {} of {} messages from {} partition(s) in {:.1} s",
            self.messages,
            self.expected,
            self.partitions,
            self.elapsed.as_secs_f64()
        )?;
        if let (Some(a), Some(b)) = (self.first_ts_ms, self.last_ts_ms) {
            write!(f, "; events {} → {}", format_ts(a), format_ts(b))?;
        }
        if self.invalid > 0 {
            write!(
                f,
                "; {} not valid events (kept; replay dead-letters them)",
                self.invalid
            )?;
        }
        if self.interrupted {
            write!(
                f,
                "\n  interrupted: the file holds the messages read so far and is complete"
            )?;
        }
        Ok(())
    }
}

/// One payload as one line: JSON spread over several lines is compacted, other bytes keep
/// their content with line breaks turned into spaces.
fn one_line(payload: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !payload.contains(&b'\n') && !payload.contains(&b'\r') {
        return payload.into();
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
        if let Ok(line) = serde_json::to_vec(&v) {
            return line.into();
        }
    }
    payload
        .iter()
        .map(|b| if *b == b'\n' || *b == b'\r' { b' ' } else { *b })
        .collect::<Vec<u8>>()
        .into()
}

/// Progress on stderr about every 5 seconds.
struct Ticker {
    enabled: bool,
    last: Instant,
}

/// A reader outside the group, the offsets of `range`, and the messages they hold.
fn open_range(
    config: &Config,
    purpose: &str,
    range: TimeRange,
) -> Result<(HistoryReader, Vec<RebuildRange>, u64)> {
    let reader = history::reader_named(&config.kafka, purpose)?;
    let ranges = offsets_for(config, &reader, range)?;
    let expected = ranges.iter().map(|r| (r.end - r.start).max(0) as u64).sum();
    Ok((reader, ranges, expected))
}

impl Ticker {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            last: Instant::now(),
        }
    }

    fn tick(&mut self, what: &str, done: u64, total: u64, ts_ms: Option<i64>) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            let pct = if total > 0 {
                done as f64 * 100.0 / total as f64
            } else {
                100.0
            };
            eprintln!(
                "{what}: {done}/{total} messages ({pct:.0}%), event time {}",
                ts_ms.map(format_ts).unwrap_or_default()
            );
        }
    }
}

/// Copies `range` of the configured topics into `out` (compressed by its extension), in
/// event-time order; `stop` ends it early with a complete file.
pub fn record(
    config: &Config,
    range: TimeRange,
    out: &Path,
    stop: &AtomicBool,
    progress: bool,
) -> Result<RecordSummary> {
    let started = Instant::now();
    let (reader, ranges, expected) = open_range(config, "record", range)?;
    let mut summary = RecordSummary {
        range: Some(range),
        partitions: ranges.len(),
        expected,
        ..RecordSummary::default()
    };
    let path = out.display().to_string();
    let mut writer = open_output(&path)?;
    let mut ticker = Ticker::new(progress);
    let stopped = || stop.load(Ordering::Relaxed);
    read_ranges(
        &reader,
        &ranges,
        config,
        recorded_of,
        &stopped,
        &mut |_, pending| {
            let (payload, ts) = (&pending.item.payload, pending.item.ts_ms);
            writer.write_all(&one_line(payload))?;
            writer.write_all(b"\n")?;
            summary.messages += 1;
            match ts {
                Some(ts) => {
                    summary.first_ts_ms.get_or_insert(ts);
                    summary.last_ts_ms = Some(ts);
                }
                None => summary.invalid += 1,
            }
            ticker.tick(
                "ondata record",
                summary.messages,
                summary.expected,
                summary.last_ts_ms,
            );
            Ok(())
        },
    )
    .with_context(|| format!("recording into {path}"))?;
    writer
        .finish()
        .with_context(|| format!("cannot write {path}"))?;
    summary.interrupted = stopped();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Replays `range` of the configured topics through a fresh engine, as `replay` does files:
/// alerts to `sink`, messages that are not events to `dead_letter`.
pub fn replay_kafka(
    config: &Config,
    opts: &ReplayOptions,
    range: TimeRange,
    sink: &mut dyn AlertSink,
    dead_letter: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<ReplaySummary> {
    let (reader, ranges, expected) = open_range(config, "replay", range)?;
    let mut p = Pipeline::new(config, opts, sink, dead_letter);
    let mut ticker = Ticker::new(opts.progress);
    let stopped = || stop.load(Ordering::Relaxed);
    read_ranges(
        &reader,
        &ranges,
        config,
        pending_of,
        &stopped,
        &mut |at, pending| {
            let ts = pending.ts();
            match pending.item {
                Item::Event(e) => p.parsed_event(&e)?,
                Item::Poison {
                    payload,
                    reason,
                    detail,
                } => p.rejected_payload(
                    &at.to_string(),
                    pending.offset.max(0) as u64,
                    &payload,
                    &Rejection::new(reason, detail),
                )?,
            }
            ticker.tick("ondata replay", p.lines(), expected, ts);
            Ok(())
        },
    )?;
    p.finish().map_err(|e| Error::Caused {
        what: "replaying from Kafka".into(),
        cause: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_must_move_forward() {
        let r = TimeRange::parse("2020-04-01T06:00:00Z", "1585760400000").unwrap();
        assert_eq!(r.from_ms, 1_585_720_800_000);
        assert!(
            TimeRange::parse("2020-04-02T00:00:00Z", "2020-04-01T00:00:00Z")
                .unwrap_err()
                .contains("must be after")
        );
        assert!(TimeRange::parse("ieri", "2020-04-01T00:00:00Z")
            .unwrap_err()
            .contains("--from ieri"));
    }

    #[test]
    fn payloads_become_one_line() {
        assert_eq!(&*one_line(b"{\"a\":1}"), b"{\"a\":1}");
        assert_eq!(&*one_line(b"{\n  \"a\": 1\n}"), b"{\"a\":1}");
        assert_eq!(&*one_line(b"not\njson"), b"not json");
    }
}
