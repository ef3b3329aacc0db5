//! The server's own defences, over real sockets (issue 12, item 2 and "Information"): the header
//! timeout that closes half-sent and idle connections, the connection cap, SIGTERM with idle and
//! half-sent connections open, one `Host` per HTTP/1.1 request, HTTP/1.1 only, and the exit code when
//! the grace period cuts work. The old warp server gave hyper no timer (so no header timeout), had no
//! cap, and served h2c and Host-less HTTP/1.1: each test here failed against it.

use crate::functions_door::FUNCTION;
use crate::support::receiver::{Behaviour, Receiver};
use crate::support::{fixture_events, invocation, read_response, spawn_app, Handler};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A one-second header timeout, so the timer's effect is seen in a test's time.
const QUICK: [(&str, &str); 1] = [("AML_EVENTS_HEADER_TIMEOUT_SECS", "1")];

/// Reads (and keeps) everything until the server closes the connection; panics unless it closes
/// within `within`. Returns what was read and how long the close took.
async fn read_to_eof(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        let n = tokio::time::timeout(left, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the server kept the connection open for {within:?}; read {:?}",
                    String::from_utf8_lossy(&got)
                )
            })
            .unwrap_or(0);
        if n == 0 {
            return (got, started.elapsed());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// Whether the server has closed `stream`: a read that returns end-of-file within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to 127.0.0.1")
}

/// Writes a request and reads one answer on a kept-alive connection (its head and `Content-Length`
/// body), leaving the connection open.
async fn answered_keep_alive(stream: &mut TcpStream, request: &str) -> u16 {
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, _) = read_response(stream).await;
    status
}

/// Slowloris: a request head sent up to the last header and then nothing. Under warp it was held
/// forever (5,000 of them held 92 MB); now the header timeout closes it.
#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_header_timeout() {
    let app = spawn_app(&QUICK, None).await;
    let mut stream = connect(app.port).await;
    stream
        .write_all(b"POST /MlWorkspaceEvents HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_to_eof(&mut stream, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(900),
        "closed after {took:?}, before the timeout"
    );
}

/// An idle keep-alive connection: one request answered, then nothing. Under warp such sockets were
/// kept forever (1,100 of them exhausted the descriptors); now the same timer closes it.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_within_the_header_timeout() {
    let app = spawn_app(&QUICK, None).await;
    let mut stream = connect(app.port).await;
    let status = answered_keep_alive(&mut stream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200);
    let (rest, _) = read_to_eof(&mut stream, Duration::from_secs(3)).await;
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

/// Descriptor exhaustion: idle sockets beyond what the process can hold made every request fail,
/// the host's readiness poll included. Now at most `AML_EVENTS_MAX_CONNECTIONS` are served at once,
/// the rest wait in the backlog, and the idle ones time out and make room.
#[tokio::test]
async fn connections_beyond_the_cap_wait_until_idle_ones_time_out() {
    let app = spawn_app(
        &[
            ("AML_EVENTS_HEADER_TIMEOUT_SECS", "2"),
            ("AML_EVENTS_MAX_CONNECTIONS", "4"),
        ],
        None,
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(app.port).await);
    }
    let opened = Instant::now();
    let mut fifth = connect(app.port).await;
    fifth
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), fifth.peek(&mut first)).await;
    assert!(
        early.is_err(),
        "the fifth connection was served beside four: {early:?}"
    );
    let (answer, _) = read_to_eof(&mut fifth, Duration::from_secs(6)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        opened.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        opened.elapsed()
    );
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(3)).await,
            "an idle one stayed open"
        );
    }
    let ready = reqwest::get(app.url("/")).await.expect("readiness poll");
    assert_eq!(ready.status(), 200);
}

