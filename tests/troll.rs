//! Troll-burst acceptance on simulated streams: campaigns of 25-60 accounts and 40-120
//! posts are reported within 5 minutes on their topic; genuine complaint waves, click-day
//! surges and quiet days raise none; and the messages placed in reported clusters are the
//! campaign's (precision >= 95%, recall >= 90%). Simulated campaign posts carry a
//! `campaign` field, ignored by ondata, as ground truth.

use ondata::alert::{Alert, AlertKind, AlertStatus, Details, Severity};
use ondata::simulate::{simulate, Incident, Scenario, SimOptions};
use ondata::{parse_event, Config, Engine};

struct Run {
    alerts: Vec<Alert>,
    incidents: Vec<Incident>,
    /// Per (event line, topic) placement: was it in a reported cluster, and is it campaign?
    placed_reported: Vec<(bool, bool, String)>,
    /// Campaign posts: (campaign number, own topic, placed in a reported cluster on it).
    campaign_posts: Vec<(String, String, bool)>,
}

fn run(scenario: Scenario, seed: u64) -> Run {
    run_scaled(scenario, seed, 1.0)
}

fn run_scaled(scenario: Scenario, seed: u64, scale: f64) -> Run {
    let mut stream = Vec::new();
    let opts = SimOptions {
        scenario,
        seed,
        days: 1,
        scale,
        ..SimOptions::default()
    };
    let summary = simulate(&opts, &mut stream).unwrap();
    let config = Config::default();
    let mut engine = Engine::new(&config);
    let mut alerts = Vec::new();
    // Per event: its cluster placements, its campaign (ground truth) and its own topic.
    type Traced = (Vec<(usize, u32)>, Option<String>, Option<String>);
    let mut placements: Vec<Traced> = Vec::new();
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let raw: serde_json::Value = serde_json::from_slice(line).unwrap();
        let campaign = raw
            .get("campaign")
            .and_then(|c| c.as_str())
            .map(str::to_string);
        let topic = raw
            .get("topic")
            .and_then(|c| c.as_str())
            .map(str::to_string);
        let event = parse_event(line, &config.input).unwrap();
        let mut trace = Vec::new();
        engine.ingest_traced(&event, &mut alerts, Some(&mut trace));
        placements.push((trace, campaign, topic));
    }
    alerts.extend(engine.finish());
    let mut placed_reported = Vec::new();
    let mut campaign_posts = Vec::new();
    for (trace, campaign, own_topic) in placements {
        let mut on_own_topic = false;
        for (topic, cluster) in &trace {
            let name = engine.topic_name(*topic).unwrap().to_string();
            let reported = engine.troll_reported(*topic, *cluster);
            placed_reported.push((reported, campaign.is_some(), name.clone()));
            if reported && Some(&name) == own_topic.as_ref() {
                on_own_topic = true;
            }
        }
        if let (Some(c), Some(t)) = (campaign, own_topic) {
            campaign_posts.push((c, t, on_own_topic));
        }
    }
    Run {
        alerts,
        incidents: summary.incidents,
        placed_reported,
        campaign_posts,
    }
}

/// Whether a planted campaign explains a troll alert: a campaign, on the alert's topic (or on
/// a keyword topic, which gathers the campaign's posts by their words), at its time.
fn explains(i: &Incident, a: &Alert) -> bool {
    let keyword_topic = Config::default()
        .topics
        .rules
        .iter()
        .any(|r| r.name == a.topic);
    i.kind == "troll_burst"
        && (a.topic == i.topic || keyword_topic)
        && a.at_ms >= i.start_ms
        && a.at_ms <= i.end_ms + 5 * 60_000
}

fn trolls(alerts: &[Alert]) -> impl Iterator<Item = &Alert> {
    alerts
        .iter()
        .filter(|a| a.kind == AlertKind::TrollBurst && a.status == AlertStatus::Firing)
}

#[test]
fn campaigns_are_reported_within_five_minutes_on_their_topic() {
    let mut sizes = Vec::new();
    for (scenario, seed) in [
        (Scenario::TrollWave, 1),
        (Scenario::TrollWave, 2),
        (Scenario::TrollWave, 3),
        (Scenario::ClickDay, 4),
    ] {
        let r = run(scenario, seed);
        for inc in r.incidents.iter().filter(|i| i.kind == "troll_burst") {
            sizes.push((inc.accounts.unwrap(), inc.posts.unwrap()));
            let hit = trolls(&r.alerts).find(|a| {
                a.topic == inc.topic
                    && a.at_ms >= inc.start_ms
                    && a.at_ms <= inc.start_ms + 5 * 60_000
            });
            let a = hit.unwrap_or_else(|| {
                panic!(
                    "seed {seed}: campaign on {} at {} not reported in 5 min",
                    inc.topic, inc.start
                )
            });
            let Details::TrollBurst(d) = &a.details else {
                panic!("troll details")
            };
            assert!(d.messages >= 20 && d.distinct_authors >= 10, "{d:?}");
            assert!(
                !d.representative.is_empty()
                    && !d.top_mentions.is_empty()
                    && !d.top_hashtags.is_empty()
            );
            assert!(
                !d.repeated_accounts.is_empty(),
                "campaign accounts post more than once"
            );
            assert!(!a.samples.is_empty() && a.summary.contains(inc.topic));
            // One episode per campaign on its topic: its firing record (and, if it grew,
            // one escalation to critical), then its resolution.
            let same: Vec<&Alert> = r.alerts.iter().filter(|b| b.id == a.id).collect();
            let statuses: Vec<_> = same.iter().map(|b| (b.status, b.severity)).collect();
            assert!(
                statuses.len() == 2
                    || statuses.len() == 3
                        && statuses[..2]
                            == [
                                (AlertStatus::Firing, Severity::Warning),
                                (AlertStatus::Firing, Severity::Critical)
                            ],
                "{statuses:?}"
            );
            assert_eq!(statuses.last().unwrap().0, AlertStatus::Resolved);
        }
    }
    assert!(
        sizes.iter().any(|(a, _)| *a < 35) && sizes.iter().any(|(a, _)| *a > 45),
        "sizes cover the range: {sizes:?}"
    );
}

