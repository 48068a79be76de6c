//! The engine: all detection state, driven only by events and event time.
//!
//! `ingest(&event)` and `advance_to(event_time)` return the alerts they cause; `finish()` is
//! the final watermark at end of input. The engine never reads the clock, the network or a
//! global, and iterates its topics in creation order, so the same input gives the same
//! alerts byte for byte, in replay, in live mode and in tests.
//!
//! Time: the watermark trails the newest event time by `allowed_lateness_secs`. Buckets whose
//! end the watermark has passed are closed, in time order across all topics, and fed to the
//! detectors; an event older than the watermark is counted as late and not merged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::alert::{Alert, AlertKind, AlertStatus};
use crate::config::Config;
use crate::config::DetectConfig;
use crate::dedup::IdDedup;
use crate::detect::theme::ThemeTable;
use crate::detect::troll::{self, TrollDetector};
use crate::detect::{Comment, Detectors, NegativitySettings, SurgeSettings, Transition};
use crate::event::Event;
use crate::render::Renderer;
use crate::text::lexicon::Lexicon;
use crate::text::model::Models;
use crate::window::{ClusterId, TopicWindow};

mod analysis;
mod campaigns;
mod clock;
mod incidents;
mod prefetch;
mod state;
mod themes;
mod topics;
mod view;

pub use analysis::{event_id_key, Analysis, Analyzer};
use clock::{Clock, Step};
pub use clock::{Dropped, Origin, MAX_HELD};
pub use state::StateError;

/// What the engine did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Applied,
    /// Its id was seen recently on its channel (and input).
    Duplicate,
    /// Older than the watermark: its minute had closed.
    Late,
    /// Stamped ahead of the stream (or the stream's first event): kept until the stream
    /// reaches it ([`Engine::take_dropped`] gives those that never will be applied).
    Held,
    /// Ahead of the stream with the held events at their limit: see [`Engine::take_dropped`].
    Dropped,
}

use view::negative_shares;
pub use view::{BucketPoint, SeriesPoint, TopicSnapshot};

/// Topic of comments that match no rule and name no topic; also where topics beyond
/// `topics.max_dynamic` fold.
pub const OTHER_TOPIC: &str = "other";

/// Longest topic name taken from an event; longer ones fold into `other`.
const MAX_TOPIC_NAME_BYTES: usize = 100;

/// Counters of what the engine did, for the replay summary and metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineStats {
    pub accepted: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Events stamped too far ahead of the stream that it never reached (`ts_ahead`).
    pub ahead: u64,
    pub negative: u64,
    /// Events whose own topic was folded into `other` (cap reached or name too long).
    pub topics_folded: u64,
    /// Topics from events that gave their slot to a new name after being idle.
    pub topics_evicted: u64,
    /// Bucket closings, all topics together.
    pub buckets_closed: u64,
    pub alerts: BTreeMap<(AlertKind, &'static str), u64>,
}

/// State of one topic.
#[derive(Serialize, Deserialize)]
struct Topic {
    name: String,
    window: TopicWindow,
    detectors: Detectors,
    incident: incidents::TopicIncident,
    themes: ThemeTable,
    events: u64,
    negative: u64,
    /// Event time of its newest event (its creation, before any).
    last_event_ms: i64,
}

pub struct Engine {
    bucket_ms: i64,
    lateness_ms: i64,
    surge: Arc<SurgeSettings>,
    negativity: Arc<NegativitySettings>,
    /// Turns the detectors' transitions into alert records, as alerts leave the engine.
    renderer: Renderer,
    /// Reused for the transitions of each closing.
    transitions: Vec<Transition>,
    analyzer: Analyzer,
    max_dynamic: usize,
    dynamic: usize,
    /// Topics from events idle this long give their slot to a new name (0: never).
    idle_evict_ms: i64,
    /// Before this event time no topic from events can be idle enough to evict.
    next_evictable_ms: i64,
    /// Topics before this index come from rules (and `other`): never evicted.
    first_dynamic: usize,
    topics: Vec<Topic>,
    by_name: FxHashMap<Box<str>, usize>,
    other: usize,
    /// Newest event time seen.
    max_ts: Option<i64>,
    /// Events older than this are late. Starts at the first event.
    watermark: i64,
    /// Start of the next bucket to close, shared by all topics.
    next_close: Option<i64>,
    ring_len: usize,
    /// A gap in event time longer than this resets learned baselines.
    gap_reset_ms: i64,
    /// Buckets closed one by one at the start of a long gap, so open episodes resolve.
    gap_drain_buckets: i64,
    dedup: IdDedup,
    /// Guards the stream's time against events stamped far ahead.
    clock: Clock,
    /// Where the next event comes from (input file and line, in a replay).
    origin: Origin,
    stats: EngineStats,
    scratch_topics: Vec<usize>,
    detect: DetectConfig,
    /// Reused per comment by [`Engine::ingest`].
    analysis: Analysis,
    /// Every topic's closed buckets, while a caller keeps them ([`Engine::keep_series`]).
    series: Option<Vec<BucketPoint>>,
    /// Comments since the indexes' total was last held to its cap.
    since_cap_check: u32,
    /// Each event's own topic is its only one (`engine.routed`).
    routed: bool,
    themes: themes::Themes,
    campaigns: campaigns::CampaignMemory,
}

