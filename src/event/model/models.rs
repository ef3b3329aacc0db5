//! Typed `data` of the model and dataset events (the run events are in `run.rs`).
//!
//! Every struct matches its keys case-insensitively (the service sends camelCase `modelName`, the docs
//! show PascalCase `ModelName`), treats "required" identifiers as optional because SDK fixtures and old
//! payloads omit them, and keeps unknown keys in `extra` so nothing the service adds is dropped.
//! Serialisation writes the service's camelCase; decoding is in `crate::event::decode::data`.

use super::time;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
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
        serialize_with = "time::serialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<DateTime<FixedOffset>>,
    /// End of the target time series; nullable in the spec.
    #[serde(
        rename = "endTime",
        serialize_with = "time::serialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
