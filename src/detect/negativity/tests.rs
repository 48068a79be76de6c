//! Unit tests of the negativity detector on hand-filled buckets with seeded noise.

use super::*;
use crate::config::Config;
use crate::detect::testing::{Feed, Noise};

fn detector() -> NegativityDetector {
    let settings = NegativitySettings::new(Config::default().detect.negativity_params(), 60_000);
    NegativityDetector::new(Arc::new(settings))
}

/// `minutes` buckets of `per_min` comments, negative with probability `share(minute)`.
fn run(
    d: &mut NegativityDetector,
    feed: &mut Feed,
    noise: &mut Noise,
    minutes: std::ops::Range<u32>,
    per_min: u32,
    share: impl Fn(u32) -> f64,
) -> Vec<(u32, Transition)> {
    let mut out = Vec::new();
    for m in minutes {
        let negative = noise.binomial(per_min, share(m));
        for t in feed.minute(d, per_min, negative) {
            out.push((m, t));
        }
    }
    out
}

#[test]
fn fires_when_the_negative_share_jumps_and_resolves_when_it_falls() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(4));
    let got = run(&mut d, &mut feed, &mut noise, 0..400, 20, |m| {
        if (300..340).contains(&m) {
            0.7
        } else {
            0.1
        }
    });
    assert_eq!(got.len(), 2, "{got:?}");
    let (fired_at, firing) = &got[0];
    assert_eq!(firing.status, AlertStatus::Firing);
    assert!((300..=310).contains(fired_at), "fired at minute {fired_at}");
    let Evidence::Negativity(e) = &firing.evidence else {
        panic!("negativity evidence expected")
    };
    assert!(e.low > e.threshold && e.baseline < 0.2, "{e:?}");
    assert_eq!(
        firing.severity,
        Severity::Critical,
        "60 points up is critical"
    );
    let (resolved_at, resolved) = &got[1];
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert!(
        (340..=370).contains(resolved_at),
        "resolved at {resolved_at}"
    );
}

/// A quiet topic: Poisson(`rate`) comments a minute, each negative with probability
/// `share(minute)`.
fn run_quiet(
    d: &mut NegativityDetector,
    feed: &mut Feed,
    noise: &mut Noise,
    minutes: std::ops::Range<u32>,
    rate: f64,
    share: impl Fn(u32) -> f64,
) -> Vec<(u32, Transition)> {
    let mut out = Vec::new();
    for m in minutes {
        let n = noise.poisson(rate);
        let negative = noise.binomial(n, share(m));
        out.extend(feed.minute(d, n, negative).into_iter().map(|t| (m, t)));
    }
    out
}

#[test]
fn a_quiet_topic_turning_negative_is_reported_within_twenty_minutes() {
    // 1.5 comments a minute, 15% negative for a day, then 60% for two hours: the fixed
    // windows never hold 40 comments; the sequential test must carry it.
    let shift = 1440;
    let mut delays = Vec::new();
    for seed in 0..10 {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(100 + seed));
        let got = run_quiet(&mut d, &mut feed, &mut noise, 0..shift + 120, 1.5, |m| {
            if m >= shift {
                0.6
            } else {
                0.15
            }
        });
        let firing: Vec<_> = got
            .iter()
            .filter(|(_, t)| t.status == AlertStatus::Firing)
            .collect();
        assert_eq!(firing.len(), 1, "seed {seed}: {got:?}");
        let (at, t) = firing[0];
        assert!(*at >= shift, "seed {seed}: before the shift: {t:?}");
        let Evidence::Negativity(e) = &t.evidence else {
            panic!("negativity evidence expected")
        };
        assert!(e.sequential && e.comments >= 15, "{e:?}");
        delays.push(at - shift);
    }
    delays.sort_unstable();
    assert!(delays[4] <= 15, "median {} min: {delays:?}", delays[4]);
    assert!(delays[9] <= 25, "slowest {} min: {delays:?}", delays[9]);
}