#[test]
fn genuine_waves_surges_and_quiet_days_raise_no_troll_burst() {
    for seed in [1, 2, 3] {
        let quiet = run(Scenario::Quiet, seed);
        assert_eq!(trolls(&quiet.alerts).count(), 0, "quiet seed {seed}");
        // Click day and troll wave: the only troll alerts are the planted campaigns (on
        // their own topic, or on a keyword topic their hashtags name), never the click-day
        // surge or the genuine complaint wave.
        for scenario in [Scenario::ClickDay, Scenario::TrollWave] {
            let r = run(scenario, seed);
            for a in trolls(&r.alerts) {
                let campaign = r.incidents.iter().any(|i| explains(i, a));
                assert!(
                    campaign,
                    "seed {seed}: troll alert outside any campaign: {}",
                    a.summary
                );
            }
            let wave = r
                .incidents
                .iter()
                .find(|i| i.kind == "complaint_wave")
                .unwrap();
            assert!(
                !trolls(&r.alerts).any(|a| a.topic == wave.topic
                    && a.at_ms >= wave.start_ms
                    && a.at_ms <= wave.end_ms + 15 * 60_000),
                "seed {seed}: the genuine complaint wave was called a troll burst"
            );
        }
    }
}

#[test]
fn reported_clusters_hold_campaign_messages_and_most_campaign_messages() {
    let (mut in_reported, mut campaign_in_reported) = (0usize, 0usize);
    let (mut campaign_total, mut campaign_found) = (0usize, 0usize);
    for seed in [1, 2, 3, 4] {
        let r = run(Scenario::TrollWave, seed);
        for (reported, is_campaign, _) in &r.placed_reported {
            if *reported {
                in_reported += 1;
                campaign_in_reported += usize::from(*is_campaign);
            }
        }
        for (_, _, found) in &r.campaign_posts {
            campaign_total += 1;
            campaign_found += usize::from(*found);
        }
    }
    let precision = campaign_in_reported as f64 / in_reported as f64;
    let recall = campaign_found as f64 / campaign_total as f64;
    eprintln!("precision {precision:.3} ({campaign_in_reported}/{in_reported}), recall {recall:.3} ({campaign_found}/{campaign_total})");
    assert!(precision >= 0.95, "precision {precision}");
    assert!(recall >= 0.90, "recall {recall}");
}

#[test]
fn negativity_alerts_separate_the_campaign_from_citizens() {
    let r = run(Scenario::TrollWave, 1);
    let campaign = r
        .incidents
        .iter()
        .find(|i| i.kind == "troll_burst")
        .unwrap();
    let neg = r
        .alerts
        .iter()
        .find(|a| {
            a.kind == AlertKind::Negativity
                && a.status == AlertStatus::Firing
                && a.topic == campaign.topic
        })
        .expect("the campaign's angry posts raise negativity on its topic");
    let Details::Negativity(d) = &neg.details else {
        panic!()
    };
    assert!(d.troll_negative > 0, "{d:?}");
    assert!(d.negative_from_trolls_share > 0.3, "{d:?}");
    let without = d.negative_share_without_trolls.unwrap();
    assert!(without < d.negative_share - 0.1, "{d:?}");
    assert!(
        neg.summary.contains("coordinated campaign"),
        "{}",
        neg.summary
    );
    // Campaign posts read negative, so setting them aside never raises the share: on every
    // negativity record of three troll-wave days, the share without them is the lower.
    for seed in [1, 2, 3] {
        let r = run(Scenario::TrollWave, seed);
        for a in r.alerts.iter().filter(|a| a.kind == AlertKind::Negativity) {
            let Details::Negativity(d) = &a.details else {
                panic!()
            };
            if let Some(without) = d.negative_share_without_trolls {
                assert!(without <= d.negative_share, "seed {seed}: {d:?}");
            }
        }
    }
}

/// Regression: at four times the ordinary volume, stock phrases that real people repeat all
/// day ("quanto tempo ci vuole per il primo pagamento della naspi?") formed 20-copy clusters
/// and were called campaigns. A burst must be new and a visible share of its topic.
#[test]
fn stock_phrases_on_busy_topics_are_not_campaigns() {
    for scenario in [Scenario::Quiet, Scenario::ClickDay] {
        let r = run_scaled(scenario, 2, 4.0);
        for a in trolls(&r.alerts) {
            let campaign = r.incidents.iter().any(|i| explains(i, a));
            assert!(campaign, "{:?}: {}", scenario, a.summary);
        }
    }
}
