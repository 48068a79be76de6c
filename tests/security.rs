//! The HTTP surface under hostile clients: oversized heads and bodies, clients that send
//! nothing or dribble their request (slowloris), more connections than allowed. Each gets a
//! 4xx or a closed connection, and the server keeps answering everyone else. Raw TCP on
//! loopback, every read bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use ondata::deliver::clock::Clock;
use ondata::deliver::silence::Silences;
use ondata::http::{serve_with_limits, Admin, Limits};
use ondata::live::Stop;
use ondata::metrics::Metrics;

const TOKEN: &str = "adm1n-t0ken-for-tests";

struct Server {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
    _stop: watch::Sender<Stop>,
}

fn server(limits: Limits) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = watch::channel(Stop::Run);
    let silences = Arc::new(Silences::in_memory(Clock::system()));
    let (addr, _) = rt
        .block_on(serve_with_limits(
            "127.0.0.1:0",
            Arc::new(Metrics::new()),
            Admin::new(Some(TOKEN.into()), silences),
            limits,
            stopped,
        ))
        .unwrap();
    Server {
        addr,
        _rt: rt,
        _stop: stop,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything the server sends until it closes (or 20 s pass: then the test fails).
fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        // A reset also closes it.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_to_close(&mut s)
}

fn post_silence(addr: SocketAddr, body: &[u8], token: Option<&str>) -> String {
    let mut s = connect(addr);
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "POST /api/silences HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer (413) before reading the whole body and close.
    let _ = s.write_all(body);
    read_to_close(&mut s)
}

fn short() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        max_head_bytes: 8 * 1024,
        max_body_bytes: 4 * 1024,
        max_connections: 64,
    }
}

#[test]
fn oversized_heads_and_bodies_are_refused() {
    let srv = server(short());
    // A body over the limit: 413, even with the token; the same request within it is read.
    let big = format!(
        r#"{{"kind":"surge","author":"x","comment":"{}","duration_mins":5}}"#,
        "a".repeat(20_000)
    );
    let r = post_silence(srv.addr, big.as_bytes(), Some(TOKEN));
    assert_eq!(status(&r), 413, "{r}");
    let ok = r#"{"kind":"surge","author":"x","comment":"ok","duration_mins":5}"#;
    let r = post_silence(srv.addr, ok.as_bytes(), Some(TOKEN));
    assert_eq!(status(&r), 201, "{r}");
    // Without the token, refused before anything is read into a silence.
    let r = post_silence(srv.addr, ok.as_bytes(), None);
    assert_eq!(status(&r), 401, "{r}");
    // A head of 64 KiB: refused (431) or the connection closed, never served.
    let mut s = connect(srv.addr);
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let _ = s.write_all(huge.as_bytes());
    let r = read_to_close(&mut s);
    assert!(r.is_empty() || status(&r) == 431, "{r}");
    assert_eq!(status(&get(srv.addr, "/healthz")), 200);
}

#[test]
fn silent_and_slow_clients_are_disconnected() {
    let srv = server(short());
    // Connects and sends nothing.
    let started = Instant::now();
    let mut idle = connect(srv.addr);
    let r = read_to_close(&mut idle);
    assert!(!r.contains(" 200 "), "{r}");
    let idle_for = started.elapsed();
    // Dribbles its head a byte every 200 ms: cut off at the head timeout, not served.
    let started = Instant::now();
    let mut slow = connect(srv.addr);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut cut = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"X-Slow: 1\r\n").is_err() {
            cut = true;
            break;
        }
    }
    let r = read_to_close(&mut slow);
    assert!(
        cut || !r.contains(" 200 "),
        "a slowloris head was served: {r}"
    );
    let slow_for = started.elapsed();
    assert!(
        idle_for < Duration::from_secs(15) && slow_for < Duration::from_secs(15),
        "disconnected after {idle_for:?} and {slow_for:?} (head timeout 1 s)"
    );
    // A body that stops half-way: 408 at the request timeout.
    let mut s = connect(srv.addr);
    write!(
        s,
        "POST /api/silences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{\"kind\":"
    )
    .unwrap();
    let r = read_to_close(&mut s);
    assert_eq!(status(&r), 408, "{r}");
    assert_eq!(status(&get(srv.addr, "/healthz")), 200);
}

#[test]
fn health_and_metrics_answer_while_idle_clients_hold_every_slot() {
    let srv = server(Limits {
        header_timeout: Duration::from_secs(60),
        max_connections: 16,
        ..short()
    });
    let held: Vec<TcpStream> = (0..16).map(|_| connect(srv.addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    for path in ["/healthz", "/metrics", "/healthz"] {
        assert_eq!(status(&get(srv.addr, path)), 200, "{path}");
    }
    drop(held);
}

#[test]
fn connections_beyond_the_limit_are_closed_and_the_rest_served() {
    let srv = server(Limits {
        header_timeout: Duration::from_secs(60),
        max_connections: 4,
        ..short()
    });
    // Four idle connections hold every slot (their head timeout is a minute away).
    let held: Vec<TcpStream> = (0..4).map(|_| connect(srv.addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The fifth is closed at once, without an answer.
    let mut extra = connect(srv.addr);
    let started = Instant::now();
    let r = read_to_close(&mut extra);
    assert!(r.is_empty(), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed at once, not at the head timeout"
    );
    // A slot freed: served again (bounded retries while the server notices the close).
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(srv.addr, "/healthz");
        if status(&r) == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not served after slots freed");
        std::thread::sleep(Duration::from_millis(100));
    }
}
