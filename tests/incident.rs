//! Post-incident tooling through the `ondata` binary, checked by the real tools: the incident
//! report of a simulated click day loaded by headless Chromium, the OpenMetrics backfill
//! turned into blocks by `promtool` and queried back from the real Prometheus at event
//! times, and backtests pinned for a fixed seed.
//!
//! Chromium and Prometheus come from Debian's packages: the tests that need them are ignored
//! by a plain `cargo test` (listed as such) and run with `cargo test -- --ignored`, as
//! `.ci/run` does after installing them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::{free_port, tool, wait_until, Killed};
use ondata::config::Config;
use ondata::incident::Timeline;
use ondata::replay::{replay, ReplayOptions};

fn ondata(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(args)
        .output()
        .expect("ondata runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ondata {args:?}: {stderr}");
    (stdout, stderr)
}

/// A simulated click day (3 ordinary days before it), with its labels.
fn click_day(dir: &Path, seed: u64) -> (String, String) {
    let stream = dir.join("click-day.ndjson").display().to_string();
    let labels = dir.join("labels.json").display().to_string();
    let seed = seed.to_string();
    ondata(&[
        "simulate",
        "--scenario",
        "click-day",
        "--seed",
        &seed,
        "--out",
        &stream,
        "--labels",
        &labels,
    ]);
    (stream, labels)
}

#[test]
#[ignore = "needs Debian's chromium; run with: cargo test -- --ignored"]
fn the_click_day_report_draws_its_timeline_and_alerts_in_headless_chromium() {
    let chromium = tool(&["chromium"], "chromium");
    let dir = tempfile::tempdir().unwrap();
    let (stream, _) = click_day(dir.path(), 1);
    let report = dir.path().join("report.html");
    let alerts = dir.path().join("alerts.ndjson");
    let (_, stderr) = ondata(&[
        "replay",
        "--quiet",
        &stream,
        "--alerts-out",
        &alerts.display().to_string(),
        "--report",
        &report.display().to_string(),
    ]);
    assert!(stderr.contains("report"), "{stderr}");
    let episodes: std::collections::BTreeSet<String> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].to_string())
        .collect();
    assert!(episodes.len() >= 5, "the click day fires: {episodes:?}");

    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", report.display()))
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium exited with {}", out.status);
    let dom = String::from_utf8_lossy(&out.stdout);

    // One row per episode in the table of what fired, each with its delays.
    assert_eq!(dom.matches("<tr class=\"alert-row").count(), episodes.len());
    // A volume and a negativity chart per charted topic, every alerting topic among them.
    let volume_charts = dom.matches("<svg class=\"chart volume\"").count();
    assert!(volume_charts >= 4, "{volume_charts} volume charts");
    assert_eq!(
        dom.matches("<svg class=\"chart negativity\"").count(),
        volume_charts
    );
    for topic in [
        "bonus-600",
        "assistenza",
        "pensioni",
        "reddito-di-cittadinanza",
    ] {
        assert!(
            dom.contains(&format!("class=\"chart volume\" data-topic=\"{topic}\"")),
            "no chart for {topic}"
        );
    }
    // The lines are drawn: long volume and negativity paths, a baseline.
    let longest = |class: &str| {
        dom.split(&format!("class=\"{class}\" d=\""))
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or("").matches('L').count())
            .max()
            .unwrap_or(0)
    };
    assert!(
        longest("volume") > 500,
        "volume path of {} segments",
        longest("volume")
    );
    assert!(longest("baseline") > 500);
    assert!(longest("neg-raw") > 100);
    // Every episode is marked on both charts of its topic, and explained.
    assert!(dom.matches("class=\"alert-marker").count() >= 2 * episodes.len());
    assert_eq!(
        dom.matches("<article class=\"explanation\"").count(),
        episodes.len()
    );
    assert!(
        dom.contains("class=\"cluster\""),
        "the troll cluster's evidence"
    );
    assert!(!dom.contains("Nothing fired"));
}

