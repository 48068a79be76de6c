//! What `run` and `demo` share: metrics, the HTTP server, signal handling and the live path.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use ondata::config::Config;
use ondata::deliver::silence::Silences;
use ondata::deliver::AlertSink;
use ondata::live::{self, LiveStats, LiveSummary, Stop};
use ondata::metrics::Metrics;
use ondata::replay::Observe;
use ondata::status::Board;

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

/// A flag the first SIGINT/SIGTERM raises (for work that ends cleanly when asked, such as
/// `record`); a second signal exits at once.
pub fn stop_on_signals() -> Arc<std::sync::atomic::AtomicBool> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let raised = flag.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            for count in 1.. {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => if r.is_err() { return; },
                    _ = term.recv() => {}
                }
                if count == 1 {
                    eprintln!("\nondata: stopping; what was read is kept. Again to exit at once.");
                    raised.store(true, std::sync::atomic::Ordering::SeqCst);
                } else {
                    std::process::exit(130);
                }
            }
        });
    });
    flag
}

/// Serves HTTP and runs the live path until `stop` turns true.
pub async fn run(
    config: Config,
    sinks: Vec<Box<dyn AlertSink + Send>>,
    stats: Arc<LiveStats>,
    stop: watch::Sender<Stop>,
    silences: Arc<Silences>,
) -> Result<LiveSummary> {
    let metrics = Arc::new(Metrics::new());
    let board = Arc::new(Board::with_locale(
        ondata::render::Renderer::from_config(&config).locale(),
    ));
    let stopped = stop.subscribe();
    let listen = config.http.listen.clone();
    let (addr, http) = ondata::http::serve(
        &listen,
        metrics.clone(),
        board.clone(),
        stats.clone(),
        ondata::http::Admin::from_env(silences),
        stopped.clone(),
    )
    .await?;
    eprintln!("ondata: status page on http://{addr}/ (metrics on /metrics, API on /api/...)");
    handle_signals(stop.clone());
    let summary = live::run(
        config,
        sinks,
        live::Observers {
            stats,
            metrics: Some(metrics),
            board: Some(board),
        },
        stopped,
        SHUTDOWN_GRACE,
    )
    .await;
    let _ = stop.send(Stop::Drain);
    let _ = http.await;
    Ok(summary?)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The HTTP server of `replay --serve`, on its own runtime beside the replay.
pub struct ServedReplay {
    pub observe: Observe,
    addr: std::net::SocketAddr,
    stop: watch::Sender<Stop>,
    rt: tokio::runtime::Runtime,
}

/// Starts serving `http.listen` for a replay: the status page, `/metrics` and `/api`.
pub fn serve_replay(config: &Config) -> Result<ServedReplay> {
    let rt = runtime()?;
    let observe = Observe {
        metrics: Arc::new(Metrics::new()),
        board: Arc::new(Board::with_locale(
            ondata::render::Renderer::from_config(config).locale(),
        )),
    };
    let stats = Arc::new(LiveStats::default());
    stats.ready.store(true, std::sync::atomic::Ordering::SeqCst);
    let (stop, stopped) = watch::channel(Stop::Run);
    let (addr, _http) = rt.block_on(ondata::http::serve(
        &config.http.listen,
        observe.metrics.clone(),
        observe.board.clone(),
        stats,
        ondata::http::Admin::disabled(),
        stopped,
    ))?;
    eprintln!("ondata: status page on http://{addr}/ (metrics on /metrics, API on /api/...)");
    Ok(ServedReplay {
        observe,
        addr,
        stop,
        rt,
    })
}

impl ServedReplay {
    /// After the replay: keeps serving until SIGINT/SIGTERM.
    pub fn until_interrupted(self) -> Result<()> {
        eprintln!(
            "ondata: replay done; still serving on http://{}/ (Ctrl-C to stop)",
            self.addr
        );
        self.rt.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
            anyhow::Ok(())
        })?;
        let _ = self.stop.send(Stop::Drain);
        Ok(())
    }
}

/// Silences kept beside the outboxes, on the system clock.
pub fn silences(config: &Config) -> Arc<Silences> {
    Arc::new(Silences::open(
        std::path::Path::new(&config.alerts.outbox_dir),
        ondata::deliver::clock::Clock::system(),
    ))
}
