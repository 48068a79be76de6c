//! Files, clocks and fields, tried on the binary as a careless or hostile user would: no
//! input loses data or blinds detection. Streams come from `ondata simulate` (so they share
//! the simulator with the detectors; what is tried here is the handling of files, orders,
//! clocks, encodings and fields, not detection quality).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ondata(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(args)
        .current_dir(dir)
        .env_remove("ONDATA_ADMIN_TOKEN")
        .output()
        .expect("run ondata")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A simulated click day in `dir`, its lines, and its firing alerts as replayed.
fn click_day(dir: &Path) -> (PathBuf, Vec<String>, Vec<String>) {
    let path = dir.join("day.ndjson");
    let o = ondata(
        &[
            "simulate",
            "--scenario",
            "click-day",
            "--seed",
            "1",
            "--out",
            "day.ndjson",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let firing = firing_alerts(dir, "day.ndjson", &[]);
    assert!(firing.len() >= 5, "the click day fires: {firing:?}");
    (path, lines, firing)
}

/// Replays `input` with `extra` arguments; the firing records, their times and ids.
fn firing_alerts(dir: &Path, input: &str, extra: &[&str]) -> Vec<String> {
    let out = format!("{input}.alerts");
    let mut args = vec!["replay", "--quiet", input, "--alerts-out", &out];
    args.extend_from_slice(extra);
    let o = ondata(&args, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(dir.join(&out))
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""status":"firing""#))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{} {} {}", v["at"], v["kind"], v["topic"])
        })
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn ts_of(line: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    match &v["ts"] {
        serde_json::Value::Number(n) => n.as_i64().unwrap(),
        serde_json::Value::String(s) => ondata::event::parse_time_arg(s).unwrap(),
        other => panic!("ts {other}"),
    }
}

fn dead_letters(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (path, _, _) = click_day(d);
    let before = std::fs::read(&path).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    for option in [
        "--alerts-out",
        "--report",
        "--dead-letter",
        "--openmetrics-out",
    ] {
        for spelling in ["day.ndjson", "./day.ndjson", "sub/../day.ndjson"] {
            let o = ondata(&["replay", "--quiet", "day.ndjson", option, spelling], d);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{option} {spelling}: {}",
                stderr(&o)
            );
            assert!(stderr(&o).contains("destroy"), "{}", stderr(&o));
        }
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the input is untouched"
    );
    // Two outputs on one file are refused too.
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "day.ndjson",
            "--alerts-out",
            "x",
            "--report",
            "x",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn newest_first_and_topic_sorted_copies_give_the_sorted_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, lines, firing) = click_day(d);
    let mut reversed = lines.clone();
    reversed.reverse();
    write_lines(&d.join("rev.ndjson"), &reversed);
    let mut by_topic = lines.clone();
    by_topic.sort_by_key(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["topic"].as_str().unwrap_or("").to_string()
    });
    write_lines(&d.join("topic.ndjson"), &by_topic);
    assert_eq!(firing_alerts(d, "rev.ndjson", &[]), firing);
    assert_eq!(firing_alerts(d, "topic.ndjson", &[]), firing);
    // Sorting a file in order changes nothing.
    assert_eq!(firing_alerts(d, "day.ndjson", &["--sort"]), firing);
    // Sorted with a small memory budget: runs spilled to disk and merged, the same alerts.
    assert_eq!(
        firing_alerts(d, "rev.ndjson", &["--sort-memory", "16"]),
        firing
    );
    // Told not to sort, the replay says what was late, in the summary and the report.
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "--no-sort",
            "rev.ndjson",
            "--alerts-out",
            "a",
            "--report",
            "r.html",
            "--dead-letter",
            "dl",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not in event-time order"),
        "{}",
        stderr(&o)
    );
    let report = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(
        report.contains("out of event-time order"),
        "the report says so"
    );
    let late = dead_letters(&d.join("dl"))
        .iter()
        .filter(|r| r["reason"] == "late")
        .count();
    assert!(
        late > lines.len() / 2,
        "late events kept in the dead letter: {late}"
    );
}

