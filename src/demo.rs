//! `ondata demo`: a simulated click day replayed through the engine at accelerated speed,
//! with alerts printed as they fire, so a newcomer sees what ondata does in a minute.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::Result;

use ondata::alert::{Alert, AlertStatus};
use ondata::config::Config;
use ondata::engine::Engine;
use ondata::event::{format_ts, parse_event};
use ondata::simulate::{simulate, Scenario, SimOptions, DEFAULT_START_MS};

const DAY_MS: i64 = 86_400_000;

pub fn run(speed: f64, seed: u64) -> Result<()> {
    let config = Config::default();
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed,
        ..SimOptions::default()
    };
    let mut stream = Vec::new();
    let summary = simulate(&opts, &mut stream)?;
    let incident_day = DEFAULT_START_MS + i64::from(opts.days) * DAY_MS;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "ondata demo: a simulated click day, {} comments over {} days",
        summary.events,
        opts.days + 1
    )?;
    writeln!(
        out,
        "  learning {} ordinary days at full speed, then the incident day at {speed:.0}x",
        opts.days
    )?;
    writeln!(
        out,
        "  planted: {}",
        summary
            .incidents
            .iter()
            .map(|i| format!("{} on {}", i.kind, i.topic))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out)?;
    let mut engine = Engine::new(&config);
    let started = Instant::now();
    let mut paced_from: Option<i64> = None;
    let mut next_status = incident_day;
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(event) = parse_event(line, &config.input) else {
            continue;
        };
        if event.ts_ms >= incident_day {
            let from = *paced_from.get_or_insert(event.ts_ms);
            let due =
                Duration::from_secs_f64(((event.ts_ms - from) as f64 / 1000.0 / speed).max(0.0));
            let since = started.elapsed();
            if due > since {
                std::thread::sleep(due - since);
            }
            if event.ts_ms >= next_status {
                status(&mut out, &engine, event.ts_ms)?;
                next_status += 2 * 3_600_000;
            }
        }
        for alert in engine.ingest(&event) {
            print_alert(&mut out, &alert)?;
        }
    }
    for alert in engine.finish() {
        print_alert(&mut out, &alert)?;
    }
    writeln!(out, "\ndemo done. Replay the same stream yourself:\n  ondata simulate --scenario click-day --seed {seed} --out s.ndjson && ondata replay s.ndjson")?;
    Ok(())
}

fn status(out: &mut impl Write, engine: &Engine, now_ms: i64) -> io::Result<()> {
    let topics: Vec<String> = engine
        .topics()
        .iter()
        .filter(|t| t.events > 0)
        .map(|t| format!("{} {:.0}/min", t.name, t.volume_per_minute))
        .collect();
    writeln!(
        out,
        "-- {}  {}",
        &format_ts(now_ms)[..16],
        topics.join(" | ")
    )
}

fn print_alert(out: &mut impl Write, a: &Alert) -> io::Result<()> {
    let status = match a.status {
        AlertStatus::Firing => "FIRING  ",
        AlertStatus::Resolved => "resolved",
    };
    writeln!(
        out,
        "{}  {status} {:?} {}: {}",
        &a.at[..16],
        a.severity,
        a.kind,
        a.summary
    )?;
    for s in &a.samples {
        writeln!(out, "        \u{201c}{}\u{201d} ({})", s.text, s.author)?;
    }
    Ok(())
}
