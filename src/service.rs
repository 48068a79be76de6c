//! What `run` and `demo` share: metrics, the HTTP server, signal handling and the live path.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use ondata::alert::AlertSink;
use ondata::config::Config;
use ondata::live::{self, LiveStats, LiveSummary, Stop};
use ondata::metrics::Metrics;

/// Time allowed after a stop signal to drain, flush alerts and commit offsets.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The first SIGINT/SIGTERM asks for a graceful stop; a second exits at once.
pub fn handle_signals(stop: watch::Sender<Stop>) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    None
                }
            };
        let mut count = 0;
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return; },
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            count += 1;
            if count == 1 {
                eprintln!(
                    "\nondata: stopping (draining, flushing alerts, committing offsets; within {}s). Again to exit at once.",
                    SHUTDOWN_GRACE.as_secs()
                );
                let _ = stop.send(Stop::Drain);
            } else {
                eprintln!("ondata: exiting at once");
                std::process::exit(130);
            }
        }
    });
}

/// Serves HTTP and runs the live path until `stop` turns true.
pub async fn run(
    config: Config,
    sinks: Vec<Box<dyn AlertSink + Send>>,
    stats: Arc<LiveStats>,
    stop: watch::Sender<Stop>,
) -> Result<LiveSummary> {
    let metrics = Arc::new(Metrics::new());
    let stopped = stop.subscribe();
    let listen = config.http.listen.clone();
    let (addr, http) =
        ondata::http::serve(&listen, metrics.clone(), stats.clone(), stopped.clone()).await?;
    eprintln!("ondata: metrics on http://{addr}/metrics, health on /healthz and /readyz");
    handle_signals(stop.clone());
    let summary = live::run(config, sinks, Some(metrics), stats, stopped, SHUTDOWN_GRACE).await;
    let _ = stop.send(Stop::Drain);
    let _ = http.await;
    summary
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
