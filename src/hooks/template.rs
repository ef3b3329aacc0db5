//! Message templates (minijinja, Jinja syntax).
//!
//! Templates are sandboxed: strict undefined (a typo is an error, not an empty string), a fuel limit
//! (a runaway loop stops), no file access. Event fields are values, never template source, so
//! `{{ ... }}` inside a model name is printed, not evaluated. Templates whose name ends in `.json`
//! (webhook bodies) auto-escape as JSON: `{{ model_name }}` writes a quoted, escaped JSON string.

use crate::event::{format_time, Event, EventKind, MlEvent, Workspace};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Instructions one render may spend before it is stopped.
pub const FUEL: u64 = 100_000;

/// Every variable a template may use for events of `kinds`: those of the envelope and those of each
/// kind's data, read from the same code that builds the [`context`] (for an empty event), so the list
/// and the context cannot disagree.
pub fn known_variables(kinds: &[EventKind]) -> BTreeSet<&'static str> {
    let mut known = BTreeSet::new();
    let mut add = |name: &'static str, _: Value| {
        known.insert(name);
    };
    envelope_variables(&Event::default(), &Uses::ALL, &mut add);
    for kind in kinds {
        if let Some(data) = MlEvent::empty(*kind).ml_data() {
            data.variables(&mut add);
        }
    }
    known
}

/// What one template reads of the context, found when it is compiled.
///
/// A render builds only these variables: the whole context copies the event several times (`event`,
/// `data`, `tags`, the kind's tag maps), which for a 1 MiB event with 75,000 tags cost 0.4 s per
/// render when the template printed one field.
#[derive(Debug, Clone, Default)]
struct Uses {
    /// The top-level variables it names; `None` for all of them.
    names: Option<BTreeSet<String>>,
    /// Whether it may read `event.data` (or `event.data_base64`), or `event` as a whole: when not,
    /// `event` is built over the envelope alone.
    event_data: bool,
}

impl Uses {
    /// Every variable, in full.
    const ALL: Uses = Uses {
        names: None,
        event_data: true,
    };

    /// What `template` reads: minijinja reports the variables it does not declare itself, and the
    /// attribute paths they are read through (`event.id`).
    fn of(template: &minijinja::Template<'_, '_>) -> Self {
        let names = template.undeclared_variables(false);
        let event_data = template.undeclared_variables(true).iter().any(|path| {
            match path.strip_prefix("event") {
                Some("") => true,
                Some(rest) => match rest.strip_prefix('.') {
                    Some(rest) => {
                        let first = rest.split('.').next().unwrap_or(rest);
                        matches!(first, "data" | "data_base64")
                    }
                    None => false,
                },
                None => false,
            }
        });
        Self {
            names: Some(names.into_iter().collect()),
            event_data,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.names.as_ref().is_none_or(|names| names.contains(name))
    }
}

/// Jinja's global functions that minijinja leaves to its `contrib` crate, which the handler does not
/// include: `handler check` names them as such rather than as unknown variables.
pub(crate) const NOT_PROVIDED: [&str; 3] = ["cycler", "joiner", "lipsum"];

/// The compiled templates of a configuration.
pub struct Templates {
    /// Built with the first template: a configuration without templates (the shipped `hooks.toml`
    /// logs only) never builds minijinja's environment, its filters and tests, at start-up.
    env: Option<Environment<'static>>,
    /// What each template reads, by name.
    uses: HashMap<String, Uses>,
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
        Self {
            env: None,
            uses: HashMap::new(),
        }
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

    /// Compiles `source` as `name`; returns the variables it reads that are neither in `known` nor
    /// minijinja's global functions (`range`, `namespace`, `cycler`, ...).
    pub fn add(
        &mut self,
        name: String,
        source: String,
        known: &BTreeSet<&str>,
    ) -> Result<Vec<String>, TemplateError> {
        let env = self.env.get_or_insert_with(Self::environment);
        env.add_template_owned(name.clone(), source)
            .map_err(|e| describe_error(&e))?;
        let template = env.get_template(&name).map_err(|e| describe_error(&e))?;
        let uses = Uses::of(&template);
        let globals: BTreeSet<&str> = env.globals().map(|(name, _)| name).collect();
        let unknown: Vec<String> = uses
            .names
            .iter()
            .flatten()
            .filter(|v| !known.contains(v.as_str()) && !globals.contains(v.as_str()))
            .cloned()
            .collect();
        self.uses.insert(name, uses);
        Ok(unknown)
    }

