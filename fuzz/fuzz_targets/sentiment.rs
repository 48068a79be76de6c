//! Any text in any language tag: a finite score in [-1, 1], the same twice, explained alike.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ondata::config::SentimentConfig;
use ondata::text::lexicon::Lexicon;
use ondata::text::sentiment::SentimentScorer;

fuzz_target!(|input: (&str, Option<&str>)| {
    static LEX: OnceLock<Arc<Lexicon>> = OnceLock::new();
    let lexicon = LEX.get_or_init(|| Arc::new(Lexicon::bundled())).clone();
    let (text, lang) = input;
    let mut scorer = SentimentScorer::new(lexicon, &SentimentConfig::default());
    let a = scorer.score(text, lang);
    assert!(a.score.is_finite() && (-1.0..=1.0).contains(&a.score));
    assert_eq!(a, scorer.score(text, lang));
    let why = scorer.explain(text, lang, None);
    assert!((why.score - a.score).abs() < 1e-9);
});
