//! Inputs not in event-time order (newest first, sorted by topic, concatenated days) are
//! sorted before the replay, so they give the alerts of the sorted stream.
//!
//! Each input's first lines (up to [`PROBE_LINES`], 32 MiB) are read ahead: when no event among them
//! would be late, the input streams as it is, those lines first, at no cost. Otherwise the
//! whole input is sorted by (event time, line number): in memory up to a budget, beyond it in
//! sorted runs spilled to temporary files and merged. Lines that are not events sort first and
//! keep their line numbers, so the dead letter still names where they were.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Write};

use crate::config::InputConfig;
use crate::event::parse_event;
use crate::source::{LineReader, ReadLine};

/// Lines read ahead to decide whether an input is in order, and their bytes at most.
pub const PROBE_LINES: usize = 100_000;
const PROBE_BYTES: usize = 32 * 1024 * 1024;

/// Whether to sort the inputs of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortMode {
    /// Sort an input whose first lines are out of order.
    #[default]
    Auto,
    /// Sort every input, whatever its first lines (disorder that starts late, such as a
    /// large file sorted by topic).
    Always,
    /// Never: a stream known to be ordered (late events are counted and dead-lettered).
    Never,
}

/// What was done to an input, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sorted {
    pub input: String,
    pub lines: u64,
    /// Sorted runs written to temporary files (0: sorted in memory).
    pub runs: usize,
}

/// A line with its sort key.
struct Keyed {
    ts: i64,
    line_no: u64,
    range: std::ops::Range<usize>,
    /// The full length of a line too long to keep (its first bytes are kept).
    too_long: Option<u64>,
}

/// A run of lines in memory.
#[derive(Default)]
struct Run {
    bytes: Vec<u8>,
    lines: Vec<Keyed>,
}

impl Run {
    fn push(&mut self, ts: i64, line_no: u64, line: &[u8]) {
        self.push_long(ts, line_no, line, None);
    }

    fn push_long(&mut self, ts: i64, line_no: u64, line: &[u8], too_long: Option<u64>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.lines.push(Keyed {
            ts,
            line_no,
            range: start..self.bytes.len(),
            too_long,
        });
    }

    fn sort(&mut self) {
        self.lines.sort_unstable_by_key(|k| (k.ts, k.line_no));
    }

    /// Writes the run as numbered lines (`line_no \t ts \t line`).
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        for k in &self.lines {
            write!(out, "{}\t{}\t", k.line_no, k.ts)?;
            out.write_all(&self.bytes[k.range.clone()])?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn memory(&self) -> usize {
        self.bytes.len() + self.lines.len() * std::mem::size_of::<Keyed>()
    }
}

/// The key of one line: its event time, or the earliest time for a line that is not an
/// event (it goes to the dead letter first).
fn key(line: &[u8], limits: &InputConfig) -> i64 {
    parse_event(line, limits).map_or(i64::MIN, |e| e.ts_ms)
}

/// A line's `ts`, read without parsing the line when it is plainly there (`"ts":` then
/// digits or an RFC 3339 string), else by parsing it: the look-ahead costs little.
fn quick_key(line: &[u8], limits: &InputConfig) -> i64 {
    // Outside the years an event may have, the line is parsed to say what it is.
    const PLAUSIBLE: std::ops::Range<i64> = 946_684_800_000..4_102_444_800_000;
    quick_ts(line)
        .filter(|ts| PLAUSIBLE.contains(ts))
        .unwrap_or_else(|| key(line, limits))
}

fn quick_ts(line: &[u8]) -> Option<i64> {
    let at = memchr::memmem::find(line, b"\"ts\"")?;
    // Inside a string the quotes would be escaped.
    if at > 0 && line[at - 1] == b'\\' {
        return None;
    }
    let rest = line[at + 4..]
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    match rest.first()? {
        b'0'..=b'9' => {
            let end = rest
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len());
            std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
        }
        b'"' => {
            let end = memchr::memchr(b'"', &rest[1..])?;
            let text = std::str::from_utf8(&rest[1..1 + end]).ok()?;
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_millis())
        }
        _ => None,
    }
}

