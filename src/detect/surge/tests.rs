//! Unit tests of the surge detector on hand-filled buckets with seeded noise.

use super::*;
use crate::alert::Severity;
use crate::config::Config;
use crate::detect::testing::{Feed, Noise};

fn detector() -> SurgeDetector {
    let settings = SurgeSettings::new(Config::default().detect.surge_params(), 60_000);
    SurgeDetector::new(Arc::new(settings), crate::detect::testing::T0)
}

/// Feeds `minutes` buckets whose counts come from `count(minute)`; returns every
/// transition with the minute it came at.
fn run(
    d: &mut SurgeDetector,
    feed: &mut Feed,
    minutes: std::ops::Range<u32>,
    mut count: impl FnMut(u32) -> u32,
) -> Vec<(u32, Transition)> {
    let mut out = Vec::new();
    for m in minutes {
        for t in feed.minute(d, count(m), 0) {
            out.push((m, t));
        }
    }
    out
}

/// A day of minutes: the detectors below are judged after one, as a topic with its own
/// history (a first day is judged more cautiously, see the next tests).
const DAY: u32 = 1440;

#[test]
fn fires_within_minutes_of_a_jump_escalates_then_resolves_once() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(1));
    let got = run(&mut d, &mut feed, 0..DAY + 260, |m| {
        noise.poisson(if (DAY + 120..DAY + 140).contains(&m) {
            60.0
        } else {
            10.0
        })
    });
    let got: Vec<_> = got.into_iter().map(|(m, t)| (m - DAY, t)).collect();
    let statuses: Vec<_> = got.iter().map(|(_, t)| (t.status, t.severity)).collect();
    // It fires as a warning within the first minutes, says critical once the jump has
    // reached twice the firing ratio (while still firing), and resolves once.
    assert_eq!(
        statuses,
        [
            (AlertStatus::Firing, Severity::Warning),
            (AlertStatus::Firing, Severity::Critical),
            (AlertStatus::Resolved, Severity::Critical)
        ],
        "{got:?}"
    );
    let (fired_at, firing) = &got[0];
    assert!(*fired_at <= 122, "fired at minute {fired_at}");
    let (escalated_at, escalated) = &got[1];
    assert!(*escalated_at <= 125, "escalated at minute {escalated_at}");
    assert_eq!(escalated.started_ms, firing.started_ms, "the same episode");
    let Evidence::Surge(e) = &escalated.evidence else {
        panic!("surge evidence expected")
    };
    assert!(e.ratio >= 2.0 * e.min_ratio, "{e:?}");
    let (resolved_at, resolved) = &got[2];
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(
        resolved.severity,
        Severity::Critical,
        "peaked sixfold: critical"
    );
    // An hour of calm closes it: a burst that falls and rises again within the hour
    // stays one episode.
    assert!(
        (200..=210).contains(resolved_at),
        "resolved at {resolved_at}"
    );
    assert_eq!(firing.started_ms, resolved.started_ms, "one episode");
    let Evidence::Surge(e) = &firing.evidence else {
        panic!("surge evidence expected")
    };
    assert!(
        e.ratio >= e.min_ratio && e.observed >= e.min_events,
        "{e:?}"
    );
    assert!(!d.is_firing());
}

#[test]
fn stays_calm_on_noise_a_morning_rise_and_a_small_topic() {
    // Six hours of Poisson noise at 5 a minute, then a rise to 25 a minute over three
    // hours: a gradual rise is expected, not alarming.
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(2));
    let got = run(&mut d, &mut feed, 0..540, |m| {
        let rate = if m < 360 {
            5.0
        } else {
            5.0 + 20.0 * f64::from(m - 360) / 180.0
        };
        noise.poisson(rate)
    });
    assert!(got.is_empty(), "{got:?}");
    // A topic at 0.3 comments a minute for a day, with its own bursts of a few.
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(3));
    let got = run(&mut d, &mut feed, 0..1440, |_| noise.poisson(0.3));
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn learns_nothing_from_an_open_episode() {
    let (mut d, mut feed) = (detector(), Feed::new(30));
    run(&mut d, &mut feed, 0..DAY + 120, |_| 10);
    let before = d.baseline_per_bucket();
    let got = run(&mut d, &mut feed, DAY + 120..DAY + 180, |_| 80);
    assert!(
        !got.is_empty()
            && got.iter().all(
                |(_, t)| t.status == AlertStatus::Firing && t.started_ms == got[0].1.started_ms
            ),
        "fires (and escalates) and stays open: {got:?}"
    );
    assert!(d.is_firing());
    assert!(
        (d.baseline_per_bucket() - before).abs() < 0.5,
        "level moved from {before} to {} during the episode",
        d.baseline_per_bucket()
    );
    // Once the episode is over, learning resumes.
    run(&mut d, &mut feed, DAY + 180..DAY + 400, |_| 14);
    assert!(!d.is_firing());
    assert!(
        d.baseline_per_bucket() > before + 3.0,
        "{}",
        d.baseline_per_bucket()
    );
}

