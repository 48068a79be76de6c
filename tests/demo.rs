//! `ondata demo` beside something else: it serves where `--listen` says, not on the
//! configured port, and a bad address is refused before anything starts.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, wait_until, Killed};

/// The response to `GET path` on `addr`, if anything answers.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn the_demo_serves_on_the_address_it_is_given_beside_a_taken_port() {
    // The configured port is taken by someone else; the demo is told another.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ondata.toml");
    std::fs::write(&config, format!("[http]\nlisten = \"{taken_addr}\"\n")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["demo", "--speed", "100000", "--listen", &addr, "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut demo = Killed(child);
    let mut page = None;
    wait_until("the demo's status page", Duration::from_secs(120), || {
        if let Ok(Some(status)) = demo.0.try_wait() {
            panic!("the demo exited with {status} before serving {addr}");
        }
        page = get(&addr, "/").filter(|r| r.starts_with("HTTP/1.1 200"));
        page.is_some()
    });
    assert!(page.unwrap().contains("<html"), "the status page is served");
    let api = get(&addr, "/api/topics").unwrap_or_default();
    assert!(api.starts_with("HTTP/1.1 200"), "{api}");
    drop(taken);
}

#[test]
fn a_bad_listen_address_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ondata"))
        .args(["demo", "--listen", "nowhere"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("http.listen") && err.contains("nowhere"),
        "{err}"
    );
}
