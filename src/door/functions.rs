//! The Azure Functions custom-handler door.
//!
//! The host POSTs `{"Data": {"event": <event>}, "Metadata": {...}}` to `/{FunctionName}` and reads
//! `{"Outputs", "Logs", "ReturnValue"}` back. Answers follow the table in DESIGN.md: a hook failure is a
//! 500 (the host fails the invocation and Event Grid redelivers); an undecodable event is a 200 with the
//! error in `Logs`, on stderr, and in the poison output binding when configured, because a retry could
//! only fail again.

use crate::core::{Core, Disposition, Processed};
use crate::event::{DecodeError, Event, EventSeed, JsonPath, MlEvent, Str};
use crate::hooks::add_output;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use warp::http::StatusCode;

/// The name of the trigger binding in `function.json`.
pub const TRIGGER_BINDING: &str = "event";

/// How much of an undecodable event goes into the error log line (the poison binding gets all of it).
const RAW_LOG_LIMIT: usize = 16 * 1024;

/// The custom-handler response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvocationResponse {
    /// Output binding values by binding name.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host logs against the invocation (only read on 2xx).
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The function's return value; unused by Event Grid triggers.
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// Options of the Functions door.
#[derive(Debug, Clone, Default)]
pub struct FunctionsDoor {
    /// Output binding that receives undecodable events (`settings.poison_binding` in hooks.toml).
    pub poison_binding: Option<String>,
}

#[derive(Deserialize)]
struct Invocation<'a> {
    #[serde(rename = "Data", alias = "data", borrow, default)]
    data: Option<BTreeMap<String, &'a RawValue>>,
}

/// An invocation whose event cannot be found or decoded.
struct Poison<'a> {
    error: DecodeError,
    raw: Cow<'a, str>,
}

impl FunctionsDoor {
    /// Handles one invocation body for `function` and returns the status and response body.
    pub async fn invoke(
        &self,
        core: &Core,
        function: &str,
        body: &[u8],
    ) -> (StatusCode, InvocationResponse) {
        let mut response = InvocationResponse::default();
        if let Some(event) = decode_in_one_pass(body) {
            let deadline = tokio::time::Instant::now() + core.dispatcher().deadline();
            let processed = core.process_decoded_until(event, deadline).await;
            // A decoded event is never rejected, so its text (not captured) is never needed.
            let status = self.answer(
                &mut response,
                function,
                &JsonPath::root(),
                [(processed, "")],
            );
            return (status, response);
        }
        let (event_text, at) = match extract_event(body) {
            Ok(found) => found,
            Err(poison) => {
                self.reject(&mut response, function, &poison.error, &poison.raw);
                return (StatusCode::OK, response);
            }
        };
        let processed = match core.process_body(&event_text).await {
            Ok(processed) => processed,
            Err(error) => {
                self.reject(&mut response, function, &error.within(&at), &event_text);
                return (StatusCode::OK, response);
            }
        };
        let status = self.answer(&mut response, function, &at, processed);
        (status, response)
    }

    /// Adds each event's logs, outputs and failures to the response; the status is 500 when a hook
    /// failed (Event Grid redelivers). `at` is the path of the event text within the body.
    fn answer<'t>(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        at: &JsonPath,
        processed: impl IntoIterator<Item = (Processed, &'t str)>,
    ) -> StatusCode {
        let mut status = StatusCode::OK;
        for (
            Processed {
                disposition,
                event_id,
                ..
            },
            raw,
        ) in processed
        {
            match disposition {
                Disposition::Handled(outcome) => {
                    response.logs.extend(outcome.logs);
                    for (binding, value) in outcome.outputs {
                        add_output(&mut response.outputs, binding, value);
                    }
                    for failure in outcome.failures {
                        status = StatusCode::INTERNAL_SERVER_ERROR;
                        response.logs.push(format!(
                            "hook {} failed for event {}: {}; the invocation fails so that Event Grid redelivers it",
                            failure.hook,
                            event_id.as_deref().unwrap_or("?"),
                            failure.error
                        ));
                    }
                }
                Disposition::Ignored => {}
                Disposition::Rejected(error) => {
                    self.reject(response, function, &error.within(at), raw)
                }
            }
        }
        status
    }

