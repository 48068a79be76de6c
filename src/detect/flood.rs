//! Coordination without copied text: many accounts flooding one hashtag or mention within
//! minutes, each in their own words. The troll detector finds copies; this one finds the
//! tag a group was told to push ("everyone write to @INPS_it with #dimissioni").
//!
//! For each hashtag and mention of a topic it keeps the recent uses (time and account, not
//! the text) and its usual share of the topic's comments (exponentially weighted, half-life
//! `baseline_hours`). When a bucket closes it judges the tags used in the last
//! `window_minutes`: a flood is at least `min_accounts` distinct accounts, a share of the
//! topic's comments of at least `min_share`, and `min_lift` times the tag's usual share. A
//! tag that grows with its topic (the hashtag of a click day, used by the same share of
//! people as always) keeps its share and is no flood. Copies of a near-duplicate cluster are
//! not counted (they are the troll detector's).

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::episode::Episode;
use super::{Closed, Comment, Detector, Evidence, Transition};
use crate::alert::model::CoordinationDetails;
use crate::alert::{AlertKind, AlertStatus, Details, Sample, Severity};
use crate::config::CoordinationConfig;
use crate::detect::stats::round_to;
use crate::detect::Measured;
use crate::text::tokenize::TokenKind;

/// Tags a topic follows at most; past it, the least used without recent uses are dropped
/// ([`FloodDetector::make_room`]).
const MAX_TAGS: usize = 1024;
/// Recent uses kept per tag (beyond, the oldest go: a flood is found long before).
const MAX_USES: usize = 128;
/// Comments quoted per tag.
const SAMPLES: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloodSettings {
    pub enabled: bool,
    window_ms: i64,
    min_accounts: u32,
    min_share: f64,
    min_lift: f64,
    floor_share: f64,
    min_history: u64,
    resolve_buckets: u32,
    /// Decay of the usual counts per bucket.
    decay: f64,
    bucket_ms: i64,
}

