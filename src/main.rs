//! The `ondata` command line (DESIGN §5). Arguments are turned once into typed settings;
//! errors end as exit code 2 (usage or configuration, naming the key) or 1 (runtime).

use std::fs::File;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use ondata::config::{Config, ConfigError};
use ondata::deliver::sink::NdjsonSink;
use ondata::replay::{replay, ReplayOptions};
use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::source::output::open_output;
use ondata::text::lexicon::Lexicon;
use ondata::text::sentiment::SentimentScorer;

mod demo;
mod service;

const DEFAULT_CONFIG: &str = "config/ondata.toml";

#[derive(Parser)]
#[command(
    name = "ondata",
    version,
    about = "Crisis monitoring for social-media comments: surges, negativity shifts, troll bursts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay recorded streams (or a time range of Kafka) in event time, as fast as possible.
    Replay {
        /// NDJSON files (.gz and .zst too; `-` is stdin), merged in event-time order.
        #[arg(required_unless_present = "kafka", conflicts_with = "kafka")]
        files: Vec<String>,
        /// Replay a time range of the configured Kafka topics instead of files (outside the
        /// live consumer group; nothing is committed). Needs --from and --to.
        #[arg(long, requires_all = ["from", "to"])]
        kafka: bool,
        /// Start of the Kafka range (RFC 3339 or epoch ms; Kafka message timestamps).
        #[arg(long, value_name = "TS", requires = "kafka")]
        from: Option<String>,
        /// End of the Kafka range, exclusive.
        #[arg(long, value_name = "TS", requires = "kafka")]
        to: Option<String>,
        /// Write a self-contained HTML incident report here.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Write the per-topic series with event-time timestamps here, in OpenMetrics text
        /// (for `promtool tsdb create-blocks-from openmetrics`).
        #[arg(long, value_name = "FILE")]
        openmetrics_out: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Write alerts here (NDJSON) instead of stdout.
        #[arg(long, value_name = "FILE")]
        alerts_out: Option<PathBuf>,
        /// Write rejected lines, each with its reason, here (NDJSON).
        #[arg(long, value_name = "FILE")]
        dead_letter: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Threads for a replay of files: 1, or 2 (one reads and analyses comments, the
        /// other runs the engine). Default: 2 on a machine with two or more cores. The
        /// output is the same either way.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
        threads: Option<u8>,
        /// Serve the status page, /metrics and /api on `http.listen` while replaying, and
        /// keep serving after the replay ends (until Ctrl-C).
        #[arg(long)]
        serve: bool,
    },
    /// Copy a time range of the configured Kafka topics into a recorded file.
    Record {
        /// Start (RFC 3339 or epoch ms; Kafka message timestamps).
        #[arg(long, value_name = "TS")]
        from: String,
        /// End, exclusive.
        #[arg(long, value_name = "TS")]
        to: String,
        /// Output file (`.gz`/`.zst` compress).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
    },
    /// Replay recorded streams under several configurations and score each against labelled
    /// incidents: found, time to detect, false alarms, notifications, side by side.
    Backtest {
        /// Labelled incidents: a JSON array of {"kind", "topic", "start", "end"}.
        #[arg(long, value_name = "FILE")]
        labels: PathBuf,
        /// A configuration to compare (repeat for several; none: as replay, config/ondata.toml
        /// or the defaults).
        #[arg(long = "config", value_name = "FILE")]
        configs: Vec<PathBuf>,
        /// Also try each configuration at every sensitivity preset (low, medium, high).
        #[arg(long)]
        sweep: bool,
        /// Recorded streams, as for replay.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Write a synthetic stream: ordinary days, then the scenario's incidents.
    Simulate {
        #[arg(long, value_enum, default_value = "click-day")]
        scenario: Scenario,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Ordinary days before the incident day.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=60))]
        days: u32,
        /// Multiply every rate (e.g. 20 for about a million events).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Output file (`.gz`/`.zst` compress; `-` is stdout).
        #[arg(long, value_name = "FILE")]
        out: String,
        /// Also write the planted incidents (kind, topic, start, end) as JSON here.
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
    },
    /// Validate a configuration and print the effective one (presets resolved).
    CheckConfig {
        /// Defaults to config/ondata.toml when it exists, else the built-in defaults.
        file: Option<PathBuf>,
    },
    /// Score texts (arguments, or one per line on stdin) and show why.
    Sentiment {
        texts: Vec<String>,
        /// One JSON object per text.
        #[arg(long)]
        json: bool,
        /// Language of the texts (it, en); guessed when absent.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Live: consume Kafka, serve HTTP, deliver alerts, until SIGINT/SIGTERM.
    Run {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// See ondata work: a simulated click day produced into an embedded Kafka at accelerated
    /// speed and consumed by exactly the `run` path; alerts as they fire.
    Demo {
        /// Simulated seconds per real second on the incident day (the learning days before it
        /// go as fast as they can); the default plays the day in about 3 minutes.
        #[arg(long, default_value_t = 480.0)]
        speed: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Run { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<UsageError>().is_some();
            eprintln!("ondata: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// A bad argument found after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn load_config(path: Option<&Path>) -> Result<Config> {
    let default = Path::new(DEFAULT_CONFIG);
    let path = path.or_else(|| default.exists().then_some(default));
    Ok(Config::load(path, std::env::vars())?)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Replay {
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
        } => {
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
                    let notified =
                        ondata::incident::notifications::simulate(&config, &timeline.alerts);
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
        Command::Record {
            from,
            to,
            out,
            config,
            quiet,
        } => {
            let config = load_config(config.as_deref())?;
            let range = ondata::range::TimeRange::parse(&from, &to).map_err(UsageError)?;
            let stop = service::stop_on_signals();
            let summary = ondata::range::record(&config, range, &out, &stop, !quiet)?;
            eprintln!("{summary}");
            Ok(())
        }
        Command::Backtest {
            labels,
            configs,
            sweep,
            files,
        } => backtest(&labels, &configs, sweep, files),
        Command::Simulate {
            scenario,
            seed,
            days,
            scale,
            out,
            labels,
        } => {
            if scale.is_nan() || scale <= 0.0 || scale > 1000.0 {
                return Err(UsageError(format!("--scale {scale}: must be in (0, 1000]")).into());
            }
            let opts = SimOptions {
                scenario,
                seed,
                days,
                scale,
                ..SimOptions::default()
            };
            let mut writer = open_output(&out)?;
            let summary = simulate(&opts, &mut writer)?;
            writer
                .finish()
                .with_context(|| format!("cannot write {out}"))?;
            if let Some(path) = labels {
                let json = serde_json::to_string_pretty(&summary.incidents)?;
                std::fs::write(&path, json + "\n")
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            eprintln!(
                "ondata simulate: {} events written to {out}",
                summary.events
            );
            for i in &summary.incidents {
                eprintln!(
                    "  planted {} on {} from {} to {}: {}",
                    i.kind, i.topic, i.start, i.end, i.note
                );
            }
            Ok(())
        }
        Command::CheckConfig { file } => {
            let config = load_config(file.as_deref())?;
            print!("{}", config.effective_toml());
            Ok(())
        }
        Command::Sentiment { texts, json, lang } => {
            let config = load_config(None)?;
            let mut scorer =
                SentimentScorer::new(std::sync::Arc::new(Lexicon::bundled()), &config.sentiment);
            let mut out = io::stdout().lock();
            let mut one = |text: &str| -> Result<()> {
                let e = scorer.explain(text, lang.as_deref(), None);
                if json {
                    let mut v = serde_json::to_value(&e)?;
                    v["text"] = serde_json::Value::String(text.to_string());
                    writeln!(out, "{v}")?;
                } else {
                    writeln!(
                        out,
                        "{:+.3}  {:<8} {}  {text}",
                        e.score,
                        format!("{:?}", e.label).to_lowercase(),
                        e.lang.as_str()
                    )?;
                    for w in &e.words {
                        let rules = if w.rules.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", w.rules.join(", "))
                        };
                        writeln!(
                            out,
                            "        {:<16} {} {:+.2} -> {:+.2}{rules}",
                            w.word, w.lexicon, w.base, w.value
                        )?;
                    }
                    for r in &e.rules {
                        writeln!(out, "        rule: {r}")?;
                    }
                }
                Ok(())
            };
            if texts.is_empty() {
                if io::stdin().is_terminal() {
                    eprintln!(
                        "ondata sentiment: reading one text per line from stdin (Ctrl-D to end)"
                    );
                }
                for line in io::stdin().lock().lines() {
                    let line = line.context("cannot read stdin")?;
                    if !line.trim().is_empty() {
                        one(&line)?;
                    }
                }
            } else {
                for t in &texts {
                    one(t)?;
                }
            }
            Ok(())
        }
        Command::Run { config } => {
            let config = load_config(config.as_deref())?;
            let silences = service::silences(&config);
            let sinks = ondata::deliver::sinks_from_config(&config, false, Some(silences.clone()))
                .map_err(|e| UsageError(format!("{e:#}")))?;
            let (stop, _) = tokio::sync::watch::channel(ondata::live::Stop::Run);
            let stats = std::sync::Arc::new(ondata::live::LiveStats::default());
            let summary =
                service::runtime()?.block_on(service::run(config, sinks, stats, stop, silences))?;
            eprintln!("{summary}");
            Ok(())
        }
        Command::Demo { speed, seed } => {
            if speed.is_nan() || speed <= 0.0 {
                return Err(UsageError("--speed must be positive".into()).into());
            }
            demo::run(speed, seed)
        }
    }
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path).with_context(|| {
        format!("cannot create {}", path.display())
    })?))
}

/// `ondata backtest`: every configuration (and with `sweep` every preset of each) replays
/// the files on its own thread; the scores print side by side.
fn backtest(labels: &Path, configs: &[PathBuf], sweep: bool, files: Vec<String>) -> Result<()> {
    use ondata::config::Sensitivity;
    use ondata::incident::backtest::{read_labels, score, table};
    let labels = read_labels(labels).map_err(UsageError)?;
    let mut runs: Vec<(String, Config)> = Vec::new();
    let named: Vec<(String, Config)> = if configs.is_empty() {
        // As replay: config/ondata.toml when it exists, else the built-in defaults.
        let name = if Path::new(DEFAULT_CONFIG).exists() {
            "ondata"
        } else {
            "defaults"
        };
        vec![(name.into(), load_config(None)?)]
    } else {
        configs
            .iter()
            .map(|p| {
                let name = p
                    .file_stem()
                    .map_or("config".into(), |s| s.to_string_lossy().into_owned());
                Ok((name, Config::load(Some(p), std::env::vars())?))
            })
            .collect::<Result<_>>()?
    };
    for (name, config) in named {
        if sweep {
            for s in [Sensitivity::Low, Sensitivity::Medium, Sensitivity::High] {
                let mut c = config.clone();
                c.detect.set_sensitivity(s);
                runs.push((format!("{name}/{}", format!("{s:?}").to_lowercase()), c));
            }
        } else {
            runs.push((name, config));
        }
    }
    eprintln!(
        "ondata backtest: {} configuration(s) over {} file(s), {} labelled incident(s)",
        runs.len(),
        files.len(),
        labels.len()
    );
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(runs.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<ondata::incident::backtest::Score>>>> =
        std::sync::Mutex::new((0..runs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, config)) = runs.get(i) else {
                    break;
                };
                let one = || -> Result<ondata::incident::backtest::Score> {
                    let mut sink = ondata::deliver::sink::CollectSink::default();
                    let opts = ReplayOptions {
                        inputs: files.clone(),
                        // Configurations already run side by side, one per core.
                        threads: if workers > 1 { 1 } else { 0 },
                        ..ReplayOptions::default()
                    };
                    replay(config, &opts, &mut sink, &mut io::sink())?;
                    Ok(score(name, &labels, &sink.alerts, config))
                };
                let r = one();
                eprintln!("  {name}: done");
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
    });
    let scores = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a backtest worker panicked"))?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("not run"))))
        .collect::<Result<Vec<_>>>()?;
    print!("{}", table(&scores));
    Ok(())
}
