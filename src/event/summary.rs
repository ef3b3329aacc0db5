//! One human-readable line per event: the embedded default's log line and the facts of notifications.

use super::{Event, MlEvent};

const UNKNOWN: &str = "(unknown)";

fn or_unknown(value: &Option<String>) -> &str {
    value
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(UNKNOWN)
}

impl Event<MlEvent> {
    /// The event's key facts as (label, value) pairs, in reading order: what a log line, a Teams fact
    /// set or a Slack block shows.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts: Vec<(&'static str, String)> = match &self.data {
            MlEvent::ModelRegistered(d) => vec![
                ("Model", or_unknown(&d.model_name).to_owned()),
                ("Version", or_unknown(&d.model_version).to_owned()),
            ],
            MlEvent::ModelDeployed(d) => {
                let ids: Vec<String> = d.model_ids().iter().map(ToString::to_string).collect();
                vec![
                    ("Service", or_unknown(&d.service_name).to_owned()),
                    ("Compute", or_unknown(&d.service_compute_type).to_owned()),
                    (
                        "Models",
                        if ids.is_empty() {
                            UNKNOWN.to_owned()
                        } else {
                            ids.join(", ")
                        },
                    ),
                ]
            }
            MlEvent::RunCompleted(d) => vec![
                ("Run", or_unknown(&d.run_id).to_owned()),
                ("Experiment", or_unknown(&d.experiment_name).to_owned()),
                ("Status", "Completed".to_owned()),
            ],
            MlEvent::RunStatusChanged(d) => vec![
                ("Run", or_unknown(&d.run_id).to_owned()),
                ("Experiment", or_unknown(&d.experiment_name).to_owned()),
                (
                    "Status",
                    d.run_status
                        .as_ref()
                        .map_or(UNKNOWN.to_owned(), ToString::to_string),
                ),
            ],
            MlEvent::DatasetDriftDetected(d) => vec![
                ("Drift monitor", or_unknown(&d.data_drift_name).to_owned()),
                (
                    "Coefficient",
                    d.drift_coefficient
                        .map_or(UNKNOWN.to_owned(), |c| c.to_string()),
                ),
                ("Run", or_unknown(&d.run_id).to_owned()),
            ],
            _ => Vec::new(),
        };
        if let Some(ws) = self.workspace() {
            facts.push(("Workspace", ws.workspace));
        }
        facts
    }

    /// One line naming the event's kind and key facts, e.g.
    /// `ModelDeployed: service my-svc (ACI) serves m:1, m:2 in workspace ws [event 831e…]`.
    pub fn summary(&self) -> String {
        let body = match &self.data {
            MlEvent::ModelRegistered(d) => format!(
                "model {} version {} registered",
                or_unknown(&d.model_name),
                or_unknown(&d.model_version)
            ),
            MlEvent::ModelDeployed(d) => {
                let ids: Vec<String> = d.model_ids().iter().map(ToString::to_string).collect();
                format!(
                    "service {} ({}) deployed with models {}",
                    or_unknown(&d.service_name),
                    or_unknown(&d.service_compute_type),
                    if ids.is_empty() {
                        UNKNOWN.to_owned()
                    } else {
                        ids.join(", ")
                    }
                )
            }
            MlEvent::RunCompleted(d) => format!(
                "run {} of experiment {} completed",
                or_unknown(&d.run_id),
                or_unknown(&d.experiment_name)
            ),
            MlEvent::RunStatusChanged(d) => format!(
                "run {} of experiment {} is now {}",
                or_unknown(&d.run_id),
                or_unknown(&d.experiment_name),
                d.run_status
                    .as_ref()
                    .map_or(UNKNOWN.to_owned(), ToString::to_string)
            ),
            MlEvent::DatasetDriftDetected(d) => format!(
                "drift monitor {} measured drift coefficient {} in run {}",
                or_unknown(&d.data_drift_name),
                d.drift_coefficient
                    .map_or(UNKNOWN.to_owned(), |c| c.to_string()),
                or_unknown(&d.run_id)
            ),
            MlEvent::SubscriptionValidation(_) => "subscription validation handshake".to_owned(),
            MlEvent::SubscriptionDeleted(d) => {
                format!(
                    "event subscription {} deleted",
                    or_unknown(&d.event_subscription_id)
                )
            }
            MlEvent::Other(_) => format!("event of type {}", self.event_type),
        };
        let workspace = self
            .workspace()
            .map(|ws| format!(" in workspace {}", ws.workspace))
            .unwrap_or_default();
        format!("{}: {body}{workspace} [event {}]", self.kind(), self.id)
    }
}
