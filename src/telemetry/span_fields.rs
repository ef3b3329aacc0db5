//! The JSON text of a span's fields, written once when the span is made: the one piece of the JSON
//! lines kept our own, because a measurement shows it matters.
//!
//! tracing-subscriber's fmt layer formats a span's fields when the span is created, whether or not a
//! line is ever written inside it, and its `JsonFields` does so through a `BTreeMap` of
//! `serde_json::Value`s serialized through an `io::Write` adaptor that re-checks every fragment as UTF-8.
//! Every invocation makes two spans (the door's `invocation`, the pipeline's `event`) and, under the
//! Functions door, usually writes no line at all, so that formatting was pure overhead: callgrind of
//! the release handler serving 2,000 ModelDeployed invocations over HTTP (2026-12-02, no LTO) counted
//! 88,643 instructions per request, 14,800 of them in `Span::new`, 11,100 in `JsonFields` alone.
//! This formatter writes the same JSON object (the stock formatter parses it back when a line is
//! written, so lines keep their shape) straight into a byte buffer with serde_json's escaping.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

/// Span fields as one JSON object (`{"invocation_id":"…","function":"…"}`), for the JSON layer.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSpanFields;

impl<'w> FormatFields<'w> for JsonSpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut object = Object::new(Vec::with_capacity(128));
        fields.record(&mut object);
        writer.write_str(&object.finish())
    }

    /// Fields recorded after the span was made (`Span::record`) join the same object.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut object = Object::new(std::mem::take(&mut current.fields).into_bytes());
        fields.record(&mut object);
        current.fields = object.finish();
        Ok(())
    }
}

/// A JSON object being written: `{` and the members so far, without the closing brace.
struct Object {
    text: Vec<u8>,
    /// Reused for values that arrive as `Debug` (and `Display`, which tracing passes as `Debug`).
    scratch: String,
}

impl Object {
    /// Opens `previous` (a finished object, or nothing) for more members.
    fn new(mut previous: Vec<u8>) -> Self {
        if previous.last() == Some(&b'}') {
            previous.pop();
        } else {
            previous.clear();
        }
        if previous.is_empty() {
            previous.push(b'{');
        }
        Self {
            text: previous,
            scratch: String::new(),
        }
    }

    fn member(&mut self, field: &Field, value: &(impl serde::Serialize + ?Sized)) {
        if self.text.len() > 1 {
            self.text.push(b',');
        }
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        // Writing strings and numbers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.text, name);
        self.text.push(b':');
        let _ = serde_json::to_writer(&mut self.text, value);
    }

    fn finish(mut self) -> String {
        self.text.push(b'}');
        // serde_json writes UTF-8 only; the check is the price of no `unsafe`.
        String::from_utf8(self.text).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Visit for Object {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value:?}");
        self.member(field, scratch.as_str());
        self.scratch = scratch;
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::tests::Writes;
    use super::*;
    use serde_json::{json, Value};
    use tracing_subscriber::layer::SubscriberExt;

    /// The span's members in the line written inside it (after `body` ran on the span).
    fn span_members(body: impl FnOnce(&tracing::Span)) -> Value {
        let lines = Writes::default();
        let layer = super::super::json_layer(lines.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            let span = tracing::info_span!(
                "event",
                event_id = %"e\n\"1\"",
                n = 3u64,
                neg = -2i64,
                ok = true,
                ratio = 0.5,
                r#type = "t",
                later = tracing::field::Empty
            );
            body(&span);
            span.in_scope(|| tracing::info!("inside"));
        });
        let text = lines.0.lock().unwrap().concat();
        let line: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        line["spans"][0].clone()
    }

    #[test]
    fn fields_are_one_json_object_with_their_types() {
        assert_eq!(
            span_members(|_| {}),
            json!({"name": "event", "event_id": "e\n\"1\"", "n": 3, "neg": -2, "ok": true, "ratio": 0.5, "type": "t"})
        );
    }

    #[test]
    fn fields_recorded_later_join_the_object() {
        let members = span_members(|span| {
            span.record("later", "x");
            span.record("n", 4u64);
        });
        assert_eq!(members["later"], "x");
        assert_eq!(members["n"], 4, "the last value of a field wins");
        assert_eq!(members["event_id"], "e\n\"1\"");
    }

    #[test]
    fn objects_open_and_close_with_or_without_members() {
        assert_eq!(Object::new(Vec::new()).finish(), "{}");
        let mut reopened = Object::new(b"{}".to_vec());
        reopened.text.extend_from_slice(b"\"a\":1");
        assert_eq!(reopened.finish(), r#"{"a":1}"#);
    }
}