/// How often (in comments) the clusters of all topics are counted against
/// `detect.troll.max_clusters_total`: it is exceeded by at most this many.
const CAP_CHECK_EVERY: u32 = 1024;

impl Engine {
    /// An engine with the lexicon and models `config.sentiment` names; if they cannot be
    /// loaded (the command line checks them first), the shipped ones, with an error logged.
    pub fn new(config: &Config) -> Self {
        match crate::text::sentiment::resources(&config.sentiment) {
            Ok((lexicon, models)) => Self::with_sentiment(config, lexicon, models),
            Err(e) => {
                tracing::error!("sentiment: {e}; using the shipped lexicon and models");
                Self::with_lexicon(config, Arc::new(Lexicon::bundled()))
            }
        }
    }

    /// Builds an engine sharing an already loaded lexicon (several engines, one lexicon),
    /// with the shipped models if `sentiment.model = "shipped"`.
    pub fn with_lexicon(config: &Config, lexicon: Arc<Lexicon>) -> Self {
        let models = Models::built_in(config.sentiment.model.as_deref());
        Self::with_sentiment(config, lexicon, models)
    }

    pub fn with_sentiment(config: &Config, lexicon: Arc<Lexicon>, models: Models) -> Self {
        let bucket_ms = i64::from(config.engine.bucket_secs) * 1000;
        let surge = Arc::new(SurgeSettings::new(config.detect.surge_params(), bucket_ms));
        let negativity = Arc::new(NegativitySettings::new(
            config.detect.negativity_params(),
            bucket_ms,
        ));
        // The ring covers every detector's longest window, the troll window included.
        let troll_buckets =
            (i64::from(config.detect.troll.window_mins) * 60_000 / bucket_ms).max(1) as usize;
        let ring_len = surge
            .max_window()
            .max(negativity.max_window())
            .max(troll_buckets);
        let resolve_mins = surge
            .params
            .resolve_after_mins
            .max(negativity.params.resolve_after_mins);
        let mut engine = Self {
            bucket_ms,
            lateness_ms: i64::from(config.engine.allowed_lateness_secs) * 1000,
            gap_reset_ms: (i64::from(surge.params.history_days) + 1) * 86_400_000,
            gap_drain_buckets: (i64::from(resolve_mins) * 60_000 / bucket_ms + ring_len as i64 + 1)
                .max(1),
            surge,
            negativity,
            renderer: Renderer::from_config(config),
            transitions: Vec::new(),
            analyzer: Analyzer::new(config, lexicon, models),
            max_dynamic: config.topics.max_dynamic,
            dynamic: 0,
            idle_evict_ms: i64::from(config.topics.idle_evict_hours) * 3_600_000,
            next_evictable_ms: i64::MIN,
            first_dynamic: 0,
            topics: Vec::new(),
            by_name: FxHashMap::default(),
            other: 0,
            max_ts: None,
            watermark: i64::MIN,
            next_close: None,
            ring_len,
            dedup: IdDedup::new(config.input.dedup_ids),
            clock: Clock::new(config.input.max_ahead_secs),
            origin: Origin::default(),
            stats: EngineStats::default(),
            scratch_topics: Vec::new(),
            detect: config.detect.clone(),
            analysis: Analysis::default(),
            series: None,
            since_cap_check: 0,
            routed: config.engine.routed,
            themes: themes::Themes::new(&config.detect.theme, bucket_ms),
            campaigns: Default::default(),
        };
        for name in engine.analyzer.rule_names().to_vec() {
            engine.add_topic(&name, i64::MIN);
        }
        engine.other = engine.add_topic(OTHER_TOPIC, i64::MIN);
        engine.first_dynamic = engine.topics.len();
        engine
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The newest event time taken.
    pub fn newest_event_ms(&self) -> Option<i64> {
        self.max_ts
    }

    pub fn watermark_ms(&self) -> Option<i64> {
        self.max_ts.map(|_| self.watermark)
    }

    /// Takes one event; returns the alerts that closing buckets up to the new watermark caused.
    pub fn ingest(&mut self, event: &Event<'_>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.ingest_into(event, &mut alerts);
        alerts
    }

    /// Like [`Engine::ingest`], appending to `alerts` (no allocation when nothing fires).
    pub fn ingest_into(&mut self, event: &Event<'_>, alerts: &mut Vec<Alert>) -> Admission {
        self.ingest_traced(event, alerts, None)
    }

    /// Like [`Engine::ingest_into`], also recording in `clusters` the (topic index, cluster
    /// id) of every near-duplicate cluster the comment was placed in, for reports and tests.
    pub fn ingest_traced(
        &mut self,
        event: &Event<'_>,
        alerts: &mut Vec<Alert>,
        clusters: Option<&mut Vec<(usize, ClusterId)>>,
    ) -> Admission {
        self.take(event, None, alerts, clusters)
    }

    /// Like [`Engine::ingest_into`], with the comment already analysed by an [`Analyzer`]
    /// built from the same configuration (on another thread, say): the same alerts as
    /// [`Engine::ingest_into`] gives for the same events.
    pub fn ingest_analyzed(
        &mut self,
        event: &Event<'_>,
        analysis: &Analysis,
        alerts: &mut Vec<Alert>,
    ) -> Admission {
        self.take(event, Some(analysis), alerts, None)
    }

    /// Where the next events come from: ids are unique per input, and dropped events name
    /// their input and line.
    pub fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }

