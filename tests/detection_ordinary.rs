//! Detection on ordinary, real-shaped topics: streams written for this test alone. What it
//! shares with the detectors is the event schema and the idea of a day; its random numbers
//! (a PCG-style generator), its rates, its noise (gamma-mixed Poisson minutes, so volume is
//! overdispersed as real volume is, lognormal hours, and retweet storms of a few minutes),
//! its texts and its incident shapes are its own, and none of its numbers was taken from the
//! detectors' settings.
//!
//! Four 3-day streams; topics at 1 to 6 comments a minute at their daily peak (one at 0.3);
//! on the third day planted surges and negativity shifts. Every planted incident must be
//! found within the hour, surges in a median of 5 minutes or less and negativity shifts in a
//! median of 15; a shift on a topic that ran at 1.5 comments a minute or more while it
//! lasted, within 20 minutes; at most one false alarm (an incident no planted incident
//! explains) in the four streams, first days, nights and morning rises included.
//!
//! Measured here and not yet met, so guarded against getting worse rather than asserted:
//! shifts on slower topics within 20 minutes. Today two take 25 and 27 minutes, where the
//! topic really ran at 0.75 and 1.2 comments a minute in the shift's first 20 minutes (the
//! other ten: 5 to 19 minutes); the sequential test needs about 28 comments for a rise from
//! 16% to 53%, and a lower bar raises false alarms on steady topics.

use ondata::alert::{AlertKind, AlertStatus};
use ondata::{parse_event, Config, Engine};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2022-03-07T00:00:00Z, a Monday.
const START: i64 = 1_646_611_200_000;
const DAYS: i64 = 3;

/// A permuted congruential generator (PCG-XSH-RR), unlike anything in ondata.
struct Pcg(u64);