impl FloodSettings {
    pub fn new(c: &CoordinationConfig, bucket_ms: i64) -> Self {
        let per_hour = 3_600_000.0 / bucket_ms as f64;
        Self {
            enabled: c.enabled,
            window_ms: i64::from(c.window_minutes) * 60_000,
            min_accounts: c.min_accounts,
            min_share: c.min_share,
            min_lift: c.min_lift,
            floor_share: c.floor_share,
            min_history: u64::from(c.min_history),
            resolve_buckets: super::episode::buckets_for(c.resolve_minutes, bucket_ms),
            decay: 0.5f64.powf(1.0 / (f64::from(c.baseline_hours) * per_hour)),
            bucket_ms,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tag {
    /// As written, `#` or `@` first.
    name: Box<str>,
    /// Recent uses, oldest first: event time and account hash.
    uses: VecDeque<(i64, u32)>,
    /// Uses in the bucket being filled, for the usual count.
    open: u32,
    /// Weighted uses per bucket before, as of closing `last`.
    usual: f64,
    last: u32,
    /// Comments quoted, with their event times: three from the window, renewed at most once
    /// a window each (not an allocation per use).
    samples: VecDeque<(i64, Sample)>,
    episode: Option<Episode>,
    quiet: u32,
    /// Peak accounts of the open episode.
    peak_accounts: u32,
}

/// One topic's tags.
#[derive(Debug, Serialize, Deserialize)]
pub struct FloodDetector {
    settings: Arc<FloodSettings>,
    tags: FxHashMap<u64, Tag>,
    /// Comments of the topic per bucket start, for the window's share.
    comments: VecDeque<(i64, u32)>,
    usual_comments: f64,
    closings: u32,
    history: u64,
    open_comments: u32,
}

fn hash_of(kind: TokenKind, text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write_u8(kind as u8);
    h.write(text.as_bytes());
    h.finish()
}

fn account(author: &str) -> u32 {
    hash_of(TokenKind::Word, author) as u32
}

impl FloodDetector {
    pub fn new(settings: Arc<FloodSettings>) -> Self {
        Self {
            settings,
            tags: FxHashMap::default(),
            comments: VecDeque::new(),
            usual_comments: 0.0,
            closings: 0,
            history: 0,
            open_comments: 0,
        }
    }

    fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// The topic follows `MAX_TAGS` tags: of those not flooding, the eighth least used in
    /// the window, and among equals the longest unused, give their places. A new tag is
    /// always followed, and one used again within seconds outlives the one-off tags around
    /// it. An eighth at a time, so a stream of one-off tags pays one pass over the tags per
    /// 128 new ones, not one per new tag. Says whether any place was made.
    fn make_room(&mut self) -> bool {
        let mut ranked: Vec<(usize, i64, u64)> = self
            .tags
            .iter()
            .filter(|(_, t)| t.episode.is_none())
            .map(|(k, t)| {
                let last = t.uses.back().map_or(i64::MIN, |(ts, _)| *ts);
                (t.uses.len(), last, *k)
            })
            .collect();
        let n = (MAX_TAGS / 8).min(ranked.len());
        if n == 0 {
            return false;
        }
        ranked.select_nth_unstable(n - 1);
        for (_, _, k) in &ranked[..n] {
            self.tags.remove(k);
        }
        true
    }

    /// One comment of the topic; `copy` if it joined a near-duplicate cluster as a copy.
    pub fn on_comment(&mut self, c: &Comment<'_>, copy: bool) {
        if !self.enabled() {
            return;
        }
        let (bucket_ms, window_ms) = (self.settings.bucket_ms, self.settings.window_ms);
        let start = c.ts_ms.div_euclid(bucket_ms) * bucket_ms;
        match self.comments.iter_mut().rev().find(|(b, _)| *b == start) {
            Some((_, n)) => *n += 1,
            None => {
                let at = self.comments.partition_point(|(b, _)| *b < start);
                self.comments.insert(at, (start, 1));
            }
        }
        self.open_comments += 1;
        if copy {
            return;
        }
        let who = account(c.author);
        let slice = c.tokens.as_slice();
        for (i, t) in slice.iter().enumerate() {
            if !matches!(t.kind, TokenKind::Hashtag | TokenKind::Mention) {
                continue;
            }
            let text = c.tokens.text(t);
            let key = hash_of(t.kind, text);
            // A tag written twice in one comment counts once.
            if slice[..i]
                .iter()
                .any(|u| u.kind == t.kind && c.tokens.text(u) == text)
            {
                continue;
            }
            if self.tags.len() >= MAX_TAGS && !self.tags.contains_key(&key) && !self.make_room() {
                continue;
            }
            let tag = self.tags.entry(key).or_insert_with(|| Tag {
                name: format!(
                    "{}{text}",
                    if t.kind == TokenKind::Hashtag {
                        '#'
                    } else {
                        '@'
                    }
                )
                .into_boxed_str(),
                last: self.closings,
                ..Tag::default()
            });
            let at = tag.uses.partition_point(|(ts, _)| *ts <= c.ts_ms);
            tag.uses.insert(at, (c.ts_ms, who));
            if tag.uses.len() > MAX_USES {
                tag.uses.pop_front();
            }
            tag.open += 1;
            let stale = c.ts_ms - window_ms;
            if tag.samples.len() < SAMPLES || tag.samples.front().is_some_and(|(t, _)| *t < stale) {
                if tag.samples.len() >= SAMPLES {
                    tag.samples.pop_front();
                }
                tag.samples
                    .push_back((c.ts_ms, Sample::new(c.text, c.author, c.ts_ms)));
            }
        }
    }

    fn judge(&mut self, end_ms: i64, out: &mut Vec<Transition>) {
        let s = self.settings.clone();
        let from = end_ms - s.window_ms;
        while self.comments.front().is_some_and(|(b, _)| *b < from) {
            self.comments.pop_front();
        }
        let window_comments: u32 = self
            .comments
            .iter()
            .filter(|(b, _)| *b < end_ms)
            .map(|(_, n)| n)
            .sum();
        let now = std::mem::take(&mut self.open_comments);
        let usual_comments = self.usual_comments;
        self.closings = self.closings.wrapping_add(1);
        let ready = self.history >= s.min_history && usual_comments > 0.0;
        let mut accounts: Vec<u32> = Vec::new();
        for tag in self.tags.values_mut() {
            while tag.uses.front().is_some_and(|(ts, _)| *ts < from) {
                tag.uses.pop_front();
            }
            let gap = self.closings.wrapping_sub(tag.last).saturating_sub(1);
            let usual = tag.usual * s.decay.powi(gap.min(100_000) as i32);
            let usual_share = if usual_comments > 0.0 {
                usual / usual_comments
            } else {
                0.0
            };
            tag.usual = usual * s.decay + f64::from(std::mem::take(&mut tag.open));
            tag.last = self.closings;
            accounts.clear();
            accounts.extend(
                tag.uses
                    .iter()
                    .filter(|(ts, _)| *ts < end_ms)
                    .map(|(_, who)| *who),
            );
            let uses = accounts.len() as u32;
            accounts.sort_unstable();
            accounts.dedup();
            let distinct = accounts.len() as u32;
            let share = f64::from(uses) / f64::from(window_comments.max(uses).max(1));
            let baseline = usual_share.max(s.floor_share);
            let lift = share / baseline;
            let flooding =
                ready && distinct >= s.min_accounts && share >= s.min_share && lift >= s.min_lift;
            let evidence = |tag: &Tag, started_ms: i64, duration: i64| FloodEvidence {
                details: CoordinationDetails {
                    tag: tag.name.to_string(),
                    accounts: distinct,
                    comments: uses,
                    window_minutes: (s.window_ms / 60_000) as u32,
                    share: round_to(share, 3),
                    usual_share: round_to(usual_share, 4),
                    lift: round_to(lift, 1),
                    expected: round_to(baseline * window_comments as f64, 1),
                    duration_minutes: (duration / 60_000).max(0) as u32,
                    peak_accounts: tag.peak_accounts.max(distinct),
                },
                min_accounts: s.min_accounts,
                started_ms,
            };
            let record =
                |tag: &Tag, status: AlertStatus, severity: Severity, started: i64| Transition {
                    kind: AlertKind::Coordination,
                    status,
                    severity,
                    started_ms: started,
                    at_ms: end_ms,
                    evidence: Evidence::Coordination(evidence(tag, started, end_ms - started)),
                    samples: match status {
                        AlertStatus::Firing => tag.samples.iter().map(|(_, s)| s.clone()).collect(),
                        AlertStatus::Resolved => Vec::new(),
                    },
                    themes: Vec::new(),
                };
            match &mut tag.episode {
                None if flooding => {
                    let started = tag.uses.front().map_or(from, |(ts, _)| *ts);
                    let started = started.div_euclid(s.bucket_ms) * s.bucket_ms;
                    let mut ep = Episode::new(started, f64::from(distinct));
                    let severity = severity(distinct, s.min_accounts);
                    ep.announce(severity);
                    out.push(record(tag, AlertStatus::Firing, severity, started));
                    tag.episode = Some(ep);
                    tag.quiet = 0;
                    tag.peak_accounts = distinct;
                }
                None => {}
                Some(ep) => {
                    let started = ep.started_ms;
                    let severity = severity(distinct, s.min_accounts);
                    if flooding && ep.announce(severity) {
                        out.push(record(tag, AlertStatus::Firing, severity, started));
                    }
                    tag.peak_accounts = tag.peak_accounts.max(distinct);
                    tag.quiet = if distinct >= s.min_accounts / 2 {
                        0
                    } else {
                        tag.quiet + 1
                    };
                    if tag.quiet >= s.resolve_buckets {
                        let peak = self::severity(tag.peak_accounts, s.min_accounts);
                        out.push(record(tag, AlertStatus::Resolved, peak, started));
                        tag.episode = None;
                        tag.samples.clear();
                    }
                }
            }
            if tag.episode.is_none() && tag.uses.is_empty() {
                tag.samples.clear();
            }
        }
        self.usual_comments = usual_comments * s.decay + f64::from(now);
        self.history += u64::from(now);
        if self.tags.len() > MAX_TAGS / 2 {
            // Quiet tags with little history go first.
            let floor = 0.01;
            self.tags
                .retain(|_, t| !t.uses.is_empty() || t.episode.is_some() || t.usual >= floor);
        }
    }
}

fn severity(accounts: u32, min_accounts: u32) -> Severity {
    if accounts >= min_accounts.saturating_mul(3) {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// What a flood alert says, unrounded where it matters.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodEvidence {
    pub details: CoordinationDetails,
    pub min_accounts: u32,
    pub started_ms: i64,
}

impl FloodEvidence {
    pub fn measured(&self) -> Measured {
        Measured {
            value: f64::from(self.details.accounts),
            baseline: self.details.expected,
            threshold: f64::from(self.min_accounts),
            details: Details::Coordination(self.details.clone()),
        }
    }
}

impl Detector for FloodDetector {
    fn on_bucket_closed(&mut self, closed: &Closed<'_>, out: &mut Vec<Transition>) {
        if self.enabled() {
            self.judge(closed.end_ms, out);
        }
    }

    fn reset(&mut self, _bucket_start_ms: i64) {
        *self = Self::new(self.settings.clone());
    }

    fn is_firing(&self) -> bool {
        self.tags.values().any(|t| t.episode.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize::Tokens;

    const MIN: i64 = 60_000;

    fn detector() -> FloodDetector {
        let s = FloodSettings::new(&CoordinationConfig::default(), MIN);
        FloodDetector::new(Arc::new(s))
    }

    /// Feeds `n` comments in minute `m` (ts spread over it) by accounts `who(i)`.
    fn feed(
        d: &mut FloodDetector,
        m: i64,
        n: usize,
        text: &str,
        who: impl Fn(usize) -> String,
        copy: bool,
    ) {
        let mut tokens = Tokens::new();
        tokens.tokenize(text);
        for i in 0..n {
            let author = who(i);
            let c = Comment {
                ts_ms: m * MIN + (i as i64 * MIN) / n as i64,
                text,
                author: &author,
                tokens: &tokens,
                token_count: tokens.as_slice().len(),
                negative: false,
                score: 0.0,
                signature: None,
            };
            d.on_comment(&c, copy);
        }
    }

    /// One minute of `feeds` (account prefix, comments, text, copies?), then its closing.
    fn minute(
        d: &mut FloodDetector,
        m: &mut i64,
        feeds: &[(&str, usize, &str, bool)],
        out: &mut Vec<Transition>,
    ) {
        let now = *m;
        for (who, n, text, copy) in feeds {
            feed(d, now, *n, text, |i| format!("{who}{now}_{i}"), *copy);
        }
        *m += 1;
        d.judge(*m * MIN, out);
    }

    /// Ten hours of a topic: 10 comments a minute, 3 of them with #bonus600.
    fn history(d: &mut FloodDetector, out: &mut Vec<Transition>) -> i64 {
        for m in 0..600 {
            feed(d, m, 7, "il sito non va", |i| format!("u{m}_{i}"), false);
            feed(
                d,
                m,
                3,
                "domanda fatta #bonus600",
                |i| format!("b{m}_{i}"),
                false,
            );
            d.judge((m + 1) * MIN, out);
        }
        600
    }

    #[test]
    fn a_tag_growing_with_its_topic_is_no_flood_and_a_new_one_is() {
        let mut d = detector();
        let mut out = Vec::new();
        let mut m = history(&mut d, &mut out);
        assert!(out.is_empty());
        // A surge: six times the comments, the tag at its usual share.
        for _ in 0..10 {
            minute(
                &mut d,
                &mut m,
                &[
                    ("s", 42, "il sito non va", false),
                    ("t", 18, "ci provo #bonus600", false),
                ],
                &mut out,
            );
        }
        assert!(out.is_empty(), "{out:?}");
        // Copies of one message with a new tag: the troll detector's.
        for _ in 0..5 {
            minute(
                &mut d,
                &mut m,
                &[("c", 8, "vergogna #dimissioni", true)],
                &mut out,
            );
        }
        assert!(out.is_empty(), "{out:?}");
        // Eight accounts a minute writing a new tag in their own words.
        for _ in 0..5 {
            minute(
                &mut d,
                &mut m,
                &[("f", 8, "basta così #dimissioni", false)],
                &mut out,
            );
        }
        let fired = out.first().expect("a flood");
        assert_eq!(
            (fired.kind, fired.status),
            (AlertKind::Coordination, AlertStatus::Firing)
        );
        let Evidence::Coordination(e) = &fired.evidence else {
            panic!("{fired:?}");
        };
        assert_eq!(e.details.tag, "#dimissioni");
        assert!(e.details.accounts >= 15);
        // Quiet again: resolved.
        for _ in 0..15 {
            minute(
                &mut d,
                &mut m,
                &[("q", 10, "il sito non va", false)],
                &mut out,
            );
        }
        assert_eq!(out.last().map(|t| t.status), Some(AlertStatus::Resolved));
        assert!(!d.is_firing());
    }

    #[test]
    fn the_tags_followed_are_bounded_and_a_new_one_still_gets_in() {
        let mut d = detector();
        let mut out = Vec::new();
        let mut m = history(&mut d, &mut out);
        // 2,000 one-off tags a minute, twice what a topic follows; from the second minute,
        // among them, 20 accounts a minute writing one new tag.
        for round in 0..5 {
            for i in 0..2000 {
                let noise = format!("#tag{m}x{i}");
                feed(&mut d, m, 1, &noise, |_| format!("a{m}_{i}"), false);
                if round > 0 && i % 100 == 50 {
                    feed(
                        &mut d,
                        m,
                        1,
                        "basta #dimissioni",
                        |_| format!("f{m}_{i}"),
                        false,
                    );
                }
            }
            m += 1;
            d.judge(m * MIN, &mut out);
            assert!(d.tags.len() <= MAX_TAGS, "{}", d.tags.len());
        }
        let key = hash_of(TokenKind::Hashtag, "dimissioni");
        let tag = d.tags.get(&key).expect("the tag used again is followed");
        assert!(
            tag.uses.len() >= 60,
            "{} of its 80 uses kept",
            tag.uses.len()
        );
    }
}
