//! The two run events, `RunCompleted` and `RunStatusChanged`: one [`Run`] struct over what each says
//! of the run's status ([`RunState`]), so the shared run fields are declared, written and read once.

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// The data of a run event: the run's fields, and `run_status`, what the event says of the status
/// (nothing for [`RunCompleted`], whose status is implied; the new status for [`RunStatusChanged`]).
///
/// Serialised in the service's camelCase, members in this order, `runStatus` only when sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(bound(serialize = "S: Serialize + RunState"))]
pub struct Run<S> {
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
    /// What the event says of the status: [`Completed`] or the new `Option<RunStatus>`.
    #[serde(rename = "runStatus", skip_serializing_if = "RunState::is_unsent")]
    pub run_status: S,
    /// The run's tags, free-form.
    #[serde(rename = "runTags")]
    pub run_tags: Map<String, Value>,
    /// The run's properties, free-form (values are often JSON documents encoded as strings).
    #[serde(rename = "runProperties")]
    pub run_properties: Map<String, Value>,
    /// Keys this version of the crate does not know, kept verbatim (for `RunCompleted`, a
    /// `runStatus` member too: the event type already says the run completed).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Microsoft.MachineLearningServices.RunCompleted`: a run completed successfully.
pub type RunCompleted = Run<Completed>;

/// `Microsoft.MachineLearningServices.RunStatusChanged`: a run changed status; `run_status` is the
/// new status.
pub type RunStatusChanged = Run<Option<RunStatus>>;

/// The status of a [`RunCompleted`] run: completed, which the event type says; no member of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Completed;

/// What a run event says of the run's status.
pub trait RunState {
    /// The status, when the event says one.
    fn status(&self) -> Option<&RunStatus>;
    /// Whether the status is not a member of its own (implied, or absent): not written back.
    fn is_unsent(&self) -> bool;
}

impl RunState for Completed {
    fn status(&self) -> Option<&RunStatus> {
        Some(&RunStatus::Completed)
    }
    fn is_unsent(&self) -> bool {
        true
    }
}

impl RunState for Option<RunStatus> {
    fn status(&self) -> Option<&RunStatus> {
        self.as_ref()
    }
    fn is_unsent(&self) -> bool {
        self.is_none()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_status_is_open_and_case_insensitive() {
        assert_eq!(RunStatus::parse("failed"), RunStatus::Failed);
        assert_eq!(RunStatus::parse("Cancelled"), RunStatus::Canceled);
        assert_eq!(
            RunStatus::parse("Paused"),
            RunStatus::Other("Paused".into())
        );
        assert_eq!(RunStatus::parse("Paused").to_string(), "Paused");
    }

    #[test]
    fn both_run_events_say_their_status() {
        assert_eq!(
            RunCompleted::default().run_status.status(),
            Some(&RunStatus::Completed)
        );
        let changed = RunStatusChanged {
            run_status: Some(RunStatus::Failed),
            ..Default::default()
        };
        assert_eq!(changed.run_status.status(), Some(&RunStatus::Failed));
        assert_eq!(RunStatusChanged::default().run_status.status(), None);
    }

    #[test]
    fn both_run_events_write_the_run_fields_in_the_same_order() {
        let mut tags = Map::new();
        tags.insert("stage".into(), "prod".into());
        let changed = RunStatusChanged {
            experiment_id: Some("e".into()),
            experiment_name: Some("exp".into()),
            run_id: Some("r".into()),
            run_type: Some("automl".into()),
            run_status: Some(RunStatus::Failed),
            run_tags: tags.clone(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&changed).unwrap(),
            r#"{"experimentId":"e","experimentName":"exp","runId":"r","runType":"automl","runStatus":"Failed","runTags":{"stage":"prod"},"runProperties":{}}"#
        );
        let completed = RunCompleted {
            run_id: Some("r".into()),
            run_tags: tags,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&completed).unwrap(),
            r#"{"runId":"r","runTags":{"stage":"prod"},"runProperties":{}}"#
        );
        let unknown = RunStatusChanged::default();
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            r#"{"runTags":{},"runProperties":{}}"#
        );
    }
}
