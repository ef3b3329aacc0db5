//! The envelope: [`Event<T>`] of either schema over typed data `T`, and [`Schema`].

use super::kind::EventKind;
use super::ml::MlEvent;
use super::resource::{Subject, Workspace};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::{Map, Value};

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

impl Event<MlEvent> {
    /// The kind of this event's data.
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }
}
