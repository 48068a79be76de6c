//! `theme` alerts: one phrase emerging on several topics at once (a joke, a rumour, a
//! complaint spreading), whether or not their volume moves.
//!
//! At each closing, after every topic's table has judged its slots, the phrases emerging on
//! at least `min_topics` topics are gathered. Phrases that are parts or extensions of one
//! another ("pesce", "pesce aprile") are one theme, named by the phrase on the most topics
//! (then the most comments). A theme fires once, says critical when it reaches two topics
//! more than it needed, and resolves after `resolve_minutes` on fewer topics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Emerging;
use crate::alert::model::{ThemeDetails, ThemeTopic};
use crate::alert::{AlertKind, AlertStatus, Severity};
use crate::config::ThemeConfig;
use crate::detect::stats::round_to;
use crate::detect::{Evidence, Measured, Transition};

/// What a theme showed, as its alert reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeEvidence {
    pub details: ThemeDetails,
    pub min_topics: u32,
}

impl ThemeEvidence {
    pub fn measured(&self) -> Measured {
        Measured {
            value: self.details.topics.len() as f64,
            baseline: 0.0,
            threshold: f64::from(self.min_topics),
            details: crate::alert::Details::Theme(self.details.clone()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    phrase: String,
    /// The topic its records are filed under: where it was strongest when it fired.
    lead: String,
    started_ms: i64,
    last_seen_ms: i64,
    severity: Severity,
    last: ThemeDetails,
}

/// The open `theme` episodes, by the hash of their phrase.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CrossThemes {
    open: BTreeMap<u64, Open>,
    /// Phrases spreading at the last closing, not yet open.
    pending: Vec<u64>,
}

/// A theme alert's transition, with the topic its record is filed under.
pub struct TopicTransition {
    pub topic: String,
    pub transition: Transition,
}

impl CrossThemes {
    /// Judges the closing ending at `at_ms` from each topic's emerging phrases.
    pub fn judge<'a>(
        &mut self,
        c: &ThemeConfig,
        at_ms: i64,
        topics: impl Iterator<Item = (&'a str, &'a [Emerging])>,
        out: &mut Vec<TopicTransition>,
    ) {
        let mut by_phrase: BTreeMap<u64, Vec<(&str, &Emerging)>> = BTreeMap::new();
        for (topic, emerging) in topics {
            for e in emerging {
                by_phrase.entry(e.hash).or_default().push((topic, e));
            }
        }
        // On enough topics, each with some evidence of its own, with enough pooled.
        let mut spreading: Vec<(u64, Vec<(&str, &Emerging)>)> = by_phrase
            .into_iter()
            .filter_map(|(hash, mut on)| {
                on.retain(|(_, e)| e.z >= c.min_z / 2.0);
                let mentions: f64 = on.iter().map(|(_, e)| e.mentions).sum();
                let expected: f64 = on.iter().map(|(_, e)| e.expected).sum();
                let z = (mentions - expected) / expected.max(1e-9).sqrt();
                (on.len() >= c.min_topics as usize
                    && mentions >= f64::from(c.min_comments)
                    && z >= c.min_z)
                    .then_some((hash, on))
            })
            .collect();
        // The widest first, then the most mentioned, then the shortest phrase.
        let mentions = |on: &[(&str, &Emerging)]| on.iter().map(|(_, e)| e.mentions).sum::<f64>();
        spreading.sort_by(|a, b| {
            b.1.len()
                .cmp(&a.1.len())
                .then(mentions(&b.1).total_cmp(&mentions(&a.1)))
                .then(a.1[0].1.phrase.len().cmp(&b.1[0].1.phrase.len()))
                .then(a.0.cmp(&b.0))
        });
        // Phrases sharing a word are one theme ("pesce", "pesce aprile", "aprile"), named
        // by the first of them in the order above.
        let mut group: Vec<usize> = (0..spreading.len()).collect();
        fn root(group: &mut [usize], mut i: usize) -> usize {
            while group[i] != i {
                group[i] = group[group[i]];
                i = group[i];
            }
            i
        }
        for i in 0..spreading.len() {
            for j in 0..i {
                if shares_word(&spreading[i].1[0].1.phrase, &spreading[j].1[0].1.phrase) {
                    let (ri, rj) = (root(&mut group, i), root(&mut group, j));
                    group[ri.max(rj)] = ri.min(rj);
                }
            }
        }
        let mut named: Vec<(u64, Vec<String>)> = Vec::new();
        let mut seen_now: Vec<u64> = Vec::new();
        for i in 0..spreading.len() {
            let lead = root(&mut group, i);
            if lead != i {
                let phrase = spreading[i].1[0].1.phrase.clone();
                if let Some((_, rel)) = named.iter_mut().find(|(h, _)| *h == spreading[lead].0) {
                    rel.push(phrase);
                }
                continue;
            }
            let hash = spreading[i].0;
            let members: Vec<(u64, &str)> = (0..spreading.len())
                .filter(|&k| root(&mut group, k) == i)
                .map(|k| (spreading[k].0, spreading[k].1[0].1.phrase.as_str()))
                .collect();
            // A theme already open: any phrase of the group keeps it open.
            if let Some(open) = self
                .open
                .values_mut()
                .find(|o| members.iter().any(|(_, m)| shares_word(&o.phrase, m)))
            {
                open.last_seen_ms = at_ms;
                continue;
            }
            // New: it fires at its second closing in a row (whichever of its phrases leads),
            // not on one minute's coincidence.
            let again = members.iter().any(|(h, _)| self.pending.contains(h));
            seen_now.extend(members.iter().map(|(h, _)| *h));
            if again {
                named.push((hash, Vec::new()));
            }
        }
        self.pending = seen_now;
        for (hash, related) in named {
            let on = &spreading.iter().find(|(h, _)| *h == hash).expect("named").1;
            let details = details(c, on, related, 0);
            let severity = if on.len() >= c.min_topics as usize + 2 {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let open = Open {
                phrase: on[0].1.phrase.clone(),
                lead: details.topics[0].topic.clone(),
                started_ms: at_ms,
                last_seen_ms: at_ms,
                severity,
                last: details,
            };
            out.push(transition(c, &open, at_ms, AlertStatus::Firing));
            self.open.insert(hash, open);
        }
        // Open themes still on enough topics: their numbers, and an escalation if wider.
        for (hash, open) in self.open.iter_mut() {
            if open.last_seen_ms != at_ms {
                continue;
            }
            if let Some((_, on)) = spreading.iter().find(|(h, _)| h == hash) {
                let minutes = ((at_ms - open.started_ms) / 60_000) as u32;
                open.last = details(c, on, open.last.related.clone(), minutes);
                if open.severity == Severity::Warning && on.len() >= c.min_topics as usize + 2 {
                    open.severity = Severity::Critical;
                    out.push(transition(c, open, at_ms, AlertStatus::Firing));
                }
            }
        }
        let resolve_ms = i64::from(c.resolve_minutes) * 60_000;
        let over: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, o)| at_ms - o.last_seen_ms >= resolve_ms)
            .map(|(h, _)| *h)
            .collect();
        for hash in over {
            if let Some(mut open) = self.open.remove(&hash) {
                open.last.duration_minutes =
                    ((open.last_seen_ms - open.started_ms) / 60_000) as u32;
                out.push(transition(c, &open, at_ms, AlertStatus::Resolved));
            }
        }
    }

