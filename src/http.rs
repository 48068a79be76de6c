//! The HTTP server of `run` and `demo` on `http.listen`: `/metrics` (Prometheus text
//! format), `/healthz` (the process is alive) and `/readyz` (partitions assigned and the
//! rebuild done).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::live::{LiveStats, Stop};
use crate::metrics::Metrics;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    stats: Arc<LiveStats>,
}

async fn render_metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.stats.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: waiting for partitions or rebuilding history\n",
        )
    }
}

/// Binds `listen` now (so a taken port is an error at start) and serves until `shutdown`.
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    stats: Arc<LiveStats>,
    mut shutdown: watch::Receiver<Stop>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("http.listen = \"{listen}\": cannot listen there"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, stats });
    let task = tokio::spawn(async move {
        let stop = async move {
            while *shutdown.borrow() == Stop::Run {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("http server: {e}");
        }
    });
    Ok((addr, task))
}
