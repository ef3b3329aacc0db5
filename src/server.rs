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
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
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

/// Serves the doors on `listener` until `shutdown` completes, then stops accepting, closes idle
/// connections, lets in-flight requests finish for at most `grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    doors: Arc<Doors>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    limits: Limits,
) -> Stopped {
    let service = warp::service(routes(doors));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
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
        let service = service.clone();
        let serve_one = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut service = service.clone();
            async move {
                if let Some(bad) = bad_host(&request) {
                    return Ok::<_, Infallible>(bad);
                }
                tower_service::Service::call(&mut service, request).await
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), serve_one));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections, finishing in-flight invocations"
    );
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => Stopped::Drained,
        Err(_) => {
            tracing::warn!("grace period over with invocations still in flight; exiting anyway");
            Stopped::Cut
        }
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
