//! The HTTP server of `run`, `demo` and `replay --serve` on `http.listen`:
//!
//! - `/`: the status page (one self-contained HTML file, no external assets);
//! - `/metrics`: Prometheus text format;
//! - `/healthz` (the process is alive) and `/readyz` (partitions assigned, rebuild done);
//! - `/api/topics` (`?topic=NAME&limit=N&points=N`), `/api/alerts` (`?limit=N`),
//!   `/api/stream`: JSON.
//!
//! Bad requests get a 4xx status with a one-line plain-text reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use crate::live::{LiveStats, Stop};
use crate::metrics::Metrics;
use crate::status::Board;

const STATUS_PAGE: &str = include_str!("status.html");
const ENDPOINTS: &str = "/, /metrics, /healthz, /readyz, /api/topics, /api/alerts, /api/stream";
/// Largest `limit` and `points` a request may ask for.
const MAX_LIMIT: usize = 10_000;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stats: Arc<LiveStats>,
}

/// A request refused, with its status and a one-line reason.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

fn bad_request(reason: String) -> Refused {
    Refused(StatusCode::BAD_REQUEST, format!("bad request: {reason}"))
}

/// The query's parameters, all of them known, or a 400 naming what is wrong.
fn params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    known: &[&str],
) -> Result<HashMap<String, String>, Refused> {
    let Query(map) = query.map_err(|e| bad_request(format!("cannot read the query: {e}")))?;
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad_request(format!(
            "unknown parameter `{k}` (this endpoint takes: {})",
            known.join(", ")
        )));
    }
    Ok(map)
}

fn number(map: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, Refused> {
    match map.get(key) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(bad_request(format!(
                "`{key}` must be a whole number from 1 to {MAX_LIMIT}, not `{v}`"
            ))),
        },
    }
}

async fn status_page() -> Html<&'static str> {
    Html(STATUS_PAGE)
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

async fn api_topics(
    State(s): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let run = || -> Result<Response, Refused> {
        let map = params(query, &["topic", "limit", "points"])?;
        let limit = number(&map, "limit", 100)?;
        let points = number(&map, "points", 240)?;
        let topic = map.get("topic").map(String::as_str);
        if let Some(name) = topic {
            if !s.board.knows_topic(name) {
                return Err(Refused(
                    StatusCode::NOT_FOUND,
                    format!("no topic named `{name}` (yet): see /api/topics for the list"),
                ));
            }
        }
        let topics = s.board.topics(topic, limit, points);
        Ok(Json(json!({ "topics": topics })).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

async fn api_alerts(
    State(s): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let run = || -> Result<Response, Refused> {
        let map = params(query, &["limit"])?;
        let limit = number(&map, "limit", 50)?;
        let (firing, recent) = s.board.alerts(limit);
        Ok(Json(json!({ "firing": firing, "recent": recent })).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

async fn api_stream(
    State(s): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    match params(query, &[]) {
        Ok(_) => Json(s.board.stream()).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("not found: {} (ondata serves {ENDPOINTS})\n", uri.path()),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
        "method not allowed: ondata's HTTP endpoints are read-only (GET)\n",
    )
        .into_response()
}

/// Binds `listen` now (so a taken port is an error at start) and serves until `shutdown`.
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stats: Arc<LiveStats>,
    mut shutdown: watch::Receiver<Stop>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("http.listen = \"{listen}\": cannot listen there"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(status_page))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/topics", get(api_topics))
        .route("/api/alerts", get(api_alerts))
        .route("/api/stream", get(api_stream))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState {
            metrics,
            board,
            stats,
        });
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
