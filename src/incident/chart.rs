//! The report's charts: inline SVG drawn from a topic's buckets, with the alert episodes
//! marked. No script: they print and open offline.

use std::fmt::Write as _;

use super::timeline::{Episode, Point, TopicSeries};
use super::words::Words;
use crate::config::Zone;

pub(super) const HOUR: i64 = 3_600_000;
/// Points per chart at most; longer windows are averaged into wider steps.
const MAX_POINTS: usize = 720;
const W: f64 = 960.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

pub(super) fn esc(s: &str) -> String {
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

/// One drawn step: averages of the buckets it covers.
pub(super) struct Step {
    pub(super) t_ms: i64,
    pub(super) volume: f64,
    pub(super) baseline: f64,
    pub(super) neg: Option<f64>,
    pub(super) neg_adjusted: Option<f64>,
}

pub(super) fn steps(series: &TopicSeries, bucket_ms: i64, from: i64, to: i64) -> Vec<Step> {
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
pub(super) struct Frame {
    pub(super) from: i64,
    pub(super) to: i64,
    pub(super) height: f64,
    pub(super) y_max: f64,
    /// Where the axis' hours and the marks' times are read, and in which words.
    pub(super) zone: Zone,
    pub(super) words: &'static Words,
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
pub(super) fn path(frame: &Frame, pts: impl Iterator<Item = (i64, Option<f64>)>) -> String {
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
pub(super) fn axis(frame: &Frame, svg: &mut String) {
    let span = frame.to - frame.from;
    let step = [1, 2, 3, 6, 12, 24, 48, 168]
        .iter()
        .map(|h| h * HOUR)
        .find(|s| span / s <= 12)
        .unwrap_or(168 * HOUR);
    // Ticks fall on the zone's round hours (its offset at the window's start).
    let offset = i64::from(frame.zone.offset_minutes(frame.from)) * 60_000;
    let mut local = ((frame.from + offset).div_euclid(step) + 1) * step;
    while local - offset < frame.to {
        let t = local - offset;
        let x = frame.x(t);
        let shown = frame.zone.date_time(t);
        let label = if local % (24 * HOUR) == 0 {
            shown[5..10].to_string()
        } else {
            shown[11..16].to_string()
        };
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            frame.height - BOTTOM,
            frame.height - 6.0
        );
        local += step;
    }
}

pub(super) fn y_label(frame: &Frame, svg: &mut String, v: f64, text: &str) {
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
pub(super) fn episode_marks(frame: &Frame, episodes: &[&Episode], svg: &mut String) {
    for e in episodes {
        let start = frame.x(e.start_ms.max(frame.from));
        let end = frame.x(e.end_ms().unwrap_or(frame.to).min(frame.to));
        let class = e.first.kind.as_str();
        let _ = write!(
            svg,
            r#"<rect class="episode {class}" x="{start:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>{} {}</title></rect>"#,
            (end - start).max(2.0),
            frame.height - TOP - BOTTOM,
            frame.words.kind(e.first.kind),
            esc(&frame.zone.date_time(e.start_ms))
        );
        let x = frame.x(e.first.at_ms);
        let _ = write!(
            svg,
            r##"<a href="#alert-{id}"><circle class="alert-marker {class}" cx="{x:.1}" cy="{:.1}" r="5"><title>{}: {} {}</title></circle></a>"##,
            TOP + 6.0,
            frame.words.kind(e.first.kind),
            frame.words.first_alert_mark,
            esc(&frame.zone.date_time(e.first.at_ms)),
            id = esc(&e.first.id),
        );
    }
}

/// An SVG chart's opening tag and its time axis.
pub(super) fn chart_start(class: &str, what: &str, series: &TopicSeries, frame: &Frame) -> String {
    let topic = esc(&series.name);
    let mut svg = format!(
        r#"<svg class="chart {class}" data-topic="{topic}" viewBox="0 0 {W} {}" role="img" aria-label="{what} {} {topic}">"#,
        frame.height, frame.words.on
    );
    axis(frame, &mut svg);
    svg
}

pub(super) fn volume_chart(
    series: &TopicSeries,
    steps: &[Step],
    frame: &Frame,
    episodes: &[&Episode],
) -> String {
    let mut svg = chart_start("volume", frame.words.volume_chart, series, frame);
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

pub(super) fn negativity_chart(
    series: &TopicSeries,
    steps: &[Step],
    frame: &Frame,
    episodes: &[&Episode],
) -> String {
    let mut svg = chart_start("negativity", frame.words.negativity_chart, series, frame);
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

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
pub(super) fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}
