//! Event-time replay of recorded streams (`ondata replay`): files → engine → alerts, with
//! rejected lines to the dead letter, progress on a terminal and a closing summary.
//!
//! One input is read in a borrowed fast path (no per-event allocation). Several inputs are
//! merged in event-time order by the timestamp of each file's next event, so a day split
//! across files replays as one stream.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::alert::Alert;
use crate::config::Config;
use crate::deliver::sink::AlertSink;
use crate::engine::{Admission, Analysis, Engine, Origin};
use crate::event::{Event, RejectReason, Rejection};
use crate::incident::Timeline;
use crate::metrics::Metrics;
use crate::source::{open_input, LineReader};
use crate::status::{Board, StreamStatus};

mod batch;
pub mod sort;
mod summary;

pub use summary::ReplaySummary;

use batch::{run_threaded, take_inline, Batch, BatchLine, Parsed, Reader};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("cannot read {path} (line {line}): {source}")]
    Read {
        path: String,
        line: u64,
        source: io::Error,
    },
    #[error("cannot sort {path} (temporary files: set TMPDIR to a roomier place, or --no-sort): {source}")]
    Sort { path: String, source: io::Error },
    #[error("cannot write output: {0}")]
    Write(#[from] io::Error),
    #[error("cannot start the replay's reading thread: {0} (try --threads 1)")]
    Thread(io::Error),
}

#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub inputs: Vec<String>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Keep metrics and the status board up to date (`replay --serve`).
    pub observe: Option<Observe>,
    /// Keep every topic's series and every alert for a report or a backfill
    /// ([`ReplaySummary::timeline`]).
    pub timeline: bool,
    /// Threads for a replay of files: 1, or 2 (one reads and analyses comments while the
    /// other runs the engine); 0 uses two when the machine has two cores. The output is the
    /// same whatever the number.
    pub threads: usize,
    /// Sort inputs found out of event-time order (default), or never.
    pub sort: sort::SortMode,
    /// Memory for sorting, bytes; beyond it sorted runs go to temporary files. 0: 256 MiB.
    pub sort_memory: usize,
    /// Inputs are Windows-1252 / Latin-1, not UTF-8.
    pub latin1: bool,
}

/// Memory for sorting an input when none is given.
pub const SORT_MEMORY: usize = 256 * 1024 * 1024;

/// Where a served replay shows what it does.
#[derive(Clone)]
pub struct Observe {
    pub metrics: Arc<Metrics>,
    pub board: Arc<Board>,
}

impl fmt::Debug for Observe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observe")
    }
}

/// A dead-letter record: the rejected line and why.
#[derive(Serialize)]
struct DeadLetter<'a> {
    reason: RejectReason,
    detail: &'a str,
    source: &'a str,
    line_no: u64,
    line: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_bytes: Option<u64>,
    /// The line's exact bytes when they are not UTF-8 (`line` then shows them with
    /// replacement characters): nothing of the input is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    line_base64: Option<String>,
}

/// Events in, alerts and dead letters out: what every replay source feeds.
pub(crate) struct Pipeline<'a> {
    config: &'a Config,
    started: Instant,
    timeline: Option<Timeline>,
    engine: Engine,
    sink: &'a mut dyn AlertSink,
    dead_letter: &'a mut dyn Write,
    alerts: Vec<Alert>,
    summary: ReplaySummary,
    firing: BTreeMap<String, bool>,
    observe: Option<Observe>,
    last_publish: Instant,
    published_event_ms: i64,
    /// The inputs' names, for dead letters of events the engine did not take.
    sources: Vec<String>,
    /// Where the event being taken came from.
    origin: Origin,
}

/// Event time between two publications of a served replay.
const PUBLISH_EVENT_MS: i64 = 5 * 60_000;

