//! `ondata replay`: recorded files or a time range of Kafka, in event time, as fast as
//! possible; alerts, dead letters, the report and the OpenMetrics series written to files.

use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};

use ondata::deliver::sink::NdjsonSink;
use ondata::replay::{replay, ReplayOptions};

use super::output::{check_outputs, Destination, Output};
use super::{load_config, service, UsageError};

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
    /// The input is known to be in event-time order: do not look ahead to sort it (late
    /// events are then counted and dead-lettered).
    #[arg(long, conflicts_with = "sort")]
    pub no_sort: bool,
    /// Sort every input, even when its first 100,000 lines are in order (a large export
    /// sorted by topic, say, whose disorder starts late).
    #[arg(long)]
    pub sort: bool,
    /// Memory for sorting an input found out of order, MiB; beyond it sorted runs go to
    /// temporary files (TMPDIR).
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..))]
    pub sort_memory: u32,
    /// Text encoding of the input files: utf8, or latin1 for Windows-1252 / Latin-1 exports.
    #[arg(long, value_name = "ENCODING", default_value = "utf8", value_parser = ["utf8", "latin1"])]
    pub encoding: String,
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
        no_sort,
        sort,
        sort_memory,
        encoding,
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
    let named: Vec<(&str, &std::path::Path)> = [
        ("--alerts-out", &alerts_out),
        ("--report", &report),
        ("--openmetrics-out", &openmetrics_out),
        ("--dead-letter", &dead_letter),
    ]
    .into_iter()
    .filter_map(|(option, p)| p.as_deref().map(|p| (option, p)))
    .collect();
    check_outputs(&files, &named)?;
    if !config.alerts.sinks.is_empty() && !quiet {
        eprintln!(
            "ondata replay: the {} configured alert sink(s) are not used by a replay; its alerts go to {}",
            config.alerts.sinks.len(),
            alerts_out
                .as_ref()
                .map_or("stdout".to_string(), |p| p.display().to_string())
        );
    }
    // Every output is created (beside its target) before the replay, so an unwritable place
    // fails first; each replaces its target only once complete.
    let report_file = report.as_deref().map(Output::create).transpose()?;
    let om_file = openmetrics_out.as_deref().map(Output::create).transpose()?;
    let served = if serve {
        Some(service::serve_replay(&config)?)
    } else {
        None
    };
    let out = match &alerts_out {
        Some(p) => Destination::File(Output::create(p)?),
        None => Destination::Stdout(io::stdout().lock()),
    };
    let mut sink = NdjsonSink::new(out);
    let mut dead = match &dead_letter {
        Some(p) => Destination::File(Output::create(p)?),
        None => Destination::Nowhere,
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
        sort: match (no_sort, sort) {
            (true, _) => ondata::replay::sort::SortMode::Never,
            (_, true) => ondata::replay::sort::SortMode::Always,
            _ => ondata::replay::sort::SortMode::Auto,
        },
        sort_memory: sort_memory as usize * 1024 * 1024,
        latin1: encoding == "latin1",
    };
    let mut summary = match range {
        Some(r) => {
            let stop = service::stop_on_signals();
            ondata::range::replay_kafka(&config, &opts, r, &mut sink, &mut dead, &stop)?
        }
        None => replay(&config, &opts, &mut sink, &mut dead)?,
    };
    let timeline = summary.timeline.take();
    // Files first, then what was done: a closed stderr must not cost a file. What was read
    // before a broken input is written whole too.
    sink.into_inner().commit()?;
    dead.commit()?;
    let mut written = Vec::new();
    if let Some(timeline) = &timeline {
        if let Some(mut file) = report_file {
            let info = ondata::incident::report::ReportInfo {
                sources,
                events: summary.engine.accepted,
                rejected: summary.rejected_total(),
                late: summary.engine.late,
                ahead: summary.engine.ahead,
                input_error: summary.input_error.clone(),
                sensitivity: format!("{:?}", config.detect.sensitivity).to_lowercase(),
                locale: ondata::render::Renderer::from_config(&config).locale(),
            };
            let notified = ondata::incident::notifications::simulate(&config, &timeline.alerts);
            ondata::incident::report::write_report(timeline, &notified, &info, &mut file)
                .with_context(|| format!("cannot write {}", file.path().display()))?;
            written.push(format!("  report    {}", file.path().display()));
            file.commit()?;
        }
        if let Some(mut file) = om_file {
            ondata::incident::openmetrics::write_openmetrics(timeline, &mut file)
                .with_context(|| format!("cannot write {}", file.path().display()))?;
            let path = file.path().display().to_string();
            file.commit()?;
            written.push(format!(
                "  series    {path} (load with: promtool tsdb create-blocks-from openmetrics {path} DIR)"
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
    if let Some(e) = summary.input_error.take() {
        // Everything read before the break is in the outputs above.
        return Err(anyhow::anyhow!("{e}"));
    }
    if let Some(served) = served {
        served.until_interrupted()?;
    }
    Ok(())
}
