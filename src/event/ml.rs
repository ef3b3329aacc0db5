//! Typed `data` for the five Azure Machine Learning event types.
//!
//! Every struct matches its keys case-insensitively (the service sends camelCase `modelName`, the docs
//! show PascalCase `ModelName`), treats "required" identifiers as optional because SDK fixtures and old
//! payloads omit them, and keeps unknown keys in `extra` so nothing the service adds is dropped.
//! Serialisation writes the service's camelCase. Decoding is a hand-written map visitor per struct
//! ([`deserialize_data!`]): one pass, no intermediate tree, strings borrowed until they are kept.

use super::lenient;
use super::wire::deserialize_data;
use super::wire::read::{F64OrString, ObjectOrNull, Plain, StringOrNumber, TimeOrNull};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// `Microsoft.MachineLearningServices.ModelRegistered`: a model or model version was registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelRegistered {
    /// The registered model's name.
    #[serde(rename = "modelName", skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// The registered version, normalised to text (the service has sent both `"3"` and `3`).
    #[serde(rename = "modelVersion", skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// The model's tags, free-form.
    #[serde(rename = "modelTags")]
    pub model_tags: Map<String, Value>,
    /// The model's properties, free-form.
    #[serde(rename = "modelProperties")]
    pub model_properties: Map<String, Value>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_data!(ModelRegistered {
    model_name: "modelName" as Plain<Option<String>>,
    model_version: "modelVersion" as StringOrNumber,
    model_tags: "modelTags" as ObjectOrNull,
    model_properties: "modelProperties" as ObjectOrNull,
});

/// `Microsoft.MachineLearningServices.ModelDeployed`: models were deployed to an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelDeployed {
    /// The deployed service (endpoint) name.
    #[serde(rename = "serviceName", skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The compute type, such as `ACI` or `AKS`.
    #[serde(rename = "serviceComputeType", skip_serializing_if = "Option::is_none")]
    pub service_compute_type: Option<String>,
    /// Comma-separated `name:version` ids as sent; [`ModelDeployed::model_ids`] splits them.
    #[serde(rename = "modelIds", skip_serializing_if = "Option::is_none")]
    pub model_ids: Option<String>,
    /// The service's tags, free-form.
    #[serde(rename = "serviceTags")]
    pub service_tags: Map<String, Value>,
    /// The service's properties, free-form.
    #[serde(rename = "serviceProperties")]
    pub service_properties: Map<String, Value>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_data!(ModelDeployed {
    service_name: "serviceName" as Plain<Option<String>>,
    service_compute_type: "serviceComputeType" as Plain<Option<String>>,
    model_ids: "modelIds" as Plain<Option<String>>,
    service_tags: "serviceTags" as ObjectOrNull,
    service_properties: "serviceProperties" as ObjectOrNull,
});

impl ModelDeployed {
    /// The deployed models as (name, version) pairs, in the order sent; blanks are skipped.
    pub fn model_ids(&self) -> Vec<ModelId> {
        self.model_ids
            .as_deref()
            .map(ModelId::parse_list)
            .unwrap_or_default()
    }
}

/// One entry of `modelIds`: `name:version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelId {
    /// The model name (everything before the last `:`).
    pub name: String,
    /// The version (after the last `:`), absent when the id has none.
    pub version: Option<String>,
}

impl ModelId {
    /// Splits `name:version`; a name may itself contain `:`, the version never does.
    pub fn parse(id: &str) -> Self {
        match id.rsplit_once(':') {
            Some((name, version)) if !version.is_empty() => Self {
                name: name.to_owned(),
                version: Some(version.to_owned()),
            },
            _ => Self {
                name: id.trim_end_matches(':').to_owned(),
                version: None,
            },
        }
    }

