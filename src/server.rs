//! Serving the routes on a listener with graceful, bounded shutdown.

use crate::app::App;
use crate::door::routes;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets in-flight requests
/// finish for at most `grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = warp::serve(routes(app))
        .incoming(listener)
        .graceful(async move {
            let _ = stop_rx.await;
        })
        .run();
    tokio::pin!(server);
    tokio::select! {
        () = &mut server => return,
        () = shutdown => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections, finishing in-flight invocations"
    );
    let _ = stop_tx.send(());
    if tokio::time::timeout(grace, server).await.is_err() {
        tracing::warn!("grace period over with invocations still in flight; exiting anyway");
    }
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