    /// Renders template `name` for `event`, with a context of only the variables it reads.
    pub fn render(&self, name: &str, event: &Event<MlEvent>) -> Result<String, TemplateError> {
        let uses = self.uses.get(name).unwrap_or(&Uses::ALL);
        self.render_context(name, &context_of(event, uses))
    }

    /// Renders template `name` with a prepared context (see [`context`]).
    pub fn render_context(&self, name: &str, context: &Value) -> Result<String, TemplateError> {
        let Some(env) = &self.env else {
            return Err(TemplateError(format!(
                "template not found: template {name:?} does not exist"
            )));
        };
        let template = env.get_template(name).map_err(|e| describe_error(&e))?;
        template
            .render(Serde(context))
            .map_err(|e| describe_error(&e))
    }
}

/// A template that does not compile or render, with minijinja's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl TemplateError {
    /// What went wrong, as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn describe_error(error: &minijinja::Error) -> TemplateError {
    let mut text = error.to_string();
    if let Some(detail) = error.detail() {
        if !text.contains(detail) {
            text = format!("{text}: {detail}");
        }
    }
    TemplateError(text)
}

fn opt(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The variables every event has, those `uses` wants; each is built only when wanted.
fn envelope_variables(
    event: &Event<MlEvent>,
    uses: &Uses,
    out: &mut dyn FnMut(&'static str, Value),
) {
    let workspace = event.workspace();
    let part = |part: fn(&Workspace) -> &String| {
        workspace
            .as_ref()
            .map_or(Value::Null, |w| Value::String(part(w).clone()))
    };
    let mut put = |name: &'static str, value: &dyn Fn() -> Value| {
        if uses.wants(name) {
            out(name, value());
        }
    };
    put("id", &|| Value::String(event.id.clone()));
    put("type", &|| Value::String(event.event_type.clone()));
    put("kind", &|| Value::from(event.kind().short_name()));
    put("subject", &|| opt(&event.subject));
    put("time", &|| {
        event
            .time
            .as_ref()
            .map_or(Value::Null, |t| Value::String(format_time(t)))
    });
    put("source", &|| opt(&event.source));
    put("schema", &|| {
        serde_json::to_value(event.schema).unwrap_or_default()
    });
    put("workspace", &|| part(|w| &w.workspace));
    put("subscription", &|| part(|w| &w.subscription));
    put("resource_group", &|| part(|w| &w.resource_group));
    put("data", &|| {
        serde_json::to_value(&event.data).unwrap_or_default()
    });
    put("event", &|| match uses.event_data {
        true => serde_json::to_value(event).unwrap_or_default(),
        false => envelope_value(event),
    });
    put("summary", &|| Value::String(event.summary()));
    put("facts", &|| {
        let facts = event.facts().into_iter();
        Value::Object(
            facts
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        )
    });
    put("tags", &|| {
        Value::Object(event.data.tags().cloned().unwrap_or_default())
    });
}

/// `event` for a template that reads neither `event.data` nor `event.data_base64`: the same members,
/// but the data (the bulk of a large event) is not serialised.
fn envelope_value(event: &Event<MlEvent>) -> Value {
    let envelope = Event {
        schema: event.schema,
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        source: event.source.clone(),
        subject: event.subject.clone(),
        time: event.time,
        data_version: event.data_version.clone(),
        metadata_version: event.metadata_version.clone(),
        spec_version: event.spec_version.clone(),
        data_content_type: event.data_content_type.clone(),
        data_schema: event.data_schema.clone(),
        data_base64: event.data_base64,
        extensions: event.extensions.clone(),
        data: Value::Null,
    };
    serde_json::to_value(envelope).unwrap_or_default()
}

/// The template variables of `event`: the envelope and the kind's data in snake_case.
pub fn context(event: &Event<MlEvent>) -> Value {
    context_of(event, &Uses::ALL)
}

/// The variables of `event` that `uses` wants.
fn context_of(event: &Event<MlEvent>, uses: &Uses) -> Value {
    let mut ctx = Map::new();
    let mut add = |name: &'static str, value: Value| {
        if uses.wants(name) {
            ctx.insert(name.to_owned(), value);
        }
    };
    envelope_variables(event, uses, &mut add);
    if let Some(data) = event.data.ml_data() {
        // The kind's variables come from the event module all at once (its tag maps cloned), so
        // they are asked for only when the template reads at least one of them.
        if uses.names.is_none() || uses_kind_variables(event, uses) {
            data.variables(&mut add);
        }
    }
    Value::Object(ctx)
}

