//! The envelope: Event Grid schema or CloudEvents 1.0, read member by member.
//!
//! The envelope is read with a hand-written map visitor rather than a derive, for the same reasons as
//! the CloudEvents SDK: member names are matched case-insensitively (docs and samples disagree), the
//! schema is chosen from what is present, unknown members are kept as extensions, `data` is captured
//! as raw JSON so it can be decoded once the type is known (members arrive in any order), and duplicate
//! members resolve as last-wins, like .NET, Go and JavaScript parsers do.

use super::error::{DecodeError, JsonPath};
use super::lenient::{format_time, parse_time};
use super::resource::{Subject, Workspace};
use super::wire::{Scalar, Str};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

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
        let raw: RawEnvelope<'_> = parse_borrowed(json)?;
        raw.into_event()
    }
}

/// Parses JSON text into `T`; on failure, the error names the JSONPath where it happened.
///
/// Path tracking costs a segment per member, so the text is parsed plainly first and only parsed again
/// with [`serde_path_to_error`] when that fails: errors are rare, and only they need the path.
pub(crate) fn parse_borrowed<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, DecodeError> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(plain) => Err(locate_error::<T>(text).unwrap_or_else(|| {
            // Both parsers read the same bytes; this only guards against one accepting what the
            // other refused.
            DecodeError::new(JsonPath::root(), format!("not valid JSON: {plain}"))
        })),
    }
}

/// The error of parsing `text` as `T`, with its path; `None` if it parses.
#[cold]
fn locate_error<'a, T: Deserialize<'a>>(text: &'a str) -> Option<DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    if let Err(error) = serde_path_to_error::deserialize::<_, T>(&mut de) {
        return Some(DecodeError::from_serde(error));
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

/// The members both schemas know, each kept as raw JSON until the schema is known.
#[derive(Default)]
struct RawEnvelope<'a> {
    id: Option<Scalar<'a>>,
    topic: Option<Scalar<'a>>,
    source: Option<Scalar<'a>>,
    subject: Option<Scalar<'a>>,
    event_type: Option<Scalar<'a>>,
    ce_type: Option<Scalar<'a>>,
    event_time: Option<Scalar<'a>>,
    ce_time: Option<Scalar<'a>>,
    data_version: Option<Scalar<'a>>,
    metadata_version: Option<Scalar<'a>>,
    spec_version: Option<Scalar<'a>>,
    data_content_type: Option<Scalar<'a>>,
    data_schema: Option<Scalar<'a>>,
    data: Option<&'a RawValue>,
    data_base64: Option<Scalar<'a>>,
    others: Map<String, Value>,
}

#[derive(Clone, Copy)]
enum Member {
    Id,
    Topic,
    Source,
    Subject,
    EventType,
    Type,
    EventTime,
    Time,
    DataVersion,
    MetadataVersion,
    SpecVersion,
    DataContentType,
    DataSchema,
    Data,
    DataBase64,
}

const MEMBERS: [(&str, Member); 15] = [
    ("id", Member::Id),
    ("topic", Member::Topic),
    ("source", Member::Source),
    ("subject", Member::Subject),
    ("eventType", Member::EventType),
    ("type", Member::Type),
    ("eventTime", Member::EventTime),
    ("time", Member::Time),
    ("dataVersion", Member::DataVersion),
    ("metadataVersion", Member::MetadataVersion),
    ("specversion", Member::SpecVersion),
    ("datacontenttype", Member::DataContentType),
    ("dataschema", Member::DataSchema),
    ("data", Member::Data),
    ("data_base64", Member::DataBase64),
];

impl<'de: 'a, 'a> Deserialize<'de> for RawEnvelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawEnvelope<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = RawEnvelope::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    let member = MEMBERS
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(&key))
                        .map(|(_, m)| *m);
                    let slot = match member {
                        Some(Member::Data) => {
                            env.data = Some(map.next_value::<&'a RawValue>()?);
                            continue;
                        }
                        None => {
                            let value = map.next_value::<Value>()?;
                            env.others.insert(key.into_owned(), value);
                            continue;
                        }
                        Some(Member::Id) => &mut env.id,
                        Some(Member::Topic) => &mut env.topic,
                        Some(Member::Source) => &mut env.source,
                        Some(Member::Subject) => &mut env.subject,
                        Some(Member::EventType) => &mut env.event_type,
                        Some(Member::Type) => &mut env.ce_type,
                        Some(Member::EventTime) => &mut env.event_time,
                        Some(Member::Time) => &mut env.ce_time,
                        Some(Member::DataVersion) => &mut env.data_version,
                        Some(Member::MetadataVersion) => &mut env.metadata_version,
                        Some(Member::SpecVersion) => &mut env.spec_version,
                        Some(Member::DataContentType) => &mut env.data_content_type,
                        Some(Member::DataSchema) => &mut env.data_schema,
                        Some(Member::DataBase64) => &mut env.data_base64,
                    };
                    *slot = Some(map.next_value::<Scalar<'de>>()?);
                }
                Ok(env)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Reads an optional string member; JSON `null` means unset (CloudEvents' rule, applied to both schemas).
fn string_member(value: Option<Scalar<'_>>, name: &str) -> Result<Option<String>, DecodeError> {
    match value {
        None | Some(Scalar::Other(Value::Null)) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s.into_owned())),
        Some(Scalar::Other(other)) => Err(DecodeError::new(
            JsonPath::root().key(name),
            format!("`{name}` must be a string, found {}", type_name(&other)),
        )),
    }
}

