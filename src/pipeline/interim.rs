//! Interim decoding entry point over the event module's current API. It is replaced by the event
//! module's own `decode` (one decoder, no JSON round trip for binary mode) when that lands.

use crate::event::{split_batch, DecodeError, Event, EventSeed, JsonPath, MlEvent, Str};
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The name of the trigger binding in `function.json`.
pub const TRIGGER_BINDING: &str = "event";

/// What a door hands over: bytes plus the transport facts decoding needs.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// One event object or an array of them (webhook structured or batch mode, Lambda, `decode`).
    Events(&'a [u8]),
    /// A Functions host invocation `{"Data": {"event": ...}, "Metadata": {...}}`: the event (or
    /// array) at `Data.event` or the only binding, possibly a JSON string holding the event.
    Invocation(&'a [u8]),
    /// CloudEvents HTTP binary mode: the `ce-*` headers' attributes (name without the prefix,
    /// lower-case, value percent-decoded by the door), the Content-Type, the body as the data.
    Binary {
        /// The attributes.
        attributes: &'a [(String, String)],
        /// The Content-Type header.
        content_type: Option<&'a str>,
        /// The body.
        data: &'a [u8],
    },
}

/// One event of a body.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The event, or why it cannot be decoded; error paths start at the body's root.
    pub event: Result<Event<MlEvent>, DecodeError>,
    /// The event's own text; always there when `event` is an error.
    pub raw: Cow<'a, str>,
}

/// The body as a whole is unusable: why, and the text to keep.
#[derive(Debug)]
pub struct BodyError<'a> {
    /// What is wrong, and where.
    pub error: DecodeError,
    /// The whole body, or the event text that was found.
    pub raw: Cow<'a, str>,
}

/// Decodes every event of `body`.
pub fn decode(body: Body<'_>) -> Result<Vec<Decoded<'_>>, BodyError<'_>> {
    match body {
        Body::Events(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|e| BodyError {
                error: DecodeError::new(JsonPath::root(), format!("the body is not UTF-8: {e}")),
                raw: String::from_utf8_lossy(bytes),
            })?;
            events(Cow::Borrowed(text), &JsonPath::root())
        }
        Body::Invocation(bytes) => {
            if let Some(event) = decode_in_one_pass(bytes) {
                return Ok(vec![Decoded {
                    event: Ok(event),
                    raw: Cow::Borrowed(""),
                }]);
            }
            let (text, at) = extract_event(bytes)?;
            events(text, &at)
        }
        Body::Binary {
            attributes,
            content_type,
            data,
        } => {
            let text = binary_mode_event(attributes, content_type, data)?.to_string();
            events(Cow::Owned(text), &JsonPath::root())
        }
    }
}

fn events<'a>(text: Cow<'a, str>, at: &JsonPath) -> Result<Vec<Decoded<'a>>, BodyError<'a>> {
    let raws: Vec<String> = match split_batch(&text) {
        Ok(raws) => raws.into_iter().map(str::to_owned).collect(),
        Err(error) => {
            return Err(BodyError {
                error: error.within(at),
                raw: text,
            })
        }
    };
    let is_array = text.trim_start().starts_with('[');
    Ok(raws
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let event = Event::from_json(&raw).map_err(|e| {
                if is_array {
                    e.within(&at.clone().index(i))
                } else {
                    e.within(at)
                }
            });
            Decoded {
                event,
                raw: Cow::Owned(raw),
            }
        })
        .collect())
}

/// Builds a structured CloudEvent from binary mode: attributes in `ce-*` headers, data in the body.
fn binary_mode_event<'a>(
    attributes: &[(String, String)],
    content_type: Option<&str>,
    data: &'a [u8],
) -> Result<Value, BodyError<'a>> {
    let mut event = Map::new();
    for (name, value) in attributes {
        event.insert(name.clone(), Value::String(value.clone()));
    }
    let content_type = content_type.unwrap_or("application/json");
    event.insert(
        "datacontenttype".into(),
        Value::String(content_type.to_owned()),
    );
    let body = String::from_utf8_lossy(data);
    if body.trim().is_empty() {
        // No data.
    } else if crate::event::is_json_media_type(content_type) {
        let parsed: Value = crate::event::parse_str(&body).map_err(|e| BodyError {
            error: e.within(&JsonPath::root().key("data")),
            raw: body.clone(),
        })?;
        event.insert("data".into(), parsed);
    } else {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        event.insert("data_base64".into(), Value::String(encoded));
    }
    Ok(Value::Object(event))
}

#[derive(Deserialize)]
struct Invocation<'a> {
    #[serde(rename = "Data", alias = "data", borrow, default)]
    data: Option<BTreeMap<String, &'a RawValue>>,
}

/// An invocation whose event cannot be found or decoded.
type Poison<'a> = BodyError<'a>;

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
}
