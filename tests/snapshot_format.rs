//! The snapshot format is kept: an engine state saved by this version of the format (a file
//! committed when the format was set) still loads, and the engine goes on from it exactly
//! as one that saw the whole stream. A change to the shape of the engine's state fails this
//! test: then bump `live::snapshot::FORMAT` (older snapshots are then refused with the
//! reason, and a restart rebuilds from history once) and write the new format's file with
//! `ONDATA_WRITE_STATE_FIXTURE=1 cargo test --test snapshot_format`.
//!
//! The stream is the simulator's (it shares only the event format with the engine); the
//! expectation is the engine's own run over the whole stream.

use ondata::alert::Alert;
use ondata::config::Config;
use ondata::engine::Engine;
use ondata::event::parse_event;
use ondata::live::snapshot::FORMAT;
use ondata::simulate::{simulate, Scenario, SimOptions};

/// Where the state is cut: late on the ordinary day, before the troll wave.
const CUT: usize = 12_000;

fn stream() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::TrollWave,
        seed: 5,
        days: 1,
        ..SimOptions::default()
    };
    simulate(&opts, &mut out).unwrap();
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn feed(engine: &mut Engine, config: &Config, lines: &[Vec<u8>]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for line in lines {
        if let Ok(e) = parse_event(line, &config.input) {
            engine.ingest_into(&e, &mut alerts);
        }
    }
    alerts
}

fn config() -> Config {
    let mut config = Config::default();
    // Few ids, so the file stays small.
    config.input.dedup_ids = 4_096;
    config
}

#[test]
fn a_state_saved_in_this_format_still_loads_and_goes_on_alike() {
    let config = config();
    let lines = stream();
    assert!(lines.len() > CUT * 2, "{} lines", lines.len());
    let path = format!(
        "{}/tests/fixtures/engine-state-v{FORMAT}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("ONDATA_WRITE_STATE_FIXTURE").is_some() {
        let mut engine = Engine::new(&config);
        feed(&mut engine, &config, &lines[..CUT]);
        std::fs::write(&path, engine.save_state().unwrap()).unwrap();
    }
    let saved = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}: each snapshot format keeps a saved state (see this file's head)")
    });

    let mut whole = Engine::new(&config);
    feed(&mut whole, &config, &lines[..CUT]);
    let mut expected = feed(&mut whole, &config, &lines[CUT..]);
    expected.extend(whole.finish());
    assert!(
        expected.iter().any(|a| a.kind.as_str() == "troll_burst"),
        "the wave after the cut fires"
    );

    let mut loaded = Engine::new(&config);
    loaded.load_state(&saved).unwrap_or_else(|e| {
        panic!("{e}: the engine's state changed shape; bump the snapshot FORMAT (see this file's head)")
    });
    let mut got = feed(&mut loaded, &config, &lines[CUT..]);
    got.extend(loaded.finish());
    assert!(
        got == expected,
        "a state of format {FORMAT} loads but the engine goes on differently: if what the state holds changed, bump the snapshot FORMAT; if only the shipped sentiment models changed (the saved scores are the old model's), write the file again"
    );
}
