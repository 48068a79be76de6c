//! The replayed series as OpenMetrics text with event-time timestamps, for
//! `promtool tsdb create-blocks-from openmetrics`: the backfilled blocks carry the live
//! metric names, so the Grafana dashboard shows a replayed incident as it shows live data.
//!
//! Each sample is stamped with the end of its bucket (when live ondata would have shown it).
//! Families are written one after another, each series whole and in time order, as the
//! format and the importer require.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::timeline::{Point, Timeline, TopicSeries};
use crate::alert::AlertStatus;

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds with milliseconds, as OpenMetrics timestamps are written.
fn seconds(ms: i64) -> String {
    // Exact: event times in ms are far below 2^53.
    format!("{:.3}", ms as f64 / 1000.0)
}

struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
}

fn header(out: &mut impl Write, f: &Family<'_>) -> io::Result<()> {
    writeln!(out, "# TYPE {} {}", f.name, f.kind)?;
    writeln!(out, "# HELP {} {}", f.name, f.help)
}

/// A per-topic family: a sample per bucket that has a value; a counter's samples are the
/// running total of its values (named `<family>_total`).
struct TopicFamily {
    family: Family<'static>,
    /// The bucket's value, given the buckets per minute.
    value: fn(&Point, f64) -> Option<f64>,
}

const TOPIC_FAMILIES: &[TopicFamily] = &[
    TopicFamily {
        family: Family {
            name: "ondata_events",
            kind: "counter",
            help: "Comments accepted, by topic.",
        },
        value: |p, _| Some(f64::from(p.count)),
    },
    TopicFamily {
        family: Family {
            name: "ondata_negative_events",
            kind: "counter",
            help: "Negative comments, by topic.",
        },
        value: |p, _| Some(f64::from(p.negative)),
    },
    TopicFamily {
        family: Family {
            name: "ondata_topic_volume_per_minute",
            kind: "gauge",
            help: "Comments per minute in the last closed bucket.",
        },
        value: |p, per_min| Some(f64::from(p.count) * per_min),
    },
    TopicFamily {
        family: Family {
            name: "ondata_topic_baseline_per_minute",
            kind: "gauge",
            help: "Expected comments per minute (recent level).",
        },
        value: |p, _| Some(f64::from(p.baseline_per_minute)),
    },
    TopicFamily {
        family: Family {
            name: "ondata_topic_negativity_ratio",
            kind: "gauge",
            help: "Negative share over the negativity window.",
        },
        value: |p, _| p.negativity_ratio.map(f64::from),
    },
    TopicFamily {
        family: Family {
            name: "ondata_topic_negativity_ratio_adjusted",
            kind: "gauge",
            help: "Negative share over the negativity window without active troll clusters.",
        },
        value: |p, _| p.negativity_ratio_adjusted.map(f64::from),
    },
];

fn topic_family(
    out: &mut impl Write,
    timeline: &Timeline,
    topics: &[&TopicSeries],
    f: &TopicFamily,
) -> io::Result<()> {
    header(out, &f.family)?;
    let per_min = 60_000.0 / timeline.bucket_ms.max(1) as f64;
    let counter = f.family.kind == "counter";
    let name = if counter {
        format!("{}_total", f.family.name)
    } else {
        f.family.name.to_string()
    };
    for t in topics {
        let labels = format!("{{topic=\"{}\"}}", escape(&t.name));
        let mut total = 0.0;
        for p in &t.points {
            let Some(v) = (f.value)(p, per_min) else {
                continue;
            };
            let at = seconds(p.t_ms + timeline.bucket_ms);
            if counter {
                total += v;
                writeln!(out, "{name}{labels} {total} {at}")?;
            } else {
                writeln!(out, "{name}{labels} {v} {at}")?;
            }
        }
    }
    Ok(())
}

/// Writes the timeline's series, ending with `# EOF`.
pub fn write_openmetrics(timeline: &Timeline, mut out: impl Write) -> io::Result<()> {
    let out = &mut out;
    let topics: Vec<&TopicSeries> = timeline.active_topics().collect();
    for f in TOPIC_FAMILIES {
        topic_family(out, timeline, &topics, f)?;
    }
    alerts_firing(out, timeline, &topics)?;
    alerts_total(out, timeline)?;
    writeln!(out, "# EOF")?;
    out.flush()
}

