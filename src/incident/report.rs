//! The incident report (`ondata replay --report FILE.html`): one self-contained HTML page
//! (inline CSS and SVG, no script, no external asset) a comms office can read and print.
//!
//! It shows what fired and when (a table with the time from each episode's start to its first
//! alert and to the first message people would have received), each topic's timeline
//! (volume against its baseline, negative share raw and without troll clusters) with the
//! episodes marked, each alert's explanation and samples, and the troll clusters' evidence.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::chart::{esc, negativity_chart, nice, steps, volume_chart, Frame, HOUR};
use super::notifications::Notifications;
use super::timeline::{Episode, Timeline, TopicSeries};
use super::words::{fill, words, Words};
use crate::alert::{AlertKind, Details};
use crate::config::Zone;
use crate::render::Locale;

/// What the report is about, besides the timeline.
#[derive(Debug, Clone, Default)]
pub struct ReportInfo {
    /// Files or Kafka range replayed.
    pub sources: Vec<String>,
    pub events: u64,
    pub rejected: u64,
    /// Events older than the stream's watermark when they came, not counted.
    pub late: u64,
    /// Events stamped too far ahead of the stream, not counted.
    pub ahead: u64,
    /// The input broke here: the report covers what was read before.
    pub input_error: Option<String>,
    /// `detect.sensitivity` of the configuration used.
    pub sensitivity: String,
    /// The report's language and the zone its times are written in.
    pub locale: Locale,
}

/// How the report writes: its words and its zone.
#[derive(Clone, Copy)]
struct Pen {
    w: &'static Words,
    zone: Zone,
}

impl Pen {
    fn when(&self, ms: i64) -> String {
        self.zone.date_time(ms)
    }
}

/// Charts drawn at most (topics with alerts first, then the busiest).
const MAX_CHARTS: usize = 12;

/// The event-time window the charts show: around the episodes, or the last day.
fn chart_window(timeline: &Timeline, episodes: &[Episode]) -> Option<(i64, i64)> {
    let (first, last) = timeline.span_ms()?;
    let (from, to) = if episodes.is_empty() {
        (last - 24 * HOUR, last)
    } else {
        let start = episodes.iter().map(|e| e.start_ms).min().unwrap_or(first);
        let end = episodes
            .iter()
            .map(|e| e.end_ms().unwrap_or(last).max(e.first.at_ms))
            .max()
            .unwrap_or(last);
        (start - 6 * HOUR, end + 2 * HOUR)
    };
    Some((from.max(first), to.min(last)))
}

/// Topics to chart: those with episodes in order of their first, then the busiest.
fn chart_topics<'a>(timeline: &'a Timeline, episodes: &[Episode]) -> Vec<&'a TopicSeries> {
    let mut out: Vec<&TopicSeries> = Vec::new();
    for e in episodes {
        if let Some(t) = timeline.active_topics().find(|t| t.name == e.first.topic) {
            if !out.iter().any(|o| o.name == t.name) {
                out.push(t);
            }
        }
    }
    let mut rest: Vec<&TopicSeries> = timeline
        .active_topics()
        .filter(|t| !out.iter().any(|o| o.name == t.name))
        .collect();
    rest.sort_by_key(|t| std::cmp::Reverse(t.events()));
    out.extend(rest);
    out.truncate(MAX_CHARTS);
    out
}

