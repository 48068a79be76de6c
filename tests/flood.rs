//! Floods through the engine: unique random text spread over more topics than are allowed
//! (the caps on topics and on near-duplicate clusters, per topic and in all, hold at every
//! step), and one message repeated many times (one cluster, one burst). The full-size runs,
//! 5 M and 1 M events with memory and throughput, are `examples/flood.rs`.

use ondata::alert::{AlertKind, AlertStatus};
use ondata::config::Config;
use ondata::simulate::flood::Flood;
use ondata::{parse_event, Engine};

fn config() -> Config {
    let mut c = Config::default();
    c.detect.troll.max_clusters = 5_000;
    c.detect.troll.max_clusters_total = 20_000;
    c
}

#[test]
fn a_flood_of_unique_text_stays_within_every_cap() {
    let config = config();
    let mut engine = Engine::new(&config);
    // 300 topic names (more than the 200 dynamic ones allowed), 2,000 comments a second of
    // event time: 150,000 comments are all inside the 15-minute window.
    let mut flood = Flood::new(7, 300, 2_000);
    let mut alerts = Vec::new();
    let mut most = 0;
    for i in 1..=150_000 {
        let line = flood.unique().to_string();
        let event = parse_event(line.as_bytes(), &config.input).expect("valid");
        engine.ingest_into(&event, &mut alerts);
        // Every cap, after every comment.
        let clusters = engine.clusters_indexed();
        // Keyword topics, the dynamic ones allowed, and `other`.
        assert!(
            clusters.len() <= config.topics.rules.len() + config.topics.max_dynamic + 1,
            "{} topics after {i} comments",
            clusters.len()
        );
        let (mut total, mut biggest) = (0, 0);
        for n in clusters {
            total += n;
            biggest = biggest.max(n);
        }
        // The total is held every 1,024 comments: at most that many over between checks.
        assert!(
            total <= 20_000 + 1_024,
            "{total} clusters after {i} comments"
        );
        assert!(
            biggest <= 5_000,
            "a topic holds {biggest} clusters after {i} comments"
        );
        most = most.max(total);
    }
    let topics = engine.topics();
    let evicted: u64 = topics.iter().map(|t| t.troll_clusters_evicted).sum();
    assert!(most > 15_000, "the cap was reached ({most})");
    assert!(evicted > 100_000, "the rest was not indexed: {evicted}");
    assert!(
        topics.iter().any(|t| t.name == "other"),
        "the extra topics fold into `other`"
    );
    assert!(
        !alerts.iter().any(|a| a.kind == AlertKind::TrollBurst),
        "random text is no campaign"
    );
}

#[test]
fn one_message_repeated_is_one_cluster_and_one_burst() {
    let config = config();
    let mut engine = Engine::new(&config);
    let mut flood = Flood::new(9, 1, 2_000);
    let mut alerts = Vec::new();
    for _ in 0..200_000 {
        let line = flood.repeated("bonus-600", 50_000).to_string();
        let event = parse_event(line.as_bytes(), &config.input).expect("valid");
        engine.ingest_into(&event, &mut alerts);
    }
    let t = engine
        .topics()
        .into_iter()
        .find(|t| t.name == "bonus-600")
        .expect("the topic");
    assert_eq!(t.troll_clusters_indexed, 1, "every copy joined one cluster");
    assert_eq!(t.troll_clusters_evicted, 0);
    let bursts: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::TrollBurst && a.status == AlertStatus::Firing)
        .map(|a| a.id.clone())
        .collect();
    assert!(!bursts.is_empty(), "the campaign is reported");
    let distinct: std::collections::BTreeSet<_> = bursts.iter().collect();
    assert_eq!(
        distinct.len(),
        1,
        "as one burst (escalations aside): {bursts:?}"
    );
}
