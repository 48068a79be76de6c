//! Recorded streams: NDJSON files, gzip (`.gz`) or zstd (`.zst`) compressed, or `-` for
//! stdin; read line by line with a hard cap on line length so one broken line cannot
//! exhaust memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const READ_BUFFER: usize = 256 * 1024;

/// Counts bytes as they come off the file (compressed), for progress reporting.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input, decompressed as its name says.
pub struct InputFile {
    pub name: String,
    /// Size on disk, when known (not for stdin).
    pub size: Option<u64>,
    pub reader: Box<dyn BufRead + Send>,
}

/// Opens `path` (`-` is stdin); `read` counts raw bytes consumed.
pub fn open_input(path: &str, read: Arc<AtomicU64>) -> io::Result<InputFile> {
    if path == "-" {
        let stdin = Counting {
            inner: io::stdin(),
            read,
        };
        return Ok(InputFile {
            name: "stdin".into(),
            size: None,
            reader: Box::new(BufReader::with_capacity(READ_BUFFER, stdin)),
        });
    }
    let file = File::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    let raw = Counting { inner: file, read };
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    let reader: Box<dyn BufRead + Send> = match ext {
        "gz" => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, raw)),
        )),
        "zst" | "zstd" => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            zstd::Decoder::new(raw)?,
        )),
        _ => Box::new(BufReader::with_capacity(READ_BUFFER, raw)),
    };
    Ok(InputFile {
        name: path.to_string(),
        size,
        reader,
    })
}

/// What one call to [`LineReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLine {
    /// A whole line is in the buffer (without its `\n` or `\r\n`).
    Line,
    /// The line was longer than the cap: the buffer holds its first bytes, `len` is its
    /// full length; the rest was skipped.
    TooLong {
        len: u64,
    },
    Eof,
}

/// Reads lines of at most `max_line_bytes` into a reused buffer.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    max_line_bytes: usize,
    /// How much of an overlong line is kept for the dead letter.
    keep_of_long_line: usize,
    pub line_no: u64,
    /// Lines carry their number and sort key (`line_no \t ts \t line`, a sorted copy).
    numbered: bool,
    /// An error met while the input was read ahead, returned once the lines before it are
    /// read, with the line it broke at.
    at_end: Option<(io::Error, Option<u64>)>,
    /// Lines are Windows-1252 (a superset of Latin-1 in print), turned into UTF-8 as read.
    latin1: bool,
    scratch: Vec<u8>,
    /// Lines read ahead and given back ([`LineReader::unread`]): served first.
    queued: std::collections::VecDeque<(u64, std::ops::Range<usize>, Option<u64>)>,
    queued_bytes: Vec<u8>,
}

impl LineReader {
    pub fn new(reader: Box<dyn BufRead + Send>, max_line_bytes: usize) -> Self {
        Self {
            reader,
            max_line_bytes,
            keep_of_long_line: 1024,
            line_no: 0,
            numbered: false,
            at_end: None,
            latin1: false,
            scratch: Vec::new(),
            queued: std::collections::VecDeque::new(),
            queued_bytes: Vec::new(),
        }
    }

    /// Gives back lines read ahead (number, where in `bytes`, full length when too long),
    /// to be read again first, as they were.
    pub fn unread(
        &mut self,
        bytes: Vec<u8>,
        lines: std::collections::VecDeque<(u64, std::ops::Range<usize>, Option<u64>)>,
    ) {
        self.queued_bytes = bytes;
        self.queued = lines;
    }

    /// Reads Windows-1252 / Latin-1 lines, handing them on as UTF-8.
    pub fn latin1(mut self) -> Self {
        self.latin1 = true;
        self
    }

    /// Reads a sorted copy whose lines carry their original numbers.
    pub fn numbered(reader: Box<dyn BufRead + Send>, max_line_bytes: usize) -> Self {
        let mut r = Self::new(reader, max_line_bytes.saturating_add(64));
        r.numbered = true;
        r
    }

    /// Returns `error` (if any) after the last line, as if met there, at line `line`.
    pub fn fail_at_end(&mut self, error: Option<io::Error>, line: Option<u64>) {
        self.at_end = error.map(|e| (e, line));
    }

    /// The line an error is reported at: the next one, or where a read-ahead broke.
    pub fn error_line(&self) -> u64 {
        self.at_end
            .as_ref()
            .and_then(|(_, l)| *l)
            .unwrap_or(self.line_no + 1)
    }

