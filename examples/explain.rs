use std::sync::Arc;
fn main() {
    let mut s = ondata::text::sentiment::SentimentScorer::new(
        Arc::new(ondata::text::lexicon::Lexicon::bundled()),
        &Default::default(),
    );
    for t in std::env::args().skip(1) {
        let e = s.explain(&t, None, None);
        println!("{t}\n  {} {:?} {:?}", e.score, e.lang, e.label);
        for w in &e.words {
            println!(
                "    {} {} {} -> {} {:?}",
                w.word, w.lexicon, w.base, w.value, w.rules
            );
        }
        for r in &e.rules {
            println!("    rule: {r}");
        }
    }
}
