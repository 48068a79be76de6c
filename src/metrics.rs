//! Prometheus metrics (listed in `docs/operations.md`). The registry is a value owned by whoever runs the engine
//! (not a global), so tests can read what was exported.
//!
//! Engine state is copied in with [`Metrics::observe`]. Counters advance by what the engine
//! counted since the last observation, so observing twice never double-counts; after the
//! live path rebuilds a fresh engine from history, [`Metrics::rebase`] takes its totals as
//! the new starting point (history already counted is not counted again). Topic labels are
//! the engine's topics, which are bounded: configured rules, at most `topics.max_dynamic`
//! names taken from events, and `other` for the rest.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::alert::{Alert, AlertStatus};
use crate::engine::Engine;
use crate::event::RejectReason;

/// The `kind` labels of `ondata_kafka_errors_total`.
pub const KAFKA_ERROR_KINDS: [&str; 4] = ["client", "fetch", "commit", "dead_letter"];

pub struct Metrics {
    pub registry: Registry,
    events: IntCounterVec,
    negative: IntCounterVec,
    rejected: IntCounterVec,
    late: IntCounter,
    duplicates: IntCounter,
    ahead: IntCounter,
    volume: GaugeVec,
    baseline: GaugeVec,
    negativity: GaugeVec,
    negativity_adjusted: GaugeVec,
    troll_active: IntGaugeVec,
    troll_indexed: IntGaugeVec,
    troll_evicted: IntCounterVec,
    alerts: IntCounterVec,
    firing: IntGaugeVec,
    deliveries: IntCounterVec,
    suppressed: IntCounterVec,
    outbox: IntGaugeVec,
    unwritten: IntGaugeVec,
    restore_messages: IntCounter,
    restore_seconds: prometheus::Gauge,
    snapshot_bytes: IntGauge,
    snapshot_seconds: prometheus::Gauge,
    snapshot_failures: IntCounter,
    ingested: IntCounter,
    lag: IntGaugeVec,
    kafka_errors: IntCounterVec,
    event_delay: Histogram,
    processing: Histogram,
    dead_lettered: IntCounter,
    state: Mutex<State>,
}