impl<'a> Pipeline<'a> {
    pub(crate) fn new(
        config: &'a Config,
        opts: &ReplayOptions,
        sink: &'a mut dyn AlertSink,
        dead_letter: &'a mut dyn Write,
    ) -> Self {
        let mut engine = Engine::new(config);
        let timeline = opts
            .timeline
            .then(|| Timeline::follow(&mut engine, config.engine.bucket_secs));
        let p = Pipeline {
            config,
            started: Instant::now(),
            timeline,
            engine,
            sink,
            dead_letter,
            alerts: Vec::new(),
            summary: ReplaySummary::default(),
            firing: BTreeMap::new(),
            observe: opts.observe.clone(),
            last_publish: Instant::now(),
            published_event_ms: i64::MIN,
            sources: opts.inputs.clone(),
            origin: Origin::default(),
        };
        if let Some(o) = &p.observe {
            o.metrics.sink(p.sink.name());
        }
        p
    }

    /// Events and rejected lines counted so far.
    pub(crate) fn lines(&self) -> u64 {
        self.summary.lines
    }

    /// A payload that is not an event (Kafka): counted, and kept in the dead letter.
    pub(crate) fn rejected_payload(
        &mut self,
        source: &str,
        position: u64,
        raw: &[u8],
        rejection: &Rejection,
    ) -> io::Result<()> {
        self.summary.lines += 1;
        self.reject(source, position, raw, rejection, None)
    }

    /// An event from a source that has already parsed it (Kafka).
    pub(crate) fn parsed_event(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.summary.lines += 1;
        self.event(event)
    }

    /// End of input: closes the buckets that hold events, sends the last alerts, flushes.
    pub(crate) fn finish(mut self) -> Result<ReplaySummary, ReplayError> {
        let mut tail = self.engine.finish();
        self.alerts.append(&mut tail);
        self.emit()?;
        self.dropped()?;
        self.sink.flush()?;
        self.dead_letter.flush()?;
        self.publish();
        if let Some(t) = &mut self.timeline {
            t.absorb(&mut self.engine);
        }
        self.summary.engine = self.engine.stats().clone();
        self.summary.still_firing = self.firing.values().filter(|f| **f).count() as u64;
        self.summary.elapsed = self.started.elapsed();
        self.summary.timeline = self.timeline.take();
        Ok(self.summary)
    }

