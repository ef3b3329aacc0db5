//! Logging setup: JSON lines under the Functions host, readable text in a terminal.
//!
//! The host turns stdout lines into Information logs and stderr lines into Error logs, so errors go to
//! stderr and everything else to stdout. The level comes from `RUST_LOG` (default `info`).

use tracing::Level;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `json` selects one JSON object per line, with the current span's
/// fields of every enclosing span (`spans`: invocation id and function, then event id and type) on
/// every line. Calling it twice is harmless.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = std::io::stderr
        .with_max_level(Level::ERROR)
        .or_else(std::io::stdout);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if json {
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .flatten_event(true)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // Already installed (tests, or a library user who set up their own): keep theirs.
    let _ = result;
}
