//! JSON log lines, one object per line: `tracing-subscriber`'s JSON formatter with the event's fields
//! flattened into the line and the list of enclosing spans (no separate `span` member):
//!
//! ```text
//! {"timestamp":"2026-11-26T01:02:03.456789Z","level":"INFO","message":"…","hook":"log-ml-events",
//!  "target":"aml_events::hooks","spans":[{"function":"…","invocation_id":"…","name":"invocation"},
//!  {"event_id":"…","event_type":"…","name":"event"}]}
//! ```
//!
//! serde_json escapes the strings; chrono writes the time (RFC 3339, UTC, microseconds). Lines logged
//! outside any span have no `spans` member.
//!
//! Cost: the stock formatter parses each span's stored fields back into a `serde_json::Value` for
//! every line it writes; the hand-written layer this replaces avoided that. Under the Functions door a
//! normal invocation writes no line at `info` any more (the hook's line is in `Logs`, its stdout copy
//! is `debug`: [`super::logs_reach_host`]), so that cost is only paid on the lines that remain (the
//! webhook and Lambda doors' hook lines, warnings, errors). Measured 2026-12-02 with callgrind,
//! `examples/decode_cost.rs invoke` (ModelDeployed, shipped `hooks.toml`; a release build without LTO,
//! so the figures compare with each other, not with BENCHMARKS.md's), instructions per invocation:
//!
//! | layer | with logging | without a subscriber | logging |
//! | --- | --- | --- | --- |
//! | hand-written (before), hook line at info | 54,463 | 43,497 | 10,966 |
//! | this one, hook line at info | 76,529 | 43,532 | 32,997 |
//! | this one, hook line at debug (the Functions door) | 53,995 | 44,336 | 9,659 |
//!
//! So a written line costs about 22,000 instructions more than before, and the Functions door's
//! invocation costs what it did: no custom layer is kept for speed.

use super::span_fields::JsonSpanFields;
use std::fmt;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;

/// The JSON-lines layer writing to `make_writer` (the handler's: stderr for errors, the non-blocking
/// stdout for the rest; benchmarks pass `std::io::sink`).
pub fn json_layer<S, W>(
    make_writer: W,
) -> tracing_subscriber::fmt::Layer<S, JsonSpanFields, Format<Json, Rfc3339Micros>, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .fmt_fields(JsonSpanFields)
        .with_target(true)
        .with_ansi(false)
        .with_timer(Rfc3339Micros)
        // A line that cannot be written has nowhere else to go: reporting it on stderr (the default)
        // panics when stderr is closed too.
        .log_internal_errors(false)
        .with_writer(make_writer)
}

