//! A hook's conditions: `events` and `[hooks.when]`, checked against each other (a condition that
//! no listed event kind can meet is refused, since the hook could never run).

use super::Validator;
use crate::event::{EventKind, RunStatus};
use crate::hooks::config::file::RawWhen;
use crate::hooks::config::ConfigError;
use crate::hooks::rule::Rule;
use std::collections::BTreeMap;

impl Validator<'_> {
    /// `events`: `None` for every Azure ML event (`"*"` or no list).
    pub(super) fn kinds(
        &self,
        h: Option<&str>,
        events: Option<&[String]>,
    ) -> Result<Option<Vec<EventKind>>, ConfigError> {
        let list = match events {
            None => return Ok(None),
            Some([]) => {
                return Err(self.err(
                    h,
                    Some("events"),
                    "is empty; use [\"*\"] for every Azure ML event",
                ))
            }
            Some(list) if list.iter().any(|e| e == "*") => return Ok(None),
            Some(list) => list,
        };
        let mut kinds = Vec::new();
        for name in list {
            let Some(kind) = EventKind::from_name(name).filter(|k| k.is_ml()) else {
                let known: Vec<&str> = EventKind::ML.iter().map(|k| k.short_name()).collect();
                return Err(self.err(
                    h,
                    Some("events"),
                    format!(
                        "unknown event `{name}`; use \"*\" or one of {}",
                        known.join(", ")
                    ),
                ));
            };
            kinds.push(kind);
        }
        Ok(Some(kinds))
    }

    /// `[hooks.when]` with the kinds from `events`.
    pub(super) fn rule(
        &self,
        h: Option<&str>,
        kinds: Option<Vec<EventKind>>,
        when: &RawWhen,
    ) -> Result<Rule, ConfigError> {
        let subject = match &when.subject {
            Some(glob) => Some(glob::Pattern::new(glob).map_err(|e| {
                self.err(h, Some("when.subject"), format!("bad glob `{glob}`: {e}"))
            })?),
            None => None,
        };
        let mut tags = BTreeMap::new();
        for (k, v) in &when.tags {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(self.err(
                        h,
                        Some(&format!("when.tags.{k}")),
                        "must be a string, number or boolean",
                    ))
                }
            };
            tags.insert(k.clone(), text);
        }
        if when.run_status.iter().any(|s| s.trim().is_empty()) {
            return Err(self.err(h, Some("when.run_status"), "contains an empty status"));
        }
        if when.drift_above.is_some_and(|d| !d.is_finite()) {
            return Err(self.err(h, Some("when.drift_above"), "must be a finite number"));
        }
        let experiment = match &when.experiment {
            Some(glob) => Some(glob::Pattern::new(glob).map_err(|e| {
                self.err(
                    h,
                    Some("when.experiment"),
                    format!("bad glob `{glob}`: {e}"),
                )
            })?),
            None => None,
        };
        let run_type = when.run_type.as_deref().map(str::trim);
        if run_type == Some("") {
            return Err(self.err(h, Some("when.run_type"), "is empty"));
        }
        self.run_conditions_fit(h, kinds.as_deref(), when)?;
        let monitor_breach = self.monitor_breach(h, kinds.as_deref(), when.monitor_breach)?;
        Ok(Rule {
            run_type: run_type.map(str::to_owned),
            experiment,
            filters: Vec::new(),
            kinds,
            subject,
            tags,
            run_status: when
                .run_status
                .iter()
                .map(|s| RunStatus::parse(s.trim()))
                .collect(),
            drift_above: when.drift_above,
            workspace: when.workspace.clone(),
            monitor_breach,
        })
    }

    /// `when.run_type` and `when.experiment` read run events: refused on a hook whose `events`
    /// has none, which could never run.
    fn run_conditions_fit(
        &self,
        h: Option<&str>,
        kinds: Option<&[EventKind]>,
        when: &RawWhen,
    ) -> Result<(), ConfigError> {
        let Some(kinds) = kinds else {
            return Ok(());
        };
        let has_run = kinds.iter().any(|k| k.is_run());
        for (present, key) in [
            (when.run_type.is_some(), "when.run_type"),
            (when.experiment.is_some(), "when.experiment"),
        ] {
            if present && !has_run {
                return Err(self.err(
                    h,
                    Some(key),
                    "applies to run events only (RunCompleted, RunStatusChanged), and `events` has none",
                ));
            }
        }
        Ok(())
    }

    /// `when.monitor_breach`: `true` needs a run event among the hook's kinds, or it never matches.
    fn monitor_breach(
        &self,
        h: Option<&str>,
        kinds: Option<&[EventKind]>,
        wanted: Option<bool>,
    ) -> Result<Option<bool>, ConfigError> {
        if wanted == Some(true) && kinds.is_some_and(|k| !k.iter().any(|k| k.is_run())) {
            return Err(self.err(
                h,
                Some("when.monitor_breach"),
                "only RunStatusChanged and RunCompleted events carry a model monitor breach; add one to `events`",
            ));
        }
        Ok(wanted)
    }
}
