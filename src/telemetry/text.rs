//! Readable text lines for a terminal: `tracing-subscriber`'s formatter with one change, in how
//! field values are written. The stock field formatter writes a message (and any `%value` field)
//! with its `Display` as is, escaping only terminal escape sequences, so a newline in event data
//! (a model name, a run id) would start what looks like a second log line. Here every control
//! character in a value is written escaped (`\n`, `\r`, `\t`, `\u{1b}`), so one event is one line.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::Subscriber;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The text layer writing to `make_writer`: time, level, span context, message and fields.
pub fn text_layer<S, W>(
    make_writer: W,
) -> tracing_subscriber::fmt::Layer<S, EscapedFields, Format<Full, SystemTime>, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_target(false)
        .fmt_fields(EscapedFields)
        // A line that cannot be written has nowhere else to go: reporting it on stderr (the default)
        // panics when stderr is closed too.
        .log_internal_errors(false)
        .with_writer(make_writer)
}

/// The writer's warning that `dropped` lines of `stream` were dropped, shaped as this layer's lines.
pub(crate) fn drop_warning(stream: &str, dropped: u64) -> Vec<u8> {
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let message = super::drop_message(stream, dropped);
    format!("{now}  WARN {message} dropped={dropped}\n").into_bytes()
}

/// Formats fields as the stock formatter does (`message`, then `name=value` separated by spaces),
/// with control characters escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Fields<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    /// Writes `value` (a message without its name; anything else as `name=value`), escaped.
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let mut out = Escape(&mut self.writer);
        self.result = if field.name() == "message" {
            write!(out, "{separator}{value}")
        } else {
            let name = field.name().strip_prefix("r#").unwrap_or(field.name());
            write!(out, "{separator}{name}={value}")
        };
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// A `fmt::Write` that writes control characters escaped, everything else as is.
struct Escape<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escape<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let mut chars = rest[at..].chars();
            let c = chars.next().unwrap_or_default();
            write!(self.0, "{}", c.escape_default())?;
            rest = chars.as_str();
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn text_of(body: impl FnOnce()) -> String {
        let out = Capture::default();
        let layer = text_layer(out.clone()).with_ansi(false);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_newline_in_event_data_cannot_forge_a_log_line() {
        let forged = "m1\n2026-11-26T01:02:03.456789Z ERROR forged line\r\u{1b}[31m";
        let text = text_of(|| {
            let span = tracing::info_span!("event", event_id = %forged);
            let _span = span.enter();
            tracing::info!(model = %forged, name = forged, "ModelDeployed: {forged}");
            tracing::info!(message = forged);
            let error = std::io::Error::other(forged);
            tracing::warn!(
                error = &error as &(dyn std::error::Error + 'static),
                "failed"
            );
        });
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains(['\r', '\u{1b}']), "{text}");
        let first = text.lines().next().unwrap();
        assert!(
            first.contains(
                r"ModelDeployed: m1\n2026-11-26T01:02:03.456789Z ERROR forged line\r\u{1b}[31m"
            ),
            "{first}"
        );
        assert!(first.contains(r"event{event_id=m1\n2026"), "{first}");
        assert!(first.contains(r"model=m1\n2026"), "{first}");
        assert!(first.contains(r#"name="m1\n2026"#), "{first}");
    }

    #[test]
    fn plain_lines_read_as_the_stock_formatter_writes_them() {
        let text = text_of(|| {
            let span = tracing::info_span!("invocation", invocation_id = "inv-1");
            let _span = span.enter();
            tracing::info!(hook = "log", n = 3, ok = true, "ModelDeployed: é ✓");
        });
        assert!(text.ends_with(
            "INFO invocation{invocation_id=\"inv-1\"}: ModelDeployed: é ✓ hook=\"log\" n=3 ok=true\n"
        ), "{text}");
    }
}