/// `ondata_alerts_firing{kind,topic}`: 1 from an episode's firing record to its resolved
/// one, sampled at every bucket of the topic.
fn alerts_firing(
    out: &mut impl Write,
    timeline: &Timeline,
    topics: &[&TopicSeries],
) -> io::Result<()> {
    header(
        out,
        &Family {
            name: "ondata_alerts_firing",
            kind: "gauge",
            help: "Alerts currently firing.",
        },
    )?;
    // (kind, topic) → intervals [firing, resolved).
    let mut spans: BTreeMap<(&str, String), Vec<(i64, i64)>> = BTreeMap::new();
    for e in timeline.episodes() {
        spans
            .entry((e.first.kind.as_str(), e.first.topic.clone()))
            .or_default()
            .push((e.first.at_ms, e.end_ms().unwrap_or(i64::MAX)));
    }
    for ((kind, topic), intervals) in &spans {
        let Some(series) = topics.iter().find(|t| &t.name == topic) else {
            continue;
        };
        let labels = format!("{{kind=\"{kind}\",topic=\"{}\"}}", escape(topic));
        for p in &series.points {
            let at = p.t_ms + timeline.bucket_ms;
            let firing = intervals.iter().any(|(a, b)| *a <= at && at < *b);
            writeln!(
                out,
                "ondata_alerts_firing{labels} {} {}",
                u8::from(firing),
                seconds(at)
            )?;
        }
    }
    Ok(())
}

/// `ondata_alerts_total{kind,severity}`: firing records raised (an episode's start and each
/// escalation), counted at their event time, as the live counter counts them.
fn alerts_total(out: &mut impl Write, timeline: &Timeline) -> io::Result<()> {
    header(
        out,
        &Family {
            name: "ondata_alerts",
            kind: "counter",
            help: "Firing alert records raised, by kind and severity.",
        },
    )?;
    let mut series: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for a in &timeline.alerts {
        if a.status == AlertStatus::Firing {
            series
                .entry((a.kind.as_str(), a.severity.as_str()))
                .or_default()
                .push(a.at_ms);
        }
    }
    for ((kind, severity), times) in &mut series {
        times.sort_unstable();
        let labels = format!("{{kind=\"{kind}\",severity=\"{severity}\"}}");
        let mut n = 0u64;
        let mut i = 0;
        while i < times.len() {
            // Records at the same instant make one sample.
            let at = times[i];
            while i < times.len() && times[i] == at {
                n += 1;
                i += 1;
            }
            writeln!(out, "ondata_alerts_total{labels} {n} {}", seconds(at))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_ms: i64, count: u32) -> Point {
        Point {
            topic: 0,
            t_ms,
            count,
            negative: count / 2,
            baseline_per_minute: 2.5,
            negativity_ratio: (count > 0).then_some(0.5),
            negativity_ratio_adjusted: None,
        }
    }

    #[test]
    fn families_are_whole_series_in_time_order_ending_with_eof() {
        let timeline = Timeline {
            bucket_ms: 60_000,
            topics: vec![
                TopicSeries {
                    name: "a\"b".into(),
                    points: vec![point(0, 3), point(60_000, 0), point(120_000, 4)],
                },
                TopicSeries::default(),
            ],
            ..Timeline::default()
        };
        let mut out = Vec::new();
        write_openmetrics(&timeline, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("ondata_events_total{topic=\"a\\\"b\"} 3 60.000\n"));
        assert!(text.contains("ondata_events_total{topic=\"a\\\"b\"} 7 180.000\n"));
        assert!(text.contains("ondata_topic_volume_per_minute{topic=\"a\\\"b\"} 4 180.000\n"));
        // No value without comments in the window: no sample.
        assert_eq!(text.matches("ondata_topic_negativity_ratio{").count(), 2);
        assert!(!text.contains("ondata_topic_negativity_ratio_adjusted{"));
        // Each family's TYPE line comes once, before its samples.
        assert_eq!(text.matches("# TYPE ondata_events counter").count(), 1);
    }

    #[test]
    fn timestamps_keep_milliseconds_before_the_epoch_too() {
        assert_eq!(seconds(1_600_000_000_123), "1600000000.123");
        assert_eq!(seconds(-1), "-0.001");
    }
}
