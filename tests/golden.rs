//! Golden replay tests: each recorded stream in `tests/fixtures/*.ndjson.zst` replays to
//! exactly the alerts in its `*.alerts.ndjson`, byte for byte, every time.
//!
//! After an intended change in detection, regenerate the expected files with
//! `ONDATA_BLESS=1 cargo test --test golden` and review the diff like code.

use std::path::{Path, PathBuf};

use ondata::deliver::sink::NdjsonSink;
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
    // Valid events only; the simulator's redeliveries are dead-lettered as duplicates.
    let dead = String::from_utf8(dead).unwrap();
    assert!(
        dead.lines().all(|l| l.contains(r#""reason":"duplicate""#)),
        "fixtures hold only valid events: {dead}"
    );
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
            let theme = is.starts_with('\u{ab}')
                && (is.contains(" si sta diffondendo su ")
                    || is.contains(" non si sta pi\u{f9} diffondendo"));
            assert!(opening.iter().any(|o| is.starts_with(o)) || theme, "{is}");
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

/// What a replay wrote, everything but the time it took.
#[derive(Debug, PartialEq)]
struct Output {
    alerts: Vec<u8>,
    dead_letter: Vec<u8>,
    summary: String,
    openmetrics: Vec<u8>,
}

fn replay_threads(config: &Config, inputs: &[PathBuf], threads: usize) -> Output {
    let opts = ReplayOptions {
        inputs: inputs
            .iter()
            .map(|p| p.to_str().unwrap().to_string())
            .collect(),
        timeline: true,
        threads,
        ..ReplayOptions::default()
    };
    let mut sink = NdjsonSink::new(Vec::new());
    let mut dead_letter = Vec::new();
    let mut summary = replay(config, &opts, &mut sink, &mut dead_letter).expect("replay");
    let mut openmetrics = Vec::new();
    let timeline = summary.timeline.take().expect("timeline kept");
    ondata::incident::openmetrics::write_openmetrics(&timeline, &mut openmetrics).unwrap();
    // The first line gives the wall time; the rest are counts.
    let summary = summary.to_string();
    let summary = summary.split_once('\n').map_or("", |(_, rest)| rest);
    Output {
        alerts: sink.into_inner(),
        dead_letter,
        summary: summary.to_string(),
        openmetrics,
    }
}

/// A replay on two threads (one reading and analysing comments, one running the engine)
/// writes exactly what a replay on one thread writes: alerts, dead letters, counts and the
/// series of a backfill, for one file with broken lines in it and for several files merged
/// by event time.
#[test]
fn one_and_two_threads_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.input.max_line_bytes = 64 * 1024;
    for fixture in fixtures() {
        let raw = zstd::decode_all(std::fs::File::open(&fixture).unwrap()).unwrap();
        let lines: Vec<&[u8]> = raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert!(lines.len() > 10_000, "{} lines", lines.len());
        // One file, with lines that are not events spread through it (more than a batch
        // apart and within one).
        let mut broken = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            broken.extend_from_slice(line);
            broken.push(b'\n');
            match n % 1500 {
                7 => broken.extend_from_slice(b"{not json\n"),
                8 => broken.extend_from_slice(b"\n   \n"),
                9 => broken
                    .extend_from_slice(b"{\"ts\":\"yesterday\",\"text\":\"x\",\"author\":\"a\"}\n"),
                10 if n % 4500 == 10 => {
                    broken.extend_from_slice(&vec![b'x'; 100 * 1024]);
                    broken.push(b'\n');
                }
                _ => {}
            }
        }
        let one = dir.path().join("broken.ndjson");
        std::fs::write(&one, &broken).unwrap();
        // The same stream split over three files by line, merged back by event time.
        let parts: Vec<PathBuf> = (0..3)
            .map(|k| {
                let path = dir.path().join(format!("part{k}.ndjson"));
                let mut part = Vec::new();
                for line in lines.iter().skip(k).step_by(3) {
                    part.extend_from_slice(line);
                    part.push(b'\n');
                }
                if k == 1 {
                    part.extend_from_slice(b"not an event either\n");
                }
                std::fs::write(&path, part).unwrap();
                path
            })
            .collect();
        for inputs in [vec![one.clone()], parts] {
            let single = replay_threads(&config, &inputs, 1);
            let double = replay_threads(&config, &inputs, 2);
            assert!(!single.alerts.is_empty(), "{}: alerts", fixture.display());
            assert!(
                !single.dead_letter.is_empty(),
                "{}: dead letters",
                fixture.display()
            );
            assert!(single.openmetrics.len() > 10_000);
            assert!(
                single == double,
                "{} ({} file(s)): one thread and two differ",
                fixture.display(),
                inputs.len()
            );
        }
    }
}
