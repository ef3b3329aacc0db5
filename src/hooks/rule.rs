//! Which events a hook wants: its `events` list, its `[hooks.when]` conditions and its
//! `[[hooks.filters]]` (Event Grid advanced filters), all of which must hold.

use super::filter::{AdvancedFilter, EventView};
use crate::event::{Event, EventKind, MlEvent, RunStatus};
use serde_json::Value;
use std::collections::BTreeMap;

/// A hook's filter. Every condition is optional; all present ones must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rule {
    /// Kinds the hook wants; `None` is `"*"` (every Azure ML event).
    pub(crate) kinds: Option<Vec<EventKind>>,
    /// Glob on the subject (`endpoints/*`).
    pub(crate) subject: Option<glob::Pattern>,
    /// Subset of the model, service or run tags (values compared as text).
    pub(crate) tags: BTreeMap<String, String>,
    /// Run statuses, case-insensitive; RunCompleted counts as `Completed`.
    pub(crate) run_status: Vec<RunStatus>,
    /// DatasetDriftDetected coefficient strictly above this.
    pub(crate) drift_above: Option<f64>,
    /// Workspace name from `topic`/`source`, case-insensitive (as Azure resource names are).
    pub(crate) workspace: Option<String>,
    /// The run's type, case-insensitive (`azureml.StepRun`); run events only.
    pub(crate) run_type: Option<String>,
    /// Glob on the run's experiment name; run events only.
    pub(crate) experiment: Option<glob::Pattern>,
    /// Event Grid advanced filters, evaluated after every other condition (they may need the data
    /// as JSON, which [`EventView`] makes once per event).
    pub(crate) filters: Vec<AdvancedFilter>,
    /// `true`: only model monitor breaches (run events with the breach tag); `false`: only others.
    pub(crate) monitor_breach: Option<bool>,
}

/// The run fields the run conditions read, from either run event.
struct RunFacts<'a> {
    run_type: Option<&'a str>,
    experiment: Option<&'a str>,
}

fn run_facts(data: &MlEvent) -> Option<RunFacts<'_>> {
    let (run_type, experiment) = match data {
        MlEvent::RunCompleted(d) => (d.run_type.as_deref(), d.experiment_name.as_deref()),
        MlEvent::RunStatusChanged(d) => (d.run_type.as_deref(), d.experiment_name.as_deref()),
        _ => return None,
    };
    Some(RunFacts {
        run_type,
        experiment,
    })
}

