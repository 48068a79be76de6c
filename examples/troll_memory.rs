//! Memory of the near-duplicate index with one million comments inside the window.
//! Usage: cargo run --release --example troll_memory [-- COUNT]
//!        cargo run --release --example troll_memory -- --events FILE [COUNT]
//!
//! Inserts COUNT (default 1,000,000) distinct ~25-word comments spread over ten minutes of
//! event time, so all are inside the 15-minute window, and reports the growth of resident
//! memory (from /proc/self/statm) per comment.
//!
//! With `--events FILE` it writes the same comments as events instead (four topics, a
//! thousand authors), for `ondata replay` to measure the whole engine's peak memory with
//! every detector on: `/usr/bin/time -f %M ondata replay --quiet FILE`.

use ondata::detect::troll::index::{IndexSettings, TrollIndex};
use ondata::detect::troll::signature::{Signer, BINS};
use ondata::detect::Comment;
use ondata::simulate::rng::Rng;
use ondata::text::tokenize::Tokens;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

const WORDS: &[&str] = &[
    "il",
    "sito",
    "non",
    "funziona",
    "domanda",
    "bonus",
    "pensione",
    "ancora",
    "niente",
    "vergogna",
    "grazie",
    "operatore",
    "numero",
    "verde",
    "sempre",
    "occupato",
    "pagamento",
    "arrivato",
    "quando",
    "come",
    "perché",
    "mese",
    "giorni",
    "figli",
    "lavoro",
    "casa",
    "errore",
    "pagina",
    "bianca",
    "assistenza",
    "risposta",
    "tempo",
];

/// The i-th of `count` comments: 25 words drawn from `WORDS` and a word of its own.
fn comment(rng: &mut Rng, i: usize, text: &mut String) {
    text.clear();
    for w in 0..25 {
        if w > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len())]);
    }
    // A unique word makes every comment distinct.
    text.push_str(&format!(" ticket{i}"));
}

/// Event time of the i-th of `count` comments: all within ten minutes.
fn ts_ms(i: usize, count: usize) -> i64 {
    (i as i64 * 600_000) / count as i64
}

/// Writes the comments as NDJSON events, starting at 2020-04-01T10:00:00Z.
fn write_events(path: &str, count: usize) -> std::io::Result<()> {
    use std::io::Write;
    const TOPICS: [&str; 4] = [
        "pensioni",
        "bonus-600",
        "assistenza",
        "reddito-di-cittadinanza",
    ];
    const START_MS: i64 = 1_585_735_200_000;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = Rng::new(7);
    let mut text = String::with_capacity(256);
    for i in 0..count {
        comment(&mut rng, i, &mut text);
        let ts = chrono::DateTime::from_timestamp_millis(START_MS + ts_ms(i, count))
            .expect("a 2020 time")
            .format("%Y-%m-%dT%H:%M:%S%.3fZ");
        writeln!(
            out,
            r#"{{"ts":"{ts}","id":"mem-{i}","author":"user{}","topic":"{}","channel":"twitter","lang":"it","text":"{text}"}}"#,
            i % 1000,
            TOPICS[i % TOPICS.len()],
        )?;
    }
    out.flush()?;
    println!("{count} events within ten minutes written to {path}");
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count_arg = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000)
    };
    if args.first().map(String::as_str) == Some("--events") {
        let path = args
            .get(1)
            .expect("usage: troll_memory --events FILE [COUNT]");
        return write_events(path, count_arg(2));
    }
    let count = count_arg(0);
    let mut index = TrollIndex::new(IndexSettings {
        window_ms: 15 * 60_000,
        threshold: 0.7,
        max_clusters: count * 2,
        max_members: 10_000,
    });
    let mut rng = Rng::new(7);
    let mut tokens = Tokens::new();
    let mut signer = Signer::new();
    let mut sig = [0u8; BINS];
    let mut text = String::with_capacity(256);
    let before = rss_bytes();
    let started = std::time::Instant::now();
    for i in 0..count {
        comment(&mut rng, i, &mut text);
        tokens.tokenize(&text);
        let info = signer.sign(&tokens, &mut sig);
        let m = Comment {
            ts_ms: ts_ms(i, count),
            text: &text,
            author: "a",
            tokens: &tokens,
            token_count: info.tokens,
            negative: false,
            score: 0.0,
            signature: None,
        };
        index.insert(&m, &sig);
    }
    let secs = started.elapsed().as_secs_f64();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{count} comments in the window: {} clusters, RSS +{:.0} MB ({:.0} bytes/comment), {:.2} s ({:.2} µs/comment incl. text generation)",
        index.len(),
        grown as f64 / 1e6,
        grown as f64 / count as f64,
        secs,
        secs * 1e6 / count as f64
    );
    Ok(())
}
