//! The HTTP server of `run`, `demo` and `replay --serve` on `http.listen`:
//!
//! - `/`: the status page (one self-contained HTML file, no external assets);
//! - `/metrics`: Prometheus text format;
//! - `/healthz` (the process is alive) and `/readyz` (partitions assigned, rebuild done);
//! - `/api/topics` (`?topic=NAME&limit=N&points=N`), `/api/alerts` (`?limit=N`),
//!   `/api/stream`: JSON.
//! - `/api/silences` (GET, POST) and `/api/silences/{id}` (DELETE): the admin API, which
//!   needs `Authorization: Bearer $ONDATA_ADMIN_TOKEN` and is off when that is unset.
//!
//! Bad requests get a 4xx status with a one-line plain-text reason. Every connection is held
//! to [`Limits`]: head size and time, body size, request time, connections at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Context, Result};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::{watch, Semaphore};

use subtle::ConstantTimeEq;

use crate::deliver::silence::{NewSilence, Silence, Silences};
use crate::live::{LiveStats, Stop};
use crate::metrics::Metrics;
use crate::status::Board;

const STATUS_PAGE: &str = include_str!("status.html");
const ENDPOINTS: &str =
    "/, /metrics, /healthz, /readyz, /api/topics, /api/alerts, /api/stream, /api/silences";
/// The environment variable holding the admin API's bearer token.
pub const ADMIN_TOKEN_VAR: &str = "ONDATA_ADMIN_TOKEN";
/// Largest `limit` and `points` a request may ask for.
const MAX_LIMIT: usize = 10_000;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stats: Arc<LiveStats>,
    admin: Admin,
}

/// The admin API: silences, behind a bearer token.
#[derive(Clone, Default)]
pub struct Admin {
    token: Option<Arc<str>>,
    silences: Option<Arc<Silences>>,
}

impl Admin {
    /// No admin API (replay, tests that do not need it).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Silences behind `token`; an empty or absent token leaves the API off.
    pub fn new(token: Option<String>, silences: Arc<Silences>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
            silences: Some(silences),
        }
    }

    /// The token from `ONDATA_ADMIN_TOKEN`.
    pub fn from_env(silences: Arc<Silences>) -> Self {
        let admin = Self::new(std::env::var(ADMIN_TOKEN_VAR).ok(), silences);
        if admin.token.is_none() {
            tracing::info!("admin API (silences) off: set {ADMIN_TOKEN_VAR} to turn it on");
        }
        admin
    }

    /// The silences, if the request carries the token (compared in constant time).
    fn check(&self, headers: &HeaderMap) -> Result<&Arc<Silences>, Refused> {
        let Some(silences) = &self.silences else {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                "a replay has no admin API: silences are set on the live process (`ondata run`)"
                    .to_string(),
            ));
        };
        let Some(token) = &self.token else {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!("the admin API is off: start ondata with {ADMIN_TOKEN_VAR} set"),
            ));
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes())));
        if !ok {
            let reason = if given.is_none() {
                "unauthorized: send `Authorization: Bearer <token>`"
            } else {
                "unauthorized: wrong token"
            };
            return Err(Refused(StatusCode::UNAUTHORIZED, reason.to_string()));
        }
        Ok(silences)
    }
}

/// A request refused, with its status and a one-line reason.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::UNAUTHORIZED {
            return (
                self.0,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!("{}\n", self.1),
            )
                .into_response();
        }
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
        let shown = |list: Vec<_>| {
            list.into_iter()
                .map(|a| s.board.shown(a))
                .collect::<Vec<_>>()
        };
        Ok(Json(json!({ "firing": shown(firing), "recent": shown(recent) })).into_response())
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

fn silence_json(s: &Silence, active: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["state"] = json!(if active { "active" } else { "expired" });
    v
}

