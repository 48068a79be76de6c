//! `ondata simulate`: a synthetic stream of ordinary days, then the scenario's incidents.

use std::path::PathBuf;

use anyhow::{Context, Result};

use ondata::simulate::{simulate, Scenario, SimOptions};
use ondata::source::output::open_output;

use super::UsageError;

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[arg(long, value_enum, default_value = "click-day")]
    pub scenario: Scenario,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Ordinary days before the incident day.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=60))]
    pub days: u32,
    /// Multiply every rate (e.g. 20 for about a million events).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Output file (`.gz`/`.zst` compress; `-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: String,
    /// Also write the planted incidents (kind, topic, start, end) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let SimulateArgs {
        scenario,
        seed,
        days,
        scale,
        out,
        labels,
    } = args;
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
