//! Decoding Azure ML workspace events: envelope, typed data, helpers.
//!
//! [`Event<T>`] is the envelope of either schema over data `T`; [`MlEvent`] is the typed data of the
//! five Azure ML events plus the Event Grid system events and everything else. Decoding is lenient
//! where Azure is inconsistent (casing, number-or-string, nullable "required" fields) and strict where
//! the input is simply wrong, and every error names its JSON path.

mod envelope;
mod error;
mod kind;
mod lenient;
mod ml;
mod raw;
mod resource;
mod summary;
mod system;
mod wire;

pub use envelope::{
    decode_batch, is_json_media_type, media_type_essence, split_batch, Event, EventData, EventSeed,
    Schema,
};
pub use error::{DecodeError, JsonPath};
pub use kind::EventKind;
pub use lenient::{format_time, parse_time};
pub use ml::{
    DatasetDriftDetected, ModelDeployed, ModelId, ModelRegistered, RunCompleted, RunStatus,
    RunStatusChanged,
};
pub use resource::{Subject, Workspace};
pub use system::{SubscriptionDeleted, SubscriptionValidation};
pub(crate) use wire::Str;

pub(crate) use envelope::{parse_borrowed, parse_str, type_name};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The typed data of an event that can reach this handler.
///
/// Unknown event types are a variant, not an error: an Event Grid subscription may route more types
/// than the hooks care about, and Azure adds types over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MlEvent {
    /// `Microsoft.MachineLearningServices.ModelRegistered`
    ModelRegistered(ModelRegistered),
    /// `Microsoft.MachineLearningServices.ModelDeployed`
    ModelDeployed(ModelDeployed),
    /// `Microsoft.MachineLearningServices.RunCompleted`
    RunCompleted(RunCompleted),
    /// `Microsoft.MachineLearningServices.RunStatusChanged`
    RunStatusChanged(RunStatusChanged),
    /// `Microsoft.MachineLearningServices.DatasetDriftDetected`
    DatasetDriftDetected(DatasetDriftDetected),
    /// `Microsoft.EventGrid.SubscriptionValidationEvent`
    SubscriptionValidation(SubscriptionValidation),
    /// `Microsoft.EventGrid.SubscriptionDeletedEvent`
    SubscriptionDeleted(SubscriptionDeleted),
    /// Any other event type; `data` kept as JSON (`null` when absent).
    Other(Value),
}

impl Default for MlEvent {
    fn default() -> Self {
        MlEvent::Other(Value::Null)
    }
}

impl MlEvent {
    /// Which kind of event this is.
    pub fn kind(&self) -> EventKind {
        match self {
            MlEvent::ModelRegistered(_) => EventKind::ModelRegistered,
            MlEvent::ModelDeployed(_) => EventKind::ModelDeployed,
            MlEvent::RunCompleted(_) => EventKind::RunCompleted,
            MlEvent::RunStatusChanged(_) => EventKind::RunStatusChanged,
            MlEvent::DatasetDriftDetected(_) => EventKind::DatasetDriftDetected,
            MlEvent::SubscriptionValidation(_) => EventKind::SubscriptionValidation,
            MlEvent::SubscriptionDeleted(_) => EventKind::SubscriptionDeleted,
            MlEvent::Other(_) => EventKind::Other,
        }
    }

    /// The free-form tags of the model, service or run, when the event has any.
    pub fn tags(&self) -> Option<&serde_json::Map<String, Value>> {
        match self {
            MlEvent::ModelRegistered(d) => Some(&d.model_tags),
            MlEvent::ModelDeployed(d) => Some(&d.service_tags),
            MlEvent::RunCompleted(d) => Some(&d.run_tags),
            MlEvent::RunStatusChanged(d) => Some(&d.run_tags),
            _ => None,
        }
    }
}

/// Decodes typed data for `kind`: the value must be an object (absent or `null` data is an error for
/// the typed kinds, because an ML event without data carries nothing to act on).
fn typed<T: DeserializeOwned>(kind: EventKind, data: Option<&str>) -> Result<T, DecodeError> {
    let raw = data.map(str::trim).unwrap_or("null");
    if !raw.starts_with('{') {
        let found = match parse_str::<Value>(raw) {
            Ok(v) => type_name(&v),
            Err(e) => return Err(e),
        };
        let found = if data.is_none() { "nothing" } else { found };
        return Err(DecodeError::new(
            JsonPath::root(),
            format!("`data` of a {kind} event must be an object, found {found}"),
        ));
    }
    parse_str(raw)
}

