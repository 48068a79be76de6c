//! Engine ingestion: parse only (the baseline), and parse + engine, over one simulated day;
//! and the cost of each stage per comment (`stage/*`), the breakdown `scripts/bench.sh`
//! prints: parse, tokenize, sentiment, topics, signature, terms (the analysis a replay
//! computes on its reading thread), then windows (buckets and detectors, no comment indexed),
//! index (near-duplicate lookup and insert alone, one index for all topics, comments of at
//! least `min_tokens`), themes (one theme table counting every comment's terms, closed each
//! minute), coordination (one topic's tag counts, per comment) and apply (the engine's whole
//! share: windows, index and detectors, from analysed comments).

use std::hint::black_box;
use std::sync::Arc;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ondata::config::Config;
use ondata::detect::flood::{FloodDetector, FloodSettings};
use ondata::detect::theme::{ThemeSettings, ThemeTable};
use ondata::detect::troll::index::{IndexSettings, TrollIndex};
use ondata::detect::troll::signature::{Signer, BINS};
use ondata::detect::Comment;
use ondata::engine::Analysis;
use ondata::event::Event;
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::text::lexicon::Lexicon;
use ondata::text::sentiment::SentimentScorer;
use ondata::text::terms::Terms;
use ondata::text::tokenize::Tokens;
use ondata::text::topics::TopicMatcher;
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

/// The detectors' view of an analysed event.
fn comment<'a>(e: &'a Event<'_>, a: &'a Analysis) -> Comment<'a> {
    Comment {
        ts_ms: e.ts_ms,
        text: &e.text,
        author: &e.author,
        tokens: &a.tokens,
        token_count: a.token_count,
        negative: a.negative,
        score: a.score,
        signature: None,
    }
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

fn apply(engine: &mut Engine, events: &[Event<'static>], analyses: &[Analysis]) -> usize {
    let mut alerts = Vec::new();
    for (e, a) in events.iter().zip(analyses) {
        engine.ingest_analyzed(e, a, &mut alerts);
    }
    alerts.extend(engine.finish());
    alerts.len()
}

fn stages(c: &mut Criterion) {
    let lines = stream();
    let config = Config::default();
    let lexicon = Arc::new(Lexicon::bundled());
    let events: Vec<Event<'static>> = lines
        .iter()
        .filter_map(|l| parse_event(l, &config.input).ok())
        .map(Event::into_owned)
        .collect();
    let engine = Engine::with_lexicon(&config, lexicon.clone());
    let mut analyzer = engine.analyzer();
    let analyses: Vec<Analysis> = events
        .iter()
        .map(|e| {
            let mut a = Analysis::default();
            analyzer.analyze(e, &mut a);
            a
        })
        .collect();
    let mut g = c.benchmark_group("stage");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(parse_event(line, &config.input).is_ok());
            }
        })
    });
    let mut tokens = Tokens::new();
    g.bench_function("tokenize", |b| {
        b.iter(|| {
            for e in &events {
                tokens.tokenize(black_box(&e.text));
                black_box(tokens.len());
            }
        })
    });
    let mut scorer = SentimentScorer::new(lexicon.clone(), &config.sentiment);
    g.bench_function("sentiment", |b| {
        b.iter(|| {
            for (e, a) in events.iter().zip(&analyses) {
                black_box(scorer.score_tokenized(&a.tokens, e.lang.as_deref()));
            }
        })
    });
    let mut matcher = TopicMatcher::new(&config.topics.rules);
    g.bench_function("topics", |b| {
        b.iter(|| {
            let mut n = 0;
            for e in &events {
                matcher.for_each_match(&e.text, |_| n += 1);
            }
            black_box(n)
        })
    });
    let mut signer = Signer::new();
    let mut sig = [0u8; BINS];
    g.bench_function("signature", |b| {
        b.iter(|| {
            for a in &analyses {
                signer.sign(&a.tokens, &mut sig);
                black_box(&sig);
            }
        })
    });
    let mut terms = Terms::new();
    g.bench_function("terms", |b| {
        b.iter(|| {
            for a in &analyses {
                terms.extract(&a.tokens);
                black_box(terms.as_slice().len());
            }
        })
    });
    let theme_settings = ThemeSettings::new(&config.detect.theme, 60_000);
    g.bench_function("themes", |b| {
        b.iter_batched(
            ThemeTable::default,
            |mut table| {
                let mut minute = i64::MIN;
                for (e, a) in events.iter().zip(&analyses) {
                    if e.ts_ms.div_euclid(60_000) != minute {
                        if minute != i64::MIN {
                            table.on_close(&theme_settings);
                        }
                        minute = e.ts_ms.div_euclid(60_000);
                    }
                    table.on_comment(&a.terms, &a.tokens, false);
                }
                table
            },
            BatchSize::LargeInput,
        )
    });
    let flood_settings = Arc::new(FloodSettings::new(&config.detect.coordination, 60_000));
    g.bench_function("coordination", |b| {
        b.iter_batched(
            || FloodDetector::new(flood_settings.clone()),
            |mut flood| {
                for (e, a) in events.iter().zip(&analyses) {
                    flood.on_comment(&comment(e, a), false);
                }
                flood
            },
            BatchSize::LargeInput,
        )
    });
    // Buckets and detectors alone: no comment is long enough for the troll index.
    let mut unindexed = config.clone();
    unindexed.detect.troll.min_tokens = Some(u32::MAX);
    g.bench_function("windows", |b| {
        b.iter_batched(
            || Engine::with_lexicon(&unindexed, lexicon.clone()),
            |mut engine| black_box(apply(&mut engine, &events, &analyses)),
            BatchSize::LargeInput,
        )
    });
    let params = config.detect.troll_params("");
    let settings = IndexSettings {
        window_ms: i64::from(params.window_mins) * 60_000,
        threshold: params.similarity,
        max_clusters: config.detect.troll.max_clusters,
        max_members: 10_000,
    };
    g.bench_function("index", |b| {
        b.iter_batched(
            || TrollIndex::new(settings.clone()),
            |mut index| {
                let mut expired_at = i64::MIN;
                for (e, a) in events.iter().zip(&analyses) {
                    // As the engine does at each bucket's close.
                    if e.ts_ms >= expired_at + 60_000 {
                        index.expire(e.ts_ms);
                        expired_at = e.ts_ms;
                    }
                    if a.token_count < params.min_tokens as usize {
                        continue;
                    }
                    black_box(index.insert(&comment(e, a), &a.signature));
                }
                index.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("apply", |b| {
        b.iter_batched(
            || Engine::with_lexicon(&config, lexicon.clone()),
            |mut engine| black_box(apply(&mut engine, &events, &analyses)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench, stages);
criterion_main!(benches);
