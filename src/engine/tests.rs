//! The engine end to end on hand-made events: lateness, redeliveries, topics, gaps, a jump.

use super::*;
use crate::config::TopicRule;
use std::borrow::Cow;

const T0: i64 = 1_585_720_800_000;

fn event(
    ts_ms: i64,
    text: &'static str,
    topic: Option<&'static str>,
    id: Option<&'static str>,
) -> Event<'static> {
    Event {
        ts_ms,
        text: Cow::Borrowed(text),
        author: Cow::Borrowed("a"),
        topic: topic.map(Cow::Borrowed),
        id: id.map(Cow::Borrowed),
        channel: None,
        lang: None,
        sentiment: None,
    }
}

#[test]
fn late_events_are_counted_not_merged() {
    let mut e = Engine::new(&Config::default());
    e.ingest(&event(T0, "ciao", Some("t"), None));
    e.ingest(&event(T0 + 120_000, "ciao", Some("t"), None));
    // Within the 30 s lateness: accepted.
    e.ingest(&event(T0 + 95_000, "ciao", Some("t"), None));
    // Older than the watermark (T0 + 90 s): late.
    e.ingest(&event(T0 + 80_000, "ciao", Some("t"), None));
    assert_eq!(e.stats().late, 1);
    assert_eq!(e.stats().accepted, 3);
    let t = e.topics().into_iter().find(|t| t.name == "t").unwrap();
    assert_eq!(t.events, 3);
}

/// A recording that resumes hours later, and a stream sparser than the ahead limit, are
/// taken whole: only a lone event ahead of the stream is held back.
#[test]
fn a_stream_that_moves_on_or_runs_sparse_is_taken_whole() {
    let mut e = Engine::new(&Config::default());
    let mut ts = T0;
    for i in 0..400 {
        if i == 200 {
            ts += 6 * 3_600_000;
        }
        ts += 1_000;
        assert_ne!(
            e.ingest_into(&event(ts, "ciao", Some("t"), None), &mut Vec::new()),
            Admission::Dropped
        );
    }
    // Sparse: one event every ten minutes for a day.
    for _ in 0..144 {
        ts += 600_000;
        e.ingest(&event(ts, "ciao", Some("t"), None));
    }
    e.finish();
    assert_eq!(e.take_dropped().len(), 0);
    assert_eq!(
        (e.stats().accepted, e.stats().late, e.stats().ahead),
        (544, 0, 0)
    );

    // One event a day ahead of a dense stream: held, then dropped at the end, nothing late.
    let mut e = Engine::new(&Config::default());
    for i in 0..300 {
        if i == 100 {
            assert_eq!(
                e.ingest_into(
                    &event(T0 + 86_400_000, "x", Some("t"), None),
                    &mut Vec::new()
                ),
                Admission::Held
            );
        }
        e.ingest(&event(T0 + i * 1_000, "ciao", Some("t"), None));
    }
    e.finish();
    assert_eq!(
        (e.stats().accepted, e.stats().late, e.stats().ahead),
        (300, 0, 1)
    );
    let dropped = e.take_dropped();
    assert_eq!(dropped[0].reason, crate::event::RejectReason::TsAhead);
}

#[test]
fn redeliveries_with_the_same_id_are_dropped() {
    let mut e = Engine::new(&Config::default());
    e.ingest(&event(T0, "ciao", None, Some("x1")));
    e.ingest(&event(T0, "ciao", None, Some("x1")));
    e.ingest(&event(T0, "ciao", None, Some("x2")));
    e.ingest(&event(T0, "ciao", None, None));
    assert_eq!(e.stats().duplicates, 1);
    assert_eq!(e.stats().accepted, 3);
}

