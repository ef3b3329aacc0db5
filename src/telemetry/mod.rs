//! Logging setup: JSON lines under the Functions host, readable text in a terminal.
//!
//! The host turns stdout lines into Information logs and stderr lines into Error logs, so errors go to
//! stderr and everything else to stdout. The level comes from the filter spec the settings module
//! reads from `RUST_LOG` (default `info`), read as `tracing-subscriber`'s [`Targets`]: a default level
//! and `target=level` pairs (`info,aml_events::hooks=debug`). Span and field filters are not
//! supported; the full `EnvFilter` would bring a regex engine into a binary that is measured on its
//! cold start.
//!
//! The formatters are `tracing-subscriber`'s JSON and text formatters (`json.rs`; `text.rs` only
//! escapes the control characters the stock text formatter lets through). The writer (`writer.rs`) is
//! this crate's: a queue per stream to a writer thread, as `tracing-appender`'s, but a logging thread
//! waits at most 100 ms for room and then drops the line (counted, and reported in one warning), so an
//! unread stdout or stderr never stops the runtime.

mod bounded;
mod json;
mod logs;
mod room;
mod span_fields;
mod text;
mod writer;

pub(crate) use bounded::{bounded, cut};
pub use json::json_layer;
pub use logs::{logs_reach_host, with_logs_in_answer};
pub(crate) use writer::serving;

use std::io::Write as _;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{ParseError, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Readable text, for a terminal, written by background threads as `JsonBatched` is.
    Text,
    /// JSON lines written by background threads (`writer.rs`): under the Functions host,
    /// where the process keeps running between invocations.
    JsonBatched,
    /// JSON lines written as they are logged: on AWS Lambda, which freezes the process between
    /// invocations, so a line still waiting in a buffer would only reach CloudWatch at the next
    /// invocation, or never.
    JsonDirect,
}

/// A log filter spec that cannot be read. The spec comes from `RUST_LOG`, so the message names it.
#[derive(Debug, thiserror::Error)]
#[error("RUST_LOG={spec:?} cannot be read ({source}); logging at info")]
pub struct FilterError {
    /// The spec as given.
    pub spec: String,
    /// What `tracing-subscriber` found wrong with it.
    #[source]
    pub source: ParseError,
}

/// The filter `spec` asks for (`RUST_LOG`'s syntax); `info` when there is none or it is blank.
pub fn parse_filter(spec: Option<&str>) -> Result<Targets, FilterError> {
    match spec {
        Some(spec) if !spec.trim().is_empty() => spec.parse().map_err(|source| FilterError {
            spec: spec.to_owned(),
            source,
        }),
        _ => Ok(default_filter()),
    }
}

fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// What [`init`] leaves behind. Keep it until the process ends: dropping it writes the lines the
/// background writers still hold (and the count of lines dropped, if any), waiting up to a second.
#[must_use = "dropping it flushes the log writers"]
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Held for their `Drop`, which flushes the writer threads (stdout's, stderr's).
    _guards: Vec<writer::Guard>,
    filter_error: Option<FilterError>,
}

impl Telemetry {
    /// The filter spec that could not be read (already reported on stderr), if any.
    pub fn filter_error(&self) -> Option<&FilterError> {
        self.filter_error.as_ref()
    }
}

/// Installs the global subscriber for `output`, filtered by `log_filter` (the value of `RUST_LOG`,
/// read by the settings module). A spec that cannot be read is reported on stderr
/// (`RUST_LOG="..." cannot be read (...); logging at info`) and replaced by `info`, so a typo never
/// silences the handler; the error stays in [`Telemetry::filter_error`].
///
/// The JSON outputs write one object per line ([`json_layer`]), with the fields of every enclosing span
/// (`spans`: invocation id and function, then event id and type) on every line. Calling it twice is
/// harmless (the first subscriber stays, and the second call starts no writer thread).
pub fn init(output: Output, log_filter: Option<&str>) -> Telemetry {
    let (filter, filter_error) = match parse_filter(log_filter) {
        Ok(filter) => (filter, None),
        Err(e) => {
            // Not `eprintln!`: it panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "{e}");
            (default_filter(), Some(e))
        }
    };
    // The filter is the subscriber's, not the layer's: with one layer, a per-layer filter only adds
    // its bookkeeping to every span and event (1,000 of the 65,300 instructions of an invocation,
    // callgrind over HTTP, scripts/instructions-per-request.py).
    let guards = match output {
        Output::JsonBatched => {
            let (stdout, out_guard) = writer::stdout(json::drop_warning);
            let (stderr, err_guard) = writer::stderr(json::drop_warning);
            let layer = json_layer(writer::errors_apart(stderr, stdout));
            let installed = tracing_subscriber::registry()
                .with(filter)
                .with(layer)
                .try_init();
            // Not installed: the writer threads end with the guards, here.
            installed.map_or(Vec::new(), |()| vec![out_guard, err_guard])
        }
        Output::JsonDirect => {
            let layer = json_layer(writer::errors_apart(std::io::stderr, std::io::stdout));
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(layer)
                .try_init();
            Vec::new()
        }
        Output::Text => {
            let (stdout, out_guard) = writer::stdout(text::drop_warning);
            let (stderr, err_guard) = writer::stderr(text::drop_warning);
            let layer = text::text_layer(writer::errors_apart(stderr, stdout));
            let installed = tracing_subscriber::registry()
                .with(filter)
                .with(layer)
                .try_init();
            installed.map_or(Vec::new(), |()| vec![out_guard, err_guard])
        }
    };
    Telemetry {
        _guards: guards,
        filter_error,
    }
}

/// The message of the writer's warning, in either format.
fn drop_message(stream: &str, dropped: u64) -> String {
    format!("{dropped} log lines were dropped: {stream} was not being read")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spec_or_a_blank_one_logs_at_info() {
        for spec in [None, Some(""), Some("  ")] {
            let filter = parse_filter(spec).unwrap();
            assert_eq!(filter.default_level(), Some(LevelFilter::INFO), "{spec:?}");
        }
    }

    #[test]
    fn targets_and_levels_are_read() {
        let filter = parse_filter(Some("warn,aml_events::hooks=debug")).unwrap();
        assert_eq!(filter.default_level(), Some(LevelFilter::WARN));
        assert!(filter.would_enable("aml_events::hooks::action", &tracing::Level::DEBUG));
        assert!(!filter.would_enable("aml_events::door", &tracing::Level::INFO));
    }

    #[test]
    fn a_bad_spec_is_a_typed_error_naming_the_variable_and_the_fallback() {
        let error = parse_filter(Some("info,x=loud")).unwrap_err();
        assert_eq!(error.spec, "info,x=loud");
        let text = error.to_string();
        assert!(
            text.starts_with("RUST_LOG=\"info,x=loud\" cannot be read (")
                && text.ends_with("); logging at info"),
            "{text}"
        );
    }
}