#[test]
fn one_event_hours_or_a_week_ahead_changes_no_alert() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, lines, firing) = click_day(d);
    // 05:50 on the click day's first day, and the very first line.
    let at = lines
        .iter()
        .position(|l| ts_of(l) % 86_400_000 >= (5 * 60 + 50) * 60_000)
        .unwrap();
    for (name, ahead_ms) in [("2h", 2 * 3_600_000i64), ("7d", 7 * 86_400_000)] {
        for (place, index) in [("mid", at), ("first", 0)] {
            let mut odd: serde_json::Value = serde_json::from_str(&lines[index]).unwrap();
            odd["ts"] = (ts_of(&lines[index]) + ahead_ms).into();
            odd["id"] = "odd-clock".into();
            let mut copy = lines.clone();
            copy.insert(index, odd.to_string());
            let file = format!("{name}-{place}.ndjson");
            write_lines(&d.join(&file), &copy);
            for extra in [&[][..], &["--no-sort"][..]] {
                let mut args = extra.to_vec();
                args.extend(["--dead-letter", "dl"]);
                assert_eq!(firing_alerts(d, &file, &args), firing, "{file} {extra:?}");
                let dead = dead_letters(&d.join("dl"));
                assert!(
                    !dead.iter().any(|r| r["reason"] == "late"),
                    "{file} {extra:?}: nothing late"
                );
                if name == "7d" {
                    assert!(
                        dead.iter().any(|r| r["reason"] == "ts_ahead"
                            && r["line"].as_str().unwrap().contains("odd-clock")),
                        "{file} {extra:?}: the week-ahead event is kept in the dead letter"
                    );
                }
            }
        }
    }
}

#[test]
fn a_truncated_archive_replays_what_it_holds_then_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, lines, _) = click_day(d);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in &lines {
        writeln!(enc, "{l}").unwrap();
    }
    let gz = enc.finish().unwrap();
    std::fs::write(d.join("cut.ndjson.gz"), &gz[..gz.len() * 2 / 3]).unwrap();
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "cut.ndjson.gz",
            "--alerts-out",
            "a",
            "--report",
            "r.html",
            "--dead-letter",
            "dl",
            "--openmetrics-out",
            "om",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cut.ndjson.gz") && err.contains("line"),
        "{err}"
    );
    assert!(err.contains("accepted"), "the summary is printed: {err}");
    assert!(d.join("a").exists(), "the alerts file is written");
    let accepted: u64 = err
        .split_whitespace()
        .zip(err.split_whitespace().skip(1))
        .find(|(_, w)| *w == "accepted,")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap();
    assert!(
        accepted > lines.len() as u64 / 3,
        "the events before the break are replayed: {accepted}"
    );
    let report = std::fs::read_to_string(d.join("r.html")).unwrap();
    assert!(
        report.contains("broke before its end"),
        "the report says so"
    );
    assert!(std::fs::metadata(d.join("om")).unwrap().len() > 0);
}

