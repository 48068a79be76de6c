//! Engine ingestion: parse only (the baseline), and parse + engine, over one simulated day.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ondata::config::Config;
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::text::lexicon::Lexicon;
use ondata::{parse_event, Engine};

fn stream() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed: 1,
        days: 0,
        ..SimOptions::default()
    };
    simulate(&opts, &mut out).expect("simulate");
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = stream();
    let config = Config::default();
    let lexicon = Arc::new(Lexicon::bundled());
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(parse_event(line, &config.input).is_ok());
            }
        })
    });
    g.bench_function("parse_and_ingest", |b| {
        b.iter_batched(
            || Engine::with_lexicon(&config, lexicon.clone()),
            |mut engine| {
                let mut alerts = Vec::new();
                for line in &lines {
                    if let Ok(e) = parse_event(line, &config.input) {
                        engine.ingest_into(&e, &mut alerts);
                    }
                }
                alerts.extend(engine.finish());
                black_box(alerts.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