impl EventData for MlEvent {
    fn decode_data(event_type: &str, data: Option<&str>) -> Result<Self, DecodeError> {
        let kind = EventKind::from_type(event_type);
        Ok(match kind {
            EventKind::ModelRegistered => MlEvent::ModelRegistered(typed(kind, data)?),
            EventKind::ModelDeployed => MlEvent::ModelDeployed(typed(kind, data)?),
            EventKind::RunCompleted => MlEvent::RunCompleted(typed(kind, data)?),
            EventKind::RunStatusChanged => MlEvent::RunStatusChanged(typed(kind, data)?),
            EventKind::DatasetDriftDetected => MlEvent::DatasetDriftDetected(typed(kind, data)?),
            EventKind::SubscriptionValidation => {
                MlEvent::SubscriptionValidation(typed(kind, data)?)
            }
            EventKind::SubscriptionDeleted => MlEvent::SubscriptionDeleted(typed(kind, data)?),
            EventKind::Other => MlEvent::Other(Value::decode_data(event_type, data)?),
        })
    }

    fn deserialize_data<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        d: D,
    ) -> Result<Self, D::Error> {
        // Success must match `decode_data`; its errors are not reported (see the trait).
        Ok(match EventKind::from_type(event_type) {
            EventKind::ModelRegistered => MlEvent::ModelRegistered(Deserialize::deserialize(d)?),
            EventKind::ModelDeployed => MlEvent::ModelDeployed(Deserialize::deserialize(d)?),
            EventKind::RunCompleted => MlEvent::RunCompleted(Deserialize::deserialize(d)?),
            EventKind::RunStatusChanged => MlEvent::RunStatusChanged(Deserialize::deserialize(d)?),
            EventKind::DatasetDriftDetected => {
                MlEvent::DatasetDriftDetected(Deserialize::deserialize(d)?)
            }
            EventKind::SubscriptionValidation => {
                MlEvent::SubscriptionValidation(Deserialize::deserialize(d)?)
            }
            EventKind::SubscriptionDeleted => {
                MlEvent::SubscriptionDeleted(Deserialize::deserialize(d)?)
            }
            EventKind::Other => MlEvent::Other(Value::deserialize(d)?),
        })
    }

    fn decode_binary(
        event_type: &str,
        content_type: &str,
        base64: &str,
    ) -> Result<Self, DecodeError> {
        match EventKind::from_type(event_type) {
            EventKind::Other => {
                Value::decode_binary(event_type, content_type, base64).map(MlEvent::Other)
            }
            kind => Err(DecodeError::new(
                JsonPath::root(),
                format!("{kind} events need JSON data, but `data_base64` holds `{content_type}`"),
            )),
        }
    }
}

impl Event<MlEvent> {
    /// The kind of this event's data.
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }
}

/// Every event of every fixture under `tests/fixtures/` (not `bad/`), with the file it came from:
/// for unit tests that compare two ways of decoding on all of them.
#[cfg(test)]
pub(crate) fn fixture_events() -> Vec<(std::path::PathBuf, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut events = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures") {
        let path = entry.expect("a directory entry").path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(raws) = split_batch(&text) {
            events.extend(raws.into_iter().map(|raw| (path.clone(), raw.to_owned())));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<Event<MlEvent>, DecodeError> {
        Event::from_json(&v.to_string())
    }

    #[test]
    fn unknown_types_are_other_with_their_data() {
        let e = decode(
            json!({"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "data": {"url": "u"}}),
        )
        .unwrap();
        assert_eq!(e.data, MlEvent::Other(json!({"url": "u"})));
        assert_eq!(e.kind(), EventKind::Other);
    }

    #[test]
    fn ml_events_need_object_data() {
        let t = "Microsoft.MachineLearningServices.ModelDeployed";
        let err = decode(json!({"id": "1", "eventType": t, "data": null})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`data` of a ModelDeployed event must be an object, found null at $.data"
        );
        let err = decode(json!({"id": "1", "eventType": t})).unwrap_err();
        assert!(err.message().contains("found nothing"), "{err}");
        let err = decode(json!({"id": "1", "eventType": t, "data": {"modelIds": 5}})).unwrap_err();
        assert_eq!(err.path().to_string(), "$.data.modelIds");
    }

    #[test]
    fn model_version_as_an_object_names_its_path() {
        let err = decode(
            json!({"id": "1", "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
            "data": {"modelName": "m", "modelVersion": {"major": 1}}}),
        )
        .unwrap_err();
        assert_eq!(err.path().to_string(), "$.data.modelVersion");
        assert!(err.message().contains("a string or an integer"), "{err}");
    }

    #[test]
    fn subscription_validation_is_typed() {
        let e = decode(
            json!({"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "subject": "", "data": {"validationCode": "abc", "validationUrl": "https://x"}}),
        )
        .unwrap();
        let MlEvent::SubscriptionValidation(v) = e.data else {
            panic!("not validation")
        };
        assert_eq!(v.validation_code.as_deref(), Some("abc"));
    }
}
