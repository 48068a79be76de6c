//! Floods the whole pipeline (parse, analysis, engine) at full speed and reports memory and
//! throughput as it goes: first UNIQUE comments of random text over 300 topic names, then
//! REPEATED copies of one message from 50,000 accounts on one topic.
//!
//! Usage: cargo run --release --example flood [-- UNIQUE [REPEATED]]
//!        (defaults 5,000,000 and 1,000,000; event time runs at 5,000 comments a second)
//!
//! Memory is the process's resident set (VmRSS, and VmHWM for the peak) from /proc.

use std::time::Instant;

use ondata::config::Config;
use ondata::simulate::flood::Flood;
use ondata::{parse_event, Engine};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse::<u64>());
    let unique = args.next().and_then(Result::ok).unwrap_or(5_000_000);
    let repeated = args.next().and_then(Result::ok).unwrap_or(1_000_000);
    let config = Config::default();
    let troll = &config.detect.troll;
    println!(
        "caps: {} clusters a topic, {} in all; {} dynamic topics",
        troll.max_clusters, troll.max_clusters_total, config.topics.max_dynamic
    );
    let mut engine = Engine::new(&config);
    let mut flood = Flood::new(11, 300, 5_000);
    let mut alerts = Vec::new();
    let step = (unique / 10).max(1);
    let started = Instant::now();
    let mut slice = Instant::now();
    let mut rates = Vec::new();
    println!("unique random text: {unique} comments");
    for i in 1..=unique {
        let line = flood.unique().to_string();
        if let Ok(e) = parse_event(line.as_bytes(), &config.input) {
            engine.ingest_into(&e, &mut alerts);
        }
        alerts.clear();
        if i % step == 0 {
            let rate = step as f64 / slice.elapsed().as_secs_f64();
            rates.push(rate);
            slice = Instant::now();
            let topics = engine.topics();
            let indexed: usize = topics.iter().map(|t| t.troll_clusters_indexed).sum();
            let evicted: u64 = topics.iter().map(|t| t.troll_clusters_evicted).sum();
            println!(
                "  {i:>9}  {rate:>9.0} comments/s  RSS {:>6.0} MB  topics {:>3}  clusters {indexed:>8}  evicted {evicted:>9}",
                mb(status_kb("VmRSS:")),
                topics.len(),
            );
        }
    }
    let took = started.elapsed().as_secs_f64();
    let (first, last) = (
        rates.first().copied().unwrap_or(0.0),
        rates.last().copied().unwrap_or(0.0),
    );
    println!(
        "  {unique} in {took:.1} s ({:.0}/s); last tenth at {:.2}x the first's rate; peak RSS {:.0} MB",
        unique as f64 / took,
        if first > 0.0 { last / first } else { 0.0 },
        mb(status_kb("VmHWM:"))
    );

    println!("one message repeated: {repeated} copies from 50,000 accounts");
    let before = status_kb("VmRSS:");
    let started = Instant::now();
    let mut bursts = std::collections::BTreeSet::new();
    for _ in 0..repeated {
        let line = flood.repeated("bonus-600", 50_000).to_string();
        if let Ok(e) = parse_event(line.as_bytes(), &config.input) {
            engine.ingest_into(&e, &mut alerts);
        }
        for a in alerts.drain(..) {
            if a.kind == ondata::alert::AlertKind::TrollBurst {
                bursts.insert(a.id.clone());
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    let t = engine.topics().into_iter().find(|t| t.name == "bonus-600");
    println!(
        "  {repeated} in {took:.1} s ({:.0}/s); clusters on the topic {}; troll bursts {}; RSS {:+.0} MB",
        repeated as f64 / took,
        t.map_or(0, |t| t.troll_clusters_indexed),
        bursts.len(),
        mb(status_kb("VmRSS:")) - mb(before)
    );
}
