//! ondata's side of the datasketch comparison (scripts/compare_datasketch.py).
//! Usage: cargo run --release --example lsh_pairs -- STREAM.ndjson OUT_DIR
//!
//! Writes OUT_DIR/messages.txt (the normalised tokens of each message of at least 8 tokens,
//! one message per line: words as they are, numbers as <num>, URLs as <url>; mentions,
//! hashtags and emoji left out) and OUT_DIR/ondata_pairs.txt (the near-duplicate pairs that
//! ondata's signatures and LSH find at similarity 0.7), and prints the time taken.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::time::Instant;

use rustc_hash::FxHashMap;

use ondata::detect::troll::signature::{band_keys, similarity, Signature, Signer, BANDS, BINS};
use ondata::text::tokenize::{TokenKind, Tokens};

const MIN_TOKENS: usize = 8;
const THRESHOLD: f64 = 0.7;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: lsh_pairs STREAM.ndjson OUT_DIR");
        std::process::exit(2);
    };
    let mut tokens = Tokens::new();
    let mut normalised = Vec::new();
    let mut texts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(&input)?).lines() {
        let line = line?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Some(text) = v["text"].as_str() else {
            continue;
        };
        tokens.tokenize(text);
        let words: Vec<&str> = tokens
            .as_slice()
            .iter()
            .filter_map(|t| match t.kind {
                TokenKind::Word => Some(tokens.text(t)),
                TokenKind::Number => Some("<num>"),
                TokenKind::Url => Some("<url>"),
                _ => None,
            })
            .collect();
        if words.len() >= MIN_TOKENS {
            normalised.push(words.join(" "));
            texts.push(text.to_string());
        }
    }
    // Time only what the comparison is about: signatures and the LSH index.
    let started = Instant::now();
    let mut signer = Signer::new();
    let mut sigs: Vec<Signature> = Vec::with_capacity(texts.len());
    for text in &texts {
        tokens.tokenize(text);
        let mut sig = [0u8; BINS];
        signer.sign(&tokens, &mut sig);
        sigs.push(sig);
    }
    let mut tables: Vec<FxHashMap<u32, Vec<u32>>> =
        (0..BANDS).map(|_| FxHashMap::default()).collect();
    let mut pairs = BTreeSet::new();
    for (i, sig) in sigs.iter().enumerate() {
        for (table, key) in tables.iter_mut().zip(band_keys(sig)) {
            let bucket = table.entry(key).or_default();
            for &j in bucket.iter() {
                if similarity(sig, &sigs[j as usize]) >= THRESHOLD {
                    pairs.insert((j, i as u32));
                }
            }
            bucket.push(i as u32);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&out)?;
    let mut m = std::io::BufWriter::new(std::fs::File::create(format!("{out}/messages.txt"))?);
    for n in &normalised {
        writeln!(m, "{n}")?;
    }
    let mut p = std::io::BufWriter::new(std::fs::File::create(format!("{out}/ondata_pairs.txt"))?);
    for (a, b) in &pairs {
        writeln!(p, "{a} {b}")?;
    }
    println!(
        "ondata: {} messages, {} pairs, {:.3} s signatures + LSH",
        normalised.len(),
        pairs.len(),
        secs
    );
    Ok(())
}
