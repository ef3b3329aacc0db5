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
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
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
        let seed = EnvelopeSeed {
            in_place: true,
            data: PhantomData,
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let read = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        if let Ok((raw, Some(in_place))) = read {
            if raw.schema().and_then(|s| raw.event_type(s)) == Some(&*in_place.as_type) {
                if let Ok(event) = raw.into_event(Some(in_place.data)) {
                    return Ok(event);
                }
            }
        }
        let seed = EnvelopeSeed::<T> {
            in_place: false,
            data: PhantomData,
        };
        let (raw, _) = parse_seeded(json, seed)?;
        raw.into_event(None)
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
fn parse_seeded<'a, S: DeserializeSeed<'a> + Clone>(
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

/// `data` decoded while the envelope is read, with the event type it was decoded for.
struct InPlace<'a, T> {
    data: T,
    as_type: Cow<'a, str>,
}

/// Reads the envelope's members; with `in_place`, also decodes `data` as it goes by when the event
/// type has already been read (Azure sends `eventType`/`type` before `data`), so `data` is scanned
/// once instead of skipped as raw JSON and parsed again.
struct EnvelopeSeed<T> {
    in_place: bool,
    data: PhantomData<T>,
}

impl<T> Clone for EnvelopeSeed<T> {
    fn clone(&self) -> Self {
        Self {
            in_place: self.in_place,
            data: PhantomData,
        }
    }
}

impl<'de, T: EventData> DeserializeSeed<'de> for EnvelopeSeed<T> {
    type Value = (RawEnvelope<'de>, Option<InPlace<'de, T>>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: EventData> Visitor<'de> for EnvelopeSeed<T> {
    type Value = (RawEnvelope<'de>, Option<InPlace<'de, T>>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = RawEnvelope::default();
        let mut in_place = None;
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let member = MEMBERS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&key))
                .map(|(_, m)| *m);
            let slot = match member {
                Some(Member::Data) => {
                    // Only when the type cannot change: exactly one of the two type members so far.
                    let known = match (&env.event_type, &env.ce_type) {
                        (Some(Scalar::Str(t)), None) | (None, Some(Scalar::Str(t))) => {
                            Some(t.clone())
                        }
                        _ => None,
                    };
                    match known.filter(|_| self.in_place) {
                        Some(as_type) => {
                            let data = map.next_value_seed(DataSeed::<T>(&as_type, PhantomData))?;
                            env.data = None;
                            in_place = Some(InPlace { data, as_type });
                        }
                        None => {
                            env.data = Some(map.next_value::<&'de RawValue>()?);
                            in_place = None;
                        }
                    }
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
        Ok((env, in_place))
    }
}

/// Decodes `data` for a known event type ([`EventData::deserialize_data`]).
struct DataSeed<'t, T>(&'t str, PhantomData<T>);

impl<'de, T: EventData> DeserializeSeed<'de> for DataSeed<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize_data(self.0, d)
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
    /// The schema, from what is present: `specversion`, or `type` without `eventType`, is CloudEvents.
    fn schema(&self) -> Option<Schema> {
        if self.spec_version.is_some() || (self.ce_type.is_some() && self.event_type.is_none()) {
            Some(Schema::CloudEvents)
        } else if self.event_type.is_some() {
            Some(Schema::EventGrid)
        } else {
            None
        }
    }

    /// The event type member of `schema`, when it is a string.
    fn event_type(&self, schema: Schema) -> Option<&str> {
        let member = match schema {
            Schema::EventGrid => &self.event_type,
            Schema::CloudEvents => &self.ce_type,
        };
        match member {
            Some(Scalar::Str(t)) => Some(t),
            _ => None,
        }
    }

    /// The event, with `data` decoded here unless `decoded` already holds it.
    fn into_event<T: EventData>(mut self, decoded: Option<T>) -> Result<Event<T>, DecodeError> {
        let Some(schema) = self.schema() else {
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

        let both = || {
            DecodeError::new(
                JsonPath::root().key("data_base64"),
                "`data` and `data_base64` are mutually exclusive; the event has both",
            )
        };
        let data = match (decoded, self.data, self.data_base64) {
            (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => return Err(both()),
            (Some(data), _, None) => data,
            (None, Some(raw), None) => T::decode_data(&event.event_type, Some(raw.get()))
                .map_err(|e| e.within(&JsonPath::root().key("data")))?,
            (None, None, Some(encoded)) => {
                event.data_base64 = true;
                decode_base64::<T>(&event, encoded)?
            }
            (None, None, None) => T::decode_data(&event.event_type, None)
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

    /// The general path alone: the envelope first, `data` after.
    fn general<T: EventData>(json: &str) -> Result<Event<T>, DecodeError> {
        let seed = EnvelopeSeed::<T> {
            in_place: false,
            data: PhantomData,
        };
        let (raw, _) = parse_seeded(json, seed)?;
        raw.into_event(None)
    }

    #[test]
    fn data_decoded_in_place_equals_the_general_path_for_every_fixture() {
        use crate::event::MlEvent;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut compared = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(events) = split_batch(&text) else {
                continue;
            };
            for raw in events {
                let fast = Event::<MlEvent>::from_json(raw);
                assert_eq!(fast, general::<MlEvent>(raw), "{}", path.display());
                assert_eq!(
                    Event::<Value>::from_json(raw),
                    general::<Value>(raw),
                    "{}",
                    path.display()
                );
                compared += usize::from(fast.is_ok());
            }
        }
        assert!(compared >= 20, "{compared} fixtures decoded");
    }

    #[test]
    fn a_type_changed_after_data_decodes_data_for_the_final_type() {
        use crate::event::{EventKind, MlEvent};
        // `type` is read first, so `data` is decoded as ModelDeployed; the later `eventType` (and no
        // `specversion`) makes this an Event Grid RunCompleted event, with `type` an extension.
        let text = r#"{"id": "1", "type": "Microsoft.MachineLearningServices.ModelDeployed",
            "data": {"runId": "r", "serviceName": "s"},
            "eventType": "Microsoft.MachineLearningServices.RunCompleted"}"#;
        let event = Event::<MlEvent>::from_json(text).unwrap();
        assert_eq!(event.kind(), EventKind::RunCompleted);
        let MlEvent::RunCompleted(data) = &event.data else {
            panic!("{:?}", event.data)
        };
        assert_eq!(data.run_id.as_deref(), Some("r"));
        assert_eq!(data.extra["serviceName"], "s");
        assert_eq!(event, general(text).unwrap());
    }

    #[test]
    fn data_before_the_type_and_invalid_data_take_the_general_path() {
        use crate::event::MlEvent;
        let before = r#"{"data": {"modelName": "m"}, "id": "1",
            "eventType": "Microsoft.MachineLearningServices.ModelRegistered"}"#;
        assert_eq!(
            Event::<MlEvent>::from_json(before).unwrap(),
            general(before).unwrap()
        );
        let invalid = r#"{"eventType": "Microsoft.MachineLearningServices.ModelRegistered",
            "data": {"modelVersion": {"v": 1}}}"#;
        let error = Event::<MlEvent>::from_json(invalid).unwrap_err();
        // The envelope's own error comes first, as on the general path.
        assert_eq!(error, general::<MlEvent>(invalid).unwrap_err());
        assert_eq!(error.path().to_string(), "$.id");
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
