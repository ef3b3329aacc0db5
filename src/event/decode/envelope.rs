//! Reading the envelope's members off the wire, before the schema is known.
//!
//! A hand-written map visitor rather than a derive, for the same reasons as the CloudEvents SDK:
//! member names are matched case-insensitively (docs and samples disagree), the schema is chosen from
//! what is present, unknown members are kept as extensions, and duplicate members resolve as
//! last-wins, like .NET, Go and JavaScript parsers do. `data` is decoded as it goes by when the event
//! type is already known; otherwise it is captured as raw JSON and decoded once the type is.
//!
//! Over 400 lines on purpose: the visitor, its member table and the two schemas' completion rules are
//! one state machine; split, each half would need the other's private state to be read.

use super::data::EventData;
use super::error::{DecodeError, JsonPath};
use super::lenient::parse_time;
use super::parse::{parse_seeded, type_name};
use super::wire::{Scalar, Str};
use crate::event::media_type::is_json_media_type;
use crate::event::model::{Event, Schema};
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
    pub(super) data_content_type: Option<Scalar<'a>>,
    data_schema: Option<Scalar<'a>>,
    /// The raw JSON text of `data` (binary mode: the body; a `ce-data` header: that string, quoted).
    pub(super) data: Option<Cow<'a, str>>,
    pub(super) data_base64: Option<Scalar<'a>>,
    pub(super) others: Map<String, Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Member {
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
    DataBase64,
}

/// The scalar members; `data` is read apart, as JSON.
const MEMBERS: [(&str, Member); 14] = [
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
            if key.eq_ignore_ascii_case("data") {
                // Only when the type cannot change: exactly one of the two type members so far.
                let known = match (&env.event_type, &env.ce_type) {
                    (Some(Scalar::Str(t)), None) | (None, Some(Scalar::Str(t))) => Some(t.clone()),
                    _ => None,
                };
                match known.filter(|_| self.in_place) {
                    Some(as_type) => {
                        let data = map.next_value_seed(DataSeed::<T>(&as_type, PhantomData))?;
                        env.data = None;
                        in_place = Some(InPlace { data, as_type });
                    }
                    None => {
                        let raw = map.next_value::<&'de RawValue>()?;
                        env.data = Some(Cow::Borrowed(raw.get()));
                        in_place = None;
                    }
                }
            } else if let Some(member) = member(&key) {
                *env.slot(member) = Some(map.next_value::<Scalar<'de>>()?);
            } else {
                let value = map.next_value::<Value>()?;
                env.others.insert(key.into_owned(), value);
            }
        }
        Ok((env, in_place))
    }
}

/// The scalar envelope member `key` names, matched case-insensitively; `None` for `data` and the
/// extensions.
pub(super) fn member(key: &str) -> Option<Member> {
    MEMBERS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, m)| *m)
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
    Ok(str_member(value, name)?.map(Cow::into_owned))
}

/// [`string_member`] still borrowed from the input: for members read, not kept.
fn str_member<'a>(
    value: Option<Scalar<'a>>,
    name: &str,
) -> Result<Option<Cow<'a, str>>, DecodeError> {
    match value {
        None | Some(Scalar::Other(Value::Null)) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
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
    // Parsed where it stands: the text itself is not kept.
    match str_member(value, name)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .map_err(|e| DecodeError::new(JsonPath::root().key(name), e.to_string())),
    }
}