    fn reject(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        error: &DecodeError,
        raw: &str,
    ) {
        let shown = truncate(raw, RAW_LOG_LIMIT);
        tracing::error!(
            function,
            error = %error.message(),
            path = %error.path(),
            raw_event = %shown,
            "rejected an event that cannot be decoded; it will not be retried"
        );
        response.logs.push(format!(
            "rejected event: {error}; it cannot be decoded and will not be retried"
        ));
        if let Some(binding) = &self.poison_binding {
            let message = json!({
                "error": error.message(),
                "path": error.path().to_string(),
                "function": function,
                "event": raw,
            });
            add_output(&mut response.outputs, binding.clone(), message);
        }
    }
}

/// The usual invocation, `{"Data": {"event": {...}}, "Metadata": {...}}`, with the event decoded where
/// it stands in one pass over the body. `None` for anything else (the event as a JSON string, another
/// binding name, any error): [`extract_event`] and the core's decoding then take over, and report.
fn decode_in_one_pass(body: &[u8]) -> Option<Event<MlEvent>> {
    struct Body;
    struct Data;

    impl<'de> Visitor<'de> for Body {
        type Value = Option<Event<MlEvent>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an invocation")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            let mut seen = false;
            while let Some(Str(key)) = map.next_key()? {
                if key == "Data" || key == "data" {
                    if std::mem::replace(&mut seen, true) {
                        return Err(A::Error::custom("`Data` twice"));
                    }
                    found = map.next_value_seed(Data)?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    impl<'de> DeserializeSeed<'de> for Data {
        type Value = Option<Event<MlEvent>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Data {
        type Value = Option<Event<MlEvent>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the bindings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(Str(key)) = map.next_key()? {
                if key == TRIGGER_BINDING {
                    if found.is_some() {
                        return Err(A::Error::custom("the trigger binding twice"));
                    }
                    found = Some(map.next_value_seed(EventSeed::<MlEvent>::default())?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de.deserialize_map(Body).ok()?;
    de.end().ok()?;
    found
}

/// Finds the event text in an invocation body: `Data.event`, or the only entry of `Data`, as a JSON
/// value or a JSON string holding one (decoded up to twice). Returns the text and its path.
fn extract_event(body: &[u8]) -> Result<(Cow<'_, str>, JsonPath), Poison<'_>> {
    let text = std::str::from_utf8(body).map_err(|e| Poison {
        error: DecodeError::new(
            JsonPath::root(),
            format!("the invocation body is not UTF-8: {e}"),
        ),
        raw: String::from_utf8_lossy(body),
    })?;
    let poison = |error: DecodeError| Poison {
        error,
        raw: Cow::Borrowed(text),
    };
    if text.trim().is_empty() {
        return Err(poison(DecodeError::new(
            JsonPath::root(),
            "the invocation body is empty",
        )));
    }
    let invocation: Invocation<'_> = crate::event::parse_borrowed(text).map_err(poison)?;
    let data_path = JsonPath::root().key("Data");
    let data = invocation.data.ok_or_else(|| {
        poison(DecodeError::new(
            data_path.clone(),
            "missing `Data`: not a custom-handler invocation",
        ))
    })?;
    let only = if data.len() == 1 {
        data.iter().next()
    } else {
        None
    };
    let (name, raw) = match (data.get(TRIGGER_BINDING), only) {
        (Some(raw), _) => (TRIGGER_BINDING.to_owned(), *raw),
        (None, Some((name, raw))) => (name.clone(), *raw),
        (None, None) => {
            let names: Vec<&str> = data.keys().map(String::as_str).collect();
            return Err(poison(DecodeError::new(
                data_path,
                format!(
                    "expected the trigger binding `{TRIGGER_BINDING}` or a single binding in `Data`, found [{}]",
                    names.join(", ")
                ),
            )));
        }
    };
    let at = data_path.key(name);
    let mut event = Cow::Borrowed(raw.get());
    // A binding declared with `dataType: string` (or `cardinality: many`) arrives as a JSON string.
    for _ in 0..2 {
        if !event.trim_start().starts_with('"') {
            break;
        }
        let inner: String = serde_json::from_str(&event).map_err(|e| Poison {
            error: DecodeError::new(at.clone(), format!("not a valid JSON string: {e}")),
            raw: Cow::Owned(event.to_string()),
        })?;
        event = Cow::Owned(inner);
    }
    Ok((event, at))
}

fn truncate(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_text(body: &str) -> Result<String, String> {
        extract_event(body.as_bytes())
            .map(|(t, _)| t.into_owned())
            .map_err(|p| p.error.to_string())
    }

    #[test]
    fn the_one_pass_decoding_finds_what_the_general_path_finds() {
        let mut decoded = 0;
        for (path, event) in crate::event::fixture_events() {
            let body = format!(
                r#"{{"Data":{{"event":{event}}},"Metadata":{{"data":{{"x":[1,{{"y":"z"}}]}},"sys":{{"MethodName":"f"}}}}}}"#
            );
            let general = extract_event(body.as_bytes())
                .ok()
                .and_then(|(text, _)| Event::<MlEvent>::from_json(&text).ok());
            // It may decline (`data` before the type); when it decodes, it agrees.
            if let Some(one_pass) = decode_in_one_pass(body.as_bytes()) {
                assert_eq!(Some(one_pass), general, "{}", path.display());
                decoded += 1;
            }
        }
        assert!(decoded >= 20, "{decoded} decoded in one pass");
    }

    #[test]
    fn unusual_invocations_are_left_to_the_general_path() {
        let event = r#"{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{}}"#;
        let quoted = serde_json::to_string(event).unwrap();
        for body in [
            format!(r#"{{"Data":{{"event":{quoted}}}}}"#),
            format!(r#"{{"Data":{{"eg":{event}}}}}"#),
            format!(r#"{{"Data":{{"event":{event},"event":{event}}}}}"#),
            format!(r#"{{"Data":{{"event":{event}}},"data":{{}}}}"#),
            format!(r#"{{"Data":{{"event":{event}}}}} trailing"#),
            format!(r#"{{"Data":{{"event":[{event}]}}}}"#),
        ] {
            assert!(decode_in_one_pass(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn the_event_is_data_event_or_the_only_binding() {
        assert_eq!(
            event_text(r#"{"Data":{"event":{"id":"1"}},"Metadata":{}}"#).unwrap(),
            r#"{"id":"1"}"#
        );
        assert_eq!(
            event_text(r#"{"Data":{"eg":{"id":"2"}}}"#).unwrap(),
            r#"{"id":"2"}"#
        );
        let err = event_text(r#"{"Data":{"a":{},"b":{}}}"#).unwrap_err();
        assert!(
            err.contains("found [a, b]") && err.ends_with("at $.Data"),
            "{err}"
        );
    }

    #[test]
    fn string_encoded_events_are_decoded_once_or_twice() {
        let once = serde_json::to_string(r#"{"id":"1"}"#).unwrap();
        let twice = serde_json::to_string(&once).unwrap();
        for encoded in [once, twice] {
            let body = format!(r#"{{"Data":{{"event":{encoded}}}}}"#);
            assert_eq!(event_text(&body).unwrap(), r#"{"id":"1"}"#);
        }
    }

    #[test]
    fn bodies_without_an_event_are_poison_with_a_path() {
        assert!(event_text("").unwrap_err().contains("empty"));
        assert!(event_text("{\"Metadata\":{}}")
            .unwrap_err()
            .contains("missing `Data`"));
        assert!(event_text("{\"Data\":[1]}")
            .unwrap_err()
            .ends_with("at $.Data"));
        assert!(event_text("{\"Data\":")
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn long_raw_events_are_truncated_on_a_char_boundary() {
        let text = "é".repeat(10);
        let cut = truncate(&text, 5);
        assert!(cut.starts_with("éé…"), "{cut}");
    }
}
