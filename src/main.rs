//! The `ondata` binary: the commands (one file each in `cli/`) and how their errors end:
//! exit code 2 for usage or configuration (naming the key), 1 for a failure at run time.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    Replay(cli::replay::ReplayArgs),
    /// Copy a time range of the configured Kafka topics into a recorded file.
    Record(cli::live::RecordArgs),
    /// Replay recorded streams under several configurations and score each against labelled
    /// incidents: found, time to detect, false alarms, notifications, side by side.
    Backtest(cli::backtest::BacktestArgs),
    /// Write a synthetic stream: ordinary days, then the scenario's incidents.
    Simulate(cli::simulate::SimulateArgs),
    /// Validate a configuration and print the effective one (presets resolved).
    CheckConfig {
        /// Defaults to config/ondata.toml when it exists, else the built-in defaults.
        file: Option<PathBuf>,
    },
    /// Score texts (arguments, or one per line on stdin) and show why.
    Sentiment(cli::sentiment::SentimentArgs),
    /// Live: consume Kafka, serve HTTP, deliver alerts, until SIGINT/SIGTERM.
    Run {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// With `kafka.repartition_partitions`: `ingest` only reads the input topics into
        /// the internal one, `detect` only watches the topics of its share of it, `all` both.
        #[arg(long, value_enum, default_value = "all")]
        role: ondata::config::Role,
    },
    /// See ondata work: a simulated click day produced into an embedded Kafka at accelerated
    /// speed and consumed by exactly the `run` path; alerts as they fire.
    Demo(cli::demo::DemoArgs),
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
    let done = match cli.command {
        Command::Replay(args) => cli::replay::run(args),
        Command::Record(args) => cli::live::record(args),
        Command::Backtest(args) => cli::backtest::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::CheckConfig { file } => cli::check_config(file.as_deref()),
        Command::Sentiment(args) => cli::sentiment::run(args),
        Command::Run { config, role } => cli::live::run(config, role),
        Command::Demo(args) => cli::demo::run(args),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if cli::reader_left(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ondata: {e:#}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
