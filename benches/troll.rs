//! Per-comment cost of the near-duplicate path: signature (shingles + MinHash) and index
//! update (LSH lookup, verification, insert), over simulated comments in one window.
//! Tokenising is measured on its own, since the engine shares it with sentiment.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ondata::detect::troll::index::{IndexSettings, TrollIndex};
use ondata::detect::troll::signature::{Signer, BINS};
use ondata::detect::Comment;
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::text::tokenize::Tokens;

fn comments() -> Vec<String> {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::TrollWave,
        seed: 1,
        days: 0,
        ..SimOptions::default()
    };
    simulate(&opts, &mut out).expect("simulate");
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .take(10_000)
        .collect()
}

fn settings() -> IndexSettings {
    IndexSettings {
        window_ms: 15 * 60_000,
        threshold: 0.7,
        max_clusters: 250_000,
        max_members: 10_000,
    }
}

fn bench(c: &mut Criterion) {
    let texts = comments();
    let mut g = c.benchmark_group("troll");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.sample_size(20);
    let mut tokens = Tokens::new();
    g.bench_function("tokenize_only", |b| {
        b.iter(|| {
            for t in &texts {
                tokens.tokenize(black_box(t));
                black_box(tokens.len());
            }
        })
    });
    g.bench_function("tokenize_sign_insert", |b| {
        b.iter_batched(
            || TrollIndex::new(settings()),
            |mut index| {
                let mut signer = Signer::new();
                let mut sig = [0u8; BINS];
                for (i, t) in texts.iter().enumerate() {
                    tokens.tokenize(t);
                    let info = signer.sign(&tokens, &mut sig);
                    let m = Comment {
                        ts_ms: i as i64 * 60,
                        text: t,
                        author: "a",
                        tokens: &tokens,
                        token_count: info.tokens,
                        negative: false,
                        score: 0.0,
                        signature: None,
                    };
                    black_box(index.insert(&m, &sig));
                }
                index.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
