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

use super::notifications::Notifications;
use super::timeline::{Episode, Point, Timeline, TopicSeries};
use crate::alert::model::human_duration;
use crate::alert::{AlertKind, Details};
use crate::event::format_ts;

/// What the report is about, besides the timeline.
#[derive(Debug, Clone, Default)]
pub struct ReportInfo {
    /// Files or Kafka range replayed.
    pub sources: Vec<String>,
    pub events: u64,
    pub rejected: u64,
    /// `detect.sensitivity` of the configuration used.
    pub sensitivity: String,
}

/// Charts drawn at most (topics with alerts first, then the busiest).
const MAX_CHARTS: usize = 12;
/// Points per chart at most; longer windows are averaged into wider steps.
const MAX_POINTS: usize = 720;
const HOUR: i64 = 3_600_000;

const W: f64 = 960.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "2026-11-20 09:14 UTC" from an event time.
fn when(ms: i64) -> String {
    let ts = format_ts(ms);
    format!("{} {} UTC", &ts[..10], &ts[11..16.min(ts.len())])
}

fn minutes(ms: i64) -> String {
    if ms < 60_000 {
        format!("{} s", ms.max(0) / 1000)
    } else {
        human_duration((ms / 60_000) as u32)
    }
}

fn kind_label(k: AlertKind) -> &'static str {
    match k {
        AlertKind::Surge => "Surge",
        AlertKind::Negativity => "Negativity",
        AlertKind::TrollBurst => "Troll burst",
    }
}

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

/// One drawn step: averages of the buckets it covers.
struct Step {
    t_ms: i64,
    volume: f64,
    baseline: f64,
    neg: Option<f64>,
    neg_adjusted: Option<f64>,
}

