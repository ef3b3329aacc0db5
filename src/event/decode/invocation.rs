//! [`Body::Invocation`](super::Body::Invocation): the Functions host's invocation body,
//! `{"Data": {"event": <event>}, "Metadata": {...}}`.
//!
//! The usual invocation is decoded where the event stands, in one pass over the body ([`one_pass`]);
//! anything else (the event as a JSON string, another binding name, an event that needs the general
//! path, any error) goes through [`find_event`] and the general decoding, whose errors are reported.

use super::body::{utf8, BodyError, Decoded};
use super::error::{DecodeError, JsonPath};
use super::events::decode_events;
use super::one_pass::EventsSeed;
use super::parse::parse_borrowed;
use super::wire::Str;
use crate::event::model::MlEvent;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The name of the trigger binding in `function.json`: where [`Body::Invocation`](super::Body::Invocation)
/// looks for the event first.
pub const TRIGGER_BINDING: &str = "event";

/// The events of an invocation body, with paths from the body's root (`$.Data.event...`).
pub(super) fn decode(body: &[u8]) -> Result<Vec<Decoded<'_>>, BodyError<'_>> {
    if let Some(events) = one_pass(body) {
        // Decoded where they stood: their text was never captured.
        return Ok(events);
    }
    let (text, at) = find_event(body)?;
    match text {
        Cow::Borrowed(text) => decode_events(text, &at),
        Cow::Owned(text) => match decode_events(&text, &at) {
            Ok(events) => Ok(events
                .into_iter()
                .map(|d| Decoded {
                    event: d.event,
                    raw: Cow::Owned(d.raw.into_owned()),
                })
                .collect()),
            Err(e) => Err(BodyError {
                error: e.error,
                raw: Cow::Owned(text.clone()),
            }),
        },
    }
}

/// The usual invocation, with the event (or array) at `Data.event` decoded where it stands, in one
/// pass over the body; `None` for anything else.
pub(super) fn one_pass(body: &[u8]) -> Option<Vec<Decoded<'static>>> {
    struct Body;
    struct Data;

    impl<'de> Visitor<'de> for Body {
        type Value = Option<Vec<Decoded<'static>>>;
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
        type Value = Option<Vec<Decoded<'static>>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Data {
        type Value = Option<Vec<Decoded<'static>>>;
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
                    found = Some(map.next_value_seed(EventsSeed::<MlEvent>(PhantomData))?);
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

#[derive(Deserialize)]
struct Invocation<'a> {
    #[serde(rename = "Data", alias = "data", borrow, default)]
    data: Option<BTreeMap<String, &'a RawValue>>,
}

/// Finds the event text in an invocation body: `Data.event`, or the only entry of `Data`, as a JSON
/// value or a JSON string holding one (decoded up to twice). Returns the text and its path.
fn find_event(body: &[u8]) -> Result<(Cow<'_, str>, JsonPath), BodyError<'_>> {
    let text = utf8(body, "the invocation body")?;
    let poison = |error: DecodeError| BodyError {
        error,
        raw: Cow::Borrowed(text),
    };
    if text.trim().is_empty() {
        return Err(poison(DecodeError::new(
            JsonPath::root(),
            "the invocation body is empty",
        )));
    }
    let invocation: Invocation<'_> = parse_borrowed(text).map_err(poison)?;
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
        let inner: String = serde_json::from_str(&event).map_err(|e| BodyError {
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
        find_event(body.as_bytes())
            .map(|(t, _)| t.into_owned())
            .map_err(|p| p.error.to_string())
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
        ] {
            assert!(one_pass(body.as_bytes()).is_none(), "{body}");
        }
        // An array at `Data.event` is read in one pass too.
        let array = format!(r#"{{"Data":{{"event":[{event},{event}]}}}}"#);
        assert_eq!(one_pass(array.as_bytes()).map(|e| e.len()), Some(2));
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
    fn handler_invocation_bodies_take_the_one_pass_path_and_sorted_members_do_not() {
        // `handler invocation` (and so every load script and bench) keeps the event's member order,
        // `eventType` before `data` as Azure sends it: the body is decoded in one pass. The same
        // event as a `Value` has its members sorted, `data` first, and takes the general path.
        let mut checked = 0;
        for (name, text) in crate::event::fixture_events() {
            let event: Box<serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let ml = value["eventType"]
                .as_str()
                .or(value["type"].as_str())
                .is_some_and(|t| t.starts_with("Microsoft.MachineLearningServices."));
            let type_first = ["\"eventType\"", "\"type\""]
                .iter()
                .filter_map(|key| text.find(key))
                .min()
                .zip(text.find("\"data\""))
                .is_some_and(|(ty, data)| ty < data);
            if !ml || !type_first {
                continue;
            }
            let body = crate::cli::invocation_text(&event);
            assert!(one_pass(body.as_bytes()).is_some(), "{name:?}");
            let sorted = crate::cli::invocation_body(&value).to_string();
            assert!(one_pass(sorted.as_bytes()).is_none(), "{name:?}");
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} fixtures checked");
    }
}
