//! What each kind of typed data says in words: its facts, its summary line and its template
//! variables: the implementations of [`MlData`], so that a new event type says them in one place.

use super::envelope::Event;
use super::ml::{MlData, MlEvent};
use super::models::{DatasetDriftDetected, ModelDeployed, ModelRegistered};
use super::monitor::MonitorBreach;
use super::resource::Workspace;
use super::run::{Run, RunState};
use super::system::{SubscriptionDeleted, SubscriptionValidation};
use super::time::format_time;
use serde_json::{Map, Value};
use std::fmt::{self, Write as _};

const UNKNOWN: &str = "(unknown)";

fn or_unknown(value: &Option<String>) -> &str {
    value
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(UNKNOWN)
}

fn text(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |s| Value::String(s.clone()))
}

impl MlData for ModelRegistered {
    fn facts(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Model", or_unknown(&self.model_name).to_owned()),
            ("Version", or_unknown(&self.model_version).to_owned()),
        ]
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        write!(
            out,
            "model {} version {} registered",
            or_unknown(&self.model_name),
            or_unknown(&self.model_version)
        )
    }
    fn variables(&self, out: &mut dyn FnMut(&'static str, Value)) {
        out("model_name", text(&self.model_name));
        out("model_version", text(&self.model_version));
        out("model_tags", Value::Object(self.model_tags.clone()));
        out(
            "model_properties",
            Value::Object(self.model_properties.clone()),
        );
    }
    fn tags(&self) -> Option<&Map<String, Value>> {
        Some(&self.model_tags)
    }
}