impl<'a> RawEnvelope<'a> {
    /// Where the value of `member` goes.
    pub(super) fn slot(&mut self, member: Member) -> &mut Option<Scalar<'a>> {
        match member {
            Member::Id => &mut self.id,
            Member::Topic => &mut self.topic,
            Member::Source => &mut self.source,
            Member::Subject => &mut self.subject,
            Member::EventType => &mut self.event_type,
            Member::Type => &mut self.ce_type,
            Member::EventTime => &mut self.event_time,
            Member::Time => &mut self.ce_time,
            Member::DataVersion => &mut self.data_version,
            Member::MetadataVersion => &mut self.metadata_version,
            Member::SpecVersion => &mut self.spec_version,
            Member::DataContentType => &mut self.data_content_type,
            Member::DataSchema => &mut self.data_schema,
            Member::DataBase64 => &mut self.data_base64,
        }
    }

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
        let mut event = self.envelope(schema)?;
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
        let in_data = |e: DecodeError| e.within(&JsonPath::root().key("data"));
        let data = match (decoded, self.data, self.data_base64) {
            (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => return Err(both()),
            (Some(data), _, None) => data,
            (None, Some(raw), None) => {
                T::decode_data(&event.event_type, Some(&raw)).map_err(in_data)?
            }
            (None, None, Some(encoded)) => {
                event.data_base64 = true;
                decode_base64::<T>(&event, encoded)?
            }
            (None, None, None) => T::decode_data(&event.event_type, None).map_err(in_data)?,
        };
        Ok(event.map_data(|()| data))
    }

    /// The envelope's members for `schema`; those of the other schema become extensions in
    /// `self.others`, the rest are taken.
    fn envelope(&mut self, schema: Schema) -> Result<Event<()>, DecodeError> {
        // Members of the other schema are just unknown members here: keep them as extensions.
        let others = &mut self.others;
        let mut keep = |name: &str, value: Option<Scalar<'a>>| {
            if let Some(v) = value {
                others.insert(name.to_owned(), v.into_value());
            }
        };
        Ok(match schema {
            Schema::EventGrid => {
                keep("source", self.source.take());
                keep("type", self.ce_type.take());
                keep("time", self.ce_time.take());
                keep("datacontenttype", self.data_content_type.take());
                keep("dataschema", self.data_schema.take());
                keep("data_base64", self.data_base64.take());
                Event {
                    schema,
                    id: required_member(self.id.take(), "id")?,
                    event_type: required_member(self.event_type.take(), "eventType")?,
                    source: string_member(self.topic.take(), "topic")?,
                    subject: string_member(self.subject.take(), "subject")?,
                    time: time_member(self.event_time.take(), "eventTime")?,
                    data_version: string_member(self.data_version.take(), "dataVersion")?,
                    metadata_version: string_member(
                        self.metadata_version.take(),
                        "metadataVersion",
                    )?,
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
                    id: required_member(self.id.take(), "id")?,
                    event_type: required_member(self.ce_type.take(), "type")?,
                    // Required by CloudEvents, and half of the event's identity (dedupe keys).
                    source: Some(required_member(self.source.take(), "source")?),
                    subject: string_member(self.subject.take(), "subject")?,
                    time: time_member(self.ce_time.take(), "time")?,
                    spec_version: spec_version(self.spec_version.take())?,
                    data_content_type: string_member(
                        self.data_content_type.take(),
                        "datacontenttype",
                    )?,
                    data_schema: string_member(self.data_schema.take(), "dataschema")?,
                    ..Event::<()>::default()
                }
            }
        })
    }
}

/// CloudEvents `specversion`: any 1.x.
fn spec_version(value: Option<Scalar<'_>>) -> Result<Option<String>, DecodeError> {
    match string_member(value, "specversion")? {
        Some(v) if !v.starts_with('1') => Err(DecodeError::new(
            JsonPath::root().key("specversion"),
            format!("CloudEvents `specversion` {v:?} is not supported; expected \"1.0\""),
        )),
        v => Ok(v),
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

/// The general path: the envelope first, `data` after; its errors are the ones reported.
pub(super) fn general<T: EventData>(json: &str) -> Result<Event<T>, DecodeError> {
    let seed = EnvelopeSeed::<T> {
        in_place: false,
        data: PhantomData,
    };
    let (raw, _) = parse_seeded(json, seed)?;
    raw.into_event(None)
}

#[cfg(test)]
mod tests {
    use super::*;

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

#[cfg(test)]
mod member_tests {
    use super::*;
    use crate::event::decode::decode_batch;
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