#[test]
fn a_byte_order_mark_and_a_windows_1252_export_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let line = |text: &str, id: u32| {
        format!(
            r#"{{"ts":1585728000{id:03},"id":"{id}","author":"a{id}","topic":"t","text":"{text}"}}"#
        )
    };
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(format!("{}\n{}\n", line("primo", 1), line("secondo", 2)).into_bytes());
    std::fs::write(d.join("bom.ndjson"), bom).unwrap();
    let o = ondata(&["replay", "--quiet", "bom.ndjson", "--alerts-out", "a"], d);
    assert!(stderr(&o).contains("2 accepted"), "{}", stderr(&o));

    // "perché è così" in Windows-1252.
    let mut cp = line("perch\u{e9} \u{e8} cos\u{ec}", 1).replace(['é', 'è', 'ì'], "?");
    cp.push('\n');
    let mut bytes = Vec::new();
    for (i, part) in cp.split('?').enumerate() {
        if i > 0 {
            bytes.push([0xe9u8, 0xe8, 0xec][i - 1]);
        }
        bytes.extend_from_slice(part.as_bytes());
    }
    std::fs::write(d.join("cp.ndjson"), &bytes).unwrap();
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "cp.ndjson",
            "--alerts-out",
            "a",
            "--dead-letter",
            "dl",
        ],
        d,
    );
    assert!(stderr(&o).contains("not_utf8 1"), "{}", stderr(&o));
    let dead = dead_letters(&d.join("dl"));
    assert!(dead[0]["detail"]
        .as_str()
        .unwrap()
        .contains("--encoding latin1"));
    use base64::Engine as _;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(dead[0]["line_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        kept,
        bytes[..bytes.len() - 1],
        "the original bytes are kept"
    );
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "cp.ndjson",
            "--encoding",
            "latin1",
            "--alerts-out",
            "a",
        ],
        d,
    );
    assert!(stderr(&o).contains("1 accepted"), "{}", stderr(&o));
}

#[test]
fn ids_are_unique_per_channel_and_per_file_and_duplicates_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = |ms: u32, channel: &str, author: &str, text: &str| {
        format!(
            r#"{{"ts":1585728{ms:06},"id":"123","channel":"{channel}","author":"{author}","topic":"t","text":"{text}"}}"#
        )
    };
    let lines = vec![
        e(1000, "twitter", "anna", "uno"),
        e(2000, "facebook", "bruno", "due"),
        e(3000, "instagram", "carla", "tre"),
        e(4000, "twitter", "anna", "uno"),
    ];
    write_lines(&d.join("ids.ndjson"), &lines);
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "ids.ndjson",
            "--alerts-out",
            "a",
            "--dead-letter",
            "dl",
        ],
        d,
    );
    let err = stderr(&o);
    assert!(
        err.contains("3 accepted") && err.contains("1 duplicate"),
        "{err}"
    );
    let dead = dead_letters(&d.join("dl"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["reason"], "duplicate");
    assert_eq!(dead[0]["line_no"], 4);

    // Two simulated files share their ids: each file's ids are its own.
    for seed in ["1", "2"] {
        let out = format!("s{seed}.ndjson");
        let o = ondata(
            &[
                "simulate",
                "--scenario",
                "quiet",
                "--days",
                "1",
                "--seed",
                seed,
                "--out",
                &out,
            ],
            d,
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let one = |f: &str| {
        let o = ondata(&["replay", "--quiet", f, "--alerts-out", "a"], d);
        let err = stderr(&o);
        let n = |what: &str| -> u64 {
            err.split(&[',', '\n'][..])
                .find(|p| p.contains(what))
                .and_then(|p| p.split_whitespace().rev().nth(what.split(' ').count()))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{what} in {err}"))
        };
        (n("accepted"), n("duplicate ids dropped"))
    };
    let (a1, d1) = one("s1.ndjson");
    let (a2, d2) = one("s2.ndjson");
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "s1.ndjson",
            "s2.ndjson",
            "--alerts-out",
            "a",
        ],
        d,
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{} accepted", a1 + a2)),
        "both files' events: {a1} + {a2} ({d1} + {d2} redeliveries): {err}"
    );
}

#[test]
fn lines_with_huge_fields_are_rejected_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = "x".repeat(4 * 1024 * 1024 - 200);
    let mut f = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("big.ndjson.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    for i in 0..3_000 {
        let field = if i % 2 == 0 { "topic" } else { "author" };
        let author = if field == "author" { &big[..] } else { "a" };
        let topic = if field == "topic" { &big[..] } else { "t" };
        writeln!(
            f,
            r#"{{"ts":{},"author":"{author}","topic":"{topic}","text":"ciao"}}"#,
            1_585_728_000_000i64 + i * 1000
        )
        .unwrap();
    }
    f.finish().unwrap();
    let before = children_peak_kib();
    let o = ondata(
        &[
            "replay",
            "--quiet",
            "big.ndjson.gz",
            "--alerts-out",
            "a",
            "--dead-letter",
            "dl",
        ],
        d,
    );
    let peak_mib = children_peak_kib().max(before) / 1024;
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("field_too_long 3000"), "{err}");
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
}

