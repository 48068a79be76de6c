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
//! Bad requests get a 4xx status with a one-line plain-text reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use subtle::ConstantTimeEq;

use crate::alert::silence::{NewSilence, Silence, Silences};
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
        let (Some(token), Some(silences)) = (&self.token, &self.silences) else {
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
        Err(e) => return bad_request(e.body_text()).into_response(),
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

/// Binds `listen` now (so a taken port is an error at start) and serves until `shutdown`.
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stats: Arc<LiveStats>,
    admin: Admin,
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
        .route("/api/silences", get(list_silences).post(add_silence))
        .route("/api/silences/{id}", delete(delete_silence))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState {
            metrics,
            board,
            stats,
            admin,
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
