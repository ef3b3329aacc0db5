//! Logging setup: JSON lines under the Functions host, readable text in a terminal.
//!
//! The host turns stdout lines into Information logs and stderr lines into Error logs, so errors go to
//! stderr and everything else to stdout. The level comes from `RUST_LOG` (default `info`), read as
//! `tracing-subscriber`'s [`Targets`]: a default level and `target=level` pairs
//! (`info,aml_events::hooks=debug`). Span and field filters are not supported; the full `EnvFilter`
//! would bring a regex engine into a binary that is measured on its cold start.

pub mod json;
pub mod writer;

pub use json::JsonLines;
pub use writer::{BatchedStdout, DirectStdio, Discard, LineSink, LogGuard};

use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The filter `RUST_LOG` asks for; `info` when unset. A value that cannot be read is reported on
/// stderr and replaced by `info`, so a typo never silences the handler.
pub fn filter_from_env() -> Targets {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse().unwrap_or_else(|e| {
            eprintln!("RUST_LOG={spec:?} cannot be read ({e}); logging at info");
            default
        }),
        _ => default,
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Readable text, for a terminal.
    Text,
    /// JSON lines written in batches by a background thread ([`BatchedStdout`]): under the Functions
    /// host, where the process keeps running between invocations.
    JsonBatched,
    /// JSON lines written as they are logged ([`DirectStdio`]): on AWS Lambda, which freezes the
    /// process between invocations.
    JsonDirect,
}

/// Installs the global subscriber. The JSON outputs write one object per line ([`json`]), with the
/// fields of every enclosing span (`spans`: invocation id and function, then event id and type) on
/// every line. Keep the guard until the process ends: dropping it writes what is still buffered.
/// Calling it twice is harmless (the first stays).
pub fn init(output: Output) -> Option<LogGuard> {
    let filter = filter_from_env();
    if output == Output::JsonBatched {
        let (stdout, guard) = BatchedStdout::start(std::io::stdout());
        let installed = tracing_subscriber::registry()
            .with(JsonLines::new(stdout).with_filter(filter))
            .try_init();
        installed.is_ok().then_some(guard)
    } else if output == Output::JsonDirect {
        let _ = tracing_subscriber::registry()
            .with(JsonLines::new(DirectStdio).with_filter(filter))
            .try_init();
        None
    } else {
        let writer = std::io::stderr
            .with_max_level(Level::ERROR)
            .or_else(std::io::stdout);
        let _ = tracing_subscriber::fmt()
            .with_max_level(LevelFilter::TRACE)
            .with_writer(writer)
            .with_target(false)
            .finish()
            .with(filter)
            .try_init();
        None
    }
}
