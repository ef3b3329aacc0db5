//! Decoding the typed `data`: the [`EventData`] trait, its implementations for [`MlEvent`] and plain
//! JSON, and the member lists of every data struct ([`deserialize_data!`]).

use super::error::{DecodeError, JsonPath};
use super::parse::{parse_str, type_name};
use super::wire::read::{F64OrString, ObjectOrNull, Plain, StringOrNumber, TimeOrNull};
use super::wire::{deserialize_data, Str};
use crate::event::model::{
    for_kind, DatasetDriftDetected, EventKind, KindFn, MlData, MlEvent, ModelDeployed,
    ModelRegistered, RunCompleted, RunStatus, RunStatusChanged, SubscriptionDeleted,
    SubscriptionValidation,
};
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::marker::PhantomData;

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
        struct Typed<'a>(EventKind, Option<&'a str>);
        impl KindFn for Typed<'_> {
            type Out = Result<MlEvent, DecodeError>;
            fn call<T: MlData + DeserializeOwned + Default>(
                self,
                wrap: fn(T) -> MlEvent,
            ) -> Self::Out {
                typed::<T>(self.0, self.1).map(wrap)
            }
        }
        let kind = EventKind::from_type(event_type);
        for_kind(kind, Typed(kind, data))
            .unwrap_or_else(|_| Value::decode_data(event_type, data).map(MlEvent::Other))
    }

    fn deserialize_data<'de, D: Deserializer<'de>>(
        event_type: &str,
        d: D,
    ) -> Result<Self, D::Error> {
        // Success must match `decode_data`; its errors are not reported (see the trait).
        struct InPlace<'de, D>(D, PhantomData<&'de ()>);
        impl<'de, D: Deserializer<'de>> KindFn for InPlace<'de, D> {
            type Out = Result<MlEvent, D::Error>;
            fn call<T: MlData + DeserializeOwned + Default>(
                self,
                wrap: fn(T) -> MlEvent,
            ) -> Self::Out {
                T::deserialize(self.0).map(wrap)
            }
        }
        match for_kind(EventKind::from_type(event_type), InPlace(d, PhantomData)) {
            Ok(decoded) => decoded,
            Err(InPlace(d, _)) => Value::deserialize(d).map(MlEvent::Other),
        }
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

/// The members the typed data of `kind` reads, as the service spells them (camelCase): for
/// `handler check`'s warnings on filter keys. None for the kinds without typed data.
pub(crate) fn data_members(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::ModelRegistered => ModelRegistered::MEMBERS,
        EventKind::ModelDeployed => ModelDeployed::MEMBERS,
        EventKind::RunCompleted => RunCompleted::MEMBERS,
        EventKind::RunStatusChanged => RunStatusChanged::MEMBERS,
        EventKind::DatasetDriftDetected => DatasetDriftDetected::MEMBERS,
        EventKind::SubscriptionValidation => SubscriptionValidation::MEMBERS,
        EventKind::SubscriptionDeleted => SubscriptionDeleted::MEMBERS,
        EventKind::Other => &[],
    }
}

deserialize_data!(ModelRegistered {
    model_name: "modelName" as Plain<Option<String>>,
    model_version: "modelVersion" as StringOrNumber,
    model_tags: "modelTags" as ObjectOrNull,
    model_properties: "modelProperties" as ObjectOrNull,
});

deserialize_data!(ModelDeployed {
    service_name: "serviceName" as Plain<Option<String>>,
    service_compute_type: "serviceComputeType" as Plain<Option<String>>,
    model_ids: "modelIds" as Plain<Option<String>>,
    service_tags: "serviceTags" as ObjectOrNull,
    service_properties: "serviceProperties" as ObjectOrNull,
});

// The run events share their struct; RunCompleted has no `runStatus` member (one sent goes to `extra`).
deserialize_data!(RunCompleted {
    experiment_id: "experimentId" as Plain<Option<String>>,
    experiment_name: "experimentName" as Plain<Option<String>>,
    run_id: "runId" as Plain<Option<String>>,
    run_type: "runType" as Plain<Option<String>>,
    run_tags: "runTags" as ObjectOrNull,
    run_properties: "runProperties" as ObjectOrNull,
});

deserialize_data!(RunStatusChanged {
    experiment_id: "experimentId" as Plain<Option<String>>,
    experiment_name: "experimentName" as Plain<Option<String>>,
    run_id: "runId" as Plain<Option<String>>,
    run_type: "runType" as Plain<Option<String>>,
    run_status: "runStatus" as Plain<Option<RunStatus>>,
    run_tags: "runTags" as ObjectOrNull,
    run_properties: "runProperties" as ObjectOrNull,
});

deserialize_data!(DatasetDriftDetected {
    data_drift_id: "dataDriftId" as Plain<Option<String>>,
    data_drift_name: "dataDriftName" as Plain<Option<String>>,
    run_id: "runId" as Plain<Option<String>>,
    base_dataset_id: "baseDatasetId" as Plain<Option<String>>,
    target_dataset_id: "targetDatasetId" as Plain<Option<String>>,
    drift_coefficient: "driftCoefficient" as F64OrString,
    start_time: "startTime" as TimeOrNull,
    end_time: "endTime" as TimeOrNull,
});