/// Comments a minute on a topic that is bursty by nature, as real volume is: a base rate
/// with a retweet storm now and then (on average every three hours, one or two minutes at
/// eight to twelve times the rate). Shares nothing with the detector but the bucket size.
fn bursty(noise: &mut Noise, base: f64, storm: &mut u32) -> u32 {
    if *storm == 0 && noise.uniform() < 1.0 / 180.0 {
        *storm = 1 + u32::from(noise.uniform() < 0.5);
    }
    let rate = if *storm > 0 {
        *storm -= 1;
        base * (8.0 + 4.0 * noise.uniform())
    } else {
        base
    };
    noise.poisson(rate)
}

#[test]
fn a_bursty_topic_learns_its_own_storms_and_still_sees_a_real_surge() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(6));
    let mut storm = 0;
    // Four days of storms, then on the fifth day at 10:00 an hour at ten times the rate.
    let day = 1440;
    let surge = 4 * day + 600;
    let got = run(&mut d, &mut feed, 0..surge + 60, |m| {
        if m >= surge {
            noise.poisson(30.0)
        } else {
            bursty(&mut noise, 3.0, &mut storm)
        }
    });
    let firing: Vec<u32> = got
        .iter()
        .filter(|(_, t)| t.status == AlertStatus::Firing)
        .map(|(m, _)| *m)
        .collect();
    // The first day teaches the storms (a Poisson line fires on nearly every one of them,
    // some thirty in four days); after it, at most two of them pass.
    let after_first_day = firing
        .iter()
        .filter(|&&m| (day..surge).contains(&m))
        .count();
    assert!(after_first_day <= 2, "storms reported: {firing:?}");
    let found = firing
        .iter()
        .find(|&&m| m >= surge)
        .unwrap_or_else(|| panic!("the surge is not found: {got:?}"));
    assert!(*found <= surge + 5, "found at minute {}", found - surge);
    let (_, t) = got.iter().find(|(m, _)| m == found).unwrap();
    let Evidence::Surge(e) = &t.evidence else {
        panic!("surge evidence expected")
    };
    let min_z = Config::default().detect.surge_params().min_z;
    assert!(
        e.z_needed > min_z,
        "the line is the topic's own, above min_z {min_z}: {e:?}"
    );
}

#[test]
fn a_small_topic_running_hot_for_hours_is_reported_by_the_sustained_window() {
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(7));
    // Two calm days at half a comment a minute, then from 10:00 four hours at 2.5 a minute:
    // no five minutes stand out (about 12 comments), the hours do.
    let rise = 2 * 1440 + 600;
    let got = run(&mut d, &mut feed, 0..rise + 240, |m| {
        noise.poisson(if m >= rise { 2.5 } else { 0.5 })
    });
    assert!(
        got.iter().all(|(m, _)| *m >= rise),
        "calm days stay calm: {got:?}"
    );
    let (at, t) = got.first().expect("the rise is reported");
    assert_eq!(t.status, AlertStatus::Firing);
    let Evidence::Surge(e) = &t.evidence else {
        panic!("surge evidence expected")
    };
    assert!(e.sustained, "{e:?}");
    assert!(
        (rise + 60..=rise + 120).contains(at),
        "reported {} minutes in",
        at - rise
    );
    assert!(
        got.iter()
            .all(|(_, t)| t.status == AlertStatus::Firing && t.started_ms == got[0].1.started_ms),
        "one episode while it lasts: {got:?}"
    );
}

/// A new topic is assumed bursty until it has a day of its own history: its first retweet
/// storm (three minutes at 3.5 times its rate) is not news, a sixfold jump is; after a
/// calm day of its own, the same storm stands out.
#[test]
fn a_new_topic_s_first_storm_is_not_news_but_a_jump_is() {
    let storm = |m: u32, start: u32| (start..start + 3).contains(&m);
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(7));
    let got = run(&mut d, &mut feed, 0..600, |m| {
        noise.poisson(if storm(m, 300) { 28.0 } else { 8.0 })
    });
    assert!(got.is_empty(), "first-day storm fired: {got:?}");
    let got = run(&mut d, &mut feed, 600..700, |m| {
        noise.poisson(if m >= 640 { 48.0 } else { 8.0 })
    });
    assert!(
        got.first()
            .is_some_and(|(m, t)| t.status == AlertStatus::Firing && *m <= 643),
        "first-day jump: {got:?}"
    );
    // A calm day later (the jump long resolved), the storm is news.
    let (mut d, mut feed, mut noise) = (detector(), Feed::new(30), Noise::new(7));
    let got = run(&mut d, &mut feed, 0..DAY + 600, |m| {
        noise.poisson(if storm(m, DAY + 300) { 28.0 } else { 8.0 })
    });
    assert!(
        got.iter()
            .any(|(m, t)| t.status == AlertStatus::Firing && (DAY + 300..DAY + 305).contains(m)),
        "storm after a calm day: {got:?}"
    );
}