    /// Events the engine will never apply (stamped ahead of where the stream ended or beyond
    /// the held limit), for the dead letter; counted in [`EngineStats::ahead`].
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        std::mem::take(&mut self.clock.dropped)
    }

    /// An analyser of this engine's configuration, for another thread.
    pub fn analyzer(&self) -> Analyzer {
        self.analyzer.clone()
    }

    fn take(
        &mut self,
        event: &Event<'_>,
        analysis: Option<&Analysis>,
        alerts: &mut Vec<Alert>,
        clusters: Option<&mut Vec<(usize, ClusterId)>>,
    ) -> Admission {
        let scope = self.origin.input;
        let key = match analysis.and_then(|a| a.id_key) {
            Some((of, key)) if of == scope => Some(key),
            _ => event_id_key(scope, self.routed, event),
        };
        if key.is_some_and(|key| self.dedup.seen_key(key)) {
            self.stats.duplicates += 1;
            return Admission::Duplicate;
        }
        if self.max_ts.is_some() && event.ts_ms < self.watermark {
            self.stats.late += 1;
            return Admission::Late;
        }
        let admission = match self.clock.step(self.max_ts, event, self.origin) {
            Step::Held => Admission::Held,
            Step::Dropped => {
                self.stats.ahead += 1;
                Admission::Dropped
            }
            Step::ApplyFirstThen => {
                self.apply_first(alerts);
                self.apply_with(event, analysis, alerts, clusters);
                Admission::Applied
            }
            Step::Apply => {
                // Held events older than this one come first, in time order.
                self.release_due(event.ts_ms, alerts);
                self.apply_with(event, analysis, alerts, clusters);
                Admission::Applied
            }
        };
        if let Some(max) = self.max_ts {
            self.release_due(max, alerts);
        }
        admission
    }

    /// Applies an event, analysing it here unless `analysis` is given.
    fn apply_with(
        &mut self,
        event: &Event<'_>,
        analysis: Option<&Analysis>,
        alerts: &mut Vec<Alert>,
        clusters: Option<&mut Vec<(usize, ClusterId)>>,
    ) {
        self.clock.applied(self.max_ts, event.ts_ms);
        match analysis {
            Some(a) => self.apply(event, a, alerts, clusters),
            None => {
                let mut a = std::mem::take(&mut self.analysis);
                self.analyzer.analyze(event, &mut a);
                self.apply(event, &a, alerts, clusters);
                self.analysis = a;
            }
        }
    }

    /// The stream's first event, waiting for a second, applied.
    fn apply_first(&mut self, alerts: &mut Vec<Alert>) {
        if let Some((first, _)) = self.clock.first.take() {
            self.apply_with(&first, None, alerts, None);
        }
    }

    /// Applies the held events stamped up to `upto` (or that the stream moved on to), in
    /// time order.
    fn release_due(&mut self, upto: i64, alerts: &mut Vec<Alert>) {
        while self.max_ts.is_some() {
            let Some((event, _)) = self.clock.due(upto) else {
                break;
            };
            if event.ts_ms < self.watermark {
                self.stats.late += 1;
                continue;
            }
            self.apply_with(&event, None, alerts, None);
        }
    }

    fn apply(
        &mut self,
        event: &Event<'_>,
        analysis: &Analysis,
        alerts: &mut Vec<Alert>,
        mut clusters: Option<&mut Vec<(usize, ClusterId)>>,
    ) {
        let ts = event.ts_ms;
        if self.max_ts.is_none() {
            self.start(ts);
        }
        self.stats.accepted += 1;
        let (score, negative) = (analysis.score, analysis.negative);
        if negative {
            self.stats.negative += 1;
        }
        let mut topics = std::mem::take(&mut self.scratch_topics);
        topics.clear();
        if let Some(own) = event.topic.as_deref() {
            if let Some(id) = self.topic_for_name(own.trim(), ts) {
                topics.push(id);
            }
        }
        // Rules are the first topics: a rule's index is its topic's. Routed events name
        // theirs (a rule's name among them).
        for &rule in analysis.rules.iter().filter(|_| !self.routed) {
            if !topics.contains(&rule) {
                topics.push(rule);
            }
        }
        if topics.is_empty() {
            topics.push(self.other);
        }
        let bucket_start = ts.div_euclid(self.bucket_ms) * self.bucket_ms;
        let comment = Comment {
            ts_ms: ts,
            text: &event.text,
            author: &event.author,
            tokens: &analysis.tokens,
            token_count: analysis.token_count,
            negative,
            score,
            signature: analysis.signed.then_some(&analysis.signature),
        };
        for &id in &topics {
            let topic = &mut self.topics[id];
            topic.events += 1;
            topic.last_event_ms = topic.last_event_ms.max(ts);
            topic.negative += u64::from(negative);
            let bucket = topic.window.bucket_mut(bucket_start);
            bucket.add(&event.text, &event.author, ts, score, negative);
            let placed = topic.detectors.on_comment(&comment, bucket);
            // Themes are what people write in their own words: a copy is the troll
            // detector's, counted once, as its cluster's first message.
            if self.themes.enabled() && !placed.is_some_and(|c| topic.detectors.troll.is_copy(c)) {
                let ahead = self.next_close.is_some_and(|n| bucket_start > n);
                topic
                    .themes
                    .on_comment(&analysis.terms, &analysis.tokens, ahead);
            }
            if let (Some(trace), Some(cluster)) = (clusters.as_deref_mut(), placed) {
                trace.push((id, cluster));
            }
        }
        self.scratch_topics = topics;
        self.since_cap_check += 1;
        if self.since_cap_check >= CAP_CHECK_EVERY {
            self.since_cap_check = 0;
            self.cap_clusters();
        }
        self.observe_time(ts, alerts);
    }

    /// Holds the near-duplicate indexes of all topics together to
    /// `detect.troll.max_clusters_total` ([`troll::hold_to_total`]).
    fn cap_clusters(&mut self) {
        let mut trolls: Vec<&mut TrollDetector> = self
            .topics
            .iter_mut()
            .map(|t| &mut t.detectors.troll)
            .collect();
        troll::hold_to_total(&mut trolls, self.detect.troll.max_clusters_total);
    }

    /// Moves event time forward without an event (an idle tick in live mode): as if an event
    /// at `ts_ms` had been seen.
    pub fn advance_to(&mut self, ts_ms: i64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        // Time moving on without a second event: the first is as good as the stream gets.
        self.apply_first(&mut alerts);
        if self.max_ts.is_some() {
            self.release_due(ts_ms, &mut alerts);
            self.observe_time(ts_ms, &mut alerts);
        }
        alerts
    }

    /// End of input: closes every bucket that holds events. Episodes still open stay firing
    /// (the data ended, not the condition).
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.apply_first(&mut alerts);
        let before = self.clock.dropped.len();
        self.clock.finish();
        self.stats.ahead += (self.clock.dropped.len() - before) as u64;
        if let Some(max) = self.max_ts {
            let end = max.div_euclid(self.bucket_ms) * self.bucket_ms + self.bucket_ms;
            self.watermark = self.watermark.max(end);
            self.close_buckets(&mut alerts);
        }
        alerts
    }

    fn start(&mut self, ts: i64) {
        let bucket_start = ts.div_euclid(self.bucket_ms) * self.bucket_ms;
        self.next_close = Some(bucket_start);
        self.watermark = ts - self.lateness_ms;
        for t in &mut self.topics {
            t.detectors.reset(bucket_start);
        }
    }

    fn observe_time(&mut self, ts: i64, alerts: &mut Vec<Alert>) {
        let max = self.max_ts.map_or(ts, |m| m.max(ts));
        self.max_ts = Some(max);
        let wm = max - self.lateness_ms;
        if wm > self.watermark {
            self.watermark = wm;
            self.close_buckets(alerts);
        }
    }

    /// Closes, in time order and topic order within a time, every bucket the watermark passed.
    fn close_buckets(&mut self, alerts: &mut Vec<Alert>) {
        let Some(mut next) = self.next_close else {
            return;
        };
        let mut drained = 0i64;
        while next + self.bucket_ms <= self.watermark {
            // A long silence: drain a few empty buckets so episodes resolve, then jump and
            // forget baselines that no longer describe the stream.
            if self.watermark - next > self.gap_reset_ms {
                if drained >= self.gap_drain_buckets {
                    next = (self.watermark - self.bucket_ms).div_euclid(self.bucket_ms)
                        * self.bucket_ms;
                    for t in &mut self.topics {
                        t.detectors.reset(next);
                        t.incident.clear();
                        t.window.clear_closed();
                    }
                    drained = 0;
                    continue;
                }
                drained += 1;
            }
            self.stats.buckets_closed += self.topics.len() as u64;
            let per_min = 60_000.0 / self.bucket_ms as f64;
            let neg_window = self.negativity.max_window();
            for (index, t) in self.topics.iter_mut().enumerate() {
                t.window.close(next);
                themes::close_topic(&self.themes, t);
                let before = alerts.len();
                let mut transitions = std::mem::take(&mut self.transitions);
                t.detectors
                    .on_bucket_closed(&t.window, next + self.bucket_ms, &mut transitions);
                themes::name_drivers(&self.themes, t, &mut transitions);
                self.campaigns.link(&t.name, &mut transitions);
                for tr in transitions.drain(..) {
                    let mut alert = self.renderer.alert(&t.name, tr);
                    t.incident.assign(&mut alert);
                    alerts.push(alert);
                }
                self.transitions = transitions;
                if let Some(series) = self.series.as_mut().filter(|_| t.events > 0) {
                    let (raw, adjusted) = negative_shares(t, neg_window);
                    let b = t.window.closed.back();
                    series.push(BucketPoint {
                        topic: index as u32,
                        t_ms: next,
                        count: b.map_or(0, |b| b.count),
                        negative: b.map_or(0, |b| b.negative),
                        baseline_per_minute: (t.detectors.surge.baseline_per_bucket() * per_min)
                            as f32,
                        negativity_ratio: raw.map(|r| r as f32),
                        negativity_ratio_adjusted: adjusted.map(|r| r as f32),
                    });
                }
                for a in &alerts[before..] {
                    let status = match a.status {
                        AlertStatus::Firing => "firing",
                        AlertStatus::Resolved => "resolved",
                    };
                    *self.stats.alerts.entry((a.kind, status)).or_default() += 1;
                }
            }
            self.judge_themes(next + self.bucket_ms, alerts);
            next += self.bucket_ms;
        }
        self.next_close = Some(next);
    }
}

#[cfg(test)]
mod tests;
