//! Helpers shared by the integration tests: runtimes, bounded waits, outside tools.
// Each test crate uses some of these.
#![allow(dead_code)]

pub mod kafka;
pub mod live;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// A small runtime for the local receivers and servers a test starts.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `cond` until it holds, failing the test after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first of `names` found on PATH. Tests that need a tool from Debian (Chromium,
/// Prometheus, Alertmanager) are `#[ignore]`d with the package named, so a plain
/// `cargo test` lists them as ignored; `cargo test -- --ignored` runs them, and then a
/// missing tool fails the test with the command that installs it.
pub fn tool(names: &[&str], package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{} is not installed: apt-get install {package}", names[0]))
}

/// A child process killed when the test ends, however it ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `app` on a loopback port of `rt`; returns the address.
pub fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> std::net::SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The simulator's stream for `scenario`, `days` ordinary days and `seed`, one JSON value
/// per line, and the summary (its planted incidents).
pub fn simulated(
    scenario: ondata::simulate::Scenario,
    days: u32,
    seed: u64,
) -> (Vec<serde_json::Value>, ondata::simulate::SimSummary) {
    let mut out = Vec::new();
    let opts = ondata::simulate::SimOptions {
        scenario,
        seed,
        days,
        ..ondata::simulate::SimOptions::default()
    };
    let summary = ondata::simulate::simulate(&opts, &mut out).unwrap();
    let lines = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    (lines, summary)
}

/// Every alert one engine raises over `lines`, in order, and those still open at the end.
pub fn replay_values(
    lines: &[serde_json::Value],
    config: &ondata::config::Config,
) -> Vec<ondata::alert::Alert> {
    let mut engine = ondata::engine::Engine::new(config);
    let mut alerts = Vec::new();
    for v in lines {
        let bytes = serde_json::to_vec(v).unwrap();
        let e = ondata::event::parse_event(&bytes, &config.input).unwrap();
        engine.ingest_into(&e, &mut alerts);
    }
    alerts.extend(engine.finish());
    alerts
}