impl MlData for ModelDeployed {
    fn facts(&self) -> Vec<(&'static str, String)> {
        let ids: Vec<String> = self.model_ids().iter().map(ToString::to_string).collect();
        let models = match ids.is_empty() {
            true => UNKNOWN.to_owned(),
            false => ids.join(", "),
        };
        vec![
            ("Service", or_unknown(&self.service_name).to_owned()),
            ("Compute", or_unknown(&self.service_compute_type).to_owned()),
            ("Models", models),
        ]
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        write!(
            out,
            "service {} ({}) deployed with models ",
            or_unknown(&self.service_name),
            or_unknown(&self.service_compute_type),
        )?;
        write_model_ids(out, self.model_ids.as_deref().unwrap_or(""))
    }
    fn variables(&self, out: &mut dyn FnMut(&'static str, Value)) {
        let ids = self.model_ids();
        out("service_name", text(&self.service_name));
        out("compute_type", text(&self.service_compute_type));
        out("service_compute_type", text(&self.service_compute_type));
        let names = ids.iter().map(|id| Value::String(id.to_string()));
        out("model_ids", Value::Array(names.collect()));
        let models = ids.into_iter().map(|id| {
            let mut model = Map::new();
            model.insert("name".to_owned(), Value::String(id.name));
            model.insert(
                "version".to_owned(),
                id.version.map_or(Value::Null, Value::String),
            );
            Value::Object(model)
        });
        out("models", Value::Array(models.collect()));
        out("service_tags", Value::Object(self.service_tags.clone()));
        out(
            "service_properties",
            Value::Object(self.service_properties.clone()),
        );
    }
    fn tags(&self) -> Option<&Map<String, Value>> {
        Some(&self.service_tags)
    }
}

/// How many violating features a summary line or a fact names.
const FEATURES_SHOWN: usize = 3;

impl<S: RunState> MlData for Run<S> {
    fn facts(&self) -> Vec<(&'static str, String)> {
        let status = self.run_status.status();
        let mut facts = vec![
            ("Run", or_unknown(&self.run_id).to_owned()),
            ("Experiment", or_unknown(&self.experiment_name).to_owned()),
            (
                "Status",
                status.map_or(UNKNOWN.to_owned(), ToString::to_string),
            ),
        ];
        if let Some(breach) = self.monitor() {
            facts.push(("Monitor signal", or_unknown(&breach.signal).to_owned()));
            if !breach.features.is_empty() {
                facts.push(("Breach", breach.describe_features(FEATURES_SHOWN)));
            }
        }
        facts
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        if let Some(breach) = self.monitor() {
            match &breach.signal {
                Some(signal) => write!(out, "model monitor signal '{signal}' breached")?,
                None => out.push_str("model monitor signal breached"),
            }
            if !breach.features.is_empty() {
                write!(out, ": {}", breach.describe_features(FEATURES_SHOWN))?;
            }
            out.push_str("; ");
        }
        write!(
            out,
            "run {} of experiment {} ",
            or_unknown(&self.run_id),
            or_unknown(&self.experiment_name),
        )?;
        // RunCompleted's status is the event itself: "completed", not "is now Completed".
        match (self.run_status.is_unsent(), self.run_status.status()) {
            (true, Some(_)) => out.push_str("completed"),
            (_, Some(status)) => write!(out, "is now {status}")?,
            (_, None) => write!(out, "is now {UNKNOWN}")?,
        }
        Ok(())
    }
    fn variables(&self, out: &mut dyn FnMut(&'static str, Value)) {
        out("experiment_id", text(&self.experiment_id));
        out("experiment_name", text(&self.experiment_name));
        out("run_id", text(&self.run_id));
        out("run_type", text(&self.run_type));
        let status = self.run_status.status();
        out(
            "run_status",
            status.map_or(Value::Null, |s| Value::from(s.as_str())),
        );
        out("run_tags", Value::Object(self.run_tags.clone()));
        out("run_properties", Value::Object(self.run_properties.clone()));
        let monitor = self.monitor();
        out(
            "monitor",
            monitor.map_or(Value::Null, |m| serde_json::to_value(m).unwrap_or_default()),
        );
    }
    fn tags(&self) -> Option<&Map<String, Value>> {
        Some(&self.run_tags)
    }
    fn monitor(&self) -> Option<MonitorBreach> {
        MonitorBreach::from_tags(&self.run_tags)
    }
}

impl MlData for DatasetDriftDetected {
    fn facts(&self) -> Vec<(&'static str, String)> {
        let coefficient = self
            .drift_coefficient
            .map_or(UNKNOWN.to_owned(), |c| c.to_string());
        vec![
            (
                "Drift monitor",
                or_unknown(&self.data_drift_name).to_owned(),
            ),
            ("Coefficient", coefficient),
            ("Run", or_unknown(&self.run_id).to_owned()),
        ]
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        write!(
            out,
            "drift monitor {} measured drift coefficient ",
            or_unknown(&self.data_drift_name)
        )?;
        match self.drift_coefficient {
            Some(c) => write!(out, "{c}")?,
            None => out.push_str(UNKNOWN),
        }
        write!(out, " in run {}", or_unknown(&self.run_id))
    }
    fn variables(&self, out: &mut dyn FnMut(&'static str, Value)) {
        let time = |t: &Option<_>| {
            t.as_ref()
                .map_or(Value::Null, |t| Value::String(format_time(t)))
        };
        out("data_drift_id", text(&self.data_drift_id));
        out("data_drift_name", text(&self.data_drift_name));
        out("run_id", text(&self.run_id));
        out("base_dataset_id", text(&self.base_dataset_id));
        out("target_dataset_id", text(&self.target_dataset_id));
        out(
            "drift_coefficient",
            self.drift_coefficient.map_or(Value::Null, Value::from),
        );
        out("start_time", time(&self.start_time));
        out("end_time", time(&self.end_time));
    }
}

impl MlData for SubscriptionValidation {
    fn facts(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        out.push_str("subscription validation handshake");
        Ok(())
    }
    fn variables(&self, _: &mut dyn FnMut(&'static str, Value)) {}
}

impl MlData for SubscriptionDeleted {
    fn facts(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn write_summary(&self, out: &mut String) -> fmt::Result {
        let id = or_unknown(&self.event_subscription_id);
        write!(out, "event subscription {id} deleted")
    }
    fn variables(&self, _: &mut dyn FnMut(&'static str, Value)) {}
}

impl Event<MlEvent> {
    /// The event's key facts as (label, value) pairs, in reading order: what a log line, a Teams fact
    /// set or a Slack block shows.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = self.data.ml_data().map(MlData::facts).unwrap_or_default();
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
        match self.data.ml_data() {
            Some(data) => data.write_summary(out)?,
            None => write!(out, "event of type {}", self.event_type)?,
        }
        if let Some(workspace) = self.source.as_deref().and_then(Workspace::name_of) {
            write!(out, " in workspace {workspace}")?;
        }
        write!(out, " [event {}]", self.id)
    }
}

/// Writes `modelIds` as [`ModelDeployed::model_ids`] would print
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
