//! [`MlEvent`], the typed data of every event that can reach the handler, and the one table that
//! maps an [`EventKind`] to its data type ([`for_kind`]).

use super::kind::EventKind;
use super::models::{DatasetDriftDetected, ModelDeployed, ModelRegistered};
use super::monitor::MonitorBreach;
use super::run::{RunCompleted, RunStatusChanged};
use super::system::{SubscriptionDeleted, SubscriptionValidation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

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

/// The typed data of one event kind, as people and templates see it.
pub(crate) trait MlData {
    /// The key facts as (label, value) pairs, in reading order (the workspace is added by the event).
    fn facts(&self) -> Vec<(&'static str, String)>;
    /// The middle of the summary line, e.g. `model m version 3 registered`.
    fn write_summary(&self, out: &mut String) -> fmt::Result;
    /// The template variables in snake_case, every one of them whatever the data holds (`null` when
    /// absent): the list of known variables is read from the empty data ([`MlEvent::empty`]).
    fn variables(&self, out: &mut dyn FnMut(&'static str, Value));
    /// The free-form tags of the model, service or run.
    fn tags(&self) -> Option<&Map<String, Value>> {
        None
    }
    /// The model monitor breach the data carries (run events with [`BREACH_TAG`](super::monitor::BREACH_TAG)).
    fn monitor(&self) -> Option<MonitorBreach> {
        None
    }
}

/// A computation over the data type of one kind (see [`for_kind`]): how decoding and the template
/// variable list reach the right struct without a match of their own.
pub(crate) trait KindFn {
    /// What the computation returns.
    type Out;
    /// Runs with `T`, the data type, and `wrap`, its variant.
    fn call<T: MlData + DeserializeOwned + Default>(self, wrap: fn(T) -> MlEvent) -> Self::Out;
}

/// Runs `f` with the data type of `kind`; `Err(f)`, unused, for [`EventKind::Other`], whose data is
/// plain JSON.
///
/// With [`MlEvent::kind`] and [`MlEvent::ml_data`], the only place that lists the typed kinds.
pub(crate) fn for_kind<F: KindFn>(kind: EventKind, f: F) -> Result<F::Out, F> {
    Ok(match kind {
        EventKind::ModelRegistered => f.call(MlEvent::ModelRegistered),
        EventKind::ModelDeployed => f.call(MlEvent::ModelDeployed),
        EventKind::RunCompleted => f.call(MlEvent::RunCompleted),
        EventKind::RunStatusChanged => f.call(MlEvent::RunStatusChanged),
        EventKind::DatasetDriftDetected => f.call(MlEvent::DatasetDriftDetected),
        EventKind::SubscriptionValidation => f.call(MlEvent::SubscriptionValidation),
        EventKind::SubscriptionDeleted => f.call(MlEvent::SubscriptionDeleted),
        EventKind::Other => return Err(f),
    })
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

    /// The typed data as its facts, summary and template variables; `None` for other events.
    pub(crate) fn ml_data(&self) -> Option<&dyn MlData> {
        match self {
            MlEvent::ModelRegistered(d) => Some(d),
            MlEvent::ModelDeployed(d) => Some(d),
            MlEvent::RunCompleted(d) => Some(d),
            MlEvent::RunStatusChanged(d) => Some(d),
            MlEvent::DatasetDriftDetected(d) => Some(d),
            MlEvent::SubscriptionValidation(d) => Some(d),
            MlEvent::SubscriptionDeleted(d) => Some(d),
            MlEvent::Other(_) => None,
        }
    }

    /// The empty data of `kind` (every member absent): what the template-variable list is read from.
    pub(crate) fn empty(kind: EventKind) -> Self {
        struct Empty;
        impl KindFn for Empty {
            type Out = MlEvent;
            fn call<T: MlData + DeserializeOwned + Default>(
                self,
                wrap: fn(T) -> MlEvent,
            ) -> MlEvent {
                wrap(T::default())
            }
        }
        for_kind(kind, Empty).unwrap_or_else(|_| MlEvent::default())
    }

    /// The free-form tags of the model, service or run, when the event has any.
    pub fn tags(&self) -> Option<&Map<String, Value>> {
        self.ml_data().and_then(MlData::tags)
    }

    /// Whether this is a model monitor breach: a run event whose tags hold [`BREACH_TAG`](super::monitor::BREACH_TAG). Cheaper
    /// than [`MlEvent::monitor`]: the tag is not read.
    pub fn is_monitor_breach(&self) -> bool {
        match self {
            MlEvent::RunCompleted(run) => MonitorBreach::is_marked(&run.run_tags),
            MlEvent::RunStatusChanged(run) => MonitorBreach::is_marked(&run.run_tags),
            _ => false,
        }
    }

    /// The model monitor breach this event reports, read from the run's tags (see [`MonitorBreach`]).
    pub fn monitor(&self) -> Option<MonitorBreach> {
        self.ml_data().and_then(MlData::monitor)
    }
}
