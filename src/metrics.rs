//! Prometheus metrics (DESIGN §7). The registry is a value owned by whoever runs the engine
//! (not a global), so tests can read what was exported. Engine state is copied in with
//! [`Metrics::observe`]; counters that only grow are set from the engine's own totals, so
//! observing twice never double-counts.

use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::engine::Engine;
use crate::event::RejectReason;

pub struct Metrics {
    pub registry: Registry,
    events: IntCounterVec,
    negative: IntCounterVec,
    rejected: IntCounterVec,
    late: IntCounter,
    volume: GaugeVec,
    baseline: GaugeVec,
    negativity: GaugeVec,
    negativity_adjusted: GaugeVec,
    troll_active: IntGaugeVec,
    troll_indexed: IntGaugeVec,
    troll_evicted: IntCounterVec,
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
        let int_gauge = |name: &str, help: &str| {
            register(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), &["topic"]).expect("valid metric"),
            )
        };
        Self {
            events: counter("ondata_events_total", "Comments accepted, by topic.", &["topic"]),
            negative: counter("ondata_negative_events_total", "Negative comments, by topic.", &["topic"]),
            rejected: counter("ondata_events_rejected_total", "Input lines rejected, by reason.", &["reason"]),
            late: register(
                &registry,
                IntCounter::new("ondata_events_late_total", "Comments older than the watermark, not merged.")
                    .expect("valid metric"),
            ),
            volume: gauge("ondata_topic_volume_per_minute", "Comments per minute in the last closed bucket."),
            baseline: gauge("ondata_topic_baseline_per_minute", "Expected comments per minute (recent level)."),
            negativity: gauge("ondata_topic_negativity_ratio", "Negative share over the negativity window."),
            negativity_adjusted: gauge(
                "ondata_topic_negativity_ratio_adjusted",
                "Negative share over the negativity window without comments of active troll clusters.",
            ),
            troll_active: int_gauge("ondata_troll_clusters_active", "Troll clusters currently reported."),
            troll_indexed: int_gauge("ondata_troll_clusters_indexed", "Clusters held in the near-duplicate index."),
            troll_evicted: counter(
                "ondata_troll_clusters_evicted_total",
                "Clusters evicted early because the index reached detect.troll.max_clusters.",
                &["topic"],
            ),
            registry,
        }
    }

    /// Copies the engine's counters and per-topic state into the metrics.
    pub fn observe(&self, engine: &Engine) {
        let stats = engine.stats();
        set_counter(&self.late, stats.late);
        for t in engine.topics() {
            let topic = [t.name.as_str()];
            set_counter(&self.events.with_label_values(&topic), t.events);
            set_counter(&self.negative.with_label_values(&topic), t.negative);
            set_counter(
                &self.troll_evicted.with_label_values(&topic),
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

/// Raises a counter to `total` (counters only go up; the engine's totals never go down).
fn set_counter(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{simulate, Scenario, SimOptions};
    use crate::{parse_event, Config};

    /// The value of `name{topic="…"}` in the exposition.
    fn value(text: &str, name: &str, topic: &str) -> Option<f64> {
        let prefix = format!("{name}{{topic=\"{topic}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn adjusted_negativity_sits_beside_the_raw_ratio_during_a_campaign() {
        let mut stream = Vec::new();
        let opts = SimOptions {
            scenario: Scenario::TrollWave,
            seed: 1,
            days: 0,
            ..SimOptions::default()
        };
        let summary = simulate(&opts, &mut stream).unwrap();
        let campaign = summary
            .incidents
            .iter()
            .find(|i| i.kind == "troll_burst")
            .unwrap();
        let config = Config::default();
        let mut engine = Engine::new(&config);
        let metrics = Metrics::new();
        let mut alerts = Vec::new();
        let mut seen_gap = false;
        for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let e = parse_event(line, &config.input).unwrap();
            let ts = e.ts_ms;
            engine.ingest_into(&e, &mut alerts);
            // Four minutes into the campaign its copies are reported and set aside.
            if !seen_gap && ts >= campaign.start_ms + 4 * 60_000 {
                metrics.observe(&engine);
                let text = metrics.render();
                let raw = value(&text, "ondata_topic_negativity_ratio", campaign.topic).unwrap();
                let adjusted = value(
                    &text,
                    "ondata_topic_negativity_ratio_adjusted",
                    campaign.topic,
                )
                .unwrap();
                assert!(adjusted < raw - 0.05, "raw {raw}, adjusted {adjusted}");
                assert_eq!(
                    value(&text, "ondata_troll_clusters_active", campaign.topic),
                    Some(1.0)
                );
                assert!(value(&text, "ondata_events_total", campaign.topic).unwrap() > 100.0);
                seen_gap = true;
            }
        }
        assert!(seen_gap);
        // Observing again does not double-count.
        metrics.observe(&engine);
        let once = value(&metrics.render(), "ondata_events_total", campaign.topic);
        metrics.observe(&engine);
        assert_eq!(
            once,
            value(&metrics.render(), "ondata_events_total", campaign.topic)
        );
    }

    #[test]
    fn evictions_are_counted() {
        let mut config = Config::default();
        config.detect.troll.max_clusters = 100;
        let mut engine = Engine::new(&config);
        let metrics = Metrics::new();
        for i in 0..3000i64 {
            let line = format!(
                r#"{{"ts":{},"text":"messaggio numero {i} parola{i} diversa{i} ancora{i} altro{i} testo{i} unico{i} fine{i}","author":"a{i}","topic":"t"}}"#,
                1_585_720_800_000 + i * 1000
            );
            engine.ingest(&parse_event(line.as_bytes(), &config.input).unwrap());
        }
        metrics.observe(&engine);
        assert!(
            value(
                &metrics.render(),
                "ondata_troll_clusters_evicted_total",
                "t"
            )
            .unwrap()
                > 0.0
        );
        assert!(value(&metrics.render(), "ondata_troll_clusters_indexed", "t").unwrap() <= 101.0);
    }
}