impl Pcg {
    fn u32(&mut self) -> u32 {
        let old = self.0;
        self.0 = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }
    fn unit(&mut self) -> f64 {
        (f64::from(self.u32()) + 0.5) / 4_294_967_296.0
    }
    fn exponential(&mut self) -> f64 {
        -self.unit().ln()
    }
    /// Gamma with integer shape `k` and mean 1: a sum of `k` exponentials, scaled.
    fn gamma_mean_one(&mut self, k: u32) -> f64 {
        (0..k).map(|_| self.exponential()).sum::<f64>() / f64::from(k)
    }
    fn normal(&mut self) -> f64 {
        // Box-Muller.
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
    fn poisson(&mut self, mean: f64) -> u32 {
        let mut n = 0;
        let mut t = self.exponential();
        while t < mean {
            n += 1;
            t += self.exponential();
        }
        n
    }
}

struct Topic {
    name: &'static str,
    /// Comments a minute at the daily peak.
    peak: f64,
    /// Usual share of negative comments.
    negative: f64,
}

const TOPICS: [Topic; 5] = [
    Topic {
        name: "bollette",
        peak: 6.0,
        negative: 0.2,
    },
    Topic {
        name: "pensioni",
        peak: 3.0,
        negative: 0.15,
    },
    Topic {
        name: "permessi",
        peak: 1.5,
        negative: 0.15,
    },
    Topic {
        name: "anagrafe",
        peak: 1.0,
        negative: 0.1,
    },
    Topic {
        name: "biblioteche",
        peak: 0.3,
        negative: 0.1,
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Surge,
    Negativity,
}

struct Planted {
    kind: Kind,
    topic: &'static str,
    start: i64,
    end: i64,
    /// Volume multiple (surge) or negative share (negativity).
    level: f64,
}

/// The third day's incidents, at times varied by the seed.
fn planted(rng: &mut Pcg) -> Vec<Planted> {
    let day3 = START + 2 * DAY;
    let mut at = |h: i64| day3 + h * HOUR + (rng.unit() * 40.0) as i64 * MINUTE;
    vec![
        Planted {
            kind: Kind::Surge,
            topic: "bollette",
            start: at(9),
            end: 0,
            level: 5.0,
        },
        Planted {
            kind: Kind::Surge,
            topic: "permessi",
            start: at(11),
            end: 0,
            level: 6.0,
        },
        Planted {
            kind: Kind::Surge,
            topic: "pensioni",
            start: at(17),
            end: 0,
            level: 4.0,
        },
        Planted {
            kind: Kind::Negativity,
            topic: "permessi",
            start: at(15),
            end: 0,
            level: 0.65,
        },
        Planted {
            kind: Kind::Negativity,
            topic: "anagrafe",
            start: at(10),
            end: 0,
            level: 0.7,
        },
        Planted {
            kind: Kind::Negativity,
            topic: "pensioni",
            start: at(13),
            end: 0,
            level: 0.6,
        },
    ]
    .into_iter()
    .map(|p| Planted {
        end: p.start
            + match p.kind {
                Kind::Surge => 75 * MINUTE,
                Kind::Negativity => 2 * HOUR,
            },
        ..p
    })
    .collect()
}

/// Daily shape: quiet nights (5% of the peak), a morning rise from 6:00, a lunch dip, an
/// evening tail.
fn daily(t: i64) -> f64 {
    let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
    let shape = match h {
        h if h < 6.0 => 0.0,
        h if h < 10.0 => (h - 6.0) / 4.0,
        h if h < 13.0 => 1.0,
        h if h < 14.5 => 0.75,
        h if h < 19.0 => 0.95,
        h if h < 23.0 => 0.95 * (23.0 - h) / 4.0,
        _ => 0.0,
    };
    0.05 + 0.95 * shape
}

const ANGRY: [&str; 6] = [
    "ancora niente, è una vergogna",
    "servizio indecente, nessuno risponde",
    "siete degli incompetenti",
    "che schifo di gestione",
    "pessimo, aspetto da settimane",
    "basta, è inaccettabile",
];
const CALM: [&str; 5] = [
    "qualcuno sa gli orari?",
    "come si prenota l'appuntamento?",
    "serve il modulo cartaceo?",
    "grazie per le informazioni",
    "tutto risolto, gentilissimi",
];

fn generate(seed: u64) -> (Vec<String>, Vec<Planted>) {
    let mut rng = Pcg(seed.wrapping_mul(0xda94_2042_e4dd_58b5).wrapping_add(7));
    let plan = planted(&mut rng);
    let mut lines = Vec::new();
    let mut hour_factor = [1.0f64; TOPICS.len()];
    // Minutes left in each topic's retweet storm, and its multiple.
    let mut storm = [(0u32, 1.0f64); TOPICS.len()];
    let mut n = 0u64;
    let mut t = START;
    while t < START + DAYS * DAY {
        if t % HOUR == 0 {
            for f in hour_factor.iter_mut() {
                *f = (0.2 * rng.normal()).exp();
            }
        }
        let mut minute = Vec::new();
        for (i, topic) in TOPICS.iter().enumerate() {
            // About two storms a day per topic: 2 to 4 minutes at 2 to 4 times the rate.
            if storm[i].0 == 0 && rng.unit() < 2.0 / 1440.0 {
                storm[i] = (2 + rng.u32() % 3, 2.0 + 2.0 * rng.unit());
            }
            let storm_factor = if storm[i].0 > 0 {
                storm[i].0 -= 1;
                storm[i].1
            } else {
                1.0
            };
            let mut volume = 1.0;
            let mut negative = topic.negative;
            for p in plan
                .iter()
                .filter(|p| p.topic == topic.name && (p.start..p.end).contains(&t))
            {
                match p.kind {
                    Kind::Surge => volume = p.level,
                    Kind::Negativity => negative = p.level,
                }
            }
            let mean = topic.peak * daily(t) * hour_factor[i] * storm_factor * volume;
            // Gamma-mixed Poisson: overdispersed minute counts (shape 3).
            let mixed = mean * rng.gamma_mean_one(3);
            let count = rng.poisson(mixed);
            for _ in 0..count {
                n += 1;
                let ts = t + (rng.unit() * MINUTE as f64) as i64;
                let text = if rng.unit() < negative {
                    ANGRY[(rng.u32() % 6) as usize]
                } else {
                    CALM[(rng.u32() % 5) as usize]
                };
                let author = format!("c{}", rng.u32() % 200_000);
                minute.push((
                    ts,
                    format!(
                        r#"{{"ts":{ts},"id":"o{n}","author":"{author}","topic":"{}","text":"{text}"}}"#,
                        topic.name
                    ),
                ));
            }
        }
        minute.sort();
        lines.extend(minute.into_iter().map(|(_, l)| l));
        t += MINUTE;
    }
    (lines, plan)
}

#[test]
fn ordinary_topics_report_every_planted_incident_in_time_and_little_else() {
    let config = Config::default();
    let (mut surge_delays, mut negativity_delays) = (Vec::new(), Vec::new());
    // Delays of the shifts on topics running at 1.5 comments a minute or more.
    let mut ordinary_delays = Vec::new();
    let mut unexplained = Vec::new();
    for seed in [21, 22, 23, 24] {
        let (lines, plan) = generate(seed);
        let mut engine = Engine::new(&config);
        let mut alerts = Vec::new();
        for line in &lines {
            engine.ingest_into(
                &parse_event(line.as_bytes(), &config.input).unwrap(),
                &mut alerts,
            );
        }
        alerts.extend(engine.finish());
        let firing: Vec<_> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .collect();
        for p in &plan {
            let kind = match p.kind {
                Kind::Surge => AlertKind::Surge,
                Kind::Negativity => AlertKind::Negativity,
            };
            let delay = firing
                .iter()
                .filter(|a| a.kind == kind && a.topic == p.topic && a.at_ms >= p.start)
                .map(|a| (a.at_ms - p.start) as f64 / MINUTE as f64)
                .find(|d| *d <= 60.0)
                .unwrap_or_else(|| {
                    panic!(
                        "seed {seed}: {:?} on {} at {} not found",
                        kind,
                        p.topic,
                        ondata::event::format_ts(p.start)
                    )
                });
            match p.kind {
                Kind::Surge => surge_delays.push(delay),
                Kind::Negativity => {
                    // How fast the topic really ran in the shift's first 20 minutes.
                    let topic = format!(r#""topic":"{}""#, p.topic);
                    let comments = lines
                        .iter()
                        .filter(|l| l.contains(&topic))
                        .filter(|l| {
                            let ts: i64 = l[6..l.find(',').unwrap()].parse().unwrap();
                            (p.start..p.start + 20 * MINUTE).contains(&ts)
                        })
                        .count();
                    let rate = comments as f64 / 20.0;
                    eprintln!(
                        "shift: seed {seed} {} at {rate:.2}/min found in {delay} min",
                        p.topic
                    );
                    if rate >= 1.5 {
                        ordinary_delays.push(delay);
                    }
                    if delay > 20.0 {
                        eprintln!(
                            "late: seed {seed} {} at {} {delay} ({rate} comments/min)",
                            p.topic,
                            ondata::event::format_ts(p.start)
                        );
                        // What the alert saw: how many comments the topic really had.
                        if let Some(a) = firing.iter().find(|a| {
                            a.kind == kind
                                && a.topic == p.topic
                                && a.at_ms == p.start + (delay * MINUTE as f64) as i64
                        }) {
                            eprintln!("  {}", a.summary);
                        }
                    }
                    negativity_delays.push(delay)
                }
            }
        }
        // An alert is explained by a planted incident on its topic (a surge also brings
        // more negative comments in absolute terms; a shift is its own kind) while it lasts.
        // A false alarm is an incident none of whose alerts is explained, as the backtest
        // counts them (an escalation of the same episode is not another false alarm).
        let explained_incidents: std::collections::HashSet<&str> = firing
            .iter()
            .filter(|a| {
                plan.iter().any(|p| {
                    p.topic == a.topic && a.at_ms >= p.start && a.at_ms <= p.end + 30 * MINUTE
                })
            })
            .map(|a| a.incident_id())
            .collect();
        let mut counted = std::collections::HashSet::new();
        for a in &firing {
            let explained = plan.iter().any(|p| {
                p.topic == a.topic && a.at_ms >= p.start && a.at_ms <= p.end + 30 * MINUTE
            });
            if !explained
                && !explained_incidents.contains(a.incident_id())
                && counted.insert(a.incident_id())
            {
                unexplained.push(format!(
                    "seed {seed}: {} on {} at {} ({})",
                    a.kind.as_str(),
                    a.topic,
                    a.at,
                    a.summary
                ));
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    };
    let (s, n) = (median(&mut surge_delays), median(&mut negativity_delays));
    eprintln!(
        "surges {surge_delays:?} (median {s}); negativity {negativity_delays:?} (median {n}); unexplained {unexplained:#?}"
    );
    assert!(s <= 5.0, "median surge delay {s} min: {surge_delays:?}");
    assert!(
        n <= 15.0,
        "median negativity delay {n} min: {negativity_delays:?}"
    );
    assert!(
        // Half the shifts land where their topic runs that fast; the check must not be empty.
        ordinary_delays.len() >= 6 && ordinary_delays.iter().all(|d| *d <= 20.0),
        "shifts on topics at 1.5 comments/min or more: {ordinary_delays:?}"
    );
    // Guard on the aim not yet met (see the module's comment): no worse than today.
    let late = negativity_delays.iter().filter(|d| **d > 20.0).count();
    assert!(
        late <= 2 && negativity_delays.iter().all(|d| *d <= 30.0),
        "negativity shifts later than 20 min: {negativity_delays:?}"
    );
    assert!(unexplained.len() <= 1, "false alarms: {unexplained:#?}");
}