#[test]
fn the_report_speaks_the_configured_language_in_the_configured_zone() {
    let dir = tempfile::tempdir().unwrap();
    let (stream, _) = click_day(dir.path(), 1);
    let config = dir.path().join("it.toml");
    std::fs::write(
        &config,
        "[alerts]\nlanguage = \"it\"\n[display]\ntimezone = \"Europe/Rome\"\n",
    )
    .unwrap();
    let report = dir.path().join("report.html");
    let alerts = dir.path().join("alerts.ndjson");
    ondata(&[
        "replay",
        "--quiet",
        "--config",
        &config.display().to_string(),
        &stream,
        "--alerts-out",
        &alerts.display().to_string(),
        "--report",
        &report.display().to_string(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html lang=\"it\""));
    for label in [
        "Rapporto sull'incidente",
        "orari in Europe/Rome",
        "Cosa è scattato",
        "Inizio → avviso",
        "Gli avvisi spiegati",
        "Campagne coordinate",
        "commenti al minuto",
    ] {
        assert!(html.contains(label), "no «{label}» in the report");
    }
    for english in [
        "What fired",
        "Alerts explained",
        "Episode start",
        "times in UTC",
    ] {
        assert!(!html.contains(english), "«{english}» left in English");
    }
    // The stream starts just after 2020-03-29 00:00 UTC, an hour before Italy's summer time
    // began: 01:0x CET. It ends on 2 April, on summer time; so is every alert, two hours
    // ahead of UTC.
    let span = html
        .split("<p class=\"meta\">")
        .nth(1)
        .and_then(|m| m.split(" · ").next())
        .unwrap();
    assert!(
        span.starts_with("2020-03-29 01:0")
            && span.contains(" CET → 2020-04-02 ")
            && span.ends_with(" CEST"),
        "the span: {span}"
    );
    let records: Vec<Value> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.len() >= 5);
    let mut seen = std::collections::BTreeSet::new();
    for r in &records {
        // Each episode's first record and its end are written with their times.
        if !seen.insert(r["id"].to_string()) && r["status"] != "resolved" {
            continue;
        }
        let utc = ondata::event::parse_time_arg(r["at"].as_str().unwrap()).unwrap();
        let rome = chrono::DateTime::from_timestamp_millis(utc + 2 * 3_600_000)
            .unwrap()
            .format("%Y-%m-%d %H:%M CEST")
            .to_string();
        assert!(html.contains(&rome), "no «{rome}» for {}", r["id"]);
        // The summaries in Italian too.
        let summary = r["summary"].as_str().unwrap();
        assert!(
            [
                "Picco",
                "Rientrato",
                "Commenti negativi",
                "campagna",
                "Campagna",
                "commenti",
                "tema"
            ]
            .iter()
            .any(|w| summary.contains(w)),
            "{summary}"
        );
    }
}

/// What a replay of `stream` records, straight from the library.
fn timeline_of(stream: &str) -> Timeline {
    let mut sink = ondata::deliver::sink::CollectSink::default();
    let summary = replay(
        &Config::default(),
        &ReplayOptions {
            inputs: vec![stream.to_string()],
            timeline: true,
            ..ReplayOptions::default()
        },
        &mut sink,
        &mut std::io::sink(),
    )
    .unwrap();
    summary.timeline.expect("timeline kept")
}

