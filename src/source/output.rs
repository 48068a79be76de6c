//! Files ondata writes streams to (`simulate`, `record`): plain, or compressed by the
//! extension (`.gz`, `.zst`); `-` is stdout.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::error::{Context, Result};

/// Where a stream is written: a file, compressed by its extension, or stdout for `-`.
pub enum Output {
    Plain(Box<dyn Write>),
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
    Zst(zstd::Encoder<'static, BufWriter<File>>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Plain(w) => w.write(buf),
            Output::Gz(w) => w.write(buf),
            Output::Zst(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Plain(w) => w.flush(),
            Output::Gz(w) => w.flush(),
            Output::Zst(w) => w.flush(),
        }
    }
}

impl Output {
    /// Writes the compressed stream's trailer; without it the file is truncated.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Plain(mut w) => w.flush(),
            Output::Gz(w) => w.finish()?.flush(),
            Output::Zst(w) => w.finish()?.flush(),
        }
    }
}

pub fn open_output(path: &str) -> Result<Output> {
    if path == "-" {
        return Ok(Output::Plain(Box::new(BufWriter::new(io::stdout().lock()))));
    }
    let file = BufWriter::new(File::create(path).with_context(|| format!("cannot create {path}"))?);
    Ok(if path.ends_with(".gz") {
        Output::Gz(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        ))
    } else if path.ends_with(".zst") {
        Output::Zst(zstd::Encoder::new(file, 3)?)
    } else {
        Output::Plain(Box::new(file))
    })
}
