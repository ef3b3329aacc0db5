//! The floor of the HTTP stack: a bare warp server that answers like a custom handler and does nothing
//! else, so `scripts/bench-load.sh` can measure how much of the handler's cost is the HTTP stack itself
//! (tokio, hyper, warp) and how much is ours (finding, decoding and dispatching the event, logging).
//!
//! It serves the same way the handler does: 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT (default 8080), the
//! same warp 0.4 server with graceful shutdown on SIGTERM/SIGINT, on the same multi-thread tokio runtime.
//! `GET /` answers readiness and every `POST /{name}` reads the whole request body (receiving the
//! invocation is part of the stack) and answers the fixed `{"Outputs":{},"Logs":[],"ReturnValue":null}`
//! as `application/json`. It decodes nothing, runs no hooks and logs nothing.
//!
//! With `BASELINE_PARSE=1` it also parses each body into a `serde_json::Value` and drops it: the least
//! any handler that looks at the event must do, a second reference point for the throughput budget.
//!
//! ```sh
//! FUNCTIONS_CUSTOMHANDLER_PORT=8081 cargo run --release --example baseline
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use warp::http::header::CONTENT_TYPE;
use warp::Filter;

/// The empty custom-handler answer.
const ANSWER: &str = r#"{"Outputs":{},"Logs":[],"ReturnValue":null}"#;

fn answer() -> impl warp::Reply {
    warp::reply::with_header(ANSWER, CONTENT_TYPE, "application/json")
}

fn main() {
    let port = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8080);
    let readiness = warp::path::end().and(warp::get()).map(answer);
    let parse = std::env::var_os("BASELINE_PARSE").is_some_and(|v| v == "1");
    let invocation = warp::path::param::<String>()
        .and(warp::path::end())
        .and(warp::post())
        .and(warp::body::bytes())
        .map(move |_function: String, body: bytes::Bytes| {
            if parse {
                let parsed = serde_json::from_slice::<serde_json::Value>(&body);
                std::hint::black_box(parsed.is_ok());
            }
            answer()
        });
    let routes = readiness.or(invocation);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        warp::serve(routes)
            .incoming(listener)
            .graceful(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .run()
            .await;
    });
}