/// The writer's warning that `dropped` lines of `stream` were dropped, as a line of this layer's
/// (written by the writer thread itself, which has no subscriber to format it).
pub(crate) fn drop_warning(stream: &str, dropped: u64) -> Vec<u8> {
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let line = serde_json::json!({
        "timestamp": now,
        "level": "WARN",
        "message": super::drop_message(stream, dropped),
        "dropped": dropped,
        "target": module_path!(),
    });
    let mut line = line.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// The time of a line as RFC 3339 in UTC with microseconds (`2026-11-26T01:02:03.456789Z`), by chrono.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rfc3339Micros;

impl FormatTime for Rfc3339Micros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
        w.write_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::writer::{errors_apart, queue, QUEUED_LINES, SERVING_FROM_THE_START};
    use super::*;
    use serde_json::Value;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Every write the layer makes, one string each (the formatter writes a line in one write).
    #[derive(Clone, Default)]
    pub(crate) struct Writes(pub(crate) Arc<Mutex<Vec<String>>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let text = String::from_utf8(buf.to_vec()).unwrap();
            self.0.lock().unwrap().push(text);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Writes {
        type Writer = Writes;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// The lines written to stdout and to stderr while `body` runs under the JSON layer.
    fn lines_of(body: impl FnOnce()) -> (Vec<String>, Vec<String>) {
        let (stdout, stderr) = (Writes::default(), Writes::default());
        let layer = json_layer(errors_apart(stderr.clone(), stdout.clone()));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body);
        let lines = |w: Writes| w.0.lock().unwrap().clone();
        (lines(stdout), lines(stderr))
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn lines_are_json_with_fields_target_and_the_span_list() {
        let (stdout, stderr) = lines_of(|| {
            let outer = tracing::info_span!("invocation", invocation_id = "inv-\"1\"", n = 3);
            let _outer = outer.enter();
            let inner = tracing::info_span!("event", event_id = %"e\n1");
            let _inner = inner.enter();
            tracing::info!(
                hook = "log",
                ok = true,
                ratio = 0.5,
                "model {} at \u{1}",
                "m:1"
            );
            tracing::error!(status = 500u16, "failed");
        });
        assert_eq!(
            (stdout.len(), stderr.len()),
            (1, 1),
            "{stdout:?} {stderr:?}"
        );
        assert!(stdout
            .iter()
            .chain(&stderr)
            .all(|l| l.ends_with("}\n") && !l[..l.len() - 1].contains('\n')));
        let info: Value = serde_json::from_str(&stdout[0]).unwrap();
        assert_eq!(info["level"], "INFO");
        assert_eq!(info["message"], "model m:1 at \u{1}");
        assert_eq!(info["hook"], "log");
        assert_eq!(info["ok"], true);
        assert_eq!(info["ratio"], 0.5);
        assert_eq!(info["target"], module_path!());
        assert_eq!(info["spans"][0]["name"], "invocation");
        assert_eq!(info["spans"][0]["invocation_id"], "inv-\"1\"");
        assert_eq!(info["spans"][0]["n"], 3);
        assert_eq!(info["spans"][1]["event_id"], "e\n1");
        assert!(info["timestamp"].as_str().unwrap().ends_with('Z'));
        let error: Value = serde_json::from_str(&stderr[0]).unwrap();
        assert_eq!(error["status"], 500);
        assert_eq!(error["level"], "ERROR", "errors go to stderr");
    }

    #[test]
    fn the_line_shape_is_the_one_the_host_and_the_tests_read() {
        let (stdout, _) = lines_of(|| {
            let invocation = tracing::info_span!(
                "invocation",
                invocation_id = "inv-1",
                function = "MlWorkspaceEvents"
            );
            let _invocation = invocation.enter();
            let event = tracing::info_span!(
                "event",
                event_id = "e-1",
                event_type = "Microsoft.MachineLearningServices.ModelDeployed"
            );
            let _event = event.enter();
            tracing::info!(hook = "log-ml-events", message = "ModelDeployed: m");
        });
        let line: Value = serde_json::from_str(&stdout[0]).unwrap();
        assert_eq!(
            keys(&line),
            ["hook", "level", "message", "spans", "target", "timestamp"]
        );
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(keys(&spans[0]), ["function", "invocation_id", "name"]);
        assert_eq!(spans[0]["name"], "invocation");
        assert_eq!(spans[0]["invocation_id"], "inv-1");
        assert_eq!(spans[0]["function"], "MlWorkspaceEvents");
        assert_eq!(keys(&spans[1]), ["event_id", "event_type", "name"]);
        assert_eq!(spans[1]["name"], "event");
        assert_eq!(spans[1]["event_id"], "e-1");
        assert_eq!(
            spans[1]["event_type"],
            "Microsoft.MachineLearningServices.ModelDeployed"
        );
        assert_eq!(line["message"], "ModelDeployed: m");
        // RFC 3339, UTC, exactly six fraction digits, as chrono writes it.
        let timestamp = line["timestamp"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(timestamp).unwrap();
        assert_eq!(
            parsed
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            timestamp
        );
        assert_eq!(timestamp.len(), "2026-11-26T01:02:03.456789Z".len());
    }

    #[test]
    fn strings_are_escaped_by_serde_json() {
        let nasty = "ctl \u{0}\u{1}\u{1f} tab\t nl\n cr\r del\u{7f} \"q\" \\ ünï ✓ 🚀 \u{8}";
        let (stdout, _) = lines_of(|| {
            let span = tracing::info_span!("event", event_id = nasty);
            let _span = span.enter();
            tracing::info!(text = nasty, message = nasty);
        });
        assert_eq!(stdout.len(), 1);
        let line = &stdout[0];
        assert!(
            !line[..line.len() - 1].contains(['\n', '\r', '\u{0}']),
            "{line}"
        );
        let parsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["text"], nasty);
        assert_eq!(parsed["message"], nasty);
        assert_eq!(parsed["spans"][0]["event_id"], nasty);
        assert!(line.contains(&serde_json::to_string(nasty).unwrap()));
    }

    #[test]
    fn lines_outside_spans_have_no_span_list() {
        let (stdout, _) = lines_of(|| tracing::warn!("plain"));
        let line: Value = serde_json::from_str(&stdout[0]).unwrap();
        assert_eq!(line["message"], "plain");
        assert!(line.get("spans").is_none());
        assert_eq!(keys(&line), ["level", "message", "target", "timestamp"]);
    }

    #[test]
    fn lines_still_queued_are_written_when_the_guard_drops() {
        /// Slow enough that lines are still queued when the guard is dropped.
        #[derive(Clone, Default)]
        struct Slow(Arc<Mutex<Vec<u8>>>);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(std::time::Duration::from_millis(20));
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Slow::default();
        let (stdout, guard) = queue(
            out.clone(),
            "stdout",
            QUEUED_LINES,
            drop_warning,
            &SERVING_FROM_THE_START,
        );
        let layer = json_layer(stdout);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for i in 0..200 {
                tracing::info!(i, "line {i}");
            }
        });
        drop(guard);
        let bytes = out.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let numbers: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..200).collect::<Vec<u64>>());
    }
}
