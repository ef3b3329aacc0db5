//! What `handler check` prints: the hooks as a table and a summary line, secrets redacted.

use super::HooksConfig;
use crate::event::RunStatus;
use crate::hooks::rule::Rule;
use crate::hooks::Hook;

impl HooksConfig {
    /// The hooks as a table for `handler check`: name, events, action, destination (host only), when.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "NAME".to_owned(),
            "EVENTS".into(),
            "ACTION".into(),
            "DESTINATION".into(),
            "WHEN".into(),
        ]];
        for hook in &self.hooks {
            let events = match &hook.rule.kinds {
                None => "*".to_owned(),
                Some(kinds) => kinds
                    .iter()
                    .map(|k| k.short_name())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            rows.push([
                hook.name().to_owned(),
                events,
                hook.kind().as_str().to_owned(),
                hook.destination(),
                describe_rule(&hook.rule),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        self.secrets.redact(&out)
    }

    /// All of `handler check`'s report: [`HooksConfig::table`], the warnings, then
    /// `FILE: N hook(s) OK; deadline D ms; dedupe STORE` (a Redis store by host only).
    pub fn check_report(&self) -> String {
        let dedupe = self.settings.dedupe.describe();
        let warnings: String = self
            .warnings
            .iter()
            .map(|w| format!("warning: {w}\n"))
            .collect();
        format!(
            "{}\n{}{}: {} hook(s) OK; deadline {} ms; dedupe {dedupe}",
            self.table().trim_end(),
            self.secrets.redact(&warnings),
            self.file,
            self.hooks.len(),
            self.settings.deadline.as_millis()
        )
    }
}

/// `[hooks.when]` in one cell: `subject=endpoints/* tags.stage=prod`, or `-`.
fn describe_rule(rule: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &rule.subject {
        parts.push(format!("subject={}", p.as_str()));
    }
    for (k, v) in &rule.tags {
        parts.push(format!("tags.{k}={v}"));
    }
    if !rule.run_status.is_empty() {
        let statuses: Vec<&str> = rule.run_status.iter().map(RunStatus::as_str).collect();
        parts.push(format!("run_status={}", statuses.join("|")));
    }
    if let Some(d) = rule.drift_above {
        parts.push(format!("drift_above={d}"));
    }
    if let Some(w) = &rule.workspace {
        parts.push(format!("workspace={w}"));
    }
    if let Some(t) = &rule.run_type {
        parts.push(format!("run_type={t}"));
    }
    if let Some(p) = &rule.experiment {
        parts.push(format!("experiment={}", p.as_str()));
    }
    for f in &rule.filters {
        parts.push(format!("{}({})", f.operator(), f.key()));
    }
    if let Some(b) = rule.monitor_breach {
        parts.push(format!("monitor_breach={b}"));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}
