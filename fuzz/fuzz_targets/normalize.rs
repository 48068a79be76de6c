//! Any text: folding is idempotent and bounded, tokenising never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ondata::text::normalize::fold;
use ondata::text::tokenize::Tokens;

fuzz_target!(|text: &str| {
    let once = fold(text);
    assert_eq!(fold(&once), once);
    assert!(once.len() <= 2 * text.len() + 4);
    let mut tokens = Tokens::new();
    tokens.tokenize(text);
    for t in tokens.as_slice() {
        let _ = tokens.text(t);
    }
});