    fn reject(
        &mut self,
        source: &str,
        line_no: u64,
        raw: &[u8],
        rejection: &Rejection,
        full_len: Option<u64>,
    ) -> io::Result<()> {
        *self.summary.rejected.entry(rejection.reason).or_default() += 1;
        if let Some(o) = &self.observe {
            o.metrics.rejected(rejection.reason);
        }
        let exact = std::str::from_utf8(raw).is_ok();
        let record = DeadLetter {
            reason: rejection.reason,
            detail: &rejection.detail,
            source,
            line_no,
            line: String::from_utf8_lossy(raw),
            line_bytes: full_len,
            line_base64: (!exact).then(|| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(raw)
            }),
        };
        serde_json::to_writer(&mut *self.dead_letter, &record)?;
        self.dead_letter.write_all(b"\n")
    }

    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.event_with(event, None)
    }

    /// An event, analysed already or not.
    fn event_with(&mut self, event: &Event<'_>, analysis: Option<&Analysis>) -> io::Result<()> {
        let admission = match analysis {
            Some(a) => self.engine.ingest_analyzed(event, a, &mut self.alerts),
            None => self.engine.ingest_into(event, &mut self.alerts),
        };
        match admission {
            Admission::Applied | Admission::Held => {}
            Admission::Duplicate => self.not_taken(
                event,
                RejectReason::Duplicate,
                "an event with this id was already taken from this channel and input",
            )?,
            Admission::Late => self.not_taken(
                event,
                RejectReason::Late,
                "older than the stream's watermark: its minute had closed (input out of event-time order)",
            )?,
            Admission::Dropped => {}
        }
        self.dropped()?;
        if let Some(t) = &mut self.timeline {
            t.absorb(&mut self.engine);
        }
        // Published each second of wall time, and every few minutes of event time so the
        // status page's series have no gaps however fast the replay runs.
        if self.observe.is_some() && self.summary.lines % 64 == 0 {
            let event_ms = self.engine.watermark_ms().unwrap_or(i64::MIN);
            if self.last_publish.elapsed() >= Duration::from_secs(1)
                || event_ms >= self.published_event_ms.saturating_add(PUBLISH_EVENT_MS)
            {
                self.published_event_ms = event_ms;
                self.publish();
            }
        }
        self.emit()
    }

    /// An event the engine did not take, to the dead letter as an input line.
    fn not_taken(
        &mut self,
        event: &Event<'_>,
        reason: RejectReason,
        detail: &str,
    ) -> io::Result<()> {
        let origin = self.origin;
        self.dead(&origin, &event.to_json_line(), reason, detail)
    }

    /// Events the engine gave up on (stamped far ahead), to the dead letter.
    fn dropped(&mut self) -> io::Result<()> {
        for d in self.engine.take_dropped() {
            self.dead(&d.origin, &d.event.to_json_line(), d.reason, &d.detail)?;
        }
        Ok(())
    }

    fn dead(
        &mut self,
        origin: &Origin,
        line: &str,
        reason: RejectReason,
        detail: &str,
    ) -> io::Result<()> {
        if let Some(o) = &self.observe {
            o.metrics.rejected(reason);
        }
        let source = self
            .sources
            .get(origin.input as usize)
            .map_or("", String::as_str);
        let record = DeadLetter {
            reason,
            detail,
            source,
            line_no: origin.line,
            line: line.into(),
            line_bytes: None,
            line_base64: None,
        };
        serde_json::to_writer(&mut *self.dead_letter, &record)?;
        self.dead_letter.write_all(b"\n")
    }

    /// Copies the engine's state into the metrics and the status board.
    fn publish(&mut self) {
        self.last_publish = Instant::now();
        let Some(o) = &self.observe else {
            return;
        };
        o.metrics.observe(&self.engine);
        let rejected = self.summary.rejected_total();
        o.board.update(
            &self.engine,
            StreamStatus {
                mode: "replay",
                ready: true,
                taken: self.summary.lines,
                rejected,
                dead_lettered: rejected,
                late: self.engine.stats().late,
                consumer_lag: None,
                alerts_sent: self.summary.alerts_written,
            },
        );
    }

    fn emit(&mut self) -> io::Result<()> {
        for alert in self.alerts.drain(..) {
            self.firing.insert(
                alert.id.clone(),
                alert.status == crate::alert::AlertStatus::Firing,
            );
            if let Some(t) = &mut self.timeline {
                t.alert(&alert);
            }
            let sent = self.sink.send(&alert);
            if let Some(o) = &self.observe {
                o.metrics.delivery(self.sink.name(), sent.is_ok());
                o.metrics.alert(&alert);
                o.board.alert(&alert);
            }
            sent?;
            self.summary.alerts_written += 1;
        }
        Ok(())
    }

    /// Takes one line of a batch read from `source`.
    fn batch_line(&mut self, source: &str, line: &BatchLine, batch: &Batch) -> io::Result<()> {
        self.summary.lines += 1;
        match &line.parsed {
            Parsed::Event(k) => {
                self.origin = Origin {
                    input: line.source as u32,
                    line: line.line_no,
                };
                self.engine.set_origin(self.origin);
                let (event, analysis) = batch.event(*k);
                self.event_with(event, Some(analysis))
            }
            Parsed::Rejected(r) => self.reject(source, line.line_no, batch.bytes(line), r, None),
            Parsed::TooLong(len) => {
                let r = Rejection::new(
                    RejectReason::LineTooLong,
                    format!(
                        "line of {len} bytes exceeds input.max_line_bytes = {}; first KiB kept",
                        self.config.input.max_line_bytes
                    ),
                );
                self.reject(source, line.line_no, batch.bytes(line), &r, Some(*len))
            }
        }
    }
}

/// How many events ahead of the one it takes the engine is asked to load what it will look
/// up: 4, 8 and 16 measured alike, 2 slower (`docs/benchmarks.md`).
const PREFETCH_AHEAD: usize = 8;