async fn list_silences(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match s.admin.check(&headers) {
        Ok(silences) => {
            let list: Vec<_> = silences
                .list()
                .iter()
                .map(|(s, active)| silence_json(s, *active))
                .collect();
            Json(json!({ "silences": list })).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn add_silence(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewSilence>, JsonRejection>,
) -> Response {
    let silences = match s.admin.check(&headers) {
        Ok(silences) => silences,
        Err(r) => return r.into_response(),
    };
    let Json(req) = match body {
        Ok(b) => b,
        // 413 for a body over the limit, 415 without a JSON content type, 400 for the rest.
        Err(e) => {
            let status = match e.status() {
                s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
                _ => StatusCode::BAD_REQUEST,
            };
            return Refused(status, format!("bad request: {}", e.body_text())).into_response();
        }
    };
    match silences.add(req) {
        Ok(made) => {
            tracing::info!(
                "silence {} added by {}: kind {:?}, topic {:?}, until {} ({})",
                made.id,
                made.author,
                made.kind,
                made.topic,
                made.expires_at,
                made.comment
            );
            (StatusCode::CREATED, Json(silence_json(&made, true))).into_response()
        }
        Err(reason) => bad_request(reason).into_response(),
    }
}

async fn delete_silence(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let silences = match s.admin.check(&headers) {
        Ok(silences) => silences,
        Err(r) => return r.into_response(),
    };
    match silences.remove(&id) {
        Ok(true) => {
            tracing::info!("silence {id} removed");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => {
            Refused(StatusCode::NOT_FOUND, format!("no silence with id `{id}`")).into_response()
        }
        Err(e) => Refused(StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
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
        "method not allowed: ondata's endpoints are read with GET; /api/silences also takes POST, /api/silences/{id} DELETE\n",
    )
        .into_response()
}

/// What one client may ask of the HTTP server. The defaults suit a metrics scrape, the
/// status page and the admin API; a client past them gets an error or a closed connection,
/// never the process's memory or time.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request's head (request line and headers) must arrive within this; a client that
    /// connects and sends nothing, or dribbles its headers (slowloris), is disconnected.
    pub header_timeout: Duration,
    /// A whole request, its body read and its answer made, within this (else 408).
    pub request_timeout: Duration,
    /// Largest request head, in bytes (hyper's read buffer; at least 8 KiB).
    pub max_head_bytes: usize,
    /// Largest request body, in bytes (else 413).
    pub max_body_bytes: usize,
    /// Connections served at once; more are closed as they arrive.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_head_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_connections: 256,
        }
    }
}

/// Connections served beyond `max_connections`, one request each.
const RESERVE_CONNECTIONS: usize = 8;
/// Their request head must arrive within this.
const RESERVE_HEAD_TIMEOUT: Duration = Duration::from_secs(2);

async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Refused(
            StatusCode::REQUEST_TIMEOUT,
            format!("request timeout: not done within {limit:?}"),
        )
        .into_response(),
    }
}

/// Binds `listen` now (so a taken port is an error at start) and serves until `shutdown`,
/// with the default [`Limits`].
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stats: Arc<LiveStats>,
    admin: Admin,
    shutdown: watch::Receiver<Stop>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_limited(
        listen,
        AppState {
            metrics,
            board,
            stats,
            admin,
        },
        Limits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with the given limits (tests use short ones).
pub async fn serve_with_limits(
    listen: &str,
    metrics: Arc<Metrics>,
    admin: Admin,
    limits: Limits,
    shutdown: watch::Receiver<Stop>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let state = AppState {
        metrics,
        board: Arc::new(Board::new()),
        stats: Arc::new(LiveStats::default()),
        admin,
    };
    serve_limited(listen, state, limits, shutdown).await
}

async fn serve_limited(
    listen: &str,
    state: AppState,
    limits: Limits,
    shutdown: watch::Receiver<Stop>,
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
        .route("/api/silences", get(list_silences).post(add_silence))
        .route("/api/silences/{id}", delete(delete_silence))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            time_limit,
        ));
    let task = tokio::spawn(accept(listener, app, limits, shutdown));
    Ok((addr, task))
}

/// Resolves when `shutdown` asks the process to stop (or its sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<Stop>) {
    while *shutdown.borrow() == Stop::Run {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Accepts connections until `shutdown`, each served under `limits`; then lets the requests
/// in flight finish (up to five seconds).
async fn accept(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<Stop>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // With every slot held (idle clients, say), a few more connections are still served,
    // one request each under a short head timeout, so /healthz and /metrics answer.
    let reserve = Arc::new(Semaphore::new(RESERVE_CONNECTIONS));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_head_bytes.max(8 * 1024));
    let mut http_reserve = http.clone();
    http_reserve
        .header_read_timeout(RESERVE_HEAD_TIMEOUT.min(limits.header_timeout))
        .keep_alive(false);
    let mut refused_logged = false;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    tracing::warn!("http: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopping(&mut shutdown) => break,
        };
        let (slot, builder) = match slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, &http),
            Err(_) => match reserve.clone().try_acquire_owned() {
                Ok(slot) => (slot, &http_reserve),
                Err(_) => {
                    if !refused_logged {
                        tracing::warn!(
                            "http: {} connections open, closing new ones (first from {peer})",
                            limits.max_connections
                        );
                        refused_logged = true;
                    }
                    drop(stream);
                    continue;
                }
            },
        };
        if std::ptr::eq(builder, &http) {
            refused_logged = false;
        }
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("http: connection from {peer}: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("http: connections still open after 5 s at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_s_admin_api_says_where_silences_are_set() {
        let Err(Refused(status, message)) = Admin::disabled().check(&HeaderMap::new()) else {
            panic!("a replay has no admin API");
        };
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("ondata run"), "{message}");
        assert!(!message.contains(ADMIN_TOKEN_VAR), "{message}");
        let silences = Arc::new(Silences::in_memory(crate::deliver::clock::Clock::system()));
        let Err(Refused(_, message)) = Admin::new(None, silences).check(&HeaderMap::new()) else {
            panic!("no token: off");
        };
        assert!(message.contains(ADMIN_TOKEN_VAR), "{message}");
    }
}
