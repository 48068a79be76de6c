//! `ondata simulate`: deterministic synthetic comment streams.
//!
//! Several days of ordinary traffic (a daily rhythm in Italian local time, per-topic rates,
//! day-to-day and minute-to-minute noise, a few out-of-order and redelivered events), then an
//! incident day with the scenario's incidents:
//! - `click-day`: at 08:00 the benefit opens and comments on `bonus-600` jump eightfold,
//!   turning negative when the site collapses twenty minutes later; a negativity shift at
//!   steady volume on `pensioni` in the afternoon; a genuine wave of short varied complaints
//!   on `assistenza`; a troll campaign on `reddito-di-cittadinanza` in the evening.
//! - `troll-wave`: two copy-paste campaigns from throwaway accounts, beside a genuine
//!   complaint wave.
//! - `quiet`: ordinary days only.
//!
//! `naspi`, `concorsi` and comments with no topic stay ordinary in every scenario.

pub mod campaigns;
pub mod comments;
pub mod flood;
pub mod rng;

use std::io::{self, Write};

use serde::Serialize;

use comments::{Mood, Subject};
use rng::Rng;

use crate::event::format_ts;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// 2020-03-29T00:00:00Z: with the default three ordinary days, the incident day is 1 April
/// 2020, the click day of the 600-euro benefit.
pub const DEFAULT_START_MS: i64 = 1_585_440_000_000;
/// Italian summer time: local = UTC + 2 h.
const LOCAL_OFFSET_MS: i64 = 2 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    ClickDay,
    TrollWave,
    Quiet,
}

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub scenario: Scenario,
    pub seed: u64,
    /// Ordinary days before the incident day.
    pub days: u32,
    /// Multiplies every rate (for benchmarks: `--scale 20` gives about a million events).
    pub scale: f64,
    pub start_ms: i64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::ClickDay,
            seed: 1,
            days: 3,
            scale: 1.0,
            start_ms: DEFAULT_START_MS,
        }
    }
}

/// A planted incident: the ground truth for tests, backtests and analysts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// `surge`, `negativity`, `troll_burst` or `complaint_wave` (genuine; expect a surge and
    /// negativity but never a troll burst).
    pub kind: &'static str,
    pub topic: &'static str,
    pub start: String,
    pub end: String,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
    pub note: &'static str,
    /// Troll campaigns: accounts used and posts planned. Their events carry
    /// `"campaign": "<incident number>"` (a field ondata ignores) as ground truth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct SimSummary {
    pub events: u64,
    pub incidents: Vec<Incident>,
}

struct TopicProfile {
    name: Option<&'static str>,
    subject: Subject,
    /// Comments per minute at the daily peak.
    peak_rate: f64,
    negative: f64,
    positive: f64,
}

const TOPICS: &[TopicProfile] = &[
    TopicProfile {
        name: Some("bonus-600"),
        subject: Subject::Bonus600,
        peak_rate: 3.0,
        negative: 0.28,
        positive: 0.15,
    },
    TopicProfile {
        name: Some("pensioni"),
        subject: Subject::Pensioni,
        peak_rate: 5.0,
        negative: 0.22,
        positive: 0.2,
    },
    TopicProfile {
        name: Some("naspi"),
        subject: Subject::Naspi,
        peak_rate: 2.0,
        negative: 0.25,
        positive: 0.15,
    },
    TopicProfile {
        name: Some("reddito-di-cittadinanza"),
        subject: Subject::Reddito,
        peak_rate: 2.5,
        negative: 0.3,
        positive: 0.1,
    },
    TopicProfile {
        name: Some("assistenza"),
        subject: Subject::Assistenza,
        peak_rate: 2.0,
        negative: 0.3,
        positive: 0.15,
    },
    TopicProfile {
        name: Some("concorsi"),
        subject: Subject::Concorsi,
        peak_rate: 0.4,
        negative: 0.15,
        positive: 0.25,
    },
    TopicProfile {
        name: None,
        subject: Subject::General,
        peak_rate: 1.0,
        negative: 0.25,
        positive: 0.2,
    },
];