/// The largest resident set of any child process waited for so far, KiB.
fn children_peak_kib() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as u64
}

#[test]
fn bad_numbers_and_start_time_failures_are_refused_naming_the_key_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |env: &[(&str, &str)], file: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ondata"));
        cmd.arg("check-config").current_dir(d);
        if let Some(f) = file {
            cmd.arg(f);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        (o.status.code(), stderr(&o))
    };
    for (var, value, key) in [
        (
            "ONDATA__DETECT__SURGE__MIN_RATIO",
            "nan",
            "detect.surge.min_ratio",
        ),
        (
            "ONDATA__DETECT__SURGE__MIN_RATIO",
            "inf",
            "detect.surge.min_ratio",
        ),
        (
            "ONDATA__DETECT__NEGATIVITY__CONFIDENCE_Z",
            "nan",
            "detect.negativity.confidence_z",
        ),
        (
            "ONDATA__DETECT__SURGE__BASELINE_HALF_LIFE_MINS",
            "nan",
            "baseline_half_life_mins",
        ),
        ("ONDATA__HTTP__LISTEN", "localhost", "http.listen"),
        ("ONDATA__HTTP__LISTEN", "127.0.0.1:99999", "http.listen"),
    ] {
        let (code, err) = check(&[(var, value)], None);
        assert_eq!(code, Some(2), "{var}={value}: {err}");
        assert!(
            err.contains(var) && err.contains(key),
            "{var}={value}: {err}"
        );
    }
    let (code, err) = check(&[("ONDATA__DETECT__SURGE__MIN_RATIO", "\"x\"")], None);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("ONDATA__DETECT__SURGE__MIN_RATIO") && !err.contains("built-in defaults"),
        "{err}"
    );
    std::fs::write(
        d.join("k.toml"),
        "[kafka.client]\n\"no.such.property\" = \"1\"\n",
    )
    .unwrap();
    let (code, err) = check(&[], Some("k.toml"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no.such.property"), "{err}");
    std::fs::write(
        d.join("s.toml"),
        "[[alerts.sinks]]\ntype = \"webhook\"\nname = \"w\"\nurl = \"env:ONDATA_TEST_SURELY_UNSET\"\n",
    )
    .unwrap();
    let (code, err) = check(&[], Some("s.toml"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ONDATA_TEST_SURELY_UNSET"), "{err}");
}

#[test]
fn a_replay_says_configured_sinks_are_unused_and_its_backfill_counts_as_live_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, _, firing) = click_day(d);
    std::fs::write(
        d.join("c.toml"),
        "[[alerts.sinks]]\ntype = \"file\"\nname = \"f\"\npath = \"never.ndjson\"\n",
    )
    .unwrap();
    let o = ondata(
        &[
            "replay",
            "--config",
            "c.toml",
            "day.ndjson",
            "--alerts-out",
            "a",
            "--openmetrics-out",
            "om",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not used by a replay"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("never.ndjson").exists());
    // ondata_alerts_total counts firing records (as the live counter does), not resolutions.
    let om = std::fs::read_to_string(d.join("om")).unwrap();
    let mut last: std::collections::BTreeMap<String, u64> = Default::default();
    for l in om.lines().filter(|l| l.starts_with("ondata_alerts_total{")) {
        let mut parts = l.rsplitn(3, ' ');
        let (_, n, series) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        last.insert(series.to_string(), n.parse().unwrap());
    }
    assert_eq!(last.values().sum::<u64>(), firing.len() as u64, "{last:?}");
}
