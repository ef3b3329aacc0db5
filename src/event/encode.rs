//! Writing an event back in the schema it arrived in (`Serialize for Event<T>`): Event Grid members
//! in the service's order, or CloudEvents attributes with `data` or `data_base64`, then the extensions.

use super::media_type::is_json_media_type;
use super::model::{format_time, Event, Schema};
use base64::Engine as _;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

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
