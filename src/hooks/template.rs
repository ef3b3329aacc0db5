//! Message templates (minijinja, Jinja syntax).
//!
//! Templates are sandboxed: strict undefined (a typo is an error, not an empty string), a fuel limit
//! (a runaway loop stops), no file access. Event fields are values, never template source, so
//! `{{ ... }}` inside a model name is printed, not evaluated. Templates whose name ends in `.json`
//! (webhook bodies) auto-escape as JSON: `{{ model_name }}` writes a quoted, escaped JSON string.

use crate::event::{format_time, Event, EventKind, MlEvent};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Instructions one render may spend before it is stopped.
pub const FUEL: u64 = 100_000;

/// Variables every event has.
const ENVELOPE: &[&str] = &[
    "id",
    "type",
    "kind",
    "subject",
    "time",
    "source",
    "schema",
    "workspace",
    "subscription",
    "resource_group",
    "data",
    "event",
    "summary",
    "facts",
    "tags",
];

/// The variables of each kind's data, in snake_case.
pub fn data_variables(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::ModelRegistered => &[
            "model_name",
            "model_version",
            "model_tags",
            "model_properties",
        ],
        EventKind::ModelDeployed => &[
            "service_name",
            "compute_type",
            "service_compute_type",
            "model_ids",
            "models",
            "service_tags",
            "service_properties",
        ],
        EventKind::RunCompleted => &[
            "experiment_id",
            "experiment_name",
            "run_id",
            "run_type",
            "run_status",
            "run_tags",
            "run_properties",
        ],
        EventKind::RunStatusChanged => &[
            "experiment_id",
            "experiment_name",
            "run_id",
            "run_type",
            "run_status",
            "run_tags",
            "run_properties",
        ],
        EventKind::DatasetDriftDetected => &[
            "data_drift_id",
            "data_drift_name",
            "run_id",
            "base_dataset_id",
            "target_dataset_id",
            "drift_coefficient",
            "start_time",
            "end_time",
        ],
        _ => &[],
    }
}

/// Every variable a template may use for events of `kinds`.
pub fn known_variables(kinds: &[EventKind]) -> BTreeSet<&'static str> {
    let mut known: BTreeSet<&'static str> = ENVELOPE.iter().copied().collect();
    for kind in kinds {
        known.extend(data_variables(*kind));
    }
    known
}

/// The compiled templates of a configuration.
pub struct Templates {
    /// Built with the first template: a configuration without templates (the shipped `hooks.toml`
    /// logs only) never builds minijinja's environment, its filters and tests, at start-up.
    env: Option<Environment<'static>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty set.
    pub fn new() -> Self {
        Self { env: None }
    }

    /// The sandboxed environment every template is compiled in.
    fn environment() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(64);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".json") {
                AutoEscape::Json
            } else {
                AutoEscape::None
            }
        });
        // An absent field prints as nothing in text (JSON bodies print it as `null`).
        env.set_formatter(|out, state, value| {
            let plain = matches!(state.auto_escape(), AutoEscape::None);
            let shown = if plain && value.is_none() {
                &minijinja::Value::UNDEFINED
            } else {
                value
            };
            minijinja::escape_formatter(out, state, shown)
        });
        env
    }

    /// Compiles `source` as `name`; returns the variables it reads that are not in `known`.
    pub fn add(
        &mut self,
        name: String,
        source: String,
        known: &BTreeSet<&str>,
    ) -> Result<Vec<String>, String> {
        let env = self.env.get_or_insert_with(Self::environment);
        env.add_template_owned(name.clone(), source)
            .map_err(|e| describe_error(&e))?;
        let template = env.get_template(&name).map_err(|e| describe_error(&e))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !known.contains(v.as_str()))
            .collect();
        unknown.sort();
        Ok(unknown)
    }

    /// Renders template `name` for `event`.
    pub fn render(&self, name: &str, event: &Event<MlEvent>) -> Result<String, String> {
        self.render_context(name, &context(event))
    }

    /// Renders template `name` with a prepared context (see [`context`]).
    pub fn render_context(&self, name: &str, context: &Value) -> Result<String, String> {
        let Some(env) = &self.env else {
            return Err(format!(
                "template not found: template {name:?} does not exist"
            ));
        };
        let template = env.get_template(name).map_err(|e| describe_error(&e))?;
        template
            .render(Serde(context))
            .map_err(|e| describe_error(&e))
    }
}

