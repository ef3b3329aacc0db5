//! Serving the routes on a listener: HTTP/1.1 on hyper with a timer, bounded connections, and a
//! graceful, bounded shutdown.
//!
//! The Functions host and Event Grid speak HTTP/1.1 only, so that is all this server speaks (HTTP/2
//! stays out of the binary). Nothing outside may hold the process's resources: a request's head must
//! arrive within the header timeout (the same timer closes a keep-alive connection that sits idle), at
//! most `max_connections` are open at once (more wait in the kernel's backlog), and at shutdown idle
//! and half-sent connections are closed at once while requests being handled get the grace period.

use crate::door::{routes, Doors};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use warp::http::{header::HOST, Request, StatusCode, Version};

/// How the server protects itself from slow or greedy clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's head must arrive within this long; an idle keep-alive connection is closed after it.
    pub header_read_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight at shutdown was answered.
    Drained,
    /// The grace period ended with requests still in flight; they were cut.
    Cut,
}

/// Serves the doors on `listener` until `shutdown` completes, then stops accepting, closes idle and
/// half-sent connections, lets in-flight requests finish for at most `grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    doors: Arc<Doors>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: Limits,
) -> Stopped {
    let service = warp::service(routes(doors));
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stopping, stop_watch) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let in_flight = Arc::new(AtomicUsize::new(0));
        let service = service.clone();
        let counted = in_flight.clone();
        let serve_one = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut service = service.clone();
            let inside = InFlight::enter(&counted);
            async move {
                let _inside = inside;
                if let Some(bad) = bad_host(&request) {
                    return Ok::<_, Infallible>(bad);
                }
                tower_service::Service::call(&mut service, request).await
            }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), serve_one);
        let stop_watch = stop_watch.clone();
        tokio::spawn(async move {
            let _permit = permit;
            serve_connection(connection, in_flight, stop_watch).await;
        });
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections, finishing in-flight invocations"
    );
    let _ = stopping.send(true);
    // Every connection task holds a permit: all of them back means every connection has ended.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_ok();
    if drained {
        Stopped::Drained
    } else {
        tracing::warn!("grace period over with invocations still in flight; exiting anyway");
        Stopped::Cut
    }
}

/// How often a stopping connection looks whether a request is still inside the service.
const STOPPING_POLL: Duration = Duration::from_millis(100);

/// Serves one connection; once the server stops, lets a request inside the service finish (hyper's
/// graceful shutdown then closes the connection after its answer), and drops the connection as soon
/// as no request is inside: an idle keep-alive connection, or one whose head is still arriving, which
/// hyper's own graceful shutdown would keep until the header timeout (it counts a half-read head as
/// busy). The poll leaves an answer the service has just returned time to be written.
async fn serve_connection<C>(
    connection: C,
    in_flight: Arc<AtomicUsize>,
    mut stop_watch: tokio::sync::watch::Receiver<bool>,
) where
    C: Future<Output = hyper::Result<()>> + GracefulConnection,
{
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return log_end(result),
        _ = stop_watch.wait_for(|stopping| *stopping) => {}
    }
    connection.as_mut().graceful_shutdown();
    loop {
        tokio::select! {
            result = connection.as_mut() => return log_end(result),
            () = tokio::time::sleep(STOPPING_POLL) => {
                if in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
            }
        }
    }
}

fn log_end(result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Counts a request as inside the service while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A hyper connection that can be told to finish gracefully.
trait GracefulConnection {
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one `Host` line; anything else is a 400.
fn bad_host<B>(request: &Request<B>) -> Option<warp::reply::Response> {
    use warp::Reply as _;
    let hosts = request.headers().get_all(HOST).iter().count();
    let ok = hosts == 1 || (hosts == 0 && request.version() < Version::HTTP_11);
    (!ok).then(|| {
        let body = serde_json::json!({"error": {"status": 400,
            "message": "an HTTP/1.1 request needs exactly one Host header"}});
        warp::reply::with_status(warp::reply::json(&body), StatusCode::BAD_REQUEST).into_response()
    })
}

/// Accept errors: a connection that failed before we saw it is nothing; running out of file
/// descriptors is waited out (connections close as their timers run out) rather than spun on.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Completes on SIGTERM (what the Functions host and Lambda send) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