/// An id's key worked out by the reading side is used only for the input it was worked out
/// for; an analysis carrying another input's key is checked by the engine's own.
#[test]
fn an_analysed_id_key_counts_only_for_its_input() {
    let config = Config::default();
    let mut e = Engine::new(&config);
    let mut analyzer = e.analyzer();
    let x = event(T0, "ciao", Some("t"), Some("x1"));
    let mut alerts = Vec::new();
    let analysed = |analyzer: &mut Analyzer, scope: u32| {
        let mut a = Analysis::default();
        analyzer.analyze_from(scope, &x, &mut a);
        a
    };
    let on = |input: u32| Origin { input, line: 1 };
    e.set_origin(on(0));
    let a0 = analysed(&mut analyzer, 0);
    assert_ne!(
        e.ingest_analyzed(&x, &a0, &mut alerts),
        Admission::Duplicate
    );
    assert_eq!(
        e.ingest_analyzed(&x, &a0, &mut alerts),
        Admission::Duplicate
    );
    // Input 1's key, taken while the engine reads input 0: still input 0's duplicate.
    let a1 = analysed(&mut analyzer, 1);
    assert_ne!(a1.id_key, a0.id_key);
    assert_eq!(
        e.ingest_analyzed(&x, &a1, &mut alerts),
        Admission::Duplicate
    );
    // From input 1 the same id is new once.
    e.set_origin(on(1));
    assert_ne!(
        e.ingest_analyzed(&x, &a1, &mut alerts),
        Admission::Duplicate
    );
    assert_eq!(e.ingest_into(&x, &mut alerts), Admission::Duplicate);
    // Analysed again without an input, the key goes: no stale key of the event before.
    let mut a = a1;
    analyzer.analyze(&event(T0, "ciao", Some("t"), Some("x9")), &mut a);
    assert_eq!(a.id_key, None);
    assert_eq!(e.stats().duplicates, 3);
}

#[test]
fn rules_and_own_topic_both_count_and_unmatched_go_to_other() {
    let mut config = Config::default();
    config.topics.rules = vec![TopicRule {
        name: "bonus-600".into(),
        keywords: vec!["600 euro".into()],
    }];
    let mut e = Engine::new(&config);
    e.ingest(&event(T0, "dove sono i 600 euro?", Some("pensioni"), None));
    e.ingest(&event(T0, "ciao a tutti", None, None));
    e.ingest(&event(T0, "i 600 euro", Some("bonus-600"), None));
    let count = |name: &str| {
        e.topics()
            .into_iter()
            .find(|t| t.name == name)
            .map_or(0, |t| t.events)
    };
    assert_eq!(
        count("bonus-600"),
        2,
        "no double count when own topic equals the rule"
    );
    assert_eq!(count("pensioni"), 1);
    assert_eq!(count("other"), 1);
}

#[test]
fn dynamic_topics_beyond_the_cap_fold_into_other() {
    let mut config = Config::default();
    config.topics.max_dynamic = 2;
    let mut e = Engine::new(&config);
    for topic in ["a", "b", "c", "d"] {
        e.ingest(&event(T0, "x", Some(topic), None));
    }
    let names: Vec<String> = e.topics().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["bonus-600", "other", "a", "b"]);
    assert_eq!(e.stats().topics_folded, 2);
}

#[test]
fn final_flush_closes_the_last_buckets() {
    let mut e = Engine::new(&Config::default());
    e.ingest(&event(T0 + 10_000, "x", Some("t"), None));
    assert!(
        e.topics().iter().all(|t| t.volume_per_minute == 0.0),
        "bucket still open"
    );
    e.finish();
    let t = e.topics().into_iter().find(|t| t.name == "t").unwrap();
    assert_eq!(t.volume_per_minute, 1.0);
}

#[test]
fn a_long_gap_resets_without_walking_every_bucket() {
    let mut e = Engine::new(&Config::default());
    e.ingest(&event(T0, "x", Some("t"), None));
    // Ten years later: must not walk five million buckets per topic.
    e.ingest(&event(T0 + 10 * 365 * 86_400_000, "x", Some("t"), None));
    assert_eq!(e.stats().accepted, 2);
    assert!(
        e.stats().buckets_closed < 3 * 100,
        "{} buckets closed",
        e.stats().buckets_closed
    );
}

