//! The envelope: Event Grid schema or CloudEvents 1.0, and the typed data under it.
//!
//! [`Event`] is what every door and hook sees; [`Event::from_json`] reads one event (the members in
//! [`super::raw`]), [`split_batch`] and [`decode_batch`] read a body of several, and `Serialize`
//! writes an event back in the schema it arrived in.

use super::error::{DecodeError, JsonPath};
use super::lenient::format_time;
use super::raw::EnvelopeSeed;
use super::resource::{Subject, Workspace};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::de::{DeserializeSeed, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::marker::PhantomData;

/// Which wire schema an event arrived in; it is written back in the same schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// The Event Grid event schema (`eventType`, `eventTime`, `topic`, ...).
    #[default]
    EventGrid,
    /// CloudEvents 1.0 in JSON structured mode (`type`, `time`, `source`, `specversion`, ...).
    CloudEvents,
}

/// One event: the envelope common to both schemas over typed data `T`.
///
/// Members that only one schema has are `Option`s. `source` holds the Event Grid `topic` or the
/// CloudEvents `source`: for Azure ML both are the workspace's resource id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event<T> {
    /// The schema the event arrived in.
    pub schema: Schema,
    /// `id`: unique per event (with `source`); Event Grid redelivers the same id.
    pub id: String,
    /// `eventType` / `type`, as sent.
    pub event_type: String,
    /// `topic` / `source`.
    pub source: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `eventTime` / `time`.
    pub time: Option<DateTime<FixedOffset>>,
    /// Event Grid `dataVersion` (often `""`).
    pub data_version: Option<String>,
    /// Event Grid `metadataVersion`.
    pub metadata_version: Option<String>,
    /// CloudEvents `specversion`.
    pub spec_version: Option<String>,
    /// CloudEvents `datacontenttype`.
    pub data_content_type: Option<String>,
    /// CloudEvents `dataschema`.
    pub data_schema: Option<String>,
    /// Whether the data arrived base64-encoded in CloudEvents `data_base64` (and is written back so).
    pub data_base64: bool,
    /// CloudEvents extension attributes, or unknown top-level members of an Event Grid event.
    pub extensions: Map<String, Value>,
    /// The typed `data`.
    pub data: T,
}

/// Typed event data that can be decoded once the event type is known.
pub trait EventData: Sized {
    /// Decodes `data` given the event type. `data` is the raw JSON text of the member, or `None` when
    /// the event has no `data`. Error paths are relative to the data value.
    fn decode_data(event_type: &str, data: Option<&str>) -> Result<Self, DecodeError>;

    /// Decodes `data` straight from the event's parser, for event types already known when `data`
    /// is reached. Any error sends the event down the general path (the envelope first, then
    /// [`EventData::decode_data`]), which produces the error that is reported, so this only has to
    /// be right on success. The default captures the raw text and calls `decode_data`.
    fn deserialize_data<'de, D: Deserializer<'de>>(
        event_type: &str,
        d: D,
    ) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Self::decode_data(event_type, Some(raw.get())).map_err(serde::de::Error::custom)
    }

    /// Decodes CloudEvents `data_base64` whose content type is not JSON. The default rejects it.
    fn decode_binary(
        event_type: &str,
        content_type: &str,
        _base64: &str,
    ) -> Result<Self, DecodeError> {
        Err(DecodeError::new(
            JsonPath::root(),
            format!(
                "`{event_type}` events need JSON data, but `data_base64` holds `{content_type}`"
            ),
        ))
    }
}

impl EventData for Value {
    fn decode_data(_event_type: &str, data: Option<&str>) -> Result<Self, DecodeError> {
        match data {
            None => Ok(Value::Null),
            Some(raw) => parse_str(raw),
        }
    }

    fn deserialize_data<'de, D: Deserializer<'de>>(
        _event_type: &str,
        d: D,
    ) -> Result<Self, D::Error> {
        Value::deserialize(d)
    }

    fn decode_binary(
        _event_type: &str,
        _content_type: &str,
        base64: &str,
    ) -> Result<Self, DecodeError> {
        Ok(Value::String(base64.to_owned()))
    }
}

/// Parses JSON text into `T`, with the JSONPath of any error.
pub(crate) fn parse_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    parse_borrowed(text)
}

