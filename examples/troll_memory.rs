//! Memory of the near-duplicate index with one million comments inside the window.
//! Usage: cargo run --release --example troll_memory [-- COUNT]
//!
//! Inserts COUNT (default 1,000,000) distinct ~25-word comments spread over ten minutes of
//! event time, so all are inside the 15-minute window, and reports the growth of resident
//! memory (from /proc/self/statm) per comment.

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

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
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
        text.clear();
        for w in 0..25 {
            if w > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[rng.below(WORDS.len())]);
        }
        // A unique word makes every comment distinct.
        text.push_str(&format!(" ticket{i}"));
        tokens.tokenize(&text);
        let info = signer.sign(&tokens, &mut sig);
        let m = Comment {
            ts_ms: (i as i64 * 600_000) / count as i64,
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
}