    /// Splits a comma-separated list, trimming spaces and skipping empty entries.
    pub fn parse_list(ids: &str) -> Vec<Self> {
        ids.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect()
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}:{}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// `Microsoft.MachineLearningServices.RunCompleted`: a run completed successfully.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunCompleted {
    /// The experiment's id.
    #[serde(rename = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    /// The experiment's name.
    #[serde(rename = "experimentName", skip_serializing_if = "Option::is_none")]
    pub experiment_name: Option<String>,
    /// The run's id.
    #[serde(rename = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run type (`automl`, `azureml.PipelineRun`, ...); the docs example sends `null`.
    #[serde(rename = "runType", skip_serializing_if = "Option::is_none")]
    pub run_type: Option<String>,
    /// The run's tags, free-form.
    #[serde(rename = "runTags")]
    pub run_tags: Map<String, Value>,
    /// The run's properties, free-form (values are often JSON documents encoded as strings).
    #[serde(rename = "runProperties")]
    pub run_properties: Map<String, Value>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_data!(RunCompleted {
    experiment_id: "experimentId" as Plain<Option<String>>,
    experiment_name: "experimentName" as Plain<Option<String>>,
    run_id: "runId" as Plain<Option<String>>,
    run_type: "runType" as Plain<Option<String>>,
    run_tags: "runTags" as ObjectOrNull,
    run_properties: "runProperties" as ObjectOrNull,
});

/// `Microsoft.MachineLearningServices.RunStatusChanged`: a run changed status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunStatusChanged {
    /// The experiment's id.
    #[serde(rename = "experimentId", skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    /// The experiment's name.
    #[serde(rename = "experimentName", skip_serializing_if = "Option::is_none")]
    pub experiment_name: Option<String>,
    /// The run's id.
    #[serde(rename = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run type; may be `null`.
    #[serde(rename = "runType", skip_serializing_if = "Option::is_none")]
    pub run_type: Option<String>,
    /// The new status.
    #[serde(rename = "runStatus", skip_serializing_if = "Option::is_none")]
    pub run_status: Option<RunStatus>,
    /// The run's tags, free-form.
    #[serde(rename = "runTags")]
    pub run_tags: Map<String, Value>,
    /// The run's properties, free-form.
    #[serde(rename = "runProperties")]
    pub run_properties: Map<String, Value>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_data!(RunStatusChanged {
    experiment_id: "experimentId" as Plain<Option<String>>,
    experiment_name: "experimentName" as Plain<Option<String>>,
    run_id: "runId" as Plain<Option<String>>,
    run_type: "runType" as Plain<Option<String>>,
    run_status: "runStatus" as Plain<Option<RunStatus>>,
    run_tags: "runTags" as ObjectOrNull,
    run_properties: "runProperties" as ObjectOrNull,
});

/// `Microsoft.MachineLearningServices.DatasetDriftDetected`: a dataset drift monitor detected drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetDriftDetected {
    /// The drift monitor's id.
    #[serde(rename = "dataDriftId", skip_serializing_if = "Option::is_none")]
    pub data_drift_id: Option<String>,
    /// The drift monitor's name.
    #[serde(rename = "dataDriftName", skip_serializing_if = "Option::is_none")]
    pub data_drift_name: Option<String>,
    /// The run that detected drift.
    #[serde(rename = "runId", skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The base dataset.
    #[serde(rename = "baseDatasetId", skip_serializing_if = "Option::is_none")]
    pub base_dataset_id: Option<String>,
    /// The target dataset; absent in the SDKs' own fixtures, so optional.
    #[serde(rename = "targetDatasetId", skip_serializing_if = "Option::is_none")]
    pub target_dataset_id: Option<String>,
    /// The drift coefficient, at full `f64` precision.
    #[serde(rename = "driftCoefficient", skip_serializing_if = "Option::is_none")]
    pub drift_coefficient: Option<f64>,
    /// Start of the target time series; nullable in the spec.
    #[serde(
        rename = "startTime",
        serialize_with = "lenient::serialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<DateTime<FixedOffset>>,
    /// End of the target time series; nullable in the spec.
    #[serde(
        rename = "endTime",
        serialize_with = "lenient::serialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

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

/// An Azure ML run status. The known values are typed (matched case-insensitively, since the docs
/// send `failed`); any other value is kept verbatim in [`RunStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// `NotStarted`
    NotStarted,
    /// `Queued`
    Queued,
    /// `Preparing`
    Preparing,
    /// `Provisioning`
    Provisioning,
    /// `Starting`
    Starting,
    /// `Running`
    Running,
    /// `CancelRequested`
    CancelRequested,
    /// `Finalizing`
    Finalizing,
    /// `Completed`
    Completed,
    /// `Failed`
    Failed,
    /// `Canceled`
    Canceled,
    /// `NotResponding`
    NotResponding,
    /// Any status this crate does not know, as sent.
    Other(String),
}

impl RunStatus {
    const KNOWN: [(&'static str, RunStatus); 12] = [
        ("NotStarted", RunStatus::NotStarted),
        ("Queued", RunStatus::Queued),
        ("Preparing", RunStatus::Preparing),
        ("Provisioning", RunStatus::Provisioning),
        ("Starting", RunStatus::Starting),
        ("Running", RunStatus::Running),
        ("CancelRequested", RunStatus::CancelRequested),
        ("Finalizing", RunStatus::Finalizing),
        ("Completed", RunStatus::Completed),
        ("Failed", RunStatus::Failed),
        ("Canceled", RunStatus::Canceled),
        ("NotResponding", RunStatus::NotResponding),
    ];

    /// Reads a status; known names match case-insensitively (`Cancelled` is read as `Canceled`).
    pub fn parse(text: &str) -> Self {
        let wanted = if text.eq_ignore_ascii_case("Cancelled") {
            "Canceled"
        } else {
            text
        };
        Self::KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, status)| status.clone())
            .unwrap_or_else(|| RunStatus::Other(text.to_owned()))
    }

    /// The canonical name, or the text as sent for [`RunStatus::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Other(text) => text,
            known => Self::KNOWN
                .iter()
                .find(|(_, status)| status == known)
                .map(|(name, _)| *name)
                .unwrap_or("Unknown"),
        }
    }

    /// Whether the run has ended without success (`Failed`, `Canceled`, `NotResponding`).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::Canceled | RunStatus::NotResponding
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = super::wire::Str::deserialize(d)?;
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

    #[test]
    fn run_status_is_open_and_case_insensitive() {
        assert_eq!(RunStatus::parse("failed"), RunStatus::Failed);
        assert_eq!(RunStatus::parse("Cancelled"), RunStatus::Canceled);
        assert_eq!(
            RunStatus::parse("Paused"),
            RunStatus::Other("Paused".into())
        );
        assert_eq!(RunStatus::parse("Paused").to_string(), "Paused");
        assert!(RunStatus::Failed.is_failure());
        assert!(!RunStatus::Completed.is_failure());
    }

    #[test]
    fn model_ids_split_into_name_and_version() {
        let ids = ModelId::parse_list(
            "sklearn_regression_model:1, sklearn_regression_model:2,,ns:model:7,bare",
        );
        assert_eq!(
            ids,
            vec![
                ModelId {
                    name: "sklearn_regression_model".into(),
                    version: Some("1".into())
                },
                ModelId {
                    name: "sklearn_regression_model".into(),
                    version: Some("2".into())
                },
                ModelId {
                    name: "ns:model".into(),
                    version: Some("7".into())
                },
                ModelId {
                    name: "bare".into(),
                    version: None
                },
            ]
        );
        assert_eq!(ids[2].to_string(), "ns:model:7");
    }
}
