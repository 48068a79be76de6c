//! `ondata replay`: recorded files or a time range of Kafka, in event time, as fast as
//! possible; alerts, dead letters, the report and the OpenMetrics series written to files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use ondata::deliver::sink::NdjsonSink;
use ondata::replay::{replay, ReplayOptions};

use super::{create, load_config, service, UsageError};

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// NDJSON files (.gz and .zst too; `-` is stdin), merged in event-time order.
    #[arg(required_unless_present = "kafka", conflicts_with = "kafka")]
    pub files: Vec<String>,
    /// Replay a time range of the configured Kafka topics instead of files (outside the
    /// live consumer group; nothing is committed). Needs --from and --to.
    #[arg(long, requires_all = ["from", "to"])]
    pub kafka: bool,
    /// Start of the Kafka range (RFC 3339 or epoch ms; Kafka message timestamps).
    #[arg(long, value_name = "TS", requires = "kafka")]
    pub from: Option<String>,
    /// End of the Kafka range, exclusive.
    #[arg(long, value_name = "TS", requires = "kafka")]
    pub to: Option<String>,
    /// Write a self-contained HTML incident report here.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Write the per-topic series with event-time timestamps here, in OpenMetrics text
    /// (for `promtool tsdb create-blocks-from openmetrics`).
    #[arg(long, value_name = "FILE")]
    pub openmetrics_out: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write alerts here (NDJSON) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub alerts_out: Option<PathBuf>,
    /// Write rejected lines, each with its reason, here (NDJSON).
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Threads for a replay of files: 1, or 2 (one reads and analyses comments, the
    /// other runs the engine). Default: 2 on a machine with two or more cores. The
    /// output is the same either way.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,
    /// Serve the status page, /metrics and /api on `http.listen` while replaying, and
    /// keep serving after the replay ends (until Ctrl-C).
    #[arg(long)]
    pub serve: bool,
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let ReplayArgs {
        files,
        kafka,
        from,
        to,
        report,
        openmetrics_out,
        config,
        alerts_out,
        dead_letter,
        quiet,
        threads,
        serve,
    } = args;
    let config = load_config(config.as_deref())?;
    let range = if kafka {
        Some(
            ondata::range::TimeRange::parse(
                from.as_deref().unwrap_or_default(),
                to.as_deref().unwrap_or_default(),
            )
            .map_err(UsageError)?,
        )
    } else {
        None
    };
    // Fail on an unwritable report before the replay, not after.
    let report_file = report.as_ref().map(|p| create(p)).transpose()?;
    let om_file = openmetrics_out.as_ref().map(|p| create(p)).transpose()?;
    let served = if serve {
        Some(service::serve_replay(&config)?)
    } else {
        None
    };
    let out: Box<dyn Write> = match &alerts_out {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(io::stdout().lock()),
    };
    let mut sink = NdjsonSink::new(out);
    let mut dead: Box<dyn Write> = match &dead_letter {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(io::sink()),
    };
    let sources = match range {
        Some(r) => vec![format!("Kafka {} ({r})", config.kafka.topics.join(", "))],
        None => files.clone(),
    };
    let opts = ReplayOptions {
        inputs: files,
        progress: !quiet,
        observe: served.as_ref().map(|s| s.observe.clone()),
        timeline: report_file.is_some() || om_file.is_some(),
        threads: threads.map_or(0, usize::from),
    };
    let mut summary = match range {
        Some(r) => {
            let stop = service::stop_on_signals();
            ondata::range::replay_kafka(&config, &opts, r, &mut sink, &mut *dead, &stop)?
        }
        None => replay(&config, &opts, &mut sink, &mut *dead)?,
    };
    drop(sink);
    let timeline = summary.timeline.take();
    // Files first, then what was done: a closed stderr must not cost a file.
    let mut written = Vec::new();
    if let Some(timeline) = &timeline {
        if let (Some(file), Some(path)) = (report_file, &report) {
            let info = ondata::incident::report::ReportInfo {
                sources,
                events: summary.engine.accepted,
                rejected: summary.rejected_total(),
                sensitivity: format!("{:?}", config.detect.sensitivity).to_lowercase(),
            };
            let notified = ondata::incident::notifications::simulate(&config, &timeline.alerts);
            ondata::incident::report::write_report(timeline, &notified, &info, file)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(format!("  report    {}", path.display()));
        }
        if let (Some(file), Some(path)) = (om_file, &openmetrics_out) {
            ondata::incident::openmetrics::write_openmetrics(timeline, file)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(format!(
                "  series    {} (load with: promtool tsdb create-blocks-from openmetrics {} DIR)",
                path.display(),
                path.display()
            ));
        }
    }
    eprintln!("{summary}");
    for line in written {
        eprintln!("{line}");
    }
    if summary.rejected_total() > 0 && dead_letter.is_none() {
        eprintln!("  (rejected lines were not kept: add --dead-letter FILE to keep them with their reasons)");
    }
    if let Some(served) = served {
        served.until_interrupted()?;
    }
    Ok(())
}
