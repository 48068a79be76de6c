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
    replay_with(&Config::default(), input)
}

fn replay_with(config: &Config, input: &Path) -> Vec<u8> {
    let opts = ReplayOptions {
        inputs: vec![input.to_str().unwrap().to_string()],
        progress: false,
        observe: None,
        ..ReplayOptions::default()
    };
    let mut sink = NdjsonSink::new(Vec::new());
    let mut dead = Vec::new();
    replay(config, &opts, &mut sink, &mut dead).expect("replay");
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

/// `alerts.language = "it"`: the same alerts (ids, times, values, evidence), with the
/// summaries written in Italian.
#[test]
fn italian_summaries_change_only_the_summary() {
    let mut italian = Config::default();
    italian.alerts.language = ondata::config::Language::It;
    for input in fixtures() {
        let en = String::from_utf8(replay_to_bytes(&input)).unwrap();
        let it = String::from_utf8(replay_with(&italian, &input)).unwrap();
        assert_eq!(en.lines().count(), it.lines().count());
        let mut kinds = std::collections::BTreeSet::new();
        for (e, i) in en.lines().zip(it.lines()) {
            let mut e: serde_json::Value = serde_json::from_str(e).unwrap();
            let mut i: serde_json::Value = serde_json::from_str(i).unwrap();
            let (es, is) = (e["summary"].take(), i["summary"].take());
            assert_eq!(e, i, "only the summary differs");
            let is = is.as_str().unwrap();
            assert_ne!(es.as_str().unwrap(), is);
            let opening = [
                "Picco di commenti su",
                "Rientrato il picco",
                "Clima negativo su",
                "Clima tornato nella norma",
                "Possibile campagna coordinata",
                "Terminata la campagna",
            ];
            assert!(opening.iter().any(|o| is.starts_with(o)), "{is}");
            for english in [
                " comments ",
                " the usual ",
                " lasted ",
                " accounts in ",
                " minutes",
            ] {
                assert!(!is.contains(english), "English left in: {is}");
            }
            kinds.insert((
                i["kind"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            ));
        }
        if input.to_str().unwrap().contains("troll-wave") {
            assert!(kinds.len() >= 5, "every kind and status worded: {kinds:?}");
        }
    }
}
