//! Parse-only baseline for the end-to-end benchmark: reads a recorded file exactly as
//! `ondata replay` does (same reader, same parser) and does nothing else.
//! Usage: cargo run --release --example parse_only -- FILE

use std::sync::Arc;
use std::time::Instant;

use ondata::config::InputConfig;
use ondata::source::{open_input, LineReader, ReadLine};

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: parse_only FILE");
    let limits = InputConfig::default();
    let input = open_input(&path, Arc::default())?;
    let mut reader = LineReader::new(input.reader, limits.max_line_bytes);
    let mut buf = Vec::new();
    let (mut ok, mut bad) = (0u64, 0u64);
    let started = Instant::now();
    while reader.next_line(&mut buf)? != ReadLine::Eof {
        match ondata::parse_event(&buf, &limits) {
            Ok(e) => {
                ok += 1;
                std::hint::black_box(&e);
            }
            Err(_) => bad += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "parse-only: {ok} events ({bad} rejected) in {secs:.2} s ({:.0} events/s)",
        (ok + bad) as f64 / secs
    );
    Ok(())
}