/// Relative activity by local hour: quiet nights, a morning rise, two daytime peaks.
const HOURLY: [f64; 25] = [
    0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.12, 0.30, 0.60, 0.85, 1.00, 1.00, 0.90, 0.80, 0.85, 0.90,
    0.90, 0.95, 1.00, 1.00, 0.90, 0.70, 0.45, 0.22, 0.10,
];

fn rhythm(ts_ms: i64) -> f64 {
    let local_min = (ts_ms + LOCAL_OFFSET_MS).rem_euclid(DAY_MS) as f64 / MINUTE_MS as f64;
    let h = (local_min / 60.0).floor() as usize;
    let frac = local_min / 60.0 - h as f64;
    HOURLY[h] * (1.0 - frac) + HOURLY[h + 1] * frac
}

/// Effect of the scenario's incidents on one topic at one minute.
#[derive(Debug, Clone, Copy)]
struct Effect {
    volume: f64,
    negative: Option<f64>,
    wave_per_min: f64,
    troll_per_min: f64,
    /// Index of the troll incident in the plan.
    campaign: usize,
}

struct Plan {
    incidents: Vec<Incident>,
    day_ms: i64,
    scenario: Scenario,
}

impl Plan {
    fn new(opts: &SimOptions) -> Self {
        let day_ms = opts.start_ms + i64::from(opts.days) * DAY_MS;
        let at = |h: i64, m: i64| day_ms - LOCAL_OFFSET_MS + h * 3_600_000 + m * MINUTE_MS;
        let inc = |kind, topic, s: i64, e: i64, note| Incident {
            kind,
            topic,
            start: format_ts(s),
            end: format_ts(e),
            start_ms: s,
            end_ms: e,
            note,
            accounts: None,
            posts: None,
        };
        let incidents = match opts.scenario {
            Scenario::ClickDay => vec![
                inc(
                    "surge",
                    "bonus-600",
                    at(8, 0),
                    at(14, 0),
                    "click day opens: comments jump eightfold",
                ),
                inc(
                    "negativity",
                    "bonus-600",
                    at(8, 20),
                    at(14, 0),
                    "the site collapses: most comments turn negative",
                ),
                inc(
                    "complaint_wave",
                    "assistenza",
                    at(10, 30),
                    at(11, 30),
                    "hundreds of users write short, varied complaints",
                ),
                inc(
                    "negativity",
                    "pensioni",
                    at(15, 0),
                    at(17, 0),
                    "payment delay announced: negativity at steady volume",
                ),
                inc(
                    "troll_burst",
                    "reddito-di-cittadinanza",
                    at(19, 0),
                    at(19, 8),
                    "copy-paste campaign from throwaway accounts",
                ),
            ],
            Scenario::TrollWave => vec![
                inc(
                    "troll_burst",
                    "pensioni",
                    at(11, 0),
                    at(11, 6),
                    "copy-paste campaign from throwaway accounts",
                ),
                inc(
                    "complaint_wave",
                    "assistenza",
                    at(15, 0),
                    at(15, 40),
                    "hundreds of users write short, varied complaints",
                ),
                inc(
                    "troll_burst",
                    "bonus-600",
                    at(20, 0),
                    at(20, 10),
                    "a second campaign with another template",
                ),
            ],
            Scenario::Quiet => Vec::new(),
        };
        // Campaign sizes vary with the seed: 25-60 accounts, 40-120 posts.
        let mut sizes = Rng::new(opts.seed).fork(3);
        let incidents = incidents
            .into_iter()
            .map(|mut i| {
                if i.kind == "troll_burst" {
                    i.accounts = Some(25 + sizes.below(36) as u32);
                    i.posts = Some(40 + sizes.below(81) as u32);
                }
                i
            })
            .collect();
        Self {
            incidents,
            day_ms,
            scenario: opts.scenario,
        }
    }