fn alert_table(episodes: &[Episode], notified: &Notifications, pen: Pen, html: &mut String) {
    html.push_str(r#"<table class="alerts"><thead><tr>"#);
    for h in pen.w.table {
        let _ = write!(html, "<th>{h}</th>");
    }
    html.push_str("</tr></thead><tbody>");
    // Episodes of one incident (one topic, overlapping in time: a campaign and the surge and
    // negativity it brings) side by side, incidents numbered in the order they began.
    let mut order: Vec<&str> = Vec::new();
    for e in episodes {
        let key = e.first.incident_id();
        if !order.contains(&key) {
            order.push(key);
        }
    }
    let mut rows: Vec<(usize, &Episode)> = episodes
        .iter()
        .map(|e| {
            (
                order
                    .iter()
                    .position(|k| *k == e.first.incident_id())
                    .unwrap_or(0),
                e,
            )
        })
        .collect();
    rows.sort_by_key(|(n, _)| *n);
    for (n, e) in rows {
        let notified_after = notified
            .first_ms
            .get(&e.first.id)
            .map_or(pen.w.not_sent.to_string(), |t| {
                pen.w.minutes(t - e.start_ms)
            });
        let ended = match e.end_ms() {
            Some(t) => fill(
                pen.w.ended_after,
                &[&esc(&pen.when(t)), &pen.w.minutes(t - e.start_ms)],
            ),
            None => pen.w.still_firing.into(),
        };
        let _ = write!(
            html,
            r##"<tr class="alert-row {kind}" data-incident="{incident}"><td>{number}</td><td><span class="badge {kind}">{label}</span></td><td>{topic}</td><td class="{sev}">{sev_shown}</td><td>{start}</td><td><a href="#alert-{id}">{first}</a></td><td>{delay}</td><td>{notified_after}</td><td>{ended}</td><td>{summary}</td></tr>"##,
            kind = e.first.kind.as_str(),
            incident = esc(e.first.incident_id()),
            number = n + 1,
            label = pen.w.kind(e.first.kind),
            topic = esc(&e.first.topic),
            sev = e.peak.severity.as_str(),
            sev_shown = pen.w.severity(e.peak.severity),
            start = esc(&pen.when(e.start_ms)),
            id = esc(&e.first.id),
            first = esc(&pen.when(e.first.at_ms)),
            delay = pen.w.minutes(e.time_to_alert_ms()),
            summary = esc(&e.first.summary),
        );
    }
    html.push_str("</tbody></table>");
}

fn explanation(e: &Episode, pen: Pen, html: &mut String) {
    let a = &e.peak;
    let _ = write!(
        html,
        r#"<article class="explanation" id="alert-{id}"><h3><span class="badge {kind}">{label}</span> {topic} <small>{start}</small></h3><p class="summary">{summary}</p>"#,
        id = esc(&e.first.id),
        kind = a.kind.as_str(),
        label = pen.w.kind(a.kind),
        topic = esc(&a.topic),
        start = esc(&pen.when(e.start_ms)),
        summary = esc(&a.summary),
    );
    if e.peak.at_ms != e.first.at_ms {
        let _ = write!(
            html,
            r#"<p class="first">{}</p>"#,
            fill(
                pen.w.first_alert,
                &[&esc(&pen.when(e.first.at_ms)), &esc(&e.first.summary)]
            )
        );
    }
    let _ = write!(
        html,
        r#"<p class="facts">{}</p>"#,
        fill(
            pen.w.measured,
            &[
                &format!("{:.3}", a.value),
                &format!("{:.3}", a.baseline),
                &format!("{:.3}", a.threshold),
                &e.records.to_string()
            ]
        )
    );
    if let Details::TrollBurst(t) = &a.details {
        troll_evidence(t, pen, html);
    }
    if !a.samples.is_empty() {
        html.push_str(r#"<div class="samples">"#);
        for s in &a.samples {
            let _ = write!(
                html,
                r#"<blockquote>{}<footer>{} · {}</footer></blockquote>"#,
                esc(&s.text),
                esc(&s.author),
                esc(&pen.zone.show(&s.ts))
            );
        }
        html.push_str("</div>");
    }
    if let Some(r) = &e.resolved {
        let _ = write!(
            html,
            r#"<p class="resolved">{}</p>"#,
            fill(
                pen.w.resolved,
                &[&esc(&pen.when(r.at_ms)), &esc(&r.summary)]
            )
        );
    }
    html.push_str("</article>");
}

fn troll_evidence(t: &crate::alert::model::TrollDetails, pen: Pen, html: &mut String) {
    let f = pen.w.troll_facts;
    let accounts: Vec<String> = t
        .repeated_accounts
        .iter()
        .map(|a| format!("{} ({})", esc(&a.account), a.posts))
        .collect();
    let tags: Vec<String> = t
        .top_mentions
        .iter()
        .chain(&t.top_hashtags)
        .map(|c| format!("{} ({})", esc(&c.tag), c.count))
        .collect();
    let _ = write!(
        html,
        r#"<div class="cluster"><p class="representative">“{}”</p><dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} → {} ({})</dd><dt>{}</dt><dd>{:.0}%</dd><dt>{}</dt><dd>{:.2}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>"#,
        esc(&t.representative),
        f[0],
        t.messages,
        f[1],
        t.distinct_authors,
        f[2],
        esc(&pen.zone.show(&t.first_seen)),
        esc(&pen.zone.show(&t.last_seen)),
        pen.w.minutes(i64::from(t.duration_minutes) * 60_000),
        f[3],
        t.negative_share * 100.0,
        f[4],
        t.similarity_threshold,
        f[5],
        if accounts.is_empty() {
            pen.w.none.into()
        } else {
            accounts.join(", ")
        },
        f[6],
        if tags.is_empty() {
            pen.w.none.into()
        } else {
            tags.join(", ")
        },
    );
    if let Some(c) = &t.earlier_campaign {
        let _ = write!(
            html,
            r#"<dt>{}</dt><dd>{} · {} · {}/{} · “{}”</dd>"#,
            f[7],
            esc(&c.topic),
            esc(&pen.zone.show(&c.started_at)),
            c.shared_accounts,
            c.accounts,
            esc(&c.representative)
        );
    }
    html.push_str("</dl></div>");
}

/// What the reader must know before trusting the counts: a broken input, events left out.
fn warnings(info: &ReportInfo, w: &Words, html: &mut String) {
    let mut said = Vec::new();
    if let Some(e) = &info.input_error {
        said.push(fill(w.input_broke, &[&esc(e)]));
    }
    if info.late > 0 {
        said.push(fill(w.late, &[&info.late.to_string()]));
    }
    if info.ahead > 0 {
        said.push(fill(w.ahead, &[&info.ahead.to_string()]));
    }
    for w in said {
        let _ = write!(html, r#"<p class="warn">{w}</p>"#);
    }
}

/// Writes the report for a replay's timeline.
pub fn write_report(
    timeline: &Timeline,
    notified: &Notifications,
    info: &ReportInfo,
    mut out: impl Write,
) -> io::Result<()> {
    let episodes = timeline.episodes();
    let mut html = String::with_capacity(64 * 1024);
    let span = timeline.span_ms();
    let pen = Pen {
        w: words(info.locale.language),
        zone: info.locale.zone,
    };
    let w = pen.w;
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{}</style></head><body><header><h1>{}</h1><p class="meta">{} · {}: {} · {} {} · {} {} · ondata {}</p></header>"#,
        w.lang,
        w.title,
        include_str!("report.css"),
        w.heading,
        span.map_or(w.no_events.into(), |(a, b)| format!(
            "{} → {}",
            pen.when(a),
            pen.when(b)
        )),
        w.sources,
        esc(&info.sources.join(", ")),
        w.sensitivity,
        esc(&info.sensitivity),
        w.times_in,
        pen.zone.name(),
        env!("CARGO_PKG_VERSION"),
    );
    let count = |k: AlertKind| episodes.iter().filter(|e| e.first.kind == k).count();
    let numbers = [
        info.events as usize,
        timeline.active_topics().count(),
        count(AlertKind::Surge),
        count(AlertKind::Negativity),
        count(AlertKind::TrollBurst),
        count(AlertKind::Theme),
        count(AlertKind::Coordination),
        notified.sent as usize,
        info.rejected as usize,
    ];
    html.push_str(r#"<section class="cards">"#);
    for (n, label) in numbers.iter().zip(w.cards) {
        let _ = write!(html, r#"<div class="card"><b>{n}</b>{label}</div>"#);
    }
    html.push_str("</section>");
    warnings(info, w, &mut html);
    let _ = write!(html, "<h2>{}</h2>", w.what_fired);
    if episodes.is_empty() {
        let _ = write!(html, r#"<p class="none">{}</p>"#, w.nothing_fired);
    } else {
        let _ = write!(html, r#"<p class="meta">{}</p>"#, w.delays_meta);
        alert_table(&episodes, notified, pen, &mut html);
    }
    let _ = write!(html, "<h2>{}</h2>", w.timeline);
    if let Some((from, to)) = chart_window(timeline, &episodes) {
        let l = w.legend;
        let _ = write!(
            html,
            r#"<p class="meta">{} → {}. <span class="legend"><i style="background:#1f6feb"></i>{}<i style="background:#6b7280"></i>{}<i style="background:#c2410c"></i>{}<i style="background:#15803d"></i>{}; {}, {}</span></p>"#,
            esc(&pen.when(from)),
            esc(&pen.when(to)),
            l[0],
            l[1],
            l[2],
            l[3],
            l[4],
            l[5]
        );
        let by_topic: HashMap<&str, Vec<&Episode>> =
            episodes.iter().fold(HashMap::new(), |mut m, e| {
                m.entry(e.first.topic.as_str()).or_default().push(e);
                m
            });
        for series in chart_topics(timeline, &episodes) {
            let st = steps(series, timeline.bucket_ms, from, to);
            if st.is_empty() {
                continue;
            }
            let marks = by_topic
                .get(series.name.as_str())
                .cloned()
                .unwrap_or_default();
            let peak = st
                .iter()
                .map(|s| s.volume.max(s.baseline))
                .fold(1.0f64, f64::max);
            let volume = Frame {
                from,
                to,
                height: 170.0,
                y_max: nice(peak),
                zone: pen.zone,
                words: w,
            };
            let negativity = Frame {
                from,
                to,
                height: 110.0,
                y_max: 1.0,
                zone: pen.zone,
                words: w,
            };
            let _ = write!(
                html,
                r#"<section class="topic"><h3>{} <small>{}</small></h3>{}{}</section>"#,
                esc(&series.name),
                fill(w.in_replay, &[&series.events().to_string()]),
                volume_chart(series, &st, &volume, &marks),
                negativity_chart(series, &st, &negativity, &marks),
            );
        }
    } else {
        let _ = write!(html, "<p>{}.</p>", w.no_events);
    }
    if !episodes.is_empty() {
        let _ = write!(html, "<h2>{}</h2>", w.explained);
        for e in &episodes {
            explanation(e, pen, &mut html);
        }
    }
    let trolls: Vec<&Episode> = episodes
        .iter()
        .filter(|e| e.first.kind == AlertKind::TrollBurst)
        .collect();
    let _ = write!(html, "<h2>{}</h2>", w.clusters);
    if trolls.is_empty() {
        let _ = write!(html, "<p>{}</p>", w.no_cluster);
    } else {
        let _ = write!(
            html,
            r#"<p class="meta">{}</p><ul class="clusters">"#,
            fill(w.clusters_meta, &[&trolls.len().to_string()])
        );
        for e in trolls {
            if let Details::TrollBurst(t) = &e.peak.details {
                let _ = write!(
                    html,
                    r##"<li><a href="#alert-{}">{}</a>: {}, “{}”</li>"##,
                    esc(&e.first.id),
                    esc(&e.first.topic),
                    fill(
                        w.cluster_line,
                        &[&t.messages.to_string(), &t.distinct_authors.to_string()]
                    ),
                    esc(&t.representative)
                );
            }
        }
        html.push_str("</ul>");
    }
    let _ = writeln!(
        html,
        "<footer class=\"meta\"><p>{}</p></footer></body></html>",
        w.footer
    );
    out.write_all(html.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, AlertStatus, Severity};
    use crate::incident::Point;

    #[test]
    fn the_report_draws_series_and_marks_the_episode() {
        let t0 = 1_700_000_000_000 / 60_000 * 60_000;
        let points = (0..600)
            .map(|i| Point {
                topic: 0,
                t_ms: t0 + i * 60_000,
                count: if (300..320).contains(&i) { 40 } else { 5 },
                negative: 1,
                baseline_per_minute: 5.0,
                negativity_ratio: Some(0.2),
                negativity_ratio_adjusted: Some(0.18),
            })
            .collect();
        let mut timeline = Timeline {
            bucket_ms: 60_000,
            topics: vec![TopicSeries {
                name: "tasse <b>".into(),
                points,
            }],
            ..Timeline::default()
        };
        let fire = Alert::example(
            "e1",
            "tasse <b>",
            AlertStatus::Firing,
            Severity::Critical,
            t0 + 303 * 60_000,
        );
        let resolved = Alert::example(
            "e1",
            "tasse <b>",
            AlertStatus::Resolved,
            Severity::Critical,
            t0 + 330 * 60_000,
        );
        timeline.alert(&fire);
        timeline.alert(&resolved);
        let mut out = Vec::new();
        let info = ReportInfo {
            sources: vec!["x.ndjson".into()],
            events: 3500,
            ..ReportInfo::default()
        };
        write_report(
            &timeline,
            &crate::incident::notifications::simulate(&crate::Config::default(), &timeline.alerts),
            &info,
            &mut out,
        )
        .unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("tasse &lt;b&gt;"), "topic names are escaped");
        assert!(!html.contains("tasse <b>"));
        assert_eq!(
            html.matches(r#"class="alert-marker surge""#).count(),
            2,
            "one marker per chart"
        );
        assert_eq!(html.matches(r#"<tr class="alert-row surge""#).count(), 1);
        // Started 5 min before the first record (Alert::example), first message at once.
        assert!(html.contains("<td>5 min</td><td>5 min</td>"), "{html}");
        let d = html.split(r#"class="volume" d=""#).nth(1).unwrap();
        assert!(
            d.matches('L').count() > 100,
            "the volume line has its points"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
            "self-contained"
        );
    }

    #[test]
    fn axis_bounds_are_round() {
        assert_eq!(nice(37.0), 50.0);
        assert_eq!(nice(1.0), 1.0);
        assert_eq!(nice(120.0), 200.0);
    }
}
