//! Drives the `ondata` binary end to end, as a user would.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn ondata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run ondata")
}

fn alerts(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert is JSON"))
        .collect()
}

fn simulate(dir: &Path, scenario: &str, seed: &str, name: &str) -> String {
    let out = dir.join(name);
    let path = out.to_str().unwrap().to_string();
    let o = ondata(&[
        "simulate",
        "--scenario",
        scenario,
        "--seed",
        seed,
        "--out",
        &path,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    path
}

/// Acceptance: the planted click-day incidents are reported, quiet topics stay quiet.
#[test]
fn click_day_replay_reports_planted_incidents_and_nothing_on_quiet_topics() {
    let dir = tempfile::tempdir().unwrap();
    let stream = simulate(dir.path(), "click-day", "1", "s.ndjson");
    let o = ondata(&["replay", &stream]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alerts = alerts(&o.stdout);
    let fired = |kind: &str, topic: &str| {
        alerts.iter().any(|a| {
            a["kind"] == kind
                && a["topic"] == topic
                && a["status"] == "firing"
                && a["at"].as_str().unwrap() >= "2020-04-01"
        })
    };
    assert!(fired("surge", "bonus-600"), "click-day surge missing");
    assert!(
        fired("negativity", "bonus-600"),
        "negativity after the collapse missing"
    );
    assert!(
        fired("negativity", "pensioni"),
        "steady-volume negativity shift missing"
    );
    for quiet in ["naspi", "concorsi", "other"] {
        assert!(
            !alerts.iter().any(|a| a["topic"] == quiet),
            "alert on quiet topic {quiet}"
        );
    }
    // Nothing before the incident day.
    assert!(
        alerts
            .iter()
            .all(|a| a["at"].as_str().unwrap() >= "2020-04-01"),
        "alert on an ordinary day"
    );
    // Every episode has one resolution or is still firing at the end, never two; its firing
    // records are its first and, if it grew, one escalation to critical, before it resolved.
    for a in alerts.iter().filter(|a| a["status"] == "firing") {
        let same: Vec<_> = alerts.iter().filter(|b| b["id"] == a["id"]).collect();
        let firing: Vec<_> = same.iter().filter(|b| b["status"] == "firing").collect();
        let resolved = same.len() - firing.len();
        assert!(
            resolved <= 1 && (1..=2).contains(&firing.len()),
            "{same:#?}"
        );
        if firing.len() == 2 {
            assert_eq!(
                (
                    firing[0]["severity"].as_str(),
                    firing[1]["severity"].as_str()
                ),
                (Some("warning"), Some("critical")),
                "{same:#?}"
            );
        }
        if resolved == 1 {
            assert_eq!(same.last().unwrap()["status"], "resolved", "{same:#?}");
        }
        assert!(
            a["samples"].as_array().unwrap().len() <= 3
                && !a["samples"].as_array().unwrap().is_empty()
        );
        assert!(a["summary"].as_str().unwrap().len() > 40);
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("events/s") && stderr.contains("alerts"),
        "{stderr}"
    );
}

#[test]
fn replay_is_deterministic_and_reads_compressed_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let plain = simulate(dir.path(), "click-day", "3", "s.ndjson");
    let gz = simulate(dir.path(), "click-day", "3", "s.ndjson.gz");
    let zst = simulate(dir.path(), "click-day", "3", "s.ndjson.zst");
    let first = ondata(&["replay", "--quiet", &plain]).stdout;
    assert!(!first.is_empty());
    assert_eq!(
        first,
        ondata(&["replay", "--quiet", &plain]).stdout,
        "same input, same bytes"
    );
    assert_eq!(first, ondata(&["replay", "--quiet", &gz]).stdout);
    assert_eq!(first, ondata(&["replay", "--quiet", &zst]).stdout);
    let stdin = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["replay", "--quiet", "-"])
        .stdin(std::fs::File::open(&plain).unwrap())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(first, stdin.stdout);
}

#[test]
fn files_split_by_topic_merge_back_in_event_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let whole = simulate(dir.path(), "click-day", "2", "s.ndjson");
    let text = std::fs::read_to_string(&whole).unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| l.contains("\"topic\":\"bonus-600\""));
    let pa = dir.path().join("a.ndjson");
    let pb = dir.path().join("b.ndjson");
    std::fs::write(&pa, a.join("\n") + "\n").unwrap();
    std::fs::write(&pb, b.join("\n") + "\n").unwrap();
    let merged = ondata(&[
        "replay",
        "--quiet",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
    ]);
    assert!(merged.status.success());
    assert_eq!(ondata(&["replay", "--quiet", &whole]).stdout, merged.stdout);
}

