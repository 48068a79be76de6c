//! The reading side of a replay: lines read, parsed, merged by event time across files, and
//! their events analysed ([`Analyzer`]), in batches handed to the engine in the order it
//! takes them.
//!
//! With two threads the reader runs on its own core, a batch or two ahead of the engine;
//! with one, the same code fills a batch and the engine takes it. The engine sees the same
//! lines in the same order with the same analyses either way, so the output is the same
//! byte for byte.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::ReplayError;
use crate::config::InputConfig;
use crate::engine::{Analysis, Analyzer};
use crate::event::{parse_event, Event, Rejection};
use crate::source::{LineReader, ReadLine};

/// Lines per batch: large enough that handing a batch over costs nothing per line, small
/// enough that two in flight stay in the cache.
const BATCH_LINES: usize = 1024;
/// Bytes of rejected lines a batch holds at most: huge lines end a batch early, so memory
/// stays bounded whatever the lines.
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// What the dead letter keeps of a line rejected for a huge field (the rest is junk).
const KEEP_OF_HUGE_LINE: usize = 1024;

/// What a line turned out to be.
pub(super) enum Parsed {
    /// An event: its index in the batch's events and analyses.
    Event(usize),
    Rejected(Rejection),
    /// Longer than `input.max_line_bytes` (its full length); the batch keeps its first bytes.
    TooLong(u64),
}

/// One line for the engine.
pub(super) struct BatchLine {
    /// Index of the input it came from.
    pub source: usize,
    pub line_no: u64,
    /// The line as read, for the dead letter (empty for events).
    bytes: Range<usize>,
    pub parsed: Parsed,
}

/// Lines read ahead, events parsed and analysed; reused from batch to batch, so events'
/// strings and analyses' buffers are allocated only while they grow.
#[derive(Default)]
pub(super) struct Batch {
    bytes: Vec<u8>,
    pub lines: Vec<BatchLine>,
    events: Vec<Event<'static>>,
    analyses: Vec<Analysis>,
    /// Events in this batch (the slots beyond are spare).
    used: usize,
    /// A read error after the last line: reported once the lines before it are taken.
    pub error: Option<ReplayError>,
    /// No line follows this batch.
    pub last: bool,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
        self.used = 0;
        self.error = None;
        self.last = false;
    }

    pub fn bytes(&self, line: &BatchLine) -> &[u8] {
        &self.bytes[line.bytes.clone()]
    }

    pub fn event(&self, index: usize) -> (&Event<'static>, &Analysis) {
        (&self.events[index], &self.analyses[index])
    }

    /// Event `index` of the batch, if it has that many.
    pub fn get(&self, index: usize) -> Option<(&Event<'static>, &Analysis)> {
        Some((self.events.get(index)?, self.analyses.get(index)?))
    }

    /// Adds a line that is not an event, kept for the dead letter.
    fn push_rejected(&mut self, source: usize, line_no: u64, bytes: &[u8], parsed: Parsed) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        self.lines.push(BatchLine {
            source,
            line_no,
            bytes: start..self.bytes.len(),
            parsed,
        });
    }

    /// Adds an event, copied into a reused slot and analysed.
    fn push_event(
        &mut self,
        source: usize,
        line_no: u64,
        event: &Event<'_>,
        analyzer: &mut Analyzer,
    ) {
        let k = self.used;
        if k == self.events.len() {
            self.events.push(event.clone().into_owned());
            self.analyses.push(Analysis::default());
        } else {
            event.copy_into(&mut self.events[k]);
        }
        analyzer.analyze_from(source as u32, event, &mut self.analyses[k]);
        self.used += 1;
        self.lines.push(BatchLine {
            source,
            line_no,
            bytes: 0..0,
            parsed: Parsed::Event(k),
        });
    }
}

/// The next event line of one input in a merge, waiting for its turn.
struct Head {
    ts_ms: i64,
    line_no: u64,
    bytes: Vec<u8>,
}

/// Reads the inputs and fills batches.
pub(super) struct Reader {
    inputs: Vec<(String, LineReader)>,
    limits: InputConfig,
    analyzer: Analyzer,
    buf: Vec<u8>,
    /// Merge of several inputs: each input's next event by (time, input, sequence).
    heap: BinaryHeap<Reverse<(i64, usize, u64)>>,
    heads: Vec<Option<Head>>,
    seq: u64,
    started: bool,
}