fn describe_error(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let Some(detail) = error.detail() {
        if !text.contains(detail) {
            text = format!("{text}: {detail}");
        }
    }
    text
}

fn opt(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The variables the two run events share.
fn run_context(
    experiment_id: &Option<String>,
    experiment_name: &Option<String>,
    run_id: &Option<String>,
    run_type: &Option<String>,
    run_status: Option<&str>,
    run_tags: &Map<String, Value>,
    run_properties: &Map<String, Value>,
) -> Value {
    json!({
        "experiment_id": opt(experiment_id),
        "experiment_name": opt(experiment_name),
        "run_id": opt(run_id),
        "run_type": opt(run_type),
        "run_status": run_status,
        "run_tags": run_tags,
        "run_properties": run_properties,
    })
}

/// The template variables of `event`: the envelope and the kind's data in snake_case.
pub fn context(event: &Event<MlEvent>) -> Value {
    let workspace = event.workspace();
    let facts: Map<String, Value> = event
        .facts()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    let mut ctx = json!({
        "id": event.id,
        "type": event.event_type,
        "kind": event.kind().short_name(),
        "subject": opt(&event.subject),
        "time": event.time.as_ref().map(format_time),
        "source": opt(&event.source),
        "schema": event.schema,
        "workspace": workspace.as_ref().map(|w| w.workspace.clone()),
        "subscription": workspace.as_ref().map(|w| w.subscription.clone()),
        "resource_group": workspace.as_ref().map(|w| w.resource_group.clone()),
        "data": event.data,
        "event": event,
        "summary": event.summary(),
        "facts": facts,
        "tags": event.data.tags().cloned().unwrap_or_default(),
    });
    let data = match &event.data {
        MlEvent::ModelRegistered(d) => json!({
            "model_name": opt(&d.model_name),
            "model_version": opt(&d.model_version),
            "model_tags": d.model_tags,
            "model_properties": d.model_properties,
        }),
        MlEvent::ModelDeployed(d) => {
            let ids = d.model_ids();
            json!({
                "service_name": opt(&d.service_name),
                "compute_type": opt(&d.service_compute_type),
                "service_compute_type": opt(&d.service_compute_type),
                "model_ids": ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "models": ids,
                "service_tags": d.service_tags,
                "service_properties": d.service_properties,
            })
        }
        MlEvent::RunCompleted(d) => run_context(
            &d.experiment_id,
            &d.experiment_name,
            &d.run_id,
            &d.run_type,
            Some("Completed"),
            &d.run_tags,
            &d.run_properties,
        ),
        MlEvent::RunStatusChanged(d) => run_context(
            &d.experiment_id,
            &d.experiment_name,
            &d.run_id,
            &d.run_type,
            d.run_status.as_ref().map(|s| s.as_str()),
            &d.run_tags,
            &d.run_properties,
        ),
        MlEvent::DatasetDriftDetected(d) => json!({
            "data_drift_id": opt(&d.data_drift_id),
            "data_drift_name": opt(&d.data_drift_name),
            "run_id": opt(&d.run_id),
            "base_dataset_id": opt(&d.base_dataset_id),
            "target_dataset_id": opt(&d.target_dataset_id),
            "drift_coefficient": d.drift_coefficient,
            "start_time": d.start_time.as_ref().map(format_time),
            "end_time": d.end_time.as_ref().map(format_time),
        }),
        _ => json!({}),
    };
    if let (Value::Object(ctx), Value::Object(data)) = (&mut ctx, data) {
        ctx.extend(data);
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{decode_batch, Schema};
    use crate::samples::sample;

    fn event(kind: EventKind) -> Event<MlEvent> {
        decode_batch::<MlEvent>(sample(kind, Schema::EventGrid).unwrap())
            .unwrap()
            .remove(0)
            .unwrap()
    }

    fn compile(source: &str, kinds: &[EventKind]) -> (Templates, Vec<String>) {
        let mut t = Templates::new();
        let unknown = t
            .add("t".into(), source.into(), &known_variables(kinds))
            .unwrap();
        (t, unknown)
    }

    #[test]
    fn templates_see_snake_case_event_fields() {
        let (t, unknown) = compile(
            "Deployed {{ model_ids | join(', ') }} to {{ service_name }} ({{ compute_type }}) in {{ workspace }}",
            &[EventKind::ModelDeployed],
        );
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            t.render("t", &event(EventKind::ModelDeployed)).unwrap(),
            "Deployed sklearn_regression_model:1, sklearn_regression_model:2 to my-sklearn-service (ACI) in {workspace-name}"
        );
    }

    #[test]
    fn unknown_variables_are_found_at_compile_time() {
        let (_, unknown) = compile(
            "{{ service_nmae }} {{ run_id }}",
            &[EventKind::ModelDeployed],
        );
        assert_eq!(
            unknown,
            vec!["run_id".to_owned(), "service_nmae".to_owned()]
        );
    }

    #[test]
    fn undefined_variables_are_errors_at_render_time() {
        let mut t = Templates::new();
        t.add("t".into(), "{{ nope }}".into(), &known_variables(&[]))
            .unwrap();
        let err = t
            .render("t", &event(EventKind::ModelRegistered))
            .unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = Templates::new()
            .add("t".into(), "{{ oops".into(), &known_variables(&[]))
            .unwrap_err();
        assert!(err.contains("syntax error"), "{err}");
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let (t, _) = compile(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &[],
        );
        let err = t
            .render("t", &event(EventKind::ModelRegistered))
            .unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn event_fields_are_printed_not_evaluated() {
        let mut e = event(EventKind::ModelRegistered);
        if let MlEvent::ModelRegistered(d) = &mut e.data {
            d.model_name = Some("{{ 7 * 7 }}{% for x in range(3) %}x{% endfor %}".into());
        }
        let (t, _) = compile("model {{ model_name }}", &[EventKind::ModelRegistered]);
        assert_eq!(
            t.render("t", &e).unwrap(),
            "model {{ 7 * 7 }}{% for x in range(3) %}x{% endfor %}"
        );
    }

    #[test]
    fn json_templates_escape_values_as_json() {
        let mut e = event(EventKind::ModelRegistered);
        if let MlEvent::ModelRegistered(d) = &mut e.data {
            d.model_name = Some("a\"b".into());
        }
        let mut t = Templates::new();
        t.add(
            "body.json".into(),
            r#"{"model": {{ model_name }}, "version": {{ model_version }}, "tags": {{ model_tags }}}"#.into(),
            &known_variables(&[EventKind::ModelRegistered]),
        )
        .unwrap();
        let body: Value = serde_json::from_str(&t.render("body.json", &e).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"model": "a\"b", "version": "20", "tags": {"area": "diabetes", "type": "regression"}})
        );
    }

    #[test]
    fn absent_fields_print_as_nothing_in_text() {
        let (t, _) = compile("[{{ run_type }}]", &[EventKind::RunCompleted]);
        assert_eq!(
            t.render("t", &event(EventKind::RunCompleted)).unwrap(),
            "[]"
        );
    }

    #[test]
    fn an_unknown_template_is_the_same_error_before_and_after_the_first_template() {
        let deployed = event(EventKind::ModelDeployed);
        let empty = Templates::new().render("nope", &deployed).unwrap_err();
        let (some, _) = compile("{{ subject }}", &[EventKind::ModelDeployed]);
        assert_eq!(empty, some.render("nope", &deployed).unwrap_err());
        assert!(empty.contains("\"nope\""), "{empty}");
    }
}
