//! Where alerts go. Replay writes NDJSON; the live path adds more sinks behind this trait.

use std::io::{self, Write};

use super::Alert;

/// Receives every alert transition, in order.
pub trait AlertSink {
    fn send(&mut self, alert: &Alert) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// One JSON object per line, flushed per alert so a reader tailing the output sees each
/// alert as soon as it is decided.
pub struct NdjsonSink<W: Write> {
    out: W,
}

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> AlertSink for NdjsonSink<W> {
    fn send(&mut self, alert: &Alert) -> io::Result<()> {
        self.out.write_all(alert.to_json_line().as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