#[test]
fn alerts_out_writes_the_file_and_keeps_stdout_empty() {
    let dir = tempfile::tempdir().unwrap();
    let stream = simulate(dir.path(), "click-day", "1", "s.ndjson");
    let out = dir.path().join("alerts.ndjson");
    let o = ondata(&[
        "replay",
        "--quiet",
        &stream,
        "--alerts-out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    assert!(!alerts(&std::fs::read(out).unwrap()).is_empty());
}

#[test]
fn a_role_without_a_repartition_is_refused_with_the_key_to_set() {
    let o = ondata(&["run", "--role", "detect", "--config", "config/ondata.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kafka.repartition_partitions"), "{err}");
    let o = ondata(&["run", "--role", "sideways"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_config_prints_effective_config_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let o = ondata(&["check-config", "config/ondata.toml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        printed.contains("min_ratio = 2.5") && printed.contains("bonus-600"),
        "{printed}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[detect.surge]\nmin_ratoi = 3\n").unwrap();
    let o = ondata(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("min_ratoi"));

    std::fs::write(&bad, "[engine]\nbucket_secs = 7\n").unwrap();
    let o = ondata(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("engine.bucket_secs"));

    let o = ondata(&["check-config", "/nonexistent/ondata.toml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(ondata(&["replay"]).status.code(), Some(2));
    assert_eq!(
        ondata(&["simulate", "--scenario", "nope", "--out", "x"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(ondata(&["frobnicate"]).status.code(), Some(2));
    let o = ondata(&["replay", "/nonexistent/file.ndjson"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/file.ndjson"));
}

#[test]
fn sentiment_command_explains_scores() {
    let o = ondata(&[
        "sentiment",
        "--json",
        "Il sito NON funziona, vergogna!",
        "Grazie, pagamento arrivato 👍",
    ]);
    assert!(o.status.success());
    let rows = alerts(&o.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["label"], "negative");
    assert_eq!(rows[0]["lang"], "it");
    assert!(rows[0]["words"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["word"] == "funziona"
            && w["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "negated")));
    assert_eq!(rows[1]["label"], "positive");

    let o = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["sentiment"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"che schifo\n\nthis is great\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("negative") && text.contains("positive") && text.contains("en"),
        "{text}"
    );
}

#[test]
fn simulate_is_deterministic_and_writes_labels() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulate(dir.path(), "troll-wave", "5", "a.ndjson");
    let b = simulate(dir.path(), "troll-wave", "5", "b.ndjson");
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let labels = dir.path().join("l.json");
    let out = dir.path().join("c.ndjson");
    let o = ondata(&[
        "simulate",
        "--scenario",
        "click-day",
        "--out",
        out.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let l: Value = serde_json::from_slice(&std::fs::read(labels).unwrap()).unwrap();
    assert_eq!(l.as_array().unwrap().len(), 5);
    assert_eq!(l[0]["kind"], "surge");
}

/// A sink that cannot work as configured is the user's to fix (exit 2, naming the key); one
/// that cannot start, such as an outbox that cannot be created, is a failure (exit 1).
#[test]
fn run_exits_2_for_a_sink_set_up_wrong_and_1_for_one_that_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let unset = dir.path().join("unset.toml");
    std::fs::write(
        &unset,
        "[[alerts.sinks]]\ntype = \"webhook\"\nurl = \"env:ONDATA_TEST_UNSET_HOOK\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["run", "--config", unset.to_str().unwrap()])
        .env_remove("ONDATA_TEST_UNSET_HOOK")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("alerts.sinks[0].url"), "{err}");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let outbox = dir.path().join("outbox.toml");
    std::fs::write(
        &outbox,
        format!(
            "[alerts]\noutbox_dir = \"{}/outbox\"\n[[alerts.sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
            blocker.display()
        ),
    )
    .unwrap();
    let o = ondata(&["run", "--config", outbox.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("outbox"), "{err}");
}