fn tag_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Rule {
    /// The kinds this rule can match, for validating templates.
    pub(crate) fn possible_kinds(&self) -> Vec<EventKind> {
        self.kinds.clone().unwrap_or_else(|| EventKind::ML.to_vec())
    }

    /// The kinds this rule can ever match: [`Rule::possible_kinds`] less those its conditions
    /// exclude (run conditions need a run event, `drift_above` a drift event, `tags` an event with
    /// tags). What a subscription must include for the hook.
    pub(crate) fn matchable_kinds(&self) -> Vec<EventKind> {
        // Only run events carry a run status, type, experiment or monitor breach.
        let run_only = !self.run_status.is_empty()
            || self.run_type.is_some()
            || self.experiment.is_some()
            || self.monitor_breach == Some(true);
        self.possible_kinds()
            .into_iter()
            .filter(|kind| {
                let run = kind.is_run();
                let drift = *kind == EventKind::DatasetDriftDetected;
                (!run_only || run)
                    && (self.drift_above.is_none() || drift)
                    && (self.tags.is_empty() || !drift)
            })
            .collect()
    }

    /// Whether `event` satisfies the rule.
    pub(crate) fn matches(&self, event: &Event<MlEvent>) -> bool {
        self.matches_view(&EventView::new(event))
    }

    /// Whether the event of `view` satisfies the rule; the advanced filters are tested last.
    pub(crate) fn matches_view(&self, view: &EventView<'_>) -> bool {
        self.matches_when(view.event()) && self.filters.iter().all(|f| f.matches(view))
    }

    /// The `events` list and `[hooks.when]`.
    fn matches_when(&self, event: &Event<MlEvent>) -> bool {
        let kind = event.kind();
        if !kind.is_ml() {
            return false;
        }
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&kind) {
                return false;
            }
        }
        if let Some(pattern) = &self.subject {
            if !pattern.matches(event.subject.as_deref().unwrap_or("")) {
                return false;
            }
        }
        if !self.tags.is_empty() {
            let Some(tags) = event.data.tags() else {
                return false;
            };
            let all = self
                .tags
                .iter()
                .all(|(k, want)| tags.get(k).is_some_and(|have| tag_text(have) == *want));
            if !all {
                return false;
            }
        }
        if !self.run_status.is_empty() {
            let status = match &event.data {
                MlEvent::RunStatusChanged(d) => d.run_status.clone(),
                MlEvent::RunCompleted(_) => Some(RunStatus::Completed),
                _ => None,
            };
            if !status.is_some_and(|s| self.run_status.contains(&s)) {
                return false;
            }
        }
        if let Some(threshold) = self.drift_above {
            let MlEvent::DatasetDriftDetected(d) = &event.data else {
                return false;
            };
            if !d.drift_coefficient.is_some_and(|c| c > threshold) {
                return false;
            }
        }
        if let Some(wanted) = self.monitor_breach {
            if event.data.is_monitor_breach() != wanted {
                return false;
            }
        }
        if let Some(name) = &self.workspace {
            if !event
                .workspace()
                .is_some_and(|w| w.workspace.eq_ignore_ascii_case(name))
            {
                return false;
            }
        }
        self.matches_run(&event.data)
    }

    /// `run_type` and `experiment`: only run events have them.
    fn matches_run(&self, data: &MlEvent) -> bool {
        if self.run_type.is_none() && self.experiment.is_none() {
            return true;
        }
        let Some(run) = run_facts(data) else {
            return false;
        };
        if let Some(want) = &self.run_type {
            if !run.run_type.is_some_and(|t| t.eq_ignore_ascii_case(want)) {
                return false;
            }
        }
        if let Some(pattern) = &self.experiment {
            if !run.experiment.is_some_and(|name| pattern.matches(name)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ml-prod";

    fn event(event_type: &str, subject: &str, data: Value) -> Event<MlEvent> {
        let json = json!({"id": "1", "topic": TOPIC, "subject": subject,
            "eventType": format!("Microsoft.MachineLearningServices.{event_type}"), "data": data});
        Event::from_json(&json.to_string()).unwrap()
    }

    #[test]
    fn an_empty_rule_matches_every_ml_event() {
        assert!(Rule::default().matches(&event("ModelRegistered", "models/m:1", json!({}))));
        let other: Event<MlEvent> =
            Event::from_json(r#"{"id":"1","eventType":"X.Y","data":{}}"#).unwrap();
        assert!(!Rule::default().matches(&other));
    }

    #[test]
    fn kinds_subject_and_workspace_filter() {
        let rule = Rule {
            kinds: Some(vec![EventKind::ModelDeployed]),
            subject: Some(glob::Pattern::new("endpoints/*-prod").unwrap()),
            workspace: Some("ML-PROD".into()),
            ..Rule::default()
        };
        assert!(rule.matches(&event("ModelDeployed", "endpoints/churn-prod", json!({}))));
        assert!(!rule.matches(&event("ModelDeployed", "endpoints/churn-dev", json!({}))));
        assert!(!rule.matches(&event("ModelRegistered", "endpoints/churn-prod", json!({}))));
    }

    #[test]
    fn tags_are_a_subset_match() {
        let rule = Rule {
            tags: BTreeMap::from([("stage".to_owned(), "prod".to_owned())]),
            ..Rule::default()
        };
        assert!(rule.matches(&event(
            "ModelDeployed",
            "e",
            json!({"serviceTags": {"stage": "prod", "x": 1}})
        )));
        assert!(!rule.matches(&event(
            "ModelDeployed",
            "e",
            json!({"serviceTags": {"stage": "dev"}})
        )));
        assert!(
            !rule.matches(&event("DatasetDriftDetected", "d", json!({}))),
            "drift events have no tags"
        );
    }

    #[test]
    fn run_status_is_case_insensitive() {
        let rule = Rule {
            run_status: vec![RunStatus::parse("Failed"), RunStatus::parse("canceled")],
            ..Rule::default()
        };
        assert!(rule.matches(&event(
            "RunStatusChanged",
            "r",
            json!({"runStatus": "failed"})
        )));
        assert!(rule.matches(&event(
            "RunStatusChanged",
            "r",
            json!({"runStatus": "Canceled"})
        )));
        assert!(!rule.matches(&event(
            "RunStatusChanged",
            "r",
            json!({"runStatus": "Running"})
        )));
        assert!(!rule.matches(&event("RunCompleted", "r", json!({}))));
    }

    #[test]
    fn run_type_and_experiment_need_a_run_event() {
        let rule = Rule {
            run_type: Some("AzureML.StepRun".into()),
            experiment: Some(glob::Pattern::new("credit-*").unwrap()),
            ..Rule::default()
        };
        let run = json!({"runType": "azureml.steprun", "experimentName": "credit-monitor"});
        assert!(rule.matches(&event("RunStatusChanged", "r", run.clone())));
        assert!(rule.matches(&event("RunCompleted", "r", run)));
        assert!(!rule.matches(&event(
            "RunCompleted",
            "r",
            json!({"runType": "automl", "experimentName": "credit-monitor"})
        )));
        assert!(!rule.matches(&event(
            "RunCompleted",
            "r",
            json!({"runType": "azureml.StepRun", "experimentName": "churn"})
        )));
        assert!(!rule.matches(&event("RunCompleted", "r", json!({}))));
        assert!(!rule.matches(&event("ModelDeployed", "r", json!({}))));
        assert_eq!(
            rule.matchable_kinds(),
            [EventKind::RunCompleted, EventKind::RunStatusChanged]
        );
    }

    #[test]
    fn advanced_filters_hold_with_the_other_conditions() {
        use crate::hooks::filter::{Key, Operand, Operator};
        let breach = AdvancedFilter::new(
            Operator::StringContains,
            Key::parse("data.RunTags.azureml_modelmonitor_threshold_breached").unwrap(),
            Operand::Strings(vec!["has failed due to one or more features".into()]),
        )
        .unwrap();
        let rule = Rule {
            kinds: Some(vec![EventKind::RunStatusChanged]),
            filters: vec![breach],
            ..Rule::default()
        };
        let tag =
            "The signal 'x' has failed due to one or more features violating metric thresholds.";
        let tags = json!({"runTags": {"azureml_modelmonitor_threshold_breached": tag}});
        assert!(rule.matches(&event("RunStatusChanged", "r", tags.clone())));
        assert!(!rule.matches(&event("RunCompleted", "r", tags)));
        assert!(!rule.matches(&event("RunStatusChanged", "r", json!({"runTags": {}}))));
    }

    #[test]
    fn monitor_breach_is_the_tags_presence() {
        let breach = |tags: Value| json!({"runStatus": "Failed", "runTags": tags});
        let text =
            "The signal 'None' has failed due to one or more features violating metric thresholds.";
        let only = Rule {
            monitor_breach: Some(true),
            ..Rule::default()
        };
        let never = Rule {
            monitor_breach: Some(false),
            ..Rule::default()
        };
        for event in [
            event(
                "RunStatusChanged",
                "r",
                breach(json!({"azureml_modelmonitor_threshold_breached": text})),
            ),
            event(
                "RunCompleted",
                "r",
                breach(json!({"azureml_modelmonitor_threshold_breached": ""})),
            ),
            event(
                "RunStatusChanged",
                "r",
                json!({"RunTags": {"azureml_modelmonitor_threshold_breached": "x"}}),
            ),
        ] {
            assert!(only.matches(&event) && !never.matches(&event), "{event:?}");
        }
        for event in [
            event(
                "RunStatusChanged",
                "r",
                breach(json!({"azureml.modelmonitor.threshold.breached.s": text})),
            ),
            event(
                "RunStatusChanged",
                "r",
                breach(json!({"Azureml_ModelMonitor_Threshold_Breached": text})),
            ),
            event("RunCompleted", "r", json!({})),
            event(
                "ModelRegistered",
                "m",
                json!({"modelTags": {"azureml_modelmonitor_threshold_breached": text}}),
            ),
        ] {
            assert!(!only.matches(&event) && never.matches(&event), "{event:?}");
        }
    }

    #[test]
    fn drift_above_is_strict() {
        let rule = Rule {
            drift_above: Some(0.7),
            ..Rule::default()
        };
        assert!(rule.matches(&event(
            "DatasetDriftDetected",
            "d",
            json!({"driftCoefficient": 0.71})
        )));
        assert!(!rule.matches(&event(
            "DatasetDriftDetected",
            "d",
            json!({"driftCoefficient": 0.7})
        )));
        assert!(!rule.matches(&event("DatasetDriftDetected", "d", json!({}))));
        assert!(!rule.matches(&event("ModelDeployed", "d", json!({}))));
    }
}
