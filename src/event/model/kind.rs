//! Event type names.

use std::fmt;

/// The event types this crate decodes into typed data.
///
/// Type names are matched ASCII-case-insensitively, as the .NET and Java SDKs do (and as Event Grid's
/// own test fixtures require); everything else is [`EventKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `Microsoft.MachineLearningServices.ModelRegistered`
    ModelRegistered,
    /// `Microsoft.MachineLearningServices.ModelDeployed`
    ModelDeployed,
    /// `Microsoft.MachineLearningServices.RunCompleted`
    RunCompleted,
    /// `Microsoft.MachineLearningServices.RunStatusChanged`
    RunStatusChanged,
    /// `Microsoft.MachineLearningServices.DatasetDriftDetected`
    DatasetDriftDetected,
    /// `Microsoft.EventGrid.SubscriptionValidationEvent`
    SubscriptionValidation,
    /// `Microsoft.EventGrid.SubscriptionDeletedEvent`
    SubscriptionDeleted,
    /// Any other event type.
    Other,
}

const ML_PREFIX: &str = "Microsoft.MachineLearningServices.";

impl EventKind {
    /// The five Azure ML event kinds.
    pub const ML: [EventKind; 5] = [
        EventKind::ModelRegistered,
        EventKind::ModelDeployed,
        EventKind::RunCompleted,
        EventKind::RunStatusChanged,
        EventKind::DatasetDriftDetected,
    ];

    /// Every kind with a full type name (all but [`EventKind::Other`]).
    pub const NAMED: [EventKind; 7] = [
        EventKind::ModelRegistered,
        EventKind::ModelDeployed,
        EventKind::RunCompleted,
        EventKind::RunStatusChanged,
        EventKind::DatasetDriftDetected,
        EventKind::SubscriptionValidation,
        EventKind::SubscriptionDeleted,
    ];

    /// The kind of a full event type name such as `Microsoft.MachineLearningServices.ModelDeployed`.
    pub fn from_type(event_type: &str) -> Self {
        Self::NAMED
            .into_iter()
            .find(|k| k.type_name().eq_ignore_ascii_case(event_type))
            .unwrap_or(EventKind::Other)
    }

    /// The kind named by a full type name or a short one (`ModelDeployed`, `model-deployed`,
    /// `model_deployed`), for configuration and the command line. `None` when nothing matches.
    pub fn from_name(name: &str) -> Option<Self> {
        let squashed: String = name.chars().filter(|c| *c != '-' && *c != '_').collect();
        Self::NAMED.into_iter().find(|k| {
            k.type_name().eq_ignore_ascii_case(name)
                || k.short_name().eq_ignore_ascii_case(&squashed)
        })
    }

    /// The full type name on the wire.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::ModelRegistered => "Microsoft.MachineLearningServices.ModelRegistered",
            EventKind::ModelDeployed => "Microsoft.MachineLearningServices.ModelDeployed",
            EventKind::RunCompleted => "Microsoft.MachineLearningServices.RunCompleted",
            EventKind::RunStatusChanged => "Microsoft.MachineLearningServices.RunStatusChanged",
            EventKind::DatasetDriftDetected => {
                "Microsoft.MachineLearningServices.DatasetDriftDetected"
            }
            EventKind::SubscriptionValidation => "Microsoft.EventGrid.SubscriptionValidationEvent",
            EventKind::SubscriptionDeleted => "Microsoft.EventGrid.SubscriptionDeletedEvent",
            EventKind::Other => "",
        }
    }

    /// The short name used in logs and configuration (`ModelDeployed`).
    pub fn short_name(self) -> &'static str {
        match self {
            EventKind::SubscriptionValidation => "SubscriptionValidation",
            EventKind::SubscriptionDeleted => "SubscriptionDeleted",
            EventKind::Other => "Other",
            ml => &ml.type_name()[ML_PREFIX.len()..],
        }
    }

    /// Whether this is one of the five Azure ML event kinds.
    pub fn is_ml(self) -> bool {
        Self::ML.contains(&self)
    }

    /// Whether events of this kind are about a run (`RunCompleted`, `RunStatusChanged`): the only
    /// ones with a run status, type and experiment, and a model monitor's breach tag.
    pub fn is_run(self) -> bool {
        matches!(self, EventKind::RunCompleted | EventKind::RunStatusChanged)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_match_case_insensitively() {
        assert_eq!(
            EventKind::from_type("microsoft.machinelearningservices.modeldeployed"),
            EventKind::ModelDeployed
        );
        assert_eq!(
            EventKind::from_type("Microsoft.Storage.BlobCreated"),
            EventKind::Other
        );
        assert_eq!(EventKind::from_type("ModelDeployed"), EventKind::Other);
    }

    #[test]
    fn names_accept_short_and_kebab_forms() {
        assert_eq!(
            EventKind::from_name("model-deployed"),
            Some(EventKind::ModelDeployed)
        );
        assert_eq!(
            EventKind::from_name("DatasetDriftDetected"),
            Some(EventKind::DatasetDriftDetected)
        );
        assert_eq!(
            EventKind::from_name("Microsoft.MachineLearningServices.RunCompleted"),
            Some(EventKind::RunCompleted)
        );
        assert_eq!(EventKind::from_name("nope"), None);
        assert_eq!(EventKind::RunStatusChanged.short_name(), "RunStatusChanged");
    }
}