fn required_member(value: Option<Scalar<'_>>, name: &str) -> Result<String, DecodeError> {
    match string_member(value, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(DecodeError::new(
            JsonPath::root().key(name),
            format!("`{name}` is empty"),
        )),
        None => Err(DecodeError::new(
            JsonPath::root().key(name),
            format!("missing `{name}`"),
        )),
    }
}

fn time_member(
    value: Option<Scalar<'_>>,
    name: &str,
) -> Result<Option<DateTime<FixedOffset>>, DecodeError> {
    match string_member(value, name)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .map_err(|msg| DecodeError::new(JsonPath::root().key(name), msg)),
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

impl<'a> RawEnvelope<'a> {
    fn into_event<T: EventData>(mut self) -> Result<Event<T>, DecodeError> {
        let schema = if self.spec_version.is_some()
            || (self.ce_type.is_some() && self.event_type.is_none())
        {
            Schema::CloudEvents
        } else if self.event_type.is_some() {
            Schema::EventGrid
        } else {
            return Err(DecodeError::new(
                JsonPath::root(),
                "not an event: missing `eventType` (Event Grid schema) or `type` (CloudEvents)",
            ));
        };
        // Members of the other schema are just unknown members here: keep them as extensions.
        let mut keep = |name: &str, value: Option<Scalar<'a>>| {
            if let Some(v) = value {
                self.others.insert(name.to_owned(), v.into_value());
            }
        };
        let mut event = match schema {
            Schema::EventGrid => {
                keep("source", self.source.take());
                keep("type", self.ce_type.take());
                keep("time", self.ce_time.take());
                keep("datacontenttype", self.data_content_type.take());
                keep("dataschema", self.data_schema.take());
                keep("data_base64", self.data_base64.take());
                Event {
                    schema,
                    id: required_member(self.id, "id")?,
                    event_type: required_member(self.event_type, "eventType")?,
                    source: string_member(self.topic, "topic")?,
                    subject: string_member(self.subject, "subject")?,
                    time: time_member(self.event_time, "eventTime")?,
                    data_version: string_member(self.data_version, "dataVersion")?,
                    metadata_version: string_member(self.metadata_version, "metadataVersion")?,
                    ..Event::<()>::default()
                }
            }
            Schema::CloudEvents => {
                keep("topic", self.topic.take());
                keep("eventType", self.event_type.take());
                keep("eventTime", self.event_time.take());
                keep("dataVersion", self.data_version.take());
                keep("metadataVersion", self.metadata_version.take());
                Event {
                    schema,
                    id: required_member(self.id, "id")?,
                    event_type: required_member(self.ce_type, "type")?,
                    // Required by CloudEvents, and half of the event's identity (dedupe keys).
                    source: Some(required_member(self.source, "source")?),
                    subject: string_member(self.subject, "subject")?,
                    time: time_member(self.ce_time, "time")?,
                    spec_version: match string_member(self.spec_version, "specversion")? {
                        Some(v) if !v.starts_with('1') => {
                            return Err(DecodeError::new(
                                JsonPath::root().key("specversion"),
                                format!("CloudEvents `specversion` {v:?} is not supported; expected \"1.0\""),
                            ))
                        }
                        v => v,
                    },
                    data_content_type: string_member(self.data_content_type, "datacontenttype")?,
                    data_schema: string_member(self.data_schema, "dataschema")?,
                    ..Event::<()>::default()
                }
            }
        };
        // In CloudEvents a `null` attribute is an unset one; Event Grid members are kept as sent.
        if schema == Schema::CloudEvents {
            self.others.retain(|_, v| !v.is_null());
        }
        event.extensions = self.others;

        let data = match (self.data, self.data_base64) {
            (Some(_), Some(_)) => {
                return Err(DecodeError::new(
                    JsonPath::root().key("data_base64"),
                    "`data` and `data_base64` are mutually exclusive; the event has both",
                ))
            }
            (Some(raw), None) => T::decode_data(&event.event_type, Some(raw.get()))
                .map_err(|e| e.within(&JsonPath::root().key("data")))?,
            (None, Some(encoded)) => {
                event.data_base64 = true;
                decode_base64::<T>(&event, encoded)?
            }
            (None, None) => T::decode_data(&event.event_type, None)
                .map_err(|e| e.within(&JsonPath::root().key("data")))?,
        };
        Ok(event.map_data(|()| data))
    }
}

fn decode_base64<T: EventData>(event: &Event<()>, encoded: Scalar<'_>) -> Result<T, DecodeError> {
    let at = JsonPath::root().key("data_base64");
    let Scalar::Str(encoded) = encoded else {
        return Err(DecodeError::new(
            at,
            "`data_base64` must be a base64 string",
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| {
            DecodeError::new(
                at.clone(),
                format!("`data_base64` is not valid base64: {e}"),
            )
        })?;
    let content_type = event
        .data_content_type
        .as_deref()
        .unwrap_or("application/json");
    if !is_json_media_type(content_type) {
        return T::decode_binary(&event.event_type, content_type, &encoded)
            .map_err(|e| e.within(&at));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        DecodeError::new(
            at.clone(),
            "`data_base64` decodes to bytes that are not UTF-8 JSON",
        )
    })?;
    T::decode_data(&event.event_type, Some(text)).map_err(|e| e.within(&at))
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
                    let bytes =
                        serde_json::to_vec(&self.data).map_err(serde::ser::Error::custom)?;
                    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
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
