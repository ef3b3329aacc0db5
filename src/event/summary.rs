//! One human-readable line per event: the embedded default's log line and the facts of notifications.

use super::{Event, MlEvent, Workspace};
use std::fmt::{self, Write as _};

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
    /// `ModelDeployed: service my-svc (ACI) deployed with models m:1, m:2 in workspace ws [event 831e…]`.
    ///
    /// Written into one `String`: it is the per-event log line, on the hot path of every invocation.
    pub fn summary(&self) -> String {
        let mut line = String::with_capacity(160);
        // Writing to a `String` cannot fail.
        let _ = self.write_summary(&mut line);
        line
    }

    fn write_summary(&self, out: &mut String) -> fmt::Result {
        write!(out, "{}: ", self.kind())?;
        match &self.data {
            MlEvent::ModelRegistered(d) => write!(
                out,
                "model {} version {} registered",
                or_unknown(&d.model_name),
                or_unknown(&d.model_version)
            )?,
            MlEvent::ModelDeployed(d) => {
                write!(
                    out,
                    "service {} ({}) deployed with models ",
                    or_unknown(&d.service_name),
                    or_unknown(&d.service_compute_type),
                )?;
                write_model_ids(out, d.model_ids.as_deref().unwrap_or(""))?;
            }
            MlEvent::RunCompleted(d) => write!(
                out,
                "run {} of experiment {} completed",
                or_unknown(&d.run_id),
                or_unknown(&d.experiment_name)
            )?,
            MlEvent::RunStatusChanged(d) => {
                write!(
                    out,
                    "run {} of experiment {} is now ",
                    or_unknown(&d.run_id),
                    or_unknown(&d.experiment_name),
                )?;
                match &d.run_status {
                    Some(status) => write!(out, "{status}")?,
                    None => out.push_str(UNKNOWN),
                }
            }
            MlEvent::DatasetDriftDetected(d) => {
                write!(
                    out,
                    "drift monitor {} measured drift coefficient ",
                    or_unknown(&d.data_drift_name)
                )?;
                match d.drift_coefficient {
                    Some(c) => write!(out, "{c}")?,
                    None => out.push_str(UNKNOWN),
                }
                write!(out, " in run {}", or_unknown(&d.run_id))?;
            }
            MlEvent::SubscriptionValidation(_) => out.push_str("subscription validation handshake"),
            MlEvent::SubscriptionDeleted(d) => write!(
                out,
                "event subscription {} deleted",
                or_unknown(&d.event_subscription_id)
            )?,
            MlEvent::Other(_) => write!(out, "event of type {}", self.event_type)?,
        }
        if let Some(workspace) = self.source.as_deref().and_then(Workspace::name_of) {
            write!(out, " in workspace {workspace}")?;
        }
        write!(out, " [event {}]", self.id)
    }
}

/// Writes `modelIds` as [`ModelDeployed::model_ids`](super::ModelDeployed::model_ids) would print
/// them, joined by `, `, without building the list.
fn write_model_ids(out: &mut String, ids: &str) -> fmt::Result {
    let mut any = false;
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if any {
            out.push_str(", ");
        }
        any = true;
        // `ModelId`'s display: `name:version`, or the name without a dangling `:`.
        match id.rsplit_once(':') {
            Some((_, version)) if !version.is_empty() => out.push_str(id),
            _ => out.push_str(id.trim_end_matches(':')),
        }
    }
    if !any {
        out.push_str(UNKNOWN);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ModelId;

    #[test]
    fn model_ids_print_as_the_parsed_list_does() {
        for ids in [
            "",
            " , ",
            "m:1",
            "m:1, n:2,,o",
            "ns:model:3",
            "trailing:",
            ":",
            " a : b ",
        ] {
            let parsed: Vec<String> = ModelId::parse_list(ids)
                .iter()
                .map(ToString::to_string)
                .collect();
            let expected = if parsed.is_empty() {
                UNKNOWN.to_owned()
            } else {
                parsed.join(", ")
            };
            let mut written = String::new();
            write_model_ids(&mut written, ids).unwrap();
            assert_eq!(written, expected, "{ids:?}");
        }
    }
}