/// Whether `uses` names a variable of `event`'s kind.
fn uses_kind_variables(event: &Event<MlEvent>, uses: &Uses) -> bool {
    let Some(names) = &uses.names else {
        return true;
    };
    let mut any = false;
    if let Some(data) = MlEvent::empty(event.kind()).ml_data() {
        data.variables(&mut |name, _| any |= names.contains(name));
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{decode_batch, Schema};
    use crate::samples::sample;
    use serde_json::json;

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
        assert!(err.as_str().contains("undefined"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let err = Templates::new()
            .add("t".into(), "{{ oops".into(), &known_variables(&[]))
            .unwrap_err();
        assert!(err.as_str().contains("syntax error"), "{err}");
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
        assert!(err.as_str().contains("fuel"), "{err}");
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
        assert!(empty.as_str().contains("\"nope\""), "{empty}");
    }

    #[test]
    fn the_variable_list_and_the_context_agree_on_every_fixture() {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut kinds_seen = BTreeSet::new();
        for (path, raw) in crate::event::fixture_events() {
            let Ok(event) = Event::<MlEvent>::from_json(&raw) else {
                continue;
            };
            let known = known_variables(&[event.kind()]);
            let Value::Object(ctx) = context(&event) else {
                panic!("{}: the context is not an object", path.display())
            };
            for name in ctx.keys() {
                assert!(
                    known.contains(name.as_str()),
                    "{}: `{name}` is not listed",
                    path.display()
                );
            }
            for name in &known {
                assert!(
                    ctx.contains_key(*name),
                    "{}: `{name}` is listed but absent",
                    path.display()
                );
            }
            seen.extend(ctx.into_iter().map(|(name, _)| name));
            kinds_seen.insert(event.kind().short_name());
        }
        let all = known_variables(&EventKind::NAMED);
        let missing: Vec<_> = all.iter().filter(|v| !seen.contains(**v)).collect();
        assert!(
            missing.is_empty(),
            "listed but in no fixture's context: {missing:?}"
        );
        for kind in EventKind::ML {
            assert!(
                kinds_seen.contains(kind.short_name()),
                "no fixture of {kind}"
            );
        }
    }

    fn fixture(name: &str) -> Event<MlEvent> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
        decode_batch::<MlEvent>(&text).unwrap().remove(0).unwrap()
    }

    #[test]
    fn templates_see_the_monitor_view() {
        let source = "{{ monitor.signal }}|{{ monitor.quoted_signal }}|{{ monitor.features | length }}|{% for f in monitor.features %}{{ f.metric }} {{ f.value }} {{ f.threshold }} {{ f.feature }};{% endfor %}|{{ monitor.truncated }}";
        let kinds = [EventKind::RunStatusChanged, EventKind::RunCompleted];
        let (t, unknown) = compile(source, &kinds);
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            t.render("t", &fixture("eventgrid-run-status-changed-monitor-breach.json")).unwrap(),
            "data-drift-signal|data-drift-signal|2|jensen_shannon_distance 0.31 0.1 age;jensen_shannon_distance 0.27 0.1 income;|False"
        );
        assert_eq!(
            t.render("t", &fixture("eventgrid-run-status-changed-monitor-breach-pascal.json")).unwrap(),
            "credit_card_fraud_monitor_data_drift|None|1|two_sample_kolmogorov_smirnov_test 0.023 0.05 transaction_amount;|False"
        );
        let (t, _) = compile(
            "{% if monitor %}breach: {{ monitor.message }}{% else %}no breach{% endif %}",
            &kinds,
        );
        assert_eq!(
            t.render("t", &fixture("eventgrid-run-completed-monitor.json"))
                .unwrap(),
            "no breach"
        );
        assert_eq!(
            t.render("t", &fixture("eventgrid-run-status-changed-monitor-unparsed.json")).unwrap(),
            "breach: Signal prediction-drift exceeded its threshold: [prediction: psi=0.42 (threshold 0.2)]"
        );
        let (_, unknown) = compile("{{ monitor }}", &[EventKind::ModelDeployed]);
        assert_eq!(unknown, ["monitor"]);
    }

    #[test]
    fn a_template_reading_event_id_does_not_build_the_data_or_the_tags() {
        let (t, _) = compile("{{ event.id }}", &[EventKind::ModelRegistered]);
        let e = event(EventKind::ModelRegistered);
        let Value::Object(ctx) = context_of(&e, &t.uses["t"]) else {
            panic!("the context is not an object")
        };
        assert_eq!(ctx.keys().collect::<Vec<_>>(), ["event"]);
        assert_eq!(ctx["event"]["id"], json!(e.id));
        assert_eq!(ctx["event"]["data"], Value::Null, "the data was serialised");
        assert_eq!(t.render("t", &e).unwrap(), e.id);
    }

    #[test]
    fn a_template_reading_one_field_builds_that_field_only() {
        let (t, _) = compile("{{ model_name }} {{ id }}", &[EventKind::ModelRegistered]);
        let Value::Object(ctx) = context_of(&event(EventKind::ModelRegistered), &t.uses["t"])
        else {
            panic!("the context is not an object")
        };
        assert_eq!(ctx.keys().collect::<Vec<_>>(), ["id", "model_name"]);
    }

    #[test]
    fn minijinja_global_functions_are_not_unknown_variables() {
        let (_, unknown) = compile(
            "{% set ns = namespace(n=1) %}{% for i in range(2) %}{{ i }}{% endfor %}{{ dict(a=1) }}{{ debug() }}{{ ns.n }}{{ cycler() }}",
            &[],
        );
        assert_eq!(unknown, ["cycler"]);
    }

    #[test]
    fn a_partial_context_renders_as_the_whole_context_does() {
        let sources = [
            "{{ event.id }} {{ event.subject }} {{ event.eventType }} {{ event.type }}",
            "{{ event }}",
            "{{ event.data }}",
            "{% for k, v in event | items %}{{ k }}={{ v }};{% endfor %}",
            "{% set e = event %}{{ e.data }}",
            "{{ summary }} {{ tags }} {{ facts }} {{ data }} {{ kind }} {{ time }} {{ workspace }}",
            "{{ event.id }}{{ event.data }}",
        ];
        let mut t = Templates::new();
        let everything = known_variables(&EventKind::NAMED);
        for (i, source) in sources.iter().enumerate() {
            t.add(format!("{i}"), (*source).to_owned(), &everything)
                .unwrap();
            t.add(format!("{i}.json"), (*source).to_owned(), &everything)
                .unwrap();
        }
        for (path, raw) in crate::event::fixture_events() {
            let Ok(event) = Event::<MlEvent>::from_json(&raw) else {
                continue;
            };
            let whole = context(&event);
            for name in t.uses.keys() {
                assert_eq!(
                    t.render(name, &event),
                    t.render_context(name, &whole),
                    "{}: template {name}",
                    path.display()
                );
            }
        }
    }

    /// Times a render for a 1 MiB event with 75,000 tags, with the context built whole (as before)
    /// and as the template needs it: `cargo test --release --lib render_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn render_cost() {
        let mut e = event(EventKind::ModelRegistered);
        if let MlEvent::ModelRegistered(d) = &mut e.data {
            d.model_tags = (0..75_000)
                .map(|i| (format!("tag{i:05}"), json!(format!("v{i:05}"))))
                .collect();
        }
        let mut t = Templates::new();
        let known = known_variables(&[EventKind::ModelRegistered]);
        for (name, source) in [
            ("field", "{{ model_name }}"),
            ("event.id", "{{ event.id }}"),
            ("summary", "{{ summary }}"),
            ("tags", "{{ model_tags | length }}"),
        ] {
            t.add(name.to_owned(), source.to_owned(), &known).unwrap();
            let start = std::time::Instant::now();
            let before = t.render_context(name, &context(&e)).unwrap();
            let whole = start.elapsed();
            let start = std::time::Instant::now();
            let after = t.render(name, &e).unwrap();
            let needed = start.elapsed();
            assert_eq!(before, after);
            println!("{name:>9}: whole context {whole:?}, needed variables {needed:?}");
        }
    }
}