impl Reader {
    pub fn new(inputs: Vec<(String, LineReader)>, limits: InputConfig, analyzer: Analyzer) -> Self {
        let heads = inputs.iter().map(|_| None).collect();
        Self {
            inputs,
            limits,
            analyzer,
            buf: Vec::with_capacity(4096),
            heap: BinaryHeap::new(),
            heads,
            seq: 0,
            started: false,
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.inputs.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Fills `batch` with the next lines; sets `batch.last` at the end of input or on a
    /// read error (in `batch.error`).
    pub fn fill(&mut self, batch: &mut Batch) {
        batch.clear();
        let filled = if self.inputs.len() == 1 {
            self.fill_one(batch)
        } else {
            self.fill_merged(batch)
        };
        match filled {
            Ok(more) => batch.last = !more,
            Err(e) => {
                batch.error = Some(e);
                batch.last = true;
            }
        }
    }

    fn read_error(&self, input: usize, source: std::io::Error) -> ReplayError {
        let (name, reader) = &self.inputs[input];
        ReplayError::Read {
            path: name.clone(),
            line: reader.error_line(),
            source,
        }
    }

    /// Reads input `i` up to its next event, putting the lines that are not events in the
    /// batch as they come, and hands the event to `on_event`. Returns its time and line
    /// number (the line stays in `self.buf`), or `None` at the input's end.
    fn next_event(
        &mut self,
        i: usize,
        batch: &mut Batch,
        on_event: impl FnOnce(&mut Batch, &mut Analyzer, u64, &Event<'_>),
    ) -> Result<Option<(i64, u64)>, ReplayError> {
        loop {
            let reader = &mut self.inputs[i].1;
            let read = match reader.next_line(&mut self.buf) {
                Ok(read) => read,
                Err(e) => return Err(self.read_error(i, e)),
            };
            let line_no = reader.line_no;
            match read {
                ReadLine::Eof => return Ok(None),
                ReadLine::TooLong { len } => {
                    batch.push_rejected(i, line_no, &self.buf, Parsed::TooLong(len));
                }
                // Blank lines are not events and not errors.
                ReadLine::Line if self.buf.iter().all(u8::is_ascii_whitespace) => {}
                ReadLine::Line => match parse_event(&self.buf, &self.limits) {
                    Ok(event) => {
                        on_event(batch, &mut self.analyzer, line_no, &event);
                        return Ok(Some((event.ts_ms, line_no)));
                    }
                    Err(r) => {
                        let keep = if r.reason == crate::event::RejectReason::FieldTooLong {
                            &self.buf[..self.buf.len().min(KEEP_OF_HUGE_LINE)]
                        } else {
                            &self.buf[..]
                        };
                        batch.push_rejected(i, line_no, keep, Parsed::Rejected(r))
                    }
                },
            }
        }
    }

    /// One input: lines in file order. Returns false at its end.
    fn fill_one(&mut self, batch: &mut Batch) -> Result<bool, ReplayError> {
        while batch.lines.len() < BATCH_LINES && batch.bytes.len() < BATCH_BYTES {
            let event = |batch: &mut Batch, analyzer: &mut Analyzer, line_no, e: &Event<'_>| {
                batch.push_event(0, line_no, e, analyzer)
            };
            if self.next_event(0, batch, event)?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads input `i` up to its next event, which becomes its head (analysed when its turn
    /// comes). False at the input's end.
    fn pull(&mut self, i: usize, batch: &mut Batch) -> Result<bool, ReplayError> {
        let Some((ts_ms, line_no)) = self.next_event(i, batch, |_, _, _, _| {})? else {
            return Ok(false);
        };
        self.heap.push(Reverse((ts_ms, i, self.seq)));
        self.seq += 1;
        let head = self.heads[i].get_or_insert_with(|| Head {
            ts_ms: 0,
            line_no: 0,
            bytes: Vec::new(),
        });
        head.ts_ms = ts_ms;
        head.line_no = line_no;
        head.bytes.clear();
        head.bytes.extend_from_slice(&self.buf);
        Ok(true)
    }

    /// Several inputs: events in event-time order, ties by input then reading order.
    fn fill_merged(&mut self, batch: &mut Batch) -> Result<bool, ReplayError> {
        if !self.started {
            self.started = true;
            for i in 0..self.inputs.len() {
                self.pull(i, batch)?;
            }
        }
        while batch.lines.len() < BATCH_LINES && batch.bytes.len() < BATCH_BYTES {
            let Some(Reverse((ts_ms, i, _))) = self.heap.pop() else {
                return Ok(false);
            };
            if let Some(head) = &self.heads[i] {
                debug_assert_eq!(head.ts_ms, ts_ms);
                // The head parsed when it was read; parsing its copy again gives the same.
                if let Ok(event) = parse_event(&head.bytes, &self.limits) {
                    batch.push_event(i, head.line_no, &event, &mut self.analyzer);
                }
            }
            self.pull(i, batch)?;
        }
        Ok(true)
    }
}

/// Runs `reader` on its own thread (scoped), handing full batches to `take` on this one.
/// Returns what `take` returned first as an error, or after the last batch.
pub(super) fn run_threaded(
    reader: &mut Reader,
    mut take: impl FnMut(&mut Batch) -> Result<(), ReplayError>,
) -> Result<(), ReplayError> {
    // Two batches in flight (one being filled, one waiting) plus the one being taken.
    let (full_tx, full_rx) = sync_channel::<Batch>(2);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(4);
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("ondata-read".into())
            .spawn_scoped(scope, move || read_ahead(reader, &full_tx, &empty_rx));
        if let Err(e) = spawned {
            return Err(ReplayError::Thread(e));
        }
        let result = take_all(&full_rx, &empty_tx, &mut take);
        // Dropping the receivers stops the reader at its next hand-over if `take` failed.
        drop(full_rx);
        drop(empty_tx);
        result
    })
}

/// Fills a batch, has it taken, and again, on this thread.
pub(super) fn take_inline<E>(
    reader: &mut Reader,
    take: &mut impl FnMut(&mut Batch) -> Result<(), E>,
) -> Result<(), E> {
    let mut batch = Batch::default();
    loop {
        reader.fill(&mut batch);
        take(&mut batch)?;
        if batch.last {
            return Ok(());
        }
    }
}

fn read_ahead(reader: &mut Reader, full: &SyncSender<Batch>, empty: &Receiver<Batch>) {
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        reader.fill(&mut batch);
        let last = batch.last;
        if full.send(batch).is_err() || last {
            return;
        }
    }
}

fn take_all<E>(
    full: &Receiver<Batch>,
    empty: &SyncSender<Batch>,
    take: &mut impl FnMut(&mut Batch) -> Result<(), E>,
) -> Result<(), E> {
    while let Ok(mut batch) = full.recv() {
        take(&mut batch)?;
        let last = batch.last;
        // The reader may have finished: then the batch is simply dropped.
        let _ = empty.try_send(batch);
        if last {
            break;
        }
    }
    Ok(())
}