/// What the counters were last advanced to, per (counter, topic); and what is firing.
#[derive(Default)]
struct State {
    seen: HashMap<(&'static str, String), u64>,
    /// Firing alert id → (kind, topic), for `ondata_alerts_firing`.
    firing: HashMap<String, (String, String)>,
    /// Consumer lag per (topic, partition).
    lags: HashMap<(String, i32), i64>,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Names are fixed and distinct, so registration cannot collide.
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Wall clock minus event time: sub-second for a healthy live stream, up to days for old
/// data pushed through Kafka.
const DELAY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
];
/// Engine time for one comment: a few microseconds.
const PROCESSING_BUCKETS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2,
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let gauge = |name: &str, help: &str| {
            register(
                &registry,
                GaugeVec::new(Opts::new(name, help), &["topic"]).expect("valid metric"),
            )
        };
        let int_gauge = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            register(
                &registry,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
                    .expect("valid metric"),
            )
        };
        let rejected = counter(
            "ondata_events_rejected_total",
            "Input lines rejected, by reason.",
            &["reason"],
        );
        // Every reason visible at zero from the start: a ratio over them has data at once.
        for reason in RejectReason::ALL {
            rejected.with_label_values(&[reason.as_str()]);
        }
        Self {
            rejected,
            events: counter("ondata_events_total", "Comments accepted, by topic.", &["topic"]),
            negative: counter("ondata_negative_events_total", "Negative comments, by topic.", &["topic"]),
            late: register(
                &registry,
                IntCounter::new("ondata_events_late_total", "Comments older than the watermark, not merged.")
                    .expect("valid metric"),
            ),
            duplicates: register(
                &registry,
                IntCounter::new("ondata_events_duplicate_total", "Comments dropped as redeliveries: an id already seen on their channel.")
                    .expect("valid metric"),
            ),
            ahead: register(
                &registry,
                IntCounter::new("ondata_events_ahead_total", "Comments stamped too far ahead of the stream that it never reached (ts_ahead).")
                    .expect("valid metric"),
            ),
            dead_lettered: register(
                &registry,
                IntCounter::new(
                    "ondata_events_dead_lettered_total",
                    "Kafka messages sent to the dead-letter topic.",
                )
                .expect("valid metric"),
            ),
            volume: gauge("ondata_topic_volume_per_minute", "Comments per minute in the last closed bucket."),
            baseline: gauge("ondata_topic_baseline_per_minute", "Expected comments per minute (recent level)."),
            negativity: gauge("ondata_topic_negativity_ratio", "Negative share over the negativity window."),
            negativity_adjusted: gauge(
                "ondata_topic_negativity_ratio_adjusted",
                "Negative share over the negativity window without comments of active troll clusters.",
            ),
            troll_active: int_gauge("ondata_troll_clusters_active", "Troll clusters currently reported.", &["topic"]),
            troll_indexed: int_gauge("ondata_troll_clusters_indexed", "Clusters held in the near-duplicate index.", &["topic"]),
            troll_evicted: counter(
                "ondata_troll_clusters_evicted_total",
                "Clusters evicted early because the index reached detect.troll.max_clusters.",
                &["topic"],
            ),
            alerts: counter("ondata_alerts_total", "Alerts raised (firing transitions, escalations included).", &["kind", "severity"]),
            firing: int_gauge("ondata_alerts_firing", "Alerts currently firing.", &["kind", "topic"]),
            deliveries: counter(
                "ondata_alert_deliveries_total",
                "Alert records handed to each sink, by outcome (ok, error).",
                &["sink", "outcome"],
            ),
            suppressed: counter(
                "ondata_alert_notifications_suppressed_total",
                "Alerts a notifying sink did not send on their own, by reason (silenced, repeat, rate_limited: listed in an overflow summary instead).",
                &["sink", "reason"],
            ),
            outbox: int_gauge(
                "ondata_alert_outbox_pending",
                "Alerts in a sink's on-disk outbox not delivered yet.",
                &["sink"],
            ),
            restore_messages: register(
                &registry,
                IntCounter::new(
                    "ondata_restore_messages_total",
                    "Kafka messages read back to restore the engine's state (rebuilds after each assignment).",
                )
                .expect("valid metric"),
            ),
            restore_seconds: register(
                &registry,
                prometheus::Gauge::new(
                    "ondata_restore_seconds",
                    "Wall time the last restore of the engine's state took.",
                )
                .expect("valid metric"),
            ),
            snapshot_bytes: register(
                &registry,
                IntGauge::new(
                    "ondata_snapshot_bytes",
                    "Size of the engine's state in the last snapshot written.",
                )
                .expect("valid metric"),
            ),
            snapshot_seconds: register(
                &registry,
                prometheus::Gauge::new(
                    "ondata_snapshot_seconds",
                    "Wall time the last state snapshot took to encode and write.",
                )
                .expect("valid metric"),
            ),
            snapshot_failures: register(
                &registry,
                IntCounter::new(
                    "ondata_snapshot_failures_total",
                    "State snapshots that could not be written (a restart then reads more back).",
                )
                .expect("valid metric"),
            ),
            ingested: register(
                &registry,
                IntCounter::new(
                    "ondata_ingest_records_total",
                    "Records the ingesting stage of a repartition wrote to the internal topic (one per topic a comment counts for).",
                )
                .expect("valid metric"),
            ),
            unwritten: int_gauge(
                "ondata_alert_outbox_unwritten",
                "Alerts a sink could not write to its outbox (disk full, no permission): delivered from memory, and no offset is committed until they are written.",
                &["sink"],
            ),
            lag: int_gauge(
                "ondata_kafka_consumer_lag",
                "Messages behind the partition's end, from librdkafka's statistics.",
                &["kafka_topic", "partition"],
            ),
            kafka_errors: {
                let c = counter(
                    "ondata_kafka_errors_total",
                    "Kafka errors, by kind: client (broker connections and requests, retried by librdkafka), fetch, commit.",
                    &["kind"],
                );
                for kind in KAFKA_ERROR_KINDS {
                    c.with_label_values(&[kind]);
                }
                c
            },
            event_delay: histogram(
                "ondata_event_delay_seconds",
                "Wall clock minus event time when the engine takes a comment.",
                DELAY_BUCKETS,
            ),
            processing: histogram(
                "ondata_processing_seconds",
                "Engine time per comment (parse excluded).",
                PROCESSING_BUCKETS,
            ),
            state: Mutex::new(State::default()),
            registry,
        }
    }

    /// Copies the engine's counters and per-topic state into the metrics.
    pub fn observe(&self, engine: &Engine) {
        self.copy(engine, true);
    }

    /// Takes the totals of a freshly rebuilt engine as the starting point of the counters
    /// (its history was counted when it was live), and its state into the gauges.
    pub fn rebase(&self, engine: &Engine) {
        self.copy(engine, false);
    }

    fn copy(&self, engine: &Engine, count: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut advance = |counter: &IntCounter, name: &'static str, key: &str, total: u64| {
            let last = state.seen.insert((name, key.to_string()), total);
            if count {
                // A total below the last seen one means a new engine: all of it is new.
                let delta = match last {
                    Some(l) if total >= l => total - l,
                    _ => total,
                };
                counter.inc_by(delta);
            }
        };
        advance(&self.late, "late", "", engine.stats().late);
        advance(
            &self.duplicates,
            "duplicates",
            "",
            engine.stats().duplicates,
        );
        advance(&self.ahead, "ahead", "", engine.stats().ahead);
        for t in engine.topics() {
            let topic = [t.name.as_str()];
            advance(
                &self.events.with_label_values(&topic),
                "events",
                &t.name,
                t.events,
            );
            advance(
                &self.negative.with_label_values(&topic),
                "negative",
                &t.name,
                t.negative,
            );
            advance(
                &self.troll_evicted.with_label_values(&topic),
                "evicted",
                &t.name,
                t.troll_clusters_evicted,
            );
            self.volume
                .with_label_values(&topic)
                .set(t.volume_per_minute);
            self.baseline
                .with_label_values(&topic)
                .set(t.baseline_per_minute);
            if let Some(r) = t.negativity_ratio {
                self.negativity.with_label_values(&topic).set(r);
            }
            if let Some(r) = t.negativity_ratio_adjusted {
                self.negativity_adjusted.with_label_values(&topic).set(r);
            }
            self.troll_active
                .with_label_values(&topic)
                .set(t.troll_clusters_active as i64);
            self.troll_indexed
                .with_label_values(&topic)
                .set(t.troll_clusters_indexed as i64);
        }
    }

    /// Counts one rejected input line.
    pub fn rejected(&self, reason: RejectReason) {
        self.rejected.with_label_values(&[reason.as_str()]).inc();
    }

    pub fn dead_lettered(&self) {
        self.dead_lettered.inc();
    }

    /// An alert record sent: counts raised alerts and keeps the firing gauge.
    pub fn alert(&self, alert: &Alert) {
        let kind = alert.kind.as_str();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match alert.status {
            AlertStatus::Firing => {
                self.alerts
                    .with_label_values(&[kind, alert.severity.as_str()])
                    .inc();
                let key = (kind.to_string(), alert.topic.clone());
                if state.firing.insert(alert.id.clone(), key).is_none() {
                    self.firing.with_label_values(&[kind, &alert.topic]).inc();
                }
            }
            AlertStatus::Resolved => {
                if let Some((kind, topic)) = state.firing.remove(&alert.id) {
                    self.firing.with_label_values(&[&kind, &topic]).dec();
                }
            }
        }
    }

    /// Makes both outcomes of a sink visible (at zero) before anything is delivered, so
    /// rates and alert rules over them have data from the start.
    pub fn sink(&self, name: &str) {
        for outcome in ["ok", "error"] {
            self.deliveries.with_label_values(&[name, outcome]);
        }
        for reason in ["silenced", "repeat", "rate_limited"] {
            self.suppressed.with_label_values(&[name, reason]);
        }
    }

    /// An alert a notifying sink did not send on its own.
    pub fn suppressed(&self, sink: &str, reason: &str) {
        self.suppressed.with_label_values(&[sink, reason]).inc();
    }

    /// A state snapshot of `bytes` was written in `seconds`.
    pub fn snapshot_written(&self, bytes: usize, seconds: f64) {
        self.snapshot_bytes.set(bytes as i64);
        self.snapshot_seconds.set(seconds);
    }

    /// The ingesting stage wrote `records` records for one comment.
    pub fn ingested(&self, records: u64) {
        self.ingested.inc_by(records);
    }

    pub fn snapshot_failed(&self) {
        self.snapshot_failures.inc();
    }

    /// A restore of the engine's state read `messages` back in `seconds`.
    pub fn restored(&self, messages: u64, seconds: f64) {
        self.restore_messages.inc_by(messages);
        self.restore_seconds.set(seconds);
    }

    /// Alerts a sink could not write to its outbox.
    pub fn outbox_unwritten(&self, sink: &str, n: usize) {
        self.unwritten.with_label_values(&[sink]).set(n as i64);
    }

    /// Alerts waiting in a sink's outbox.
    pub fn outbox(&self, sink: &str, pending: usize) {
        self.outbox.with_label_values(&[sink]).set(pending as i64);
    }

    /// One alert record handed to a sink.
    pub fn delivery(&self, sink: &str, ok: bool) {
        self.deliveries
            .with_label_values(&[sink, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Consumer lag of one partition; `None` forgets the partition (revoked, or unknown).
    pub fn lag(&self, topic: &str, partition: i32, lag: Option<i64>) {
        let p = partition.to_string();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match lag {
            Some(l) => {
                self.lag.with_label_values(&[topic, &p]).set(l);
                state.lags.insert((topic.to_string(), partition), l);
            }
            None => {
                if state.lags.remove(&(topic.to_string(), partition)).is_some() {
                    let _ = self.lag.remove_label_values(&[topic, &p]);
                }
            }
        }
    }

    /// Counts a Kafka error of `kind` (one of [`KAFKA_ERROR_KINDS`]).
    pub fn kafka_error(&self, kind: &str) {
        self.kafka_errors.with_label_values(&[kind]).inc();
    }

    /// Total consumer lag over the partitions librdkafka reported, if any.
    pub fn lag_total(&self) -> Option<i64> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (!state.lags.is_empty()).then(|| state.lags.values().sum())
    }

    pub fn event_delay(&self, seconds: f64) {
        self.event_delay.observe(seconds);
    }

    pub fn processing(&self, seconds: f64) {
        self.processing.observe(seconds);
    }

    /// The text exposition format, as `/metrics` serves it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(e) = encoder.encode_utf8(&self.registry.gather(), &mut out) {
            out = format!("# cannot encode metrics: {e}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests;