#[test]
fn a_sudden_jump_fires_and_resolves_once_with_a_stable_id() {
    let mut e = Engine::new(&Config::default());
    let mut alerts = Vec::new();
    // Two hours at 3 comments a minute, twenty minutes at 30, then two hours at 3 (the
    // episode resolves after an hour of calm).
    for minute in 0..260i64 {
        let rate = if (120..140).contains(&minute) { 30 } else { 3 };
        for k in 0..rate {
            let ts = T0 + minute * 60_000 + k * (60_000 / rate);
            alerts.extend(e.ingest(&event(ts, "il sito non funziona", Some("t"), None)));
        }
    }
    alerts.extend(e.finish());
    let surges: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Surge)
        .collect();
    assert_eq!(surges.len(), 2, "{surges:#?}");
    assert_eq!(surges[0].status, AlertStatus::Firing);
    assert_eq!(surges[1].status, AlertStatus::Resolved);
    assert_eq!(surges[0].id, surges[1].id);
    assert!(
        surges[0].at_ms - (T0 + 120 * 60_000) <= 3 * 60_000,
        "fired within 3 minutes"
    );
    assert_eq!(
        surges[0].severity,
        crate::alert::Severity::Critical,
        "tenfold is critical"
    );
}

#[test]
fn a_topic_with_its_own_negativity_thresholds_is_judged_by_them() {
    // Two quiet topics (two comments a minute, one in ten negative for four hours, then every
    // comment negative for half an hour); "strict" demands more evidence than it can get.
    let toml = "[detect.negativity.topics.strict]\nsequential_threshold = 1000.0\n";
    let config = Config::from_toml_with_env(toml, "t", []).unwrap();
    let mut e = Engine::new(&config);
    let mut alerts = Vec::new();
    for minute in 0..270i64 {
        for (k, topic) in [(0, "strict"), (1, "plain")] {
            for i in 0..2 {
                let angry = minute >= 240 || (minute * 2 + i) % 10 == 0;
                let text = if angry {
                    "che schifo, vergogna, siete incompetenti"
                } else {
                    "grazie, tutto chiaro"
                };
                let ts = T0 + minute * 60_000 + i * 20_000 + k * 5_000;
                alerts.extend(e.ingest(&event(ts, text, Some(topic), None)));
            }
        }
    }
    alerts.extend(e.finish());
    let negativity: Vec<&str> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Negativity && a.status == AlertStatus::Firing)
        .map(|a| a.topic.as_str())
        .collect();
    assert_eq!(negativity, ["plain"], "{alerts:#?}");
}

/// Past the cap, a name takes the slot of a topic idle for `idle_evict_hours`; one that
/// spoke recently keeps its slot, and with eviction off every new name folds.
#[test]
fn idle_topics_give_their_slots_to_new_names() {
    let names = |e: &Engine| -> Vec<String> {
        let mut v: Vec<String> = e.topics().into_iter().map(|t| t.name).collect();
        v.sort();
        v
    };
    for evict_hours in [1, 0] {
        let mut config = Config::default();
        config.topics.rules.clear();
        config.topics.max_dynamic = 2;
        config.topics.idle_evict_hours = evict_hours;
        let mut e = Engine::new(&config);
        let min = 60_000;
        e.ingest(&event(T0, "ciao", Some("a"), None));
        e.ingest(&event(T0 + 90 * min, "ciao", Some("b"), None));
        e.ingest(&event(T0 + 120 * min, "ciao", Some("c"), None));
        e.ingest(&event(T0 + 121 * min, "ciao", Some("d"), None));
        if evict_hours == 1 {
            // `a` was idle 2 h: its slot goes to `c`; `b` (idle 31 min) keeps its own.
            assert_eq!(names(&e), ["b", "c", "other"]);
            assert_eq!(e.stats().topics_evicted, 1);
            assert_eq!(e.stats().topics_folded, 1, "d folds");
            // `a` comes back: `b` is idle 2 h by now.
            e.ingest(&event(T0 + 211 * min, "ciao", Some("a"), None));
            assert_eq!(names(&e), ["a", "c", "other"]);
        } else {
            assert_eq!(names(&e), ["a", "b", "other"]);
            assert_eq!(e.stats().topics_evicted, 0);
            assert_eq!(e.stats().topics_folded, 2);
        }
    }
}