    fn effect(&self, topic: &str, t: i64) -> Effect {
        let mut e = Effect {
            volume: 1.0,
            negative: None,
            wave_per_min: 0.0,
            troll_per_min: 0.0,
            campaign: 0,
        };
        for (n, inc) in self.incidents.iter().enumerate() {
            if inc.topic != topic || t < inc.start_ms || t >= inc.end_ms {
                continue;
            }
            let mins = (t - inc.start_ms) as f64 / MINUTE_MS as f64;
            let len = (inc.end_ms - inc.start_ms) as f64 / MINUTE_MS as f64;
            match inc.kind {
                // Eightfold within three minutes, held for two hours, then easing to twofold.
                "surge" => {
                    e.volume = if mins < 3.0 {
                        1.0 + 7.0 * mins / 3.0
                    } else if mins < 120.0 {
                        8.0
                    } else {
                        2.0 + 6.0 * (-(mins - 120.0) / 60.0).exp()
                    }
                }
                "negativity" => {
                    e.negative = Some(
                        if self.scenario == Scenario::ClickDay && topic == "bonus-600" {
                            0.72
                        } else {
                            0.6
                        } * (mins / 10.0).min(1.0)
                            + 0.25 * (1.0 - (mins / 10.0).min(1.0)),
                    )
                }
                "complaint_wave" => {
                    e.wave_per_min = 7.0 * (1.0 - (2.0 * mins / len - 1.0).abs()).max(0.25)
                }
                "troll_burst" => {
                    e.troll_per_min = f64::from(inc.posts.unwrap_or(80)) / len;
                    e.campaign = n;
                }
                _ => {}
            }
        }
        e
    }
}

struct Line {
    ts_ms: i64,
    json: String,
}

#[derive(Serialize)]
struct OutEvent<'a> {
    ts: String,
    id: String,
    author: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    channel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
    text: &'a str,
    /// Ground truth for tests: the incident number of a troll campaign's post.
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
}

/// Writes the scenario's stream to `out` as NDJSON, in event-time order but for the few
/// deliberately out-of-order events.
pub fn simulate(opts: &SimOptions, out: &mut dyn Write) -> io::Result<SimSummary> {
    let plan = Plan::new(opts);
    let root = Rng::new(opts.seed);
    let mut rng = root.fork(1);
    let mut trolls = root.fork(2);
    // Each campaign has its own throwaway accounts.
    let troll_accounts: Vec<Vec<String>> = plan
        .incidents
        .iter()
        .map(|i| {
            (0..i.accounts.unwrap_or(0))
                .map(|_| campaigns::troll_account(&mut trolls))
                .collect()
        })
        .collect();
    let end = plan.day_ms + DAY_MS;
    let mut seq = 0u64;
    let mut day_factor = 1.0;
    let mut lines: Vec<Line> = Vec::new();
    let mut events = 0u64;
    let mut t = opts.start_ms;
    while t < end {
        if (t - opts.start_ms) % DAY_MS == 0 {
            day_factor = (0.12 * rng.normal()).exp();
        }
        lines.clear();
        for topic in TOPICS {
            let effect = topic.name.map(|n| plan.effect(n, t));
            let effect = effect.unwrap_or(Effect {
                volume: 1.0,
                negative: None,
                wave_per_min: 0.0,
                troll_per_min: 0.0,
                campaign: 0,
            });
            let noise = (0.2 * rng.normal() - 0.02).exp();
            let lambda =
                topic.peak_rate * rhythm(t) * day_factor * noise * effect.volume * opts.scale;
            let negative = effect.negative.unwrap_or(topic.negative);
            let positive = topic.positive * (1.0 - negative) / (1.0 - topic.negative);
            for _ in 0..rng.poisson(lambda) {
                let roll = rng.f64();
                let mood = if roll < negative {
                    Mood::Negative
                } else if roll < negative + positive {
                    Mood::Positive
                } else {
                    Mood::Neutral
                };
                let english = rng.chance(0.05);
                let text = comments::comment(&mut rng, topic.subject, mood, english);
                let author = comments::author(&mut rng);
                let post = Post {
                    minute: t,
                    topic: topic.name,
                    author: &author,
                    text: &text,
                    english,
                    campaign: None,
                };
                push(&mut lines, &mut rng, &mut seq, opts.seed, &post);
            }
            for _ in 0..rng.poisson(effect.wave_per_min * opts.scale) {
                let text = comments::wave_complaint(&mut rng);
                let author = comments::author(&mut rng);
                let post = Post {
                    minute: t,
                    topic: topic.name,
                    author: &author,
                    text: &text,
                    english: false,
                    campaign: None,
                };
                push(&mut lines, &mut rng, &mut seq, opts.seed, &post);
            }
            for _ in 0..trolls.poisson(effect.troll_per_min * opts.scale) {
                let template = &campaigns::CAMPAIGNS[effect.campaign % campaigns::CAMPAIGNS.len()];
                let text = campaigns::troll_post(&mut trolls, template);
                // A few accounts post again and again; most post once or twice.
                let pool = &troll_accounts[effect.campaign];
                let account = if trolls.chance(0.3) {
                    trolls.below(6.min(pool.len()))
                } else {
                    trolls.below(pool.len())
                };
                let post = Post {
                    minute: t,
                    topic: topic.name,
                    author: &pool[account],
                    text: &text,
                    english: false,
                    campaign: Some(effect.campaign),
                };
                push(&mut lines, &mut trolls, &mut seq, opts.seed, &post);
            }
        }
        lines.sort_by_key(|l| l.ts_ms);
        for l in &lines {
            out.write_all(l.json.as_bytes())?;
            out.write_all(b"\n")?;
            events += 1;
            // Producers redeliver now and then: the same event, same id, again.
            if rng.chance(0.001) {
                out.write_all(l.json.as_bytes())?;
                out.write_all(b"\n")?;
                events += 1;
            }
        }
        t += MINUTE_MS;
    }
    out.flush()?;
    Ok(SimSummary {
        events,
        incidents: plan.incidents,
    })
}