impl<T: EventData> Event<T> {
    /// Decodes one event (a JSON object) in either schema.
    ///
    /// ```
    /// use aml_events::event::{Event, MlEvent};
    /// let json = r#"{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered",
    ///   "subject":"models/m:3","eventTime":"2024-01-01T00:00:00Z","dataVersion":"2",
    ///   "data":{"modelName":"m","modelVersion":3}}"#;
    /// let event: Event<MlEvent> = Event::from_json(json)?;
    /// let MlEvent::ModelRegistered(data) = &event.data else { panic!("wrong kind") };
    /// assert_eq!(data.model_version.as_deref(), Some("3"));
    /// # Ok::<(), aml_events::event::DecodeError>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, DecodeError> {
        // One pass with `data` decoded in place. Anything unusual (an error, `data` before the type,
        // the type changed after `data` by a later member) takes the general path below, which reads
        // the envelope first and `data` after, and whose errors are the ones reported.
        let mut de = serde_json::Deserializer::from_str(json);
        let one_pass = EventSeed::default()
            .deserialize(&mut de)
            .and_then(|event| de.end().map(|()| event));
        if let Ok(event) = one_pass {
            return Ok(event);
        }
        let seed = EnvelopeSeed::<T> {
            in_place: false,
            data: PhantomData,
        };
        let (raw, _) = parse_seeded(json, seed)?;
        raw.into_event(None)
    }
}

/// Decodes one event where it stands inside a larger JSON document (the Functions host's invocation
/// body holds it at `Data.event`), in one pass, without first capturing its text.
///
/// This is the fast path only: it fails on anything [`Event::from_json`] would not take in one pass
/// (see there), with an error that says nothing useful. Callers fall back to capturing the text and
/// [`Event::from_json`], whose errors are the ones to report.
pub struct EventSeed<T>(PhantomData<T>);

impl<T> Default for EventSeed<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: EventData> DeserializeSeed<'de> for EventSeed<T> {
    type Value = Event<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event<T>, D::Error> {
        let seed = EnvelopeSeed::<T> {
            in_place: true,
            data: PhantomData,
        };
        let (raw, in_place) = seed.deserialize(d)?;
        let not_in_one_pass = || serde::de::Error::custom("not decodable in one pass");
        let in_place = in_place.ok_or_else(not_in_one_pass)?;
        if raw.schema().and_then(|s| raw.event_type(s)) != Some(&*in_place.as_type) {
            return Err(not_in_one_pass());
        }
        raw.into_event(Some(in_place.data))
            .map_err(|_| not_in_one_pass())
    }
}

/// Parses JSON text into `T`; on failure, the error names the JSONPath where it happened.
pub(crate) fn parse_borrowed<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, DecodeError> {
    parse_seeded(text, PhantomData::<T>)
}

/// Parses JSON text with `seed`; on failure, the error names the JSONPath where it happened.
///
/// Path tracking costs a segment per member, so the text is parsed plainly first and only parsed again
/// with [`serde_path_to_error`] when that fails: errors are rare, and only they need the path.
pub(super) fn parse_seeded<'a, S: DeserializeSeed<'a> + Clone>(
    text: &'a str,
    seed: S,
) -> Result<S::Value, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let plain = seed
        .clone()
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match plain {
        Ok(value) => Ok(value),
        Err(plain) => Err(locate_error(text, seed).unwrap_or_else(|| {
            // Both parsers read the same bytes; this only guards against one accepting what the
            // other refused.
            DecodeError::new(JsonPath::root(), format!("not valid JSON: {plain}"))
        })),
    }
}

/// The error of parsing `text` with `seed`, with its path; `None` if it parses.
#[cold]
fn locate_error<'a, S: DeserializeSeed<'a>>(text: &'a str, seed: S) -> Option<DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    if let Err(error) =
        seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
    {
        return Some(DecodeError::from_serde(serde_path_to_error::Error::new(
            track.path(),
            error,
        )));
    }
    de.end()
        .err()
        .map(|e| DecodeError::new(JsonPath::root(), format!("not valid JSON: {e}")))
}

/// Splits a body that holds one event object or a JSON array of them (Event Grid always sends an
/// array; CloudEvents structured mode sends one object, batched mode an array) into the raw JSON text of
/// each event, without decoding the events. `Err` means the body itself is unusable.
pub fn split_batch(json: &str) -> Result<Vec<&str>, DecodeError> {
    match json.trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<&RawValue> = parse_borrowed(json)?;
            Ok(items.into_iter().map(RawValue::get).collect())
        }
        Some(b'{') => Ok(vec![json]),
        Some(b'"') => Err(DecodeError::new(
            JsonPath::root(),
            "expected an event object or an array of events, found a JSON string",
        )),
        Some(_) => {
            // Let the parser say what it is (a number, `null`, or not JSON at all).
            let value: Value = parse_str(json)?;
            Err(DecodeError::new(
                JsonPath::root(),
                format!(
                    "expected an event object or an array of events, found {}",
                    type_name(&value)
                ),
            ))
        }
        None => Err(DecodeError::new(
            JsonPath::root(),
            "the body is empty; expected an event",
        )),
    }
}