fn query(prom: &str, expr: &str, at_ms: i64) -> Vec<Value> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let time = format!("{:.3}", at_ms as f64 / 1000.0);
    let mut res = agent
        .get(&format!("{prom}/api/v1/query"))
        .query("query", expr)
        .query("time", &time)
        .call()
        .expect("prometheus answers");
    let body: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn value(prom: &str, expr: &str, at_ms: i64) -> f64 {
    let r = query(prom, expr, at_ms);
    assert_eq!(r.len(), 1, "{expr} at {at_ms}: {r:?}");
    r[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
#[ignore = "needs Debian's prometheus; run with: cargo test -- --ignored"]
fn promtool_backfills_the_series_and_prometheus_returns_them_at_event_times() {
    let promtool = tool(&["promtool"], "prometheus");
    let prometheus = tool(&["prometheus"], "prometheus");
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("s.ndjson").display().to_string();
    ondata(&[
        "simulate",
        "--scenario",
        "click-day",
        "--seed",
        "2",
        "--days",
        "1",
        "--out",
        &stream,
    ]);
    let om = dir.path().join("series.om");
    ondata(&[
        "replay",
        "--quiet",
        &stream,
        "--alerts-out",
        "/dev/null",
        "--openmetrics-out",
        &om.display().to_string(),
    ]);

    let tsdb = dir.path().join("tsdb");
    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            // The simulated days are in 2020: keep them.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let prom = format!("http://127.0.0.1:{port}");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .new_agent();
    wait_until("prometheus ready", Duration::from_secs(60), || {
        agent
            .get(&format!("{prom}/-/ready"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });

    // The same replay, in the library: what each bucket held.
    let timeline = timeline_of(&stream);
    let bucket = timeline.bucket_ms;
    let topic = timeline
        .active_topics()
        .find(|t| t.name == "bonus-600")
        .expect("bonus-600 replayed");
    let episodes = timeline.episodes();
    let surge = episodes
        .iter()
        .find(|e| e.first.topic == "bonus-600" && e.first.kind.as_str() == "surge")
        .expect("the click-day surge");
    // Buckets around the surge's first alert, and one the day before.
    let picks: Vec<_> = topic
        .points
        .iter()
        .filter(|p| {
            (p.t_ms - surge.first.at_ms).abs() <= 3 * bucket
                || p.t_ms == surge.first.at_ms - 86_400_000
        })
        .collect();
    assert!(picks.len() >= 6, "{} buckets picked", picks.len());
    let sel = "{topic=\"bonus-600\"}";
    for p in &picks {
        let at = p.t_ms + bucket;
        let volume = value(&prom, &format!("ondata_topic_volume_per_minute{sel}"), at);
        assert!(
            (volume - f64::from(p.count) * 60_000.0 / bucket as f64).abs() < 1e-9,
            "volume at {at}"
        );
        let baseline = value(&prom, &format!("ondata_topic_baseline_per_minute{sel}"), at);
        assert!(
            (baseline - f64::from(p.baseline_per_minute)).abs() < 1e-3,
            "baseline at {at}"
        );
        if let Some(r) = p.negativity_ratio {
            let got = value(&prom, &format!("ondata_topic_negativity_ratio{sel}"), at);
            assert!((got - f64::from(r)).abs() < 1e-5, "negativity at {at}");
        }
        let total: u64 = topic
            .points
            .iter()
            .take_while(|q| q.t_ms <= p.t_ms)
            .map(|q| u64::from(q.count))
            .sum();
        let got = value(&prom, &format!("ondata_events_total{sel}"), at);
        assert_eq!(got as u64, total, "running total at {at}");
    }
    // The surge shows firing from its first alert, and not before the episode started.
    let firing = r#"ondata_alerts_firing{kind="surge",topic="bonus-600"}"#;
    let first_bucket_end = (surge.first.at_ms / bucket + 1) * bucket;
    assert_eq!(value(&prom, firing, first_bucket_end), 1.0);
    assert_eq!(value(&prom, firing, surge.start_ms - 10 * bucket), 0.0);
    // Rates work on the backfilled counters as on live ones.
    let rate = value(
        &prom,
        &format!("rate(ondata_events_total{sel}[10m])"),
        first_bucket_end,
    );
    assert!(rate > 0.0);
}

#[test]
fn backtest_reports_the_planted_incidents_and_their_delays_for_a_fixed_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (stream, labels) = click_day(dir.path(), 1);
    let loud = dir.path().join("loud.toml");
    std::fs::write(&loud, "[detect]\nsensitivity = \"high\"\n").unwrap();
    let (table, stderr) = ondata(&[
        "backtest",
        "--labels",
        &labels,
        "--config",
        "config/ondata.toml",
        "--config",
        &loud.display().to_string(),
        &stream,
    ]);
    assert!(
        stderr.contains("2 configuration(s) over 1 file(s), 5 labelled incident(s)"),
        "{stderr}"
    );
    let row = |name: &str| -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{table}"));
        line[line.find(name).unwrap() + name.len()..]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    // Pinned for seed 1 (shipped configuration, then every detector on `high`).
    assert_eq!(row("incidents found"), ["5/5", "5/5"], "{table}");
    assert_eq!(
        row("surge on bonus-600 (2020-04-01T06:00:00Z)"),
        ["4 min", "3 min"]
    );
    assert_eq!(
        row("negativity on bonus-600 (2020-04-01T06:20:00Z)"),
        ["7 min", "7 min"]
    );
    assert_eq!(
        row("complaint_wave on assistenza (2020-04-01T08:30:00Z)"),
        ["24 min", "11 min"]
    );
    assert_eq!(
        row("negativity on pensioni (2020-04-01T13:00:00Z)"),
        ["24 min", "14 min"]
    );
    assert_eq!(
        row("troll_burst on reddito-di-cittadinanza (2020-04-01T17:00:00Z)"),
        ["3 min", "2 min"]
    );
    assert_eq!(row("false alarms"), ["0", "12"]);
    assert_eq!(row("alert incidents"), ["4", "16"]);
    assert_eq!(row("alert episodes"), ["7", "20"]);
    assert_eq!(row("notifications sent"), ["15", "43"]);
    // The surge the campaign on reddito-di-cittadinanza causes is part of the campaign's
    // incident, not a false alarm of its own.
    assert!(!table.contains("ondata: false alarm"), "{table}");

    // The sweep: the presets in order of sensitivity find more, sooner, and cry wolf more.
    let (sweep, _) = ondata(&["backtest", "--labels", &labels, "--sweep", &stream]);
    let found = {
        let line = sweep
            .lines()
            .find(|l| l.starts_with("incidents found"))
            .unwrap();
        line.split_whitespace()
            .skip(2)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(found, ["4/5", "5/5", "5/5"], "{sweep}");
    let alarms = {
        let line = sweep
            .lines()
            .find(|l| l.starts_with("false alarms"))
            .unwrap();
        line.split_whitespace()
            .skip(2)
            .map(|c| c.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(alarms, [0, 0, 12], "{sweep}");
}

#[test]
fn bad_labels_and_ranges_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("l.json");
    std::fs::write(
        &labels,
        r#"[{"kind":"spike","topic":"t","start":0,"end":1}]"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["backtest", "--labels"])
        .arg(&labels)
        .arg("x.ndjson")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[0].kind = \"spike\": must be one of"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args([
            "record",
            "--from",
            "2020-04-02T00:00:00Z",
            "--to",
            "2020-04-01T00:00:00Z",
            "--out",
        ])
        .arg(dir.path().join("r.ndjson"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be after --from"));

    let out = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["replay", "--kafka", "--from", "2020-04-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--kafka needs --to");
}
