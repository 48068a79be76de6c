//! The `ondata` command line, one file per command: arguments turned once into typed
//! settings, then the library does the work. Errors end as exit code 2 (usage or
//! configuration, naming the key and the fix) or 1 (a failure at run time).

use std::path::Path;

use anyhow::Result;

use ondata::config::{Config, ConfigError};

pub mod backtest;
pub mod demo;
pub mod live;
pub mod output;
pub mod replay;
pub mod sentiment;
pub mod service;
pub mod simulate;

pub const DEFAULT_CONFIG: &str = "config/ondata.toml";

/// A bad argument found after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error: 2 when the user must change an argument or the
/// configuration, 1 for a failure at run time.
/// The reader of our output went away (`ondata sentiment … | head`): not a failure, nothing
/// to say.
pub fn reader_left(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn exit_code(e: &anyhow::Error) -> u8 {
    let usage = e.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.is::<UsageError>()
            || cause
                .downcast_ref::<ondata::error::Error>()
                .is_some_and(ondata::error::Error::is_usage)
    });
    if usage {
        2
    } else {
        1
    }
}

/// The configuration at `path`, else config/ondata.toml when it exists, else the defaults;
/// `ONDATA__…` variables override either.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    let default = Path::new(DEFAULT_CONFIG);
    let path = path.or_else(|| default.exists().then_some(default));
    let config = Config::load(path, std::env::vars())?;
    // The sentiment files are checked here, where a bad one can stop the command with its
    // reason, rather than where an engine starts.
    if let Err(e) = ondata::text::sentiment::resources(&config.sentiment) {
        return Err(ConfigError::Invalid {
            key: e.key.into(),
            message: e.message,
        }
        .into());
    }
    Ok(config)
}

/// `ondata check-config`: validates a configuration and prints the effective one.
/// Beyond the file's own validity, what would fail only when `run` starts is checked here
/// too: the sinks' `env:` URLs set, the Kafka client's properties known to librdkafka.
pub fn check_config(file: Option<&Path>) -> Result<()> {
    let config = load_config(file)?;
    for (n, sink) in config.alerts.sinks.iter().enumerate() {
        if let Some(url) = &sink.url {
            let key = format!("alerts.sinks[{n}].url");
            ondata::secret::resolve(url, &key).map_err(|e| ConfigError::Invalid {
                key: key.clone(),
                message: e.to_string(),
            })?;
        }
    }
    ondata::source::kafka::check_client(&config.kafka).map_err(|e| ConfigError::Invalid {
        key: "kafka.client".into(),
        message: e.to_string(),
    })?;
    print!("{}", config.effective_toml());
    Ok(())
}