    /// Whether any theme is open.
    pub fn is_firing(&self) -> bool {
        !self.open.is_empty()
    }
}

fn details(
    c: &ThemeConfig,
    on: &[(&str, &Emerging)],
    related: Vec<String>,
    duration_minutes: u32,
) -> ThemeDetails {
    let mut topics: Vec<ThemeTopic> = on
        .iter()
        .map(|(topic, e)| ThemeTopic {
            topic: topic.to_string(),
            share: round_to(e.share, 3),
            lift: round_to(e.lift, 1),
            comments: e.mentions.round() as u32,
        })
        .collect();
    topics.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.topic.cmp(&b.topic)));
    let mentions: f64 = on.iter().map(|(_, e)| e.mentions).sum();
    let comments: f64 = on.iter().map(|(_, e)| e.comments).sum();
    ThemeDetails {
        phrase: on[0].1.phrase.clone(),
        topics,
        share: round_to(mentions / comments.max(mentions).max(1e-9), 3),
        recent_minutes: c.recent_minutes,
        duration_minutes,
        related,
    }
}

fn transition(c: &ThemeConfig, open: &Open, at_ms: i64, status: AlertStatus) -> TopicTransition {
    let transition = Transition {
        kind: AlertKind::Theme,
        status,
        severity: open.severity,
        started_ms: open.started_ms,
        at_ms,
        evidence: Evidence::Theme(ThemeEvidence {
            details: open.last.clone(),
            min_topics: c.min_topics,
        }),
        samples: Vec::new(),
        themes: Vec::new(),
    };
    TopicTransition {
        topic: open.lead.clone(),
        transition,
    }
}

/// Whether two phrases have a word in common.
fn shares_word(a: &str, b: &str) -> bool {
    a.split(' ').any(|w| b.split(' ').any(|v| v == w))
}