    pub fn into_inner(self) -> Box<dyn BufRead + Send> {
        self.reader
    }

    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<ReadLine> {
        buf.clear();
        if let Some((line_no, range, too_long)) = self.queued.pop_front() {
            buf.extend_from_slice(&self.queued_bytes[range]);
            if self.queued.is_empty() {
                self.queued_bytes = Vec::new();
            }
            self.line_no = line_no;
            return Ok(match too_long {
                Some(len) => ReadLine::TooLong { len },
                None => ReadLine::Line,
            });
        }
        let mut total: u64 = 0;
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if total == 0 {
                    return match self.at_end.take() {
                        Some((e, line)) => {
                            self.at_end = Some((io::Error::new(e.kind(), "see above"), line));
                            Err(e)
                        }
                        None => Ok(ReadLine::Eof),
                    };
                }
                break;
            }
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            total += chunk.len() as u64 + u64::from(done);
            if !too_long {
                if buf.len() + chunk.len() <= self.max_line_bytes {
                    buf.extend_from_slice(chunk);
                } else {
                    too_long = true;
                    let keep = self
                        .keep_of_long_line
                        .saturating_sub(buf.len())
                        .min(chunk.len());
                    buf.extend_from_slice(&chunk[..keep]);
                    buf.truncate(self.keep_of_long_line);
                }
            }
            self.reader.consume(consumed);
            if done {
                break;
            }
        }
        self.line_no += 1;
        if too_long {
            return Ok(ReadLine::TooLong { len: total });
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if self.latin1 && !buf.is_ascii() {
            self.scratch.clear();
            windows_1252_to_utf8(buf, &mut self.scratch);
            std::mem::swap(buf, &mut self.scratch);
        }
        if self.numbered {
            let mut tabs = memchr::memchr_iter(b'\t', buf);
            if let (Some(a), Some(b)) = (tabs.next(), tabs.next()) {
                if let Some(n) = std::str::from_utf8(&buf[..a])
                    .ok()
                    .and_then(|n| n.parse().ok())
                {
                    self.line_no = n;
                }
                buf.drain(..=b);
            }
        }
        Ok(ReadLine::Line)
    }
}

/// Windows-1252's characters at 0x80-0x9F (Latin-1 has control codes there; the five
/// unassigned bytes are read as those).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Appends `bytes`, read as Windows-1252, to `out` as UTF-8.
pub fn windows_1252_to_utf8(bytes: &[u8], out: &mut Vec<u8>) {
    let mut tmp = [0u8; 4];
    for &b in bytes {
        let c = match b {
            0x80..=0x9f => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        };
        out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(data: &'static [u8], max: usize) -> LineReader {
        LineReader::new(Box::new(io::Cursor::new(data)), max)
    }

    #[test]
    fn reads_lines_and_caps_long_ones() {
        let mut r = reader(b"one\r\ntwo\nxxxxxxxxxxxxxxxxxxxx\nlast", 10);
        let mut buf = Vec::new();
        assert_eq!(r.next_line(&mut buf).unwrap(), ReadLine::Line);
        assert_eq!(buf, b"one");
        assert_eq!(r.next_line(&mut buf).unwrap(), ReadLine::Line);
        assert_eq!(buf, b"two");
        assert_eq!(
            r.next_line(&mut buf).unwrap(),
            ReadLine::TooLong { len: 21 }
        );
        assert_eq!(r.next_line(&mut buf).unwrap(), ReadLine::Line);
        assert_eq!(buf, b"last");
        assert_eq!(r.next_line(&mut buf).unwrap(), ReadLine::Eof);
        assert_eq!(r.line_no, 4);
    }

    #[test]
    fn windows_1252_lines_become_utf8() {
        let mut out = Vec::new();
        windows_1252_to_utf8(b"caff\xe8 \x80 5 \x93s\xec\x94", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "caffè € 5 “sì”");
    }

    #[test]
    fn reads_compressed_files() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("a.ndjson.gz");
        let zst = dir.path().join("a.ndjson.zst");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        io::Write::write_all(&mut enc, b"a\nb\n").unwrap();
        enc.finish().unwrap();
        std::fs::write(&zst, zstd::encode_all(&b"c\nd\n"[..], 1).unwrap()).unwrap();
        for (path, first) in [(gz, b"a"), (zst, b"c")] {
            let f = open_input(path.to_str().unwrap(), Arc::default()).unwrap();
            let mut r = LineReader::new(f.reader, 100);
            let mut buf = Vec::new();
            r.next_line(&mut buf).unwrap();
            assert_eq!(&buf, first);
        }
    }
}