fn steps(series: &TopicSeries, bucket_ms: i64, from: i64, to: i64) -> Vec<Step> {
    let pts: Vec<&Point> = series
        .points
        .iter()
        .filter(|p| p.t_ms >= from && p.t_ms < to)
        .collect();
    let k = pts.len().div_ceil(MAX_POINTS).max(1);
    let per_min = 60_000.0 / bucket_ms.max(1) as f64;
    pts.chunks(k)
        .map(|c| {
            let n = c.len() as f64;
            let mean = |f: &dyn Fn(&Point) -> Option<f32>| {
                let v: Vec<f64> = c.iter().filter_map(|p| f(p)).map(f64::from).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            Step {
                t_ms: c[0].t_ms,
                volume: c.iter().map(|p| f64::from(p.count)).sum::<f64>() / n * per_min,
                baseline: c
                    .iter()
                    .map(|p| f64::from(p.baseline_per_minute))
                    .sum::<f64>()
                    / n,
                neg: mean(&|p| p.negativity_ratio),
                neg_adjusted: mean(&|p| p.negativity_ratio_adjusted),
            }
        })
        .collect()
}

/// A chart's coordinate system.
struct Frame {
    from: i64,
    to: i64,
    height: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (t - self.from) as f64 / span * (W - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        let h = self.height - TOP - BOTTOM;
        TOP + h - (v / self.y_max).clamp(0.0, 1.0) * h
    }
}

/// An SVG path through the points that have a value (gaps break the line).
fn path(frame: &Frame, pts: impl Iterator<Item = (i64, Option<f64>)>) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (t, v) in pts {
        match v {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if pen_down { "L" } else { "M" },
                    frame.x(t),
                    frame.y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

/// Hour ticks and labels along the bottom, about ten of them.
fn axis(frame: &Frame, svg: &mut String) {
    let span = frame.to - frame.from;
    let step = [1, 2, 3, 6, 12, 24, 48, 168]
        .iter()
        .map(|h| h * HOUR)
        .find(|s| span / s <= 12)
        .unwrap_or(168 * HOUR);
    let mut t = (frame.from.div_euclid(step) + 1) * step;
    while t < frame.to {
        let x = frame.x(t);
        let ts = format_ts(t);
        let label = if t % (24 * HOUR) == 0 {
            ts[5..10].to_string()
        } else {
            ts[11..16].to_string()
        };
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            frame.height - BOTTOM,
            frame.height - 6.0
        );
        t += step;
    }
}

fn y_label(frame: &Frame, svg: &mut String, v: f64, text: &str) {
    let y = frame.y(v);
    let _ = write!(
        svg,
        r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{text}</text>"#,
        W - RIGHT,
        LEFT - 4.0,
        y + 4.0
    );
}

/// Shaded episodes and a marker at each first alert.
fn episode_marks(frame: &Frame, episodes: &[&Episode], svg: &mut String) {
    for e in episodes {
        let start = frame.x(e.start_ms.max(frame.from));
        let end = frame.x(e.end_ms().unwrap_or(frame.to).min(frame.to));
        let class = e.first.kind.as_str();
        let _ = write!(
            svg,
            r#"<rect class="episode {class}" x="{start:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>{} {}</title></rect>"#,
            (end - start).max(2.0),
            frame.height - TOP - BOTTOM,
            kind_label(e.first.kind),
            esc(&when(e.start_ms))
        );
        let x = frame.x(e.first.at_ms);
        let _ = write!(
            svg,
            r##"<a href="#alert-{id}"><circle class="alert-marker {class}" cx="{x:.1}" cy="{:.1}" r="5"><title>{}: first alert {}</title></circle></a>"##,
            TOP + 6.0,
            kind_label(e.first.kind),
            esc(&when(e.first.at_ms)),
            id = esc(&e.first.id),
        );
    }
}

/// An SVG chart's opening tag and its time axis.
fn chart_start(class: &str, what: &str, series: &TopicSeries, frame: &Frame) -> String {
    let topic = esc(&series.name);
    let mut svg = format!(
        r#"<svg class="chart {class}" data-topic="{topic}" viewBox="0 0 {W} {}" role="img" aria-label="{what} on {topic}">"#,
        frame.height
    );
    axis(frame, &mut svg);
    svg
}

fn volume_chart(
    series: &TopicSeries,
    steps: &[Step],
    frame: &Frame,
    episodes: &[&Episode],
) -> String {
    let mut svg = chart_start("volume", "Comments per minute", series, frame);
    y_label(frame, &mut svg, 0.0, "0");
    y_label(
        frame,
        &mut svg,
        frame.y_max,
        &format!("{:.0}/min", frame.y_max),
    );
    episode_marks(frame, episodes, &mut svg);
    let volume = path(frame, steps.iter().map(|s| (s.t_ms, Some(s.volume))));
    let baseline = path(frame, steps.iter().map(|s| (s.t_ms, Some(s.baseline))));
    let _ = write!(
        svg,
        r#"<path class="volume" d="{volume}"/><path class="baseline" d="{baseline}"/></svg>"#
    );
    svg
}

fn negativity_chart(
    series: &TopicSeries,
    steps: &[Step],
    frame: &Frame,
    episodes: &[&Episode],
) -> String {
    let mut svg = chart_start("negativity", "Negative share", series, frame);
    for v in [0.0, 0.5, 1.0] {
        y_label(frame, &mut svg, v, &format!("{:.0}%", v * 100.0));
    }
    episode_marks(frame, episodes, &mut svg);
    let raw = path(frame, steps.iter().map(|s| (s.t_ms, s.neg)));
    let adjusted = path(frame, steps.iter().map(|s| (s.t_ms, s.neg_adjusted)));
    let _ = write!(
        svg,
        r#"<path class="neg-raw" d="{raw}"/><path class="neg-adjusted" d="{adjusted}"/></svg>"#
    );
    svg
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

fn alert_table(episodes: &[Episode], notified: &Notifications, html: &mut String) {
    html.push_str(r#"<table class="alerts"><thead><tr><th>Kind</th><th>Topic</th><th>Peak</th><th>Episode start</th><th>First alert</th><th>Start → alert</th><th>Start → first message</th><th>Ended</th><th>What it said</th></tr></thead><tbody>"#);
    for e in episodes {
        let notified_after = notified
            .first_ms
            .get(&e.first.id)
            .map_or("not sent".to_string(), |t| minutes(t - e.start_ms));
        let ended = match e.end_ms() {
            Some(t) => format!("{} (after {})", esc(&when(t)), minutes(t - e.start_ms)),
            None => "still firing at the end".into(),
        };
        let _ = write!(
            html,
            r##"<tr class="alert-row {kind}"><td><span class="badge {kind}">{label}</span></td><td>{topic}</td><td class="{sev}">{sev}</td><td>{start}</td><td><a href="#alert-{id}">{first}</a></td><td>{delay}</td><td>{notified_after}</td><td>{ended}</td><td>{summary}</td></tr>"##,
            kind = e.first.kind.as_str(),
            label = kind_label(e.first.kind),
            topic = esc(&e.first.topic),
            sev = e.peak.severity.as_str(),
            start = esc(&when(e.start_ms)),
            id = esc(&e.first.id),
            first = esc(&when(e.first.at_ms)),
            delay = minutes(e.time_to_alert_ms()),
            summary = esc(&e.first.summary),
        );
    }
    html.push_str("</tbody></table>");
}

fn explanation(e: &Episode, html: &mut String) {
    let a = &e.peak;
    let _ = write!(
        html,
        r#"<article class="explanation" id="alert-{id}"><h3><span class="badge {kind}">{label}</span> {topic} <small>{start}</small></h3><p class="summary">{summary}</p>"#,
        id = esc(&e.first.id),
        kind = a.kind.as_str(),
        label = kind_label(a.kind),
        topic = esc(&a.topic),
        start = esc(&when(e.start_ms)),
        summary = esc(&a.summary),
    );
    if e.peak.at_ms != e.first.at_ms {
        let _ = write!(
            html,
            r#"<p class="first">First alert ({}): {}</p>"#,
            esc(&when(e.first.at_ms)),
            esc(&e.first.summary)
        );
    }
    let _ = write!(
        html,
        r#"<p class="facts">Measured {:.3} against a baseline of {:.3} (threshold {:.3}); {} record(s) in the episode.</p>"#,
        a.value, a.baseline, a.threshold, e.records
    );
    if let Details::TrollBurst(t) = &a.details {
        troll_evidence(t, html);
    }
    if !a.samples.is_empty() {
        html.push_str(r#"<div class="samples">"#);
        for s in &a.samples {
            let _ = write!(
                html,
                r#"<blockquote>{}<footer>{} · {}</footer></blockquote>"#,
                esc(&s.text),
                esc(&s.author),
                esc(&s.ts)
            );
        }
        html.push_str("</div>");
    }
    if let Some(r) = &e.resolved {
        let _ = write!(
            html,
            r#"<p class="resolved">Resolved {}: {}</p>"#,
            esc(&when(r.at_ms)),
            esc(&r.summary)
        );
    }
    html.push_str("</article>");
}

fn troll_evidence(t: &crate::detect::troll::TrollDetails, html: &mut String) {
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
        r#"<div class="cluster"><p class="representative">“{}”</p><dl><dt>Messages</dt><dd>{}</dd><dt>Distinct accounts</dt><dd>{}</dd><dt>Seen</dt><dd>{} → {} ({})</dd><dt>Negative</dt><dd>{:.0}%</dd><dt>Similarity at least</dt><dd>{:.2}</dd><dt>Accounts posting more than once</dt><dd>{}</dd><dt>Mentions and hashtags</dt><dd>{}</dd></dl></div>"#,
        esc(&t.representative),
        t.messages,
        t.distinct_authors,
        esc(&t.first_seen),
        esc(&t.last_seen),
        human_duration(t.duration_minutes),
        t.negative_share * 100.0,
        t.similarity_threshold,
        if accounts.is_empty() {
            "none".into()
        } else {
            accounts.join(", ")
        },
        if tags.is_empty() {
            "none".into()
        } else {
            tags.join(", ")
        },
    );
}

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:0 auto;max-width:1040px;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:1px solid #d5dae1;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}small{color:#5b6576;font-weight:normal}
.meta{color:#5b6576;margin:0 0 12px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #d5dae1;border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e3e7ec;padding:5px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f8}.critical{color:#b3261e;font-weight:600}.warning{color:#8a5a00}
.badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;color:#fff;white-space:nowrap}
.badge.surge{background:#1f6feb}.badge.negativity{background:#c2410c}.badge.troll_burst{background:#7e22ce}
.chart{width:100%;height:auto;display:block;margin:2px 0 6px}
.chart .volume{fill:none;stroke:#1f6feb;stroke-width:1.6}.chart .baseline{fill:none;stroke:#6b7280;stroke-width:1.3;stroke-dasharray:5 4}
.chart .neg-raw{fill:none;stroke:#c2410c;stroke-width:1.6}.chart .neg-adjusted{fill:none;stroke:#15803d;stroke-width:1.3;stroke-dasharray:5 3}
.chart .grid{stroke:#e8ebef;stroke-width:1}.chart .tick{font-size:11px;fill:#5b6576}
.episode{opacity:.14}.episode.surge{fill:#1f6feb}.episode.negativity{fill:#c2410c}.episode.troll_burst{fill:#7e22ce}
.alert-marker{stroke:#fff;stroke-width:1.5}.alert-marker.surge{fill:#1f6feb}.alert-marker.negativity{fill:#c2410c}.alert-marker.troll_burst{fill:#7e22ce}
.legend{font-size:12px;color:#5b6576}.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin:0 4px 0 10px}
.explanation{border-left:3px solid #d5dae1;padding:2px 0 2px 12px;margin:14px 0}
blockquote{margin:6px 0;padding:6px 10px;background:#f6f7f9;border-radius:4px}blockquote footer{color:#5b6576;font-size:12px}
.cluster dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}.cluster dt{color:#5b6576}.cluster dd{margin:0}
.representative{font-style:italic}.topic{break-inside:avoid;page-break-inside:avoid}
@media print{body{max-width:none;padding:0;font-size:12px}a{color:inherit;text-decoration:none}.explanation,tr{break-inside:avoid;page-break-inside:avoid}h2{break-after:avoid}}
"#;

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
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>ondata incident report</title><style>{STYLE}</style></head><body><header><h1>Incident report</h1><p class="meta">{} · sources: {} · sensitivity {} · times in UTC · ondata {}</p></header>"#,
        span.map_or("no events".into(), |(a, b)| format!(
            "{} → {}",
            when(a),
            when(b)
        )),
        esc(&info.sources.join(", ")),
        esc(&info.sensitivity),
        env!("CARGO_PKG_VERSION"),
    );
    let count = |k: AlertKind| episodes.iter().filter(|e| e.first.kind == k).count();
    let _ = write!(
        html,
        r#"<section class="cards"><div class="card"><b>{}</b>comments</div><div class="card"><b>{}</b>topics</div><div class="card"><b>{}</b>surges</div><div class="card"><b>{}</b>negativity shifts</div><div class="card"><b>{}</b>troll bursts</div><div class="card"><b>{}</b>messages to people</div><div class="card"><b>{}</b>rejected lines</div></section>"#,
        info.events,
        timeline.active_topics().count(),
        count(AlertKind::Surge),
        count(AlertKind::Negativity),
        count(AlertKind::TrollBurst),
        notified.sent,
        info.rejected,
    );
    html.push_str("<h2>What fired</h2>");
    if episodes.is_empty() {
        html.push_str(r#"<p class="none">Nothing fired: no surge, negativity shift or troll burst in this stream.</p>"#);
    } else {
        html.push_str(r#"<p class="meta">“Start → alert” is the event time from the start of the condition to ondata's first alert; “Start → first message” adds the notification policy (grouping, repeat interval, rate limit) of a webhook on the default route.</p>"#);
        alert_table(&episodes, notified, &mut html);
    }
    html.push_str("<h2>Timeline</h2>");
    if let Some((from, to)) = chart_window(timeline, &episodes) {
        let _ = write!(
            html,
            r#"<p class="meta">{} → {}. <span class="legend"><i style="background:#1f6feb"></i>comments per minute<i style="background:#6b7280"></i>baseline<i style="background:#c2410c"></i>negative share<i style="background:#15803d"></i>without troll clusters; shaded: alert episodes, dots: first alerts</span></p>"#,
            esc(&when(from)),
            esc(&when(to))
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
            };
            let negativity = Frame {
                from,
                to,
                height: 110.0,
                y_max: 1.0,
            };
            let _ = write!(
                html,
                r#"<section class="topic"><h3>{} <small>{} comments in the replay</small></h3>{}{}</section>"#,
                esc(&series.name),
                series.events(),
                volume_chart(series, &st, &volume, &marks),
                negativity_chart(series, &st, &negativity, &marks),
            );
        }
    } else {
        html.push_str("<p>No events.</p>");
    }
    if !episodes.is_empty() {
        html.push_str("<h2>Alerts explained</h2>");
        for e in &episodes {
            explanation(e, &mut html);
        }
    }
    let trolls: Vec<&Episode> = episodes
        .iter()
        .filter(|e| e.first.kind == AlertKind::TrollBurst)
        .collect();
    html.push_str("<h2>Troll clusters</h2>");
    if trolls.is_empty() {
        html.push_str(
            "<p>No cluster of near-identical messages from many accounts was reported.</p>",
        );
    } else {
        let _ = write!(
            html,
            r#"<p class="meta">{} cluster(s) of near-identical messages posted by many accounts; each is described under “Alerts explained”.</p><ul class="clusters">"#,
            trolls.len()
        );
        for e in trolls {
            if let Details::TrollBurst(t) = &e.peak.details {
                let _ = write!(
                    html,
                    r##"<li><a href="#alert-{}">{}</a>: {} messages from {} accounts, “{}”</li>"##,
                    esc(&e.first.id),
                    esc(&e.first.topic),
                    t.messages,
                    t.distinct_authors,
                    esc(&t.representative)
                );
            }
        }
        html.push_str("</ul>");
    }
    html.push_str("<footer class=\"meta\"><p>Generated by ondata from an event-time replay: the same engine and settings as live processing.</p></footer></body></html>\n");
    out.write_all(html.as_bytes())?;
    out.flush()
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, AlertStatus, Severity};

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
        assert_eq!(html.matches(r#"<tr class="alert-row surge">"#).count(), 1);
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
