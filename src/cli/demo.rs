//! `ondata demo`: the whole live path on a machine with nothing installed. An embedded Kafka
//! (librdkafka's mock cluster) gets a 3-partition topic; the simulator's click day is produced
//! into it, the ordinary days as fast as they go and the incident day at `--speed`; exactly
//! the `run` path consumes it, with alerts in the terminal and HTTP on `http.listen` (or
//! `--listen`). It ends
//! by itself when everything produced has been taken, or on Ctrl-C, with a summary.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio::sync::watch;

use ondata::config::Config;
use ondata::deliver::sinks_from_config;
use ondata::event::{format_ts, parse_event};
use ondata::live::{LiveStats, Stop};
use ondata::simulate::{simulate, Scenario, SimOptions, DEFAULT_START_MS};

use super::{load_config, service, UsageError};

const DAY_MS: i64 = 86_400_000;
const TOPIC: &str = "comments";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Simulated seconds per real second on the incident day (the learning days before it
    /// go as fast as they can); the default plays the day in about 3 minutes.
    #[arg(long, default_value_t = 480.0)]
    pub speed: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Serve the status page, /metrics and /api here instead of `http.listen` (e.g.
    /// 127.0.0.1:9911, to run beside another ondata).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Settings to try (detection, language, HTTP): everything but `[kafka]` (the demo has
    /// its own) and the alert sinks and routes (alerts go to the terminal, so trying
    /// settings never pages anyone). Default: config/ondata.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let DemoArgs {
        speed,
        seed,
        listen,
        config: config_path,
    } = args;
    if speed.is_nan() || speed <= 0.0 {
        return Err(UsageError("--speed must be positive".into()).into());
    }
    let mut config = load_config(config_path.as_deref())?;
    let defaults = Config::default();
    config.kafka = defaults.kafka;
    config.alerts.sinks = defaults.alerts.sinks;
    config.alerts.routes.clear();
    config.alerts.default_route = defaults.alerts.default_route;
    if let Some(listen) = listen {
        config.http.listen = listen;
        config.validate()?;
    }
    let opts = SimOptions {
        scenario: Scenario::ClickDay,
        seed,
        ..SimOptions::default()
    };
    let mut stream = Vec::new();
    let summary = simulate(&opts, &mut stream)?;
    let incident_day = DEFAULT_START_MS + i64::from(opts.days) * DAY_MS;
    println!(
        "ondata demo: a simulated click day, {} comments over {} days, through an embedded Kafka",
        summary.events,
        opts.days + 1
    );
    println!(
        "  {} learning days as fast as they go, then the incident day at {speed:.0}x (about {:.0} min)",
        opts.days,
        DAY_MS as f64 / 1000.0 / speed / 60.0
    );
    println!(
        "  planted: {}",
        summary
            .incidents
            .iter()
            .map(|i| format!("{} on {}", i.kind, i.topic))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let cluster = MockCluster::new(1).context("cannot start the embedded Kafka")?;
    cluster
        .create_topic(TOPIC, 3, 1)
        .context("cannot create the demo topic")?;
    let brokers = cluster.bootstrap_servers();
    config.kafka.brokers = brokers.clone();
    config.kafka.topics = vec![TOPIC.into()];
    config.kafka.group_id = "ondata-demo".into();
    config.kafka.dead_letter_topic = format!("{TOPIC}.dlq");
    // The embedded Kafka ends with the demo: a snapshot would describe a log that is gone.
    config.kafka.snapshot_secs = 0;
    // The consumer may join after the first messages: read the topic from its start.
    config
        .kafka
        .client
        .insert("auto.offset.reset".into(), "earliest".into());
    println!("  embedded Kafka at {brokers}, topic {TOPIC} (3 partitions, keyed by topic)\n");

    let silences = service::silences(&config);
    let sinks = sinks_from_config(&config, true, Some(silences.clone()))?;
    let stats = Arc::new(LiveStats::default());
    let (stop, stopped) = watch::channel(Stop::Run);
    let rt = service::runtime()?;
    let live = rt.spawn(service::run(
        config.clone(),
        sinks,
        stats.clone(),
        stop.clone(),
        silences,
    ));

    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .create()
        .context("cannot create the demo producer")?;
    let started = Instant::now();
    let mut paced_from: Option<i64> = None;
    let mut next_status = incident_day;
    let mut produced = 0u64;
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if *stopped.borrow() != Stop::Run {
            break;
        }
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
                println!(
                    "-- {}  {produced} comments produced, {} taken",
                    &format_ts(event.ts_ms)[..16],
                    stats.taken.load(Ordering::Relaxed)
                );
                next_status += 2 * 3_600_000;
            }
        }
        let key = event.topic.as_deref().unwrap_or("").to_string();
        let mut record = BaseRecord::to(TOPIC).key(key.as_bytes()).payload(line);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        produced += 1;
        // Keep the learning days from running far ahead of the consumer.
        while produced.saturating_sub(stats.taken.load(Ordering::Relaxed)) > 50_000
            && !(*stopped.borrow() != Stop::Run)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    producer.flush(Duration::from_secs(10)).ok();
    // The end: wait (bounded) until everything produced is taken, then stop like SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.taken.load(Ordering::Relaxed) < produced
        && Instant::now() < deadline
        && !(*stopped.borrow() != Stop::Run)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = stop.send(Stop::Drain);
    let summary = rt
        .block_on(live)
        .context("the live path stopped abnormally")??;
    println!(
        "\ndemo done in {:.0} s: {produced} comments produced. {summary}",
        started.elapsed().as_secs_f64()
    );
    println!("Replay the same stream yourself:\n  ondata simulate --scenario click-day --seed {seed} --out s.ndjson && ondata replay s.ndjson");
    drop(producer);
    drop(rt);
    drop(cluster);
    Ok(())
}
