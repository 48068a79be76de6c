//! Cost of scoring one comment, for typical Italian and English comments: the lexicon
//! alone and with the shipped models (target: 2 µs a comment), and of loading a model
//! (target: 100 ms).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ondata::config::SentimentConfig;
use ondata::text::lexicon::Lexicon;
use ondata::text::model::{Models, SentimentModel};
use ondata::text::sentiment::SentimentScorer;

const COMMENTS: &[&str] = &[
    "Vergognatevi! Il sito dell'INPS è bloccato da stamattina e nessuno risponde al numero verde, ho due figli e sono senza lavoro da marzo 😡",
    "Buongiorno, qualcuno sa quando pagano il bonus 600 a chi ha fatto domanda il 2 aprile? Grazie in anticipo.",
    "Grazie mille, finalmente ho ricevuto il pagamento! Operatrice gentilissima e disponibile 👍",
    "Il sito non funziona, ho perso la mattinata. Servizio pessimo, assistenza inesistente.",
    "The website has been down all morning and I can't submit my application. Terrible.",
];

fn bench(c: &mut Criterion) {
    let mut scorer =
        SentimentScorer::new(Arc::new(Lexicon::bundled()), &SentimentConfig::default());
    let mut g = c.benchmark_group("sentiment");
    g.throughput(Throughput::Elements(COMMENTS.len() as u64));
    g.bench_function("score_5_comments", |b| {
        b.iter(|| {
            for text in COMMENTS {
                black_box(scorer.score(black_box(text), None));
            }
        })
    });
    g.bench_function("explain_5_comments", |b| {
        b.iter(|| {
            for text in COMMENTS {
                black_box(scorer.explain(black_box(text), None, None));
            }
        })
    });
    let mut modelled = SentimentScorer::with_models(
        Arc::new(Lexicon::bundled()),
        Models::bundled(),
        &SentimentConfig::default(),
    );
    g.bench_function("score_5_comments_with_model", |b| {
        b.iter(|| {
            for text in COMMENTS {
                black_box(modelled.score(black_box(text), None));
            }
        })
    });
    g.finish();
    let bytes = std::fs::read("models/sentiment-it.model").expect("run from the repository");
    c.bench_function("model_load", |b| {
        b.iter(|| black_box(SentimentModel::from_bytes(black_box(&bytes), "it").unwrap()))
    });
    c.bench_function("lexicon_load", |b| {
        b.iter(|| black_box(Lexicon::bundled().len()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