/// Decodes a body that holds one event or an array of them (see [`split_batch`]).
///
/// The outer `Err` means the body itself is unusable. Otherwise each element decodes on its own, so one
/// bad event does not hide the others; element errors carry their index (`$[3].data.modelVersion`)
/// when the body is an array.
pub fn decode_batch<T: EventData>(
    json: &str,
) -> Result<Vec<Result<Event<T>, DecodeError>>, DecodeError> {
    let is_array = json.trim_start().starts_with('[');
    Ok(split_batch(json)?
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let result = Event::from_json(raw);
            if is_array {
                result.map_err(|e| e.within(&JsonPath::root().index(i)))
            } else {
                result
            }
        })
        .collect())
}

/// A short name of a JSON value's type, for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<T> Event<T> {
    /// The Azure ML workspace from `topic`/`source`, when it is a workspace resource id.
    pub fn workspace(&self) -> Option<Workspace> {
        self.source.as_deref().and_then(Workspace::parse)
    }

    /// The parsed `subject` (`models/{name}:{version}`, `endpoints/{name}`, ...).
    pub fn parsed_subject(&self) -> Option<Subject> {
        self.subject.as_deref().map(Subject::parse)
    }

    /// The same envelope over other data.
    pub fn map_data<U>(self, f: impl FnOnce(T) -> U) -> Event<U> {
        Event {
            schema: self.schema,
            id: self.id,
            event_type: self.event_type,
            source: self.source,
            subject: self.subject,
            time: self.time,
            data_version: self.data_version,
            metadata_version: self.metadata_version,
            spec_version: self.spec_version,
            data_content_type: self.data_content_type,
            data_schema: self.data_schema,
            data_base64: self.data_base64,
            extensions: self.extensions,
            data: f(self.data),
        }
    }
}

/// The media type without parameters, lower-cased (`Application/JSON; charset=utf-8` → `application/json`).
pub fn media_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON: `application/json`, `text/json` or any `+json` type.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = media_type_essence(content_type);
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