deserialize_data!(SubscriptionValidation {
    validation_code: "validationCode" as Plain<Option<String>>,
    validation_url: "validationUrl" as Plain<Option<String>>,
});

deserialize_data!(SubscriptionDeleted {
    event_subscription_id: "eventSubscriptionId" as Plain<Option<String>>,
});

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Str::deserialize(d)?;
        Ok(RunStatus::parse(&text.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_in_any_case_and_unknown_keys_are_kept() {
        let data: ModelDeployed = serde_json::from_value(json!({
            "SERVICENAME": "svc", "modelIds": "m:1", "region": "westeurope", "ServiceTags": null
        }))
        .unwrap();
        assert_eq!(data.service_name.as_deref(), Some("svc"));
        assert_eq!(data.model_ids.as_deref(), Some("m:1"));
        assert!(data.service_tags.is_empty());
        assert_eq!(data.extra["region"], "westeurope");
        assert_eq!(data.extra.len(), 1);
    }

    #[test]
    fn a_member_given_twice_in_two_spellings_is_an_error() {
        let text = r#"{"modelName": "a", "ModelName": "b"}"#;
        let err = serde_json::from_str::<ModelRegistered>(text).unwrap_err();
        assert!(
            err.to_string().contains("duplicate field `modelName`"),
            "{err}"
        );
    }

    #[test]
    fn model_version_may_be_a_string_or_an_integer() {
        for (input, want) in [(json!("3"), "3"), (json!(20), "20"), (json!(1.0), "1")] {
            let data: ModelRegistered =
                serde_json::from_value(json!({"modelName": "m", "modelVersion": input})).unwrap();
            assert_eq!(data.model_version.as_deref(), Some(want));
        }
        let err = serde_json::from_value::<ModelRegistered>(json!({"modelVersion": {"v": 1}}))
            .unwrap_err();
        assert!(err.to_string().contains("a string or an integer"), "{err}");
    }

    #[test]
    fn pascal_case_and_camel_case_keys_are_both_read() {
        let pascal: ModelDeployed =
            serde_json::from_value(json!({"ServiceName": "svc", "ServiceComputeType": "AKS"}))
                .unwrap();
        let camel: ModelDeployed =
            serde_json::from_value(json!({"serviceName": "svc", "serviceComputeType": "AKS"}))
                .unwrap();
        assert_eq!(pascal, camel);
        assert_eq!(pascal.service_name.as_deref(), Some("svc"));
    }

    #[test]
    fn unknown_keys_are_kept_and_written_back() {
        let data: RunCompleted =
            serde_json::from_value(json!({"runId": "r", "createdBy": {"userName": "ana"}}))
                .unwrap();
        assert_eq!(data.extra["createdBy"]["userName"], "ana");
        let back = serde_json::to_value(&data).unwrap();
        assert_eq!(back["createdBy"]["userName"], "ana");
    }

    #[test]
    fn run_completed_keeps_a_run_status_member_as_sent() {
        let text = r#"{"runId":"r","runStatus":"cancelled"}"#;
        let completed: RunCompleted = serde_json::from_str(text).unwrap();
        assert_eq!(completed.extra["runStatus"], "cancelled");
        assert_eq!(
            serde_json::to_string(&completed).unwrap(),
            r#"{"runId":"r","runTags":{},"runProperties":{},"runStatus":"cancelled"}"#
        );
        let changed: RunStatusChanged = serde_json::from_str(text).unwrap();
        assert_eq!(changed.run_status, Some(RunStatus::Canceled));
        assert!(changed.extra.is_empty());
    }

    #[test]
    fn nullable_fields_decode_as_absent() {
        let data: DatasetDriftDetected = serde_json::from_value(
            json!({"dataDriftName": "m", "startTime": null, "runType": null, "driftCoefficient": null}),
        )
        .unwrap();
        assert_eq!(data.start_time, None);
        assert_eq!(data.end_time, None);
        assert_eq!(data.drift_coefficient, None);
        let run: RunCompleted =
            serde_json::from_value(json!({"runType": null, "runTags": null})).unwrap();
        assert_eq!(run.run_type, None);
        assert!(run.run_tags.is_empty());
    }

    #[test]
    fn drift_coefficient_keeps_full_double_precision() {
        let data: DatasetDriftDetected =
            serde_json::from_str(r#"{"DriftCoefficient": 0.83503490684792081}"#).unwrap();
        assert_eq!(data.drift_coefficient, Some(0.835_034_906_847_920_8));
        assert_eq!(
            data.drift_coefficient.unwrap().to_bits(),
            0.835_034_906_847_920_8_f64.to_bits()
        );
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;
    use crate::event::model::Event;
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
