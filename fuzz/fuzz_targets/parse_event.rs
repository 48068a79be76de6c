//! Any bytes, as lines: each is parsed (an event or a rejection with a reason) and every
//! event goes through the whole engine, so windows, detectors and the near-duplicate index
//! see arbitrary times, texts, authors and topics.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ondata::config::Config;
use ondata::text::lexicon::Lexicon;
use ondata::{parse_event, Engine};

fuzz_target!(|data: &[u8]| {
    static LEX: OnceLock<Arc<Lexicon>> = OnceLock::new();
    let lexicon = LEX.get_or_init(|| Arc::new(Lexicon::bundled())).clone();
    let config = Config::default();
    let mut engine = Engine::with_lexicon(&config, lexicon);
    for line in data.split(|&b| b == b'\n').take(64) {
        match parse_event(line, &config.input) {
            Ok(event) => {
                let _ = engine.ingest(&event);
            }
            Err(r) => assert!(!r.detail.is_empty(), "a rejection without a reason"),
        }
    }
    let _ = engine.finish();
});