/// How many threads a replay uses: `requested`, or with 0 both cores of a machine that has
/// two or more (one reads and analyses, one runs the engine).
pub fn replay_threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        n => n.min(2),
    }
}

/// Replays `opts.inputs` through a fresh engine, sending alerts to `sink` and rejected lines
/// to `dead_letter`.
pub fn replay(
    config: &Config,
    opts: &ReplayOptions,
    sink: &mut dyn AlertSink,
    dead_letter: &mut dyn Write,
) -> Result<ReplaySummary, ReplayError> {
    let read_bytes = Arc::new(AtomicU64::new(0));
    let mut inputs = Vec::new();
    let mut sorted = Vec::new();
    let mut total_size = Some(0u64);
    for path in &opts.inputs {
        let f = open_input(path, read_bytes.clone()).map_err(|source| ReplayError::Open {
            path: path.clone(),
            source,
        })?;
        total_size = total_size.zip(f.size).map(|(a, b)| a + b);
        let mut reader = LineReader::new(f.reader, config.input.max_line_bytes);
        if opts.latin1 {
            reader = reader.latin1();
        }
        let budget = if opts.sort_memory == 0 {
            SORT_MEMORY
        } else {
            opts.sort_memory
        };
        let lateness_ms = i64::from(config.engine.allowed_lateness_secs) * 1000;
        let (reader, done) = sort::prepare(
            &f.name,
            reader,
            opts.sort,
            &config.input,
            lateness_ms,
            budget,
            opts.progress,
        )
        .map_err(|source| ReplayError::Sort {
            path: path.clone(),
            source,
        })?;
        sorted.extend(done);
        inputs.push((f.name, reader));
    }
    let progress = Progress::new(opts.progress, total_size, read_bytes);
    let mut p = Pipeline::new(config, opts, sink, dead_letter);
    let mut reader = Reader::new(inputs, config.input.clone(), p.engine.analyzer());
    let names = reader.names();
    let mut input_error = None;
    let mut take = |batch: &mut Batch| -> Result<(), ReplayError> {
        for line in &batch.lines {
            // The engine starts loading what it will look up for an event a few ahead, so
            // those cache misses overlap the work on this one.
            if let Parsed::Event(k) = line.parsed {
                if let Some((event, analysis)) = batch.get(k + PREFETCH_AHEAD) {
                    p.engine.prefetch(event, analysis);
                }
            }
            p.batch_line(&names[line.source], line, batch)?;
            progress.tick(p.summary.lines);
        }
        // A broken input ends the reading; what came before it is replayed and written.
        if let Some(e) = batch.error.take() {
            input_error = Some(e.to_string());
        }
        Ok(())
    };
    if replay_threads(opts.threads) > 1 {
        run_threaded(&mut reader, take)?;
    } else {
        take_inline(&mut reader, &mut take)?;
    }
    progress.finish();
    let mut summary = p.finish()?;
    summary.input_error = input_error;
    summary.sorted = sorted;
    Ok(summary)
}

/// Progress on stderr: a bar on a terminal, otherwise a plain line every 15 seconds.
struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    read_bytes: Arc<AtomicU64>,
    last_plain: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(enabled: bool, total: Option<u64>, read_bytes: Arc<AtomicU64>) -> Self {
        let terminal = io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t).with_style(
                    ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
                None => ProgressBar::new_spinner(),
            };
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            plain: enabled && !terminal,
            read_bytes,
            last_plain: std::cell::Cell::new(Instant::now()),
        }
    }

    #[inline]
    fn tick(&self, lines: u64) {
        if lines % 8192 != 0 {
            return;
        }
        let bytes = self.read_bytes.load(Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{lines} lines"));
        } else if self.plain && self.last_plain.get().elapsed() >= Duration::from_secs(15) {
            self.last_plain.set(Instant::now());
            eprintln!(
                "ondata replay: {lines} lines, {} MB read",
                bytes / 1_000_000
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
