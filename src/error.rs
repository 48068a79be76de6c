//! The library's error: what went wrong, said so a person can act on it, and whose it is to
//! fix. A configuration or setting that cannot work is the user's (the binary exits 2); a
//! failure while running (a file, the network, Kafka) is not (exit 1).

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration could not be loaded; the message names the key and the fix.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A setting or argument that loads but cannot work (a sink without a path, an unset
    /// `env:` secret, a topic that is not on the brokers).
    #[error("{0}")]
    Setting(String),
    /// Something failed while running.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// What was being done when `cause` happened. The cause is kept typed (see
    /// [`Error::cause`]) and written into the message, not repeated as a source.
    #[error("{what}: {cause}")]
    Caused {
        what: String,
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::secret::UnsetSecret> for Error {
    fn from(e: crate::secret::UnsetSecret) -> Self {
        Error::Setting(e.to_string())
    }
}

impl Error {
    pub fn setting(message: impl Into<String>) -> Self {
        Error::Setting(message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// True when the user must change an argument or the configuration (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Config(_) | Error::Setting(_) => true,
            Error::Caused { cause, .. } => {
                cause.downcast_ref::<Error>().is_some_and(Error::is_usage)
            }
            _ => false,
        }
    }

    /// What caused a [`Error::Caused`].
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::Caused { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }

    fn within(self, what: String) -> Error {
        Error::Caused {
            what,
            cause: Box::new(self),
        }
    }
}

/// Says what was being done when an operation failed; whose it is to fix is kept.
pub trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| e.into().within(what.to_string()))
    }

    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.into().within(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_whose_error_it_is_and_says_what_was_done() {
        let setting: Result<()> = Err(Error::setting("alerts.sinks[0]: a file sink needs `path`"));
        let e = setting.context("starting the sinks").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.to_string(),
            "starting the sinks: alerts.sinks[0]: a file sink needs `path`"
        );
        let io: std::result::Result<(), std::io::Error> = Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let e = io
            .with_context(|| "cannot open the outbox".into())
            .unwrap_err();
        assert!(
            !e.is_usage(),
            "a failure at run time is not the user's to fix"
        );
        assert_eq!(e.to_string(), "cannot open the outbox: no such file");
        assert!(e.cause().is_some_and(|c| c.is::<Error>()));
    }
}