/// Starts the binary with a 20 s grace and a 30 s header timeout (so neither timer is what closes
/// connections), opens `open` on it, sends SIGTERM, and asserts a prompt exit 0 with `open` closed.
/// The built binary, not `spawn_app`: what is tested is SIGTERM and the exit code.
async fn sigterm_with<F, Fut>(open: F)
where
    F: FnOnce(u16) -> Fut,
    Fut: std::future::Future<Output = TcpStream>,
{
    let handler = Handler::start(&[
        ("AML_EVENTS_SHUTDOWN_GRACE_SECS", "20"),
        ("AML_EVENTS_HEADER_TIMEOUT_SECS", "30"),
    ])
    .await;
    let mut held = open(handler.port).await;
    // The process has accepted `held` once it answers a request on a later connection (accepts are
    // in order), so SIGTERM finds it open rather than in the backlog.
    let mut later = connect(handler.port).await;
    let status = answered_keep_alive(
        &mut later,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    handler.terminate();
    let (status, _, stderr) = handler.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status:?} {stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(closed_within(&mut held, Duration::from_secs(1)).await);
}

/// Under warp, an idle keep-alive connection held SIGTERM for the whole grace period. Now it is
/// closed at once and the process exits 0, long before its 20 s grace.
/// On the built binary (`sigterm_with`): SIGTERM and the exit code.
#[tokio::test]
async fn sigterm_closes_an_idle_keep_alive_connection_at_once() {
    sigterm_with(|port| async move {
        let mut idle = connect(port).await;
        let status = answered_keep_alive(&mut idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(status, 200);
        idle
    })
    .await;
}

/// Under warp, half-sent requests held SIGTERM for the whole grace period; hyper's own graceful
/// shutdown keeps them too (it counts a half-read head as busy), so the server drops a connection
/// with no request inside the service as soon as it stops.
/// On the built binary (`sigterm_with`): SIGTERM and the exit code.
#[tokio::test]
async fn sigterm_closes_a_half_sent_request_head_at_once() {
    sigterm_with(|port| async move {
        let mut half = connect(port).await;
        half.write_all(b"POST /MlWorkspaceEvents HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        half
    })
    .await;
}

/// RFC 9112 §3.2: an HTTP/1.1 request with no `Host`, or with two, is a 400 (warp answered 200);
/// HTTP/1.0 has no such rule and is served.
#[tokio::test]
async fn http_1_1_needs_exactly_one_host_header() {
    let app = spawn_app(&QUICK, None).await;
    for (request, expected) in [
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            200,
        ),
        ("GET / HTTP/1.0\r\n\r\n", 200),
    ] {
        let mut stream = connect(app.port).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let (status, body) = read_response(&mut stream).await;
        assert_eq!(status, expected, "{request:?}: {body}");
    }
}

/// h2c: warp answered the HTTP/2 prior-knowledge preface with a SETTINGS frame (and so with all of
/// HTTP/2's flood surface). The Functions host and Event Grid speak HTTP/1.1 only; so does the server.
#[tokio::test]
async fn http_2_cleartext_is_not_served() {
    let app = spawn_app(&QUICK, None).await;
    let mut stream = connect(app.port).await;
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_to_eof(&mut stream, Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(&answer);
    // An HTTP/2 server's first bytes are a frame header: 3 length bytes, then type 0x4 (SETTINGS).
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 4"),
        "not an HTTP/1.1 refusal: {answer:?}"
    );
}

/// SIGTERM exited 0 even when the grace period cut invocations in flight, so the host could not tell
/// lost work from a clean stop. Now a cut exits 1. On the built binary: SIGTERM and the exit code.
#[tokio::test]
async fn work_cut_at_the_end_of_the_grace_period_exits_1() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Behaviour::slow(Duration::from_secs(30))]);
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks.toml");
    std::fs::write(
        &hooks,
        "[settings]\ndeadline_ms = 10000\n[[hooks]]\nname = \"n\"\nevents = [\"ModelDeployed\"]\n\
         action = \"webhook\"\nurl = \"${env:HOOK_URL}\"\nretries = 0\ntimeout_ms = 10000\n",
    )
    .unwrap();
    let hooks = hooks.to_string_lossy().into_owned();
    let url = receiver.url("/hook");
    let handler = Handler::start_in(
        dir.path(),
        &[
            ("AML_EVENTS_SHUTDOWN_GRACE_SECS", "1"),
            ("AML_EVENTS_HOOKS", &hooks),
            ("HOOK_URL", &url),
        ],
    )
    .await;
    let body = invocation(&fixture_events("eventgrid-model-deployed.json")[0]).to_string();
    let base = handler.base.clone();
    let in_flight = tokio::spawn(async move {
        crate::support::host_request(&base, FUNCTION, "inv-cut", body).await
    });
    receiver.arrived("/hook", 1).await;
    handler.terminate();
    let (status, _, stderr) = handler.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{status:?} {stderr}");
    in_flight.abort();
}
