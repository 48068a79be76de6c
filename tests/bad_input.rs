//! Bad input mixed into a stream: the process exits 0, every bad line is in the dead letter
//! with its reason, every good line is processed, and the alerts equal the clean stream's.

use std::collections::BTreeMap;
use std::process::Command;

use ondata::simulate::{simulate, Scenario, SimOptions};

/// Bad lines of every kind, with the reason each must be rejected for.
fn bad_lines() -> Vec<(Vec<u8>, &'static str)> {
    let huge_text = format!(
        r#"{{"ts":"2020-03-30T10:00:00Z","text":"{}","author":"a"}}"#,
        "x".repeat(1_000_000)
    );
    let huge_line = format!("{{\"junk\":\"{}\"}}", "y".repeat(5_000_000));
    vec![
        (b"this is not json".to_vec(), "not_json"),
        (
            b"{\"ts\":\"2020-03-30T10:00:00Z\",\"text\":\"tronc".to_vec(),
            "not_json",
        ),
        (b"[1,2,3]".to_vec(), "not_json"),
        (b"\xff\xfe\xfd garbage \xc3\x28".to_vec(), "not_utf8"),
        (
            b"{\"ts\":\"2020-03-30T10:00:00Z\",\"text\":\"ciao \xe0\xa0\",\"author\":\"a\"}"
                .to_vec(),
            "not_utf8",
        ),
        (
            br#"{"ts":"2020-03-30T10:00:00Z","author":"a"}"#.to_vec(),
            "missing_field",
        ),
        (
            br#"{"text":"no time","author":"a"}"#.to_vec(),
            "missing_field",
        ),
        (br#"{}"#.to_vec(), "missing_field"),
        (
            br#"{"ts":"2020-03-30T10:00:00Z","text":["a"],"author":"a"}"#.to_vec(),
            "bad_field",
        ),
        (
            br#"{"ts":"2020-03-30T10:00:00Z","text":"x","author":"a","sentiment":"bad"}"#.to_vec(),
            "bad_field",
        ),
        (
            br#"{"ts":"ieri sera","text":"x","author":"a"}"#.to_vec(),
            "bad_ts",
        ),
        (
            br#"{"ts":"2020-13-45T99:00:00Z","text":"x","author":"a"}"#.to_vec(),
            "bad_ts",
        ),
        (
            br#"{"ts":1585562400,"text":"epoch seconds","author":"a"}"#.to_vec(),
            "bad_ts",
        ),
        (br#"{"ts":-5,"text":"x","author":"a"}"#.to_vec(), "bad_ts"),
        (huge_text.into_bytes(), "text_too_long"),
        (huge_line.into_bytes(), "line_too_long"),
    ]
}

#[test]
fn bad_lines_are_dead_lettered_and_change_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut clean = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed: 21,
        days: 1,
        ..SimOptions::default()
    };
    simulate(&opts, &mut clean).unwrap();
    let good: Vec<&[u8]> = clean
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();

    // Spread the bad lines through the stream, several copies each.
    let bad = bad_lines();
    let mut dirty: Vec<u8> = Vec::new();
    let mut expected_reasons: Vec<&str> = Vec::new();
    let every = good.len() / (bad.len() * 3 + 1);
    let mut next_bad = 0;
    for (n, line) in good.iter().enumerate() {
        if n % every == every / 2 {
            let (b, reason) = &bad[next_bad % bad.len()];
            dirty.extend_from_slice(b);
            dirty.push(b'\n');
            expected_reasons.push(reason);
            next_bad += 1;
        }
        dirty.extend_from_slice(line);
        dirty.extend_from_slice(if n % 7 == 0 { b"\r\n" } else { b"\n" });
    }
    dirty.extend_from_slice(b"\n   \n");
    let clean_path = dir.path().join("clean.ndjson");
    let dirty_path = dir.path().join("dirty.ndjson");
    let dead_path = dir.path().join("dead.ndjson");
    std::fs::write(&clean_path, &clean).unwrap();
    std::fs::write(&dirty_path, &dirty).unwrap();

    let run = |path: &std::path::Path, dead: Option<&std::path::Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ondata"));
        cmd.args(["replay", "--quiet", path.to_str().unwrap()]);
        if let Some(d) = dead {
            cmd.args(["--dead-letter", d.to_str().unwrap()]);
        }
        cmd.output().unwrap()
    };
    let clean_run = run(&clean_path, None);
    let dirty_run = run(&dirty_path, Some(&dead_path));
    assert!(
        dirty_run.status.success(),
        "{}",
        String::from_utf8_lossy(&dirty_run.stderr)
    );
    assert!(
        !clean_run.stdout.is_empty(),
        "the clean stream raises alerts"
    );
    assert_eq!(
        clean_run.stdout, dirty_run.stdout,
        "alerts differ once bad lines are mixed in"
    );

    // Every bad line is in the dead letter, in order, with its reason.
    let dead = std::fs::read_to_string(&dead_path).unwrap();
    let records: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The stream's own redeliveries are kept too (reason `duplicate`); the bad lines are the rest.
    let got: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .filter(|r| *r != "duplicate")
        .collect();
    assert_eq!(got, expected_reasons);
    for r in &records {
        assert!(r["line_no"].as_u64().unwrap() > 0);
        assert!(!r["detail"].as_str().unwrap().is_empty());
        if r["reason"] == "line_too_long" {
            assert!(
                r["line"].as_str().unwrap().len() <= 1024,
                "overlong lines keep only their first KiB"
            );
            assert!(r["line_bytes"].as_u64().unwrap() > 5_000_000);
        }
    }

    // Every good line was processed: the summary counts match the clean run's.
    let accepted = |stderr: &[u8]| {
        let s = String::from_utf8_lossy(stderr).to_string();
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with("events"))
            .unwrap()
            .to_string();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(accepted(&clean_run.stderr), accepted(&dirty_run.stderr));
    let mut per_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &expected_reasons {
        *per_reason.entry(r).or_default() += 1;
    }
    let summary = String::from_utf8_lossy(&dirty_run.stderr);
    for (reason, n) in per_reason {
        assert!(
            summary.contains(&format!("{reason} {n}")),
            "summary lacks {reason} {n}: {summary}"
        );
    }
}