/// One comment to write, before its time, id, channel and language are drawn.
struct Post<'a> {
    minute: i64,
    topic: Option<&'a str>,
    author: &'a str,
    text: &'a str,
    english: bool,
    campaign: Option<usize>,
}

fn push(lines: &mut Vec<Line>, rng: &mut Rng, seq: &mut u64, seed: u64, post: &Post<'_>) {
    let Post {
        minute,
        topic,
        author,
        text,
        english,
        campaign,
    } = *post;
    *seq += 1;
    let mut ts = minute + rng.range(0, MINUTE_MS);
    // About one event in a hundred reaches us up to 20 s out of order.
    let sort_key = ts;
    if rng.chance(0.01) {
        ts -= rng.range(5_000, 20_000);
    }
    let channel = *rng.pick(&[
        "facebook",
        "facebook",
        "facebook",
        "twitter",
        "twitter",
        "instagram",
    ]);
    let lang = if rng.chance(0.5) {
        Some(if english { "en" } else { "it" })
    } else {
        None
    };
    let event = OutEvent {
        ts: format_ts(ts),
        id: format!("sim-{seed}-{seq:08}"),
        author,
        topic,
        channel,
        lang,
        text,
        campaign: campaign.map(|c| c.to_string()),
    };
    let json = serde_json::to_string(&event).unwrap_or_default();
    lines.push(Line {
        ts_ms: sort_key,
        json,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(opts: &SimOptions) -> (Vec<u8>, SimSummary) {
        let mut out = Vec::new();
        let s = simulate(opts, &mut out).unwrap();
        (out, s)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let opts = SimOptions {
            days: 1,
            scenario: Scenario::Quiet,
            ..SimOptions::default()
        };
        let (a, _) = run(&opts);
        let (b, _) = run(&opts);
        let (c, _) = run(&SimOptions { seed: 2, ..opts });
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn comments_are_varied_and_parse_as_events() {
        let opts = SimOptions {
            days: 1,
            ..SimOptions::default()
        };
        let (out, summary) = run(&opts);
        let text = String::from_utf8(out).unwrap();
        let mut distinct = std::collections::BTreeSet::new();
        let limits = crate::config::InputConfig::default();
        for line in text.lines() {
            let e = crate::event::parse_event(line.as_bytes(), &limits).unwrap();
            distinct.insert(e.text.into_owned());
        }
        assert_eq!(summary.events as usize, text.lines().count());
        // Composed comments: far more distinct texts than templates.
        assert!(
            distinct.len() * 2 > text.lines().count(),
            "{} distinct of {}",
            distinct.len(),
            text.lines().count()
        );
        assert_eq!(summary.incidents.len(), 5);
    }
}