/// Reads `reader` ahead and returns it (or its sorted copy) ready to replay, with what was
/// done when it was sorted. `lateness_ms` is how far back an event may be and still count.
pub fn prepare(
    name: &str,
    mut reader: LineReader,
    mode: SortMode,
    limits: &InputConfig,
    lateness_ms: i64,
    budget_bytes: usize,
    announce: bool,
) -> io::Result<(LineReader, Option<Sorted>)> {
    if mode == SortMode::Never {
        return Ok((reader, None));
    }
    let mut probe = Run::default();
    let mut buf = Vec::new();
    let mut max = i64::MIN;
    let mut disordered = false;
    let mut error = None;
    while probe.lines.len() < PROBE_LINES && probe.memory() < budget_bytes.min(PROBE_BYTES) {
        match reader.next_line(&mut buf) {
            Ok(ReadLine::Eof) => break,
            Ok(ReadLine::Line) => {
                let mut ts = quick_key(&buf, limits);
                let late = ts < max.saturating_sub(lateness_ms);
                if ts != i64::MIN && (late || ts > max.saturating_add(lateness_ms)) {
                    // Late, or a jump ahead, by its look: only a line that really is an
                    // event counts (a broken line's time says nothing of the stream's).
                    ts = key(&buf, limits);
                    disordered |= ts != i64::MIN && ts < max.saturating_sub(lateness_ms);
                }
                if ts != i64::MIN {
                    max = max.max(ts);
                }
                probe.push(ts, reader.line_no, &buf);
            }
            Ok(ReadLine::TooLong { len }) => {
                probe.push_long(i64::MIN, reader.line_no, &buf, Some(len))
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if !disordered && mode != SortMode::Always {
        // In order: the probe's lines first, as read, then the rest as it comes.
        let lines = probe
            .lines
            .into_iter()
            .map(|k| (k.line_no, k.range, k.too_long))
            .collect();
        reader.unread(probe.bytes, lines);
        reader.fail_at_end(error, None);
        return Ok((reader, None));
    }
    if announce {
        eprintln!("ondata replay: {name} is not in event-time order (or --sort): sorting it first");
    }
    // Out of order: every line, sorted.
    let mut runs: Vec<tempfile::NamedTempFile> = Vec::new();
    let mut run = probe;
    let mut last_line = reader.line_no;
    while error.is_none() {
        if run.memory() >= budget_bytes {
            run.sort();
            let mut file = tempfile::NamedTempFile::new()?;
            run.write_to(&mut BufWriter::new(file.as_file_mut()))?;
            runs.push(file);
            run = Run::default();
        }
        match reader.next_line(&mut buf) {
            Ok(ReadLine::Eof) => break,
            Ok(ReadLine::Line) => run.push(quick_key(&buf, limits), reader.line_no, &buf),
            Ok(ReadLine::TooLong { .. }) => run.push(i64::MIN, reader.line_no, &buf),
            Err(e) => error = Some(e),
        }
        last_line = reader.line_no;
    }
    run.sort();
    let lines = last_line;
    let spilled = runs.len();
    let mut sorted = if runs.is_empty() {
        let mut out = Vec::with_capacity(run.bytes.len() + run.lines.len() * 24);
        run.write_to(&mut out)?;
        LineReader::numbered(Box::new(Cursor::new(out)), limits.max_line_bytes)
    } else {
        let mut file = tempfile::NamedTempFile::new()?;
        let mem = {
            let mut v = Vec::new();
            run.write_to(&mut v)?;
            v
        };
        drop(run);
        let mut sources: Vec<Box<dyn BufRead>> = vec![Box::new(Cursor::new(mem))];
        for r in &runs {
            sources.push(Box::new(BufReader::with_capacity(256 * 1024, r.reopen()?)));
        }
        merge(sources, &mut BufWriter::new(file.as_file_mut()))?;
        drop(runs);
        let reopened = file.reopen()?;
        // The merged file is unlinked on drop of `file`; the open handle keeps it readable.
        drop(file);
        LineReader::numbered(
            Box::new(BufReader::with_capacity(256 * 1024, reopened)),
            limits.max_line_bytes,
        )
    };
    sorted.fail_at_end(error, Some(lines + 1));
    Ok((
        sorted,
        Some(Sorted {
            input: name.to_string(),
            lines,
            runs: spilled,
        }),
    ))
}

/// Merges sorted runs of numbered lines by (time, line number).
fn merge(mut runs: Vec<Box<dyn BufRead>>, out: &mut impl Write) -> io::Result<()> {
    let mut heads: Vec<Vec<u8>> = vec![Vec::new(); runs.len()];
    let mut heap = BinaryHeap::new();
    let parse = |line: &[u8]| -> (i64, u64) {
        let mut parts = line.splitn(3, |b| *b == b'\t');
        let n = parts
            .next()
            .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok());
        let ts = parts
            .next()
            .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok());
        (ts.unwrap_or(i64::MIN), n.unwrap_or(0))
    };
    for (i, r) in runs.iter_mut().enumerate() {
        if r.read_until(b'\n', &mut heads[i])? > 0 {
            let (ts, n) = parse(&heads[i]);
            heap.push(Reverse((ts, n, i)));
        }
    }
    while let Some(Reverse((_, _, i))) = heap.pop() {
        out.write_all(&heads[i])?;
        heads[i].clear();
        if runs[i].read_until(b'\n', &mut heads[i])? > 0 {
            let (ts, n) = parse(&heads[i]);
            heap.push(Reverse((ts, n, i)));
        }
    }
    out.flush()
}
