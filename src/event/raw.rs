//! Reading the envelope's members off the wire, before the schema is known.
//!
//! A hand-written map visitor rather than a derive, for the same reasons as the CloudEvents SDK:
//! member names are matched case-insensitively (docs and samples disagree), the schema is chosen from
//! what is present, unknown members are kept as extensions, and duplicate members resolve as
//! last-wins, like .NET, Go and JavaScript parsers do. `data` is decoded as it goes by when the event
//! type is already known; otherwise it is captured as raw JSON and decoded once the type is.

use super::envelope::{is_json_media_type, type_name, Event, EventData, Schema};
use super::error::{DecodeError, JsonPath};
use super::lenient::parse_time;
use super::wire::{Scalar, Str};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The members both schemas know, each kept as raw JSON until the schema is known.
#[derive(Default)]
pub(super) struct RawEnvelope<'a> {
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
pub(super) struct InPlace<'a, T> {
    pub(super) data: T,
    pub(super) as_type: Cow<'a, str>,
}

/// Reads the envelope's members; with `in_place`, also decodes `data` as it goes by when the event
/// type has already been read (Azure sends `eventType`/`type` before `data`), so `data` is scanned
/// once instead of skipped as raw JSON and parsed again.
pub(super) struct EnvelopeSeed<T> {
    pub(super) in_place: bool,
    pub(super) data: PhantomData<T>,
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

impl<'a> RawEnvelope<'a> {
    /// The schema, from what is present: `specversion`, or `type` without `eventType`, is CloudEvents.
    pub(super) fn schema(&self) -> Option<Schema> {
        if self.spec_version.is_some() || (self.ce_type.is_some() && self.event_type.is_none()) {
            Some(Schema::CloudEvents)
        } else if self.event_type.is_some() {
            Some(Schema::EventGrid)
        } else {
            None
        }
    }

    /// The event type member of `schema`, when it is a string.
    pub(super) fn event_type(&self, schema: Schema) -> Option<&str> {
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
    pub(super) fn into_event<T: EventData>(
        mut self,
        decoded: Option<T>,
    ) -> Result<Event<T>, DecodeError> {
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
        return T::decode_binary(&event.event_type, content_type, encoded.trim())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::envelope::parse_seeded;

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
        let mut compared = 0;
        for (path, raw) in crate::event::fixture_events() {
            let fast = Event::<MlEvent>::from_json(&raw);
            assert_eq!(fast, general::<MlEvent>(&raw), "{}", path.display());
            assert_eq!(
                Event::<Value>::from_json(&raw),
                general::<Value>(&raw),
                "{}",
                path.display()
            );
            compared += usize::from(fast.is_ok());
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
}
