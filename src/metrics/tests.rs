//! Unit tests of the Prometheus metrics.
use super::*;
use crate::simulate::{simulate, Scenario, SimOptions};
use crate::{parse_event, Config};

/// The value of `name{topic="…"}` in the exposition.
fn value(text: &str, name: &str, topic: &str) -> Option<f64> {
    let prefix = format!("{name}{{topic=\"{topic}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[test]
fn adjusted_negativity_sits_beside_the_raw_ratio_during_a_campaign() {
    let mut stream = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::TrollWave,
        seed: 1,
        days: 0,
        ..SimOptions::default()
    };
    let summary = simulate(&opts, &mut stream).unwrap();
    let campaign = summary
        .incidents
        .iter()
        .find(|i| i.kind == "troll_burst")
        .unwrap();
    let config = Config::default();
    let mut engine = Engine::new(&config);
    let metrics = Metrics::new();
    let mut alerts = Vec::new();
    let mut seen_gap = false;
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e = parse_event(line, &config.input).unwrap();
        let ts = e.ts_ms;
        engine.ingest_into(&e, &mut alerts);
        // Four minutes into the campaign its copies are reported and set aside.
        if !seen_gap && ts >= campaign.start_ms + 4 * 60_000 {
            metrics.observe(&engine);
            let text = metrics.render();
            let raw = value(&text, "ondata_topic_negativity_ratio", campaign.topic).unwrap();
            let adjusted = value(
                &text,
                "ondata_topic_negativity_ratio_adjusted",
                campaign.topic,
            )
            .unwrap();
            assert!(adjusted < raw - 0.05, "raw {raw}, adjusted {adjusted}");
            assert_eq!(
                value(&text, "ondata_troll_clusters_active", campaign.topic),
                Some(1.0)
            );
            assert!(value(&text, "ondata_events_total", campaign.topic).unwrap() > 100.0);
            seen_gap = true;
        }
    }
    assert!(seen_gap);
    // Observing again does not double-count.
    metrics.observe(&engine);
    let once = value(&metrics.render(), "ondata_events_total", campaign.topic);
    metrics.observe(&engine);
    assert_eq!(
        once,
        value(&metrics.render(), "ondata_events_total", campaign.topic)
    );
}

#[test]
fn topic_labels_stay_bounded_with_thousands_of_topics() {
    let config = Config::default();
    let mut engine = Engine::new(&config);
    let metrics = Metrics::new();
    for i in 0..5000i64 {
        let line = format!(
            r#"{{"ts":{},"text":"commento {i}","author":"a{i}","topic":"argomento-{i}"}}"#,
            1_585_720_800_000 + i * 100
        );
        engine.ingest(&parse_event(line.as_bytes(), &config.input).unwrap());
        if i % 1000 == 0 {
            metrics.observe(&engine);
        }
    }
    metrics.observe(&engine);
    let text = metrics.render();
    let topics: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("ondata_events_total{"))
        .filter_map(|l| l.split("topic=\"").nth(1)?.split('"').next())
        .collect();
    let cap = config.topics.rules.len() + config.topics.max_dynamic + 1;
    assert!(
        topics.len() <= cap,
        "{} topic labels, cap {cap}",
        topics.len()
    );
    assert!(topics.len() > config.topics.max_dynamic, "{}", topics.len());
    assert!(topics.contains("other"));
    assert!(topics.contains("argomento-0"));
    assert!(!topics.contains("argomento-4999"));
    // What folded is counted under `other`, nothing lost.
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("ondata_events_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(total >= 5000.0, "{total}");
}

#[test]
fn a_rebuilt_engine_is_not_counted_twice() {
    let config = Config::default();
    let line = |i: i64| {
        format!(
            r#"{{"ts":{},"text":"commento {i}","author":"a{i}","topic":"t"}}"#,
            1_585_720_800_000 + i * 1000
        )
    };
    let metrics = Metrics::new();
    let mut live = Engine::new(&config);
    for i in 0..100 {
        live.ingest(&parse_event(line(i).as_bytes(), &config.input).unwrap());
    }
    metrics.observe(&live);
    // A rebuild reads the same 100 back into a fresh engine, then 10 new ones come.
    let mut rebuilt = Engine::new(&config);
    for i in 0..100 {
        rebuilt.ingest(&parse_event(line(i).as_bytes(), &config.input).unwrap());
    }
    metrics.rebase(&rebuilt);
    for i in 100..110 {
        rebuilt.ingest(&parse_event(line(i).as_bytes(), &config.input).unwrap());
    }
    metrics.observe(&rebuilt);
    assert_eq!(
        value(&metrics.render(), "ondata_events_total", "t"),
        Some(110.0)
    );
}

#[test]
fn firing_gauge_follows_transitions() {
    let metrics = Metrics::new();
    let mut stream = Vec::new();
    let opts = SimOptions {
        scenario: Scenario::TrollWave,
        seed: 1,
        days: 0,
        ..SimOptions::default()
    };
    simulate(&opts, &mut stream).unwrap();
    let config = Config::default();
    let mut engine = Engine::new(&config);
    let mut alerts = Vec::new();
    let mut firing_seen = 0.0f64;
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        alerts.clear();
        engine.ingest_into(&parse_event(line, &config.input).unwrap(), &mut alerts);
        for a in &alerts {
            metrics.alert(a);
        }
        let text = metrics.render();
        let now: f64 = text
            .lines()
            .filter(|l| l.starts_with("ondata_alerts_firing{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(now >= 0.0);
        firing_seen = firing_seen.max(now);
    }
    for a in engine.finish() {
        metrics.alert(&a);
    }
    assert!(firing_seen >= 1.0);
    assert!(metrics
        .render()
        .contains("ondata_alerts_total{kind=\"troll_burst\""));
}

#[test]
fn evictions_are_counted() {
    let mut config = Config::default();
    config.detect.troll.max_clusters = 100;
    let mut engine = Engine::new(&config);
    let metrics = Metrics::new();
    for i in 0..3000i64 {
        let line = format!(
            r#"{{"ts":{},"text":"messaggio numero {i} parola{i} diversa{i} ancora{i} altro{i} testo{i} unico{i} fine{i}","author":"a{i}","topic":"t"}}"#,
            1_585_720_800_000 + i * 1000
        );
        engine.ingest(&parse_event(line.as_bytes(), &config.input).unwrap());
    }
    metrics.observe(&engine);
    assert!(
        value(
            &metrics.render(),
            "ondata_troll_clusters_evicted_total",
            "t"
        )
        .unwrap()
            > 0.0
    );
    assert!(value(&metrics.render(), "ondata_troll_clusters_indexed", "t").unwrap() <= 101.0);
}
