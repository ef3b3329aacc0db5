//! JSON log lines, one object per line, in the shape `tracing-subscriber`'s JSON formatter writes with
//! `flatten_event(true)` and `with_span_list(true)`:
//!
//! ```text
//! {"timestamp":"2026-11-26T01:02:03.456789Z","level":"INFO","message":"…","hook":"log-ml-events",
//!  "target":"aml_events::hooks","spans":[{"name":"invocation","invocation_id":"…","function":"…"},
//!  {"name":"event","event_id":"…","event_type":"…"}]}
//! ```
//!
//! Written by hand because this line is on the path of every event: the stock formatter stores each
//! span's fields as JSON text and parses them back into a `serde_json::Value` for every line it writes
//! (measured at about a fifth of an invocation's instructions, BENCHMARKS.md). Here a span's fields are
//! rendered once, when the span is created, and copied into each line as they are.

use super::writer::LineSink;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer that writes JSON lines to a [`LineSink`].
pub struct JsonLines<S> {
    sink: S,
}

impl<S: LineSink> JsonLines<S> {
    /// A layer writing to `sink`.
    pub fn new(sink: S) -> Self {
        Self { sink }
    }
}

/// A span's fields as JSON members (`"name":"event","event_id":"…"`), rendered at creation.
struct SpanJson(String);

thread_local! {
    /// One line buffer per thread, reused: formatting a line allocates nothing once it has grown.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, R> Layer<R> for JsonLines<S>
where
    S: LineSink,
    R: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, R>) {
        let Some(span) = ctx.span(id) else { return };
        let mut json = String::with_capacity(96);
        json.push_str("\"name\":");
        push_str(&mut json, attrs.metadata().name());
        attrs.record(&mut Members(&mut json));
        span.extensions_mut().insert(SpanJson(json));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, R>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanJson(json)) = extensions.get_mut::<SpanJson>() {
            values.record(&mut Members(json));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, R>) {
        let write = |line: &mut String| {
            line.clear();
            format_line(line, event, &ctx);
            self.sink
                .write_line(line.as_bytes(), *event.metadata().level() == Level::ERROR);
        };
        // Re-entrant logging (a `Debug` impl that logs) gets a fresh buffer instead of a panic.
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut String::new()),
        });
    }
}

fn format_line<R>(line: &mut String, event: &Event<'_>, ctx: &Context<'_, R>)
where
    R: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    push_timestamp(line, std::time::SystemTime::now());
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push('"');
    event.record(&mut Members(line));
    line.push_str(",\"target\":");
    push_str(line, meta.target());
    if let Some(scope) = ctx.event_scope(event) {
        line.push_str(",\"spans\":[");
        let mut first = true;
        for span in scope.from_root() {
            if !first {
                line.push(',');
            }
            first = false;
            line.push('{');
            if let Some(SpanJson(json)) = span.extensions().get::<SpanJson>() {
                line.push_str(json);
            }
            line.push('}');
        }
        line.push(']');
    }
    line.push_str("}\n");
}

/// Appends `,"name":value` for each recorded field.
struct Members<'a>(&'a mut String);

impl Members<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        push_str(self.0, field.name());
        self.0.push(':');
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_str(self.0, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.0.push('"');
        let _ = write!(Escaped(self.0), "{value:?}");
        self.0.push('"');
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.0, "{value}");
        } else {
            // JSON has no NaN or infinity.
            let _ = write!(self.0, "\"{value}\"");
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.key(field);
        self.0.push('"');
        let _ = write!(Escaped(self.0), "{value}");
        self.0.push('"');
    }
}

/// Appends `value` as a JSON string.
fn push_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = Escaped(out).write_str(value);
    out.push('"');
}

/// A `fmt::Write` that escapes what it is given for the inside of a JSON string.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Eight bytes at a time while none of them needs escaping (the common case).
            if let Some(chunk) = bytes.get(i..i + 8) {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
                if !needs_escape(word) {
                    i += 8;
                    continue;
                }
            }
            let b = bytes[i];
            i += 1;
            if b >= 0x20 && b != b'"' && b != b'\\' {
                continue;
            }
            let at = i - 1;
            self.0.push_str(&s[start..at]);
            match b {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                0x08 => self.0.push_str("\\b"),
                0x0c => self.0.push_str("\\f"),
                _ => {
                    let _ = write!(self.0, "\\u{b:04x}");
                }
            }
            start = at + 1;
        }
        self.0.push_str(&s[start..]);
        Ok(())
    }
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (bit tricks from
/// "Bit Twiddling Hacks": a byte is zero in `x` exactly when `haszero` sets its high bit).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// Appends `time` as RFC 3339 UTC with microseconds (`2026-11-26T01:02:03.456789Z`).
fn push_timestamp(out: &mut String, time: std::time::SystemTime) {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<(String, bool)>>>);

    impl LineSink for Lines {
        fn write_line(&self, line: &[u8], error: bool) {
            let line = String::from_utf8(line.to_vec()).unwrap();
            self.0.lock().unwrap().push((line, error));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain ascii text, long enough for several words".into(),
            "quote\" and back\\slash in the middle of a long-ish line".into(),
            "ctl \u{0}\u{1}\u{1f} tab\t nl\n cr\r del\u{7f} end".into(),
            "ünïcödé ✓ 🚀 mixed with \"quotes\" and \\ and \u{8}".into(),
        ];
        // Every position of every special byte, at and around the eight-byte boundaries.
        for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '~', 'é'] {
            for at in 0..20 {
                let mut text: String = "abcdefghijklmnopqrst".into();
                text.insert(at, special);
                cases.push(text);
            }
        }
        for case in cases {
            let mut ours = String::new();
            push_str(&mut ours, &case);
            assert_eq!(ours, serde_json::to_string(&case).unwrap(), "{case:?}");
        }
    }

    #[test]
    fn timestamps_match_chrono() {
        for secs in [
            0u64,
            951_782_400,
            1_700_000_000,
            1_795_600_000,
            4_102_444_800,
        ] {
            let time = UNIX_EPOCH + Duration::new(secs, 123_456_789);
            let mut ours = String::new();
            push_timestamp(&mut ours, time);
            let theirs = chrono::DateTime::<chrono::Utc>::from(time)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn lines_are_json_with_fields_target_and_the_span_list() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
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
        let lines = lines.0.lock().unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines
            .iter()
            .all(|(l, _)| l.ends_with("}\n") && !l[..l.len() - 1].contains('\n')));
        let info: Value = serde_json::from_str(&lines[0].0).unwrap();
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
        assert!(!lines[0].1, "info goes to stdout");
        let error: Value = serde_json::from_str(&lines[1].0).unwrap();
        assert_eq!(error["status"], 500);
        assert!(lines[1].1, "errors go to stderr");
    }

    #[test]
    fn lines_outside_spans_have_no_span_list() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, || tracing::warn!("plain"));
        let line: Value = serde_json::from_str(&lines.0.lock().unwrap()[0].0).unwrap();
        assert_eq!(line["message"], "plain");
        assert!(line.get("spans").is_none());
    }
}
