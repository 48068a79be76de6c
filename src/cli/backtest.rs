//! `ondata backtest`: recorded streams replayed under several configurations (and with
//! `--sweep` every preset of each), each scored against labelled incidents, side by side.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::Result;

use ondata::config::{Config, Sensitivity};
use ondata::deliver::sink::CollectSink;
use ondata::incident::backtest::{read_labels, score, table, Label, Score};
use ondata::replay::{replay, ReplayOptions};

use super::{load_config, UsageError, DEFAULT_CONFIG};

#[derive(clap::Args)]
pub struct BacktestArgs {
    /// Labelled incidents: a JSON array of {"kind", "topic", "start", "end"}.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// A configuration to compare (repeat for several; none: as replay, config/ondata.toml
    /// or the defaults).
    #[arg(long = "config", value_name = "FILE")]
    pub configs: Vec<PathBuf>,
    /// Also try each configuration at every sensitivity preset (low, medium, high).
    #[arg(long)]
    pub sweep: bool,
    /// Recorded streams, as for replay.
    #[arg(required = true)]
    pub files: Vec<String>,
}

pub fn run(args: BacktestArgs) -> Result<()> {
    let labels = read_labels(&args.labels).map_err(UsageError)?;
    let runs = configurations(&args.configs, args.sweep)?;
    eprintln!(
        "ondata backtest: {} configuration(s) over {} file(s), {} labelled incident(s)",
        runs.len(),
        args.files.len(),
        labels.len()
    );
    // As many configurations at a time as there are cores, each replay on one thread.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut scores = Vec::with_capacity(runs.len());
    for batch in runs.chunks(cores) {
        let threads = if batch.len() > 1 { 1 } else { 0 };
        let done: Vec<Result<Score>> = std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|(name, config)| {
                    let (files, labels) = (&args.files, &labels);
                    scope.spawn(move || one(name, config, files, labels, threads))
                })
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a backtest thread panicked")))
                })
                .collect()
        });
        for r in done {
            scores.push(r?);
        }
    }
    print!("{}", table(&scores));
    Ok(())
}

/// The configurations to compare, named: the files given (by stem), else as replay would
/// (config/ondata.toml when it exists, else the built-in defaults); with `sweep`, each at
/// every preset.
fn configurations(configs: &[PathBuf], sweep: bool) -> Result<Vec<(String, Config)>> {
    let named: Vec<(String, Config)> = if configs.is_empty() {
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
    let mut runs = Vec::new();
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
    Ok(runs)
}

/// Replays the files under one configuration and scores its alerts.
fn one(
    name: &str,
    config: &Config,
    files: &[String],
    labels: &[Label],
    threads: usize,
) -> Result<Score> {
    let mut sink = CollectSink::default();
    let opts = ReplayOptions {
        inputs: files.to_vec(),
        threads,
        ..ReplayOptions::default()
    };
    replay(config, &opts, &mut sink, &mut io::sink())?;
    eprintln!("  {name}: done");
    Ok(score(name, labels, &sink.alerts, config))
}