impl<T: Serialize> Serialize for Event<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self.schema {
            Schema::EventGrid => {
                map.serialize_entry("id", &self.id)?;
                if let Some(topic) = &self.source {
                    map.serialize_entry("topic", topic)?;
                }
                if let Some(subject) = &self.subject {
                    map.serialize_entry("subject", subject)?;
                }
                map.serialize_entry("eventType", &self.event_type)?;
                if let Some(time) = &self.time {
                    map.serialize_entry("eventTime", &format_time(time))?;
                }
                map.serialize_entry("data", &self.data)?;
                if let Some(v) = &self.data_version {
                    map.serialize_entry("dataVersion", v)?;
                }
                if let Some(v) = &self.metadata_version {
                    map.serialize_entry("metadataVersion", v)?;
                }
            }
            Schema::CloudEvents => {
                map.serialize_entry("specversion", self.spec_version.as_deref().unwrap_or("1.0"))?;
                map.serialize_entry("id", &self.id)?;
                if let Some(source) = &self.source {
                    map.serialize_entry("source", source)?;
                }
                map.serialize_entry("type", &self.event_type)?;
                if let Some(subject) = &self.subject {
                    map.serialize_entry("subject", subject)?;
                }
                if let Some(time) = &self.time {
                    map.serialize_entry("time", &format_time(time))?;
                }
                if let Some(v) = &self.data_content_type {
                    map.serialize_entry("datacontenttype", v)?;
                }
                if let Some(v) = &self.data_schema {
                    map.serialize_entry("dataschema", v)?;
                }
                if self.data_base64 {
                    // Data of a non-JSON content type is held as its base64 text: written as is.
                    let binary = self
                        .data_content_type
                        .as_deref()
                        .is_some_and(|t| !is_json_media_type(t));
                    let kept = match binary {
                        true => match serde_json::to_value(&self.data) {
                            Ok(Value::String(encoded)) => Some(encoded),
                            _ => None,
                        },
                        false => None,
                    };
                    let encoded = match kept {
                        Some(encoded) => encoded,
                        None => base64::engine::general_purpose::STANDARD.encode(
                            serde_json::to_vec(&self.data).map_err(serde::ser::Error::custom)?,
                        ),
                    };
                    map.serialize_entry("data_base64", &encoded)?;
                } else {
                    map.serialize_entry("data", &self.data)?;
                }
            }
        }
        for (k, v) in &self.extensions {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<Event<Value>, DecodeError> {
        Event::from_json(&v.to_string())
    }

    #[test]
    fn event_grid_members_are_read() {
        let e = decode(json!({"id": "1", "topic": "/t", "subject": "s", "eventType": "X",
            "eventTime": "2024-01-01T00:00:00Z", "data": {"a": 1}, "dataVersion": "", "metadataVersion": "1"}))
        .unwrap();
        assert_eq!(e.schema, Schema::EventGrid);
        assert_eq!((e.id.as_str(), e.event_type.as_str()), ("1", "X"));
        assert_eq!(e.source.as_deref(), Some("/t"));
        assert_eq!(e.data_version.as_deref(), Some(""));
        assert_eq!(e.data, json!({"a": 1}));
    }

    #[test]
    fn cloud_events_keep_extension_attributes() {
        let e = decode(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "X",
            "traceparent": "00-abc-def-01", "data": null}),
        )
        .unwrap();
        assert_eq!(e.schema, Schema::CloudEvents);
        assert_eq!(e.extensions["traceparent"], "00-abc-def-01");
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["traceparent"], "00-abc-def-01");
    }

    #[test]
    fn member_names_match_case_insensitively() {
        let e = decode(json!({"Id": "1", "EventType": "X", "Subject": "s", "Data": {}})).unwrap();
        assert_eq!(e.id, "1");
        let e =
            decode(json!({"specVersion": "1.0", "id": "1", "source": "/s", "type": "X"})).unwrap();
        assert_eq!(e.schema, Schema::CloudEvents);
    }

    #[test]
    fn missing_id_is_an_error_at_its_path() {
        let err = decode(json!({"eventType": "X", "data": {}})).unwrap_err();
        assert_eq!(err.to_string(), "missing `id` at $.id");
        let err = decode(json!({"id": 7, "eventType": "X"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`id` must be a string, found a number at $.id"
        );
    }

    #[test]
    fn not_an_event_without_a_type() {
        let err = decode(json!({"id": "1"})).unwrap_err();
        assert!(err.message().contains("missing `eventType`"), "{err}");
    }

    #[test]
    fn binary_data_base64_is_written_back_unchanged() {
        // Found by the fuzzer's round-trip mode: it used to be base64-encoded a second time.
        let text = r#"{"specversion":"1.0","id":"1","source":"/s","type":"X",
            "datacontenttype":"text/plain","data_base64":" aGVsbG8= "}"#;
        let event = Event::<Value>::from_json(text).unwrap();
        assert_eq!(event.data, "aGVsbG8=");
        let back = serde_json::to_value(&event).unwrap();
        assert_eq!(back["data_base64"], "aGVsbG8=");
        assert_eq!(Event::<Value>::from_json(&back.to_string()).unwrap(), event);
    }

    #[test]
    fn data_base64_is_decoded_and_written_back() {
        let data = base64::engine::general_purpose::STANDARD.encode(br#"{"a":1}"#);
        let e = decode(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "X",
            "datacontenttype": "application/json", "data_base64": data}),
        )
        .unwrap();
        assert_eq!(e.data, json!({"a": 1}));
        assert!(e.data_base64);
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["data_base64"], data);
    }

    #[test]
    fn bad_base64_and_both_data_members_are_rejected() {
        let err = decode(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "X",
            "data_base64": "!!!"}),
        )
        .unwrap_err();
        assert_eq!(err.path().to_string(), "$.data_base64");
        let err = decode(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "X",
            "data_base64": "e30=", "data": {}}),
        )
        .unwrap_err();
        assert!(err.message().contains("mutually exclusive"), "{err}");
    }

    #[test]
    fn cloud_events_need_a_source_and_version_one() {
        let err = decode(json!({"specversion": "1.0", "id": "1", "type": "X"})).unwrap_err();
        assert_eq!(err.to_string(), "missing `source` at $.source");
        let err = decode(json!({"specversion": "0.3", "id": "1", "source": "/s", "type": "X"}))
            .unwrap_err();
        assert_eq!(err.path().to_string(), "$.specversion");
        let e = decode(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "X", "unset": null}),
        )
        .unwrap();
        assert!(!e.extensions.contains_key("unset"));
    }

    #[test]
    fn duplicate_members_resolve_last_wins() {
        let e: Event<Value> = Event::from_json(
            r#"{"specversion":"1.0","id":"1","source":"/a","type":"X","source":"/b"}"#,
        )
        .unwrap();
        assert_eq!(e.source.as_deref(), Some("/b"));
    }

    #[test]
    fn batches_report_each_bad_element_by_index() {
        let body = json!([{"id": "1", "eventType": "X"}, {"eventType": "X"}]).to_string();
        let results = decode_batch::<Value>(&body).unwrap();
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().path().to_string(),
            "$[1].id"
        );
    }

    #[test]
    fn unusable_bodies_are_rejected_whole() {
        for (body, want) in [
            ("", "empty"),
            ("42", "found a number"),
            ("\"x\"", "found a JSON string"),
            ("[{", "not valid JSON"),
            (
                "{\"id\": \"1\", \"eventType\": \"X\"} trailing",
                "not valid JSON",
            ),
        ] {
            let err = match decode_batch::<Value>(body) {
                Err(e) => e,
                Ok(items) => items.into_iter().next().unwrap().unwrap_err(),
            };
            assert!(err.message().contains(want), "{body}: {err}");
        }
    }
}
