//! The commands on Kafka: `ondata run` (the live path) and `ondata record` (a time range of
//! the topics into a file).

use std::path::PathBuf;

use anyhow::Result;

use super::{load_config, service, UsageError};

#[derive(clap::Args)]
pub struct RecordArgs {
    /// Start (RFC 3339 or epoch ms; Kafka message timestamps).
    #[arg(long, value_name = "TS")]
    pub from: String,
    /// End, exclusive.
    #[arg(long, value_name = "TS")]
    pub to: String,
    /// Output file (`.gz`/`.zst` compress).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

pub fn record(args: RecordArgs) -> Result<()> {
    let RecordArgs {
        from,
        to,
        out,
        config,
        quiet,
    } = args;
    let config = load_config(config.as_deref())?;
    let range = ondata::range::TimeRange::parse(&from, &to).map_err(UsageError)?;
    let stop = service::stop_on_signals();
    let summary = ondata::range::record(&config, range, &out, &stop, !quiet)?;
    eprintln!("{summary}");
    Ok(())
}

/// `ondata run`: consume Kafka, serve HTTP, deliver alerts, until SIGINT/SIGTERM.
pub fn run(config: Option<PathBuf>, role: ondata::config::Role) -> Result<()> {
    let mut config = load_config(config.as_deref())?;
    if role != ondata::config::Role::All && config.kafka.repartition_partitions == 0 {
        return Err(UsageError(
            "--role ingest and --role detect split the stages of a repartition: set kafka.repartition_partitions (the internal topic's partitions) first".into(),
        )
        .into());
    }
    config.kafka.role = role;
    let silences = service::silences(&config);
    // A sink that cannot work as configured exits 2; one that cannot start (its outbox,
    // its producer) exits 1: the error says which.
    let sinks = ondata::deliver::sinks_from_config(&config, false, Some(silences.clone()))?;
    let (stop, _) = tokio::sync::watch::channel(ondata::live::Stop::Run);
    let stats = std::sync::Arc::new(ondata::live::LiveStats::default());
    let summary =
        service::runtime()?.block_on(service::run(config, sinks, stats, stop, silences))?;
    eprintln!("{summary}");
    Ok(())
}