#[test]
fn quiet_steady_topics_stay_calm_for_weeks() {
    // Four fortnights: 1 and 2 comments a minute, 15% negative, the day's share wandering
    // by up to four points either way.
    let mut alerts = Vec::new();
    for (seed, rate) in [(11, 1.0), (12, 2.0), (13, 1.0), (14, 2.0)] {
        let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(seed));
        let wander: Vec<f64> = (0..14).map(|_| 0.11 + 0.08 * noise.uniform()).collect();
        let got = run_quiet(&mut d, &mut feed, &mut noise, 0..14 * 1440, rate, |m| {
            wander[(m / 1440) as usize]
        });
        alerts.extend(
            got.into_iter()
                .filter(|(_, t)| t.status == AlertStatus::Firing),
        );
    }
    assert!(
        alerts.len() <= 1,
        "{} alerts in 56 topic-days: {alerts:?}",
        alerts.len()
    );
}

#[test]
fn a_steady_share_with_noise_stays_calm_for_days() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(5));
    let got = run(&mut d, &mut feed, &mut noise, 0..3 * 1440, 6, |_| 0.2);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn learns_nothing_from_an_open_episode() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(6));
    run(&mut d, &mut feed, &mut noise, 0..300, 20, |_| 0.1);
    let p = Config::default().detect.negativity_params();
    assert!(
        d.baseline_share(&p).is_some(),
        "a baseline after 6,000 comments"
    );
    let fired = run(&mut d, &mut feed, &mut noise, 300..315, 20, |_| 0.8);
    assert_eq!(fired.len(), 1, "{fired:?}");
    let before = d.baseline_share(&p).unwrap();
    run(&mut d, &mut feed, &mut noise, 315..420, 20, |_| 0.8);
    assert!(d.is_firing());
    let during = d.baseline_share(&p).unwrap();
    assert!((during - before).abs() < 1e-9, "{before} became {during}");
}

#[test]
fn campaign_comments_are_set_aside_in_the_evidence() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(7));
    run(&mut d, &mut feed, &mut noise, 0..300, 20, |_| 0.1);
    // Cluster 9 is a reported campaign: its 15 comments a minute are all negative.
    feed.campaigns.set([9].into_iter());
    let mut firing = None;
    for _ in 0..15 {
        let campaign = vec![(9, true); 15];
        let out = feed.minute_clustered(&mut d, 35, 17, &campaign);
        firing = firing.or(out.into_iter().next());
    }
    let firing = firing.expect("the campaign's negativity fires");
    let Evidence::Negativity(e) = &firing.evidence else {
        panic!("negativity evidence expected")
    };
    assert!(
        e.troll_comments > 0 && e.troll_negative == e.troll_comments,
        "{e:?}"
    );
    let without = e.share_without_trolls().unwrap();
    assert!(without < e.share, "{without} vs {}", e.share);
    assert!(e.negative_from_trolls() > 0.5, "{e:?}");
}

#[test]
fn a_shift_that_deepens_escalates_while_firing() {
    // 10% for five hours, then 28% (a warning: under 30 points up), then 75% (critical).
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(8));
    let got = run(&mut d, &mut feed, &mut noise, 0..400, 20, |m| match m {
        0..300 => 0.1,
        300..330 => 0.28,
        _ => 0.75,
    });
    let seen: Vec<_> = got.iter().map(|(_, t)| (t.status, t.severity)).collect();
    assert_eq!(
        seen,
        [
            (AlertStatus::Firing, Severity::Warning),
            (AlertStatus::Firing, Severity::Critical)
        ],
        "{got:?}"
    );
    let (escalated_at, escalated) = &got[1];
    assert!(
        (330..=340).contains(escalated_at),
        "escalated at {escalated_at}"
    );
    assert_eq!(
        escalated.started_ms, got[0].1.started_ms,
        "the same episode"
    );
}
