//! Golden replay tests: each recorded stream in `tests/fixtures/*.ndjson.zst` replays to
//! exactly the alerts in its `*.alerts.ndjson`, byte for byte, every time.
//!
//! After an intended change in detection, regenerate the expected files with
//! `ONDATA_BLESS=1 cargo test --test golden` and review the diff like code.

use std::path::{Path, PathBuf};

use ondata::alert::sink::NdjsonSink;
use ondata::replay::{replay, ReplayOptions};
use ondata::Config;

fn replay_to_bytes(input: &Path) -> Vec<u8> {
    let opts = ReplayOptions {
        inputs: vec![input.to_str().unwrap().to_string()],
        progress: false,
        observe: None,
    };
    let mut sink = NdjsonSink::new(Vec::new());
    let mut dead = Vec::new();
    replay(&Config::default(), &opts, &mut sink, &mut dead).expect("replay");
    assert!(dead.is_empty(), "fixtures hold only valid events");
    sink.into_inner()
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".ndjson.zst")))
        .collect();
    found.sort();
    found
}

#[test]
fn fixtures_replay_to_their_expected_alerts() {
    let inputs = fixtures();
    assert!(inputs.len() >= 2, "golden fixtures missing");
    let bless = std::env::var_os("ONDATA_BLESS").is_some();
    for input in inputs {
        let expected_path = PathBuf::from(
            input
                .to_str()
                .unwrap()
                .replace(".ndjson.zst", ".alerts.ndjson"),
        );
        let got = replay_to_bytes(&input);
        assert!(!got.is_empty(), "{} produced no alerts", input.display());
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} missing; run with ONDATA_BLESS=1",
                expected_path.display()
            )
        });
        if got != expected {
            let got = String::from_utf8_lossy(&got);
            let expected = String::from_utf8_lossy(&expected);
            for (n, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
                assert_eq!(
                    g,
                    e,
                    "{}: first difference at alert {}",
                    input.display(),
                    n + 1
                );
            }
            assert_eq!(
                got.lines().count(),
                expected.lines().count(),
                "{}: alert count differs",
                input.display()
            );
        }
    }
}

#[test]
fn same_input_twice_gives_identical_bytes() {
    let input = &fixtures()[0];
    assert_eq!(replay_to_bytes(input), replay_to_bytes(input));
}
