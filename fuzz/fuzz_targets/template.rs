//! Message templates with fuzzed event values and a fuzzed template source.
//!
//! Input: NUL-separated parts, read as UTF-8 (lossy):
//!   0: template source (compiled as `fuzz.txt` and as `fuzz.json`, the JSON-escaping mode)
//!   1: a name value (serviceName / modelName / runId / dataDriftName)
//!   2: an id value (modelIds / modelVersion / experimentName / runId of the drift event)
//!   3: the event subject
//!   4: a tag value
//! Missing parts keep the fixture's values. Each input renders the fixed templates for the
//! ModelDeployed event and for one event picked by the input length, the fuzzed template for the latter. Events are built from the test fixtures, with the fuzzed
//! values placed into their string fields.
//!
//! Properties: nothing panics (a fuzzed template must also stop: fuel limit; libFuzzer `-timeout`
//! reports a hang); event values are printed, never evaluated: `{{ service_name }}`,
//! `{{ data.serviceName }}` and `{{ subject }}` print the value exactly, and the JSON-mode probe is
//! valid JSON holding the values.
#![no_main]

use aml_events::event::{decode_batch, Event, EventKind, MlEvent};
use aml_events::hooks::template::{context, known_variables, TemplateError, Templates};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

const FIXTURES: [&str; 4] = [
    include_str!("../../tests/fixtures/eventgrid-model-deployed.json"),
    include_str!("../../tests/fixtures/eventgrid-model-registered.json"),
    include_str!("../../tests/fixtures/eventgrid-run-status-changed.json"),
    include_str!("../../tests/fixtures/cloudevents-dataset-drift-detected.json"),
];

/// Real templates (README's hooks.toml examples and a few using every variable kind).
const FIXED: &[(&str, &str)] = &[
    (
        "deploy.txt",
        "Deployed {{ model_ids | join(', ') }} to {{ service_name }} ({{ compute_type }})",
    ),
    (
        "runs.txt",
        "Run {{ run_id }} of {{ experiment_name }} is {{ run_status }}",
    ),
    (
        "dispatch.json",
        r#"{"event_type": "model-registered",
          "client_payload": {"model": {{ model_name }}, "version": {{ model_version }}, "tags": {{ model_tags }}}}"#,
    ),
    ("summary.txt", "{{ summary }} in {{ workspace }} ({{ resource_group }}/{{ subscription }})"),
    (
        "facts.txt",
        "{% for k, v in facts | items %}{{ k }}={{ v }};{% endfor %}{% for t in tags %}{{ t }}={{ tags[t] }}{% endfor %}",
    ),
    (
        "models.txt",
        "{% for m in models %}{{ m.name }}@{{ m.version }} {% endfor %}",
    ),
    ("event.json", "{{ event }}"),
    ("drift.txt", "{{ data_drift_name }} {{ drift_coefficient }} {{ start_time }}..{{ end_time }}"),
    // Probes for the injection property.
    ("probe-name.txt", "{{ service_name }}"),
    ("probe-data.txt", "{{ data.serviceName }}"),
    ("probe-subject.txt", "{{ subject }}"),
    (
        "probe.json",
        r#"{"name": {{ service_name }}, "subject": {{ subject }}, "tags": {{ service_tags }}}"#,
    ),
];

struct Harness {
    events: Vec<Event<MlEvent>>,
    fixed: Templates,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let events: Vec<Event<MlEvent>> = FIXTURES
            .iter()
            .map(|text| {
                decode_batch::<MlEvent>(text)
                    .expect("fixture")
                    .remove(0)
                    .expect("fixture event")
            })
            .collect();
        let mut fixed = Templates::new();
        let known = known_variables(&EventKind::ML);
        for (name, source) in FIXED {
            fixed
                .add((*name).to_owned(), (*source).to_owned(), &known)
                .expect("fixed template compiles");
        }
        Harness { events, fixed }
    })
}

fn place(
    event: &mut Event<MlEvent>,
    a: Option<&str>,
    b: Option<&str>,
    subject: Option<&str>,
    tag: Option<&str>,
) {
    let set = |slot: &mut Option<String>, v: Option<&str>| {
        if let Some(v) = v {
            *slot = Some(v.to_owned());
        }
    };
    set(&mut event.subject, subject);
    let tags = match &mut event.data {
        MlEvent::ModelDeployed(d) => {
            set(&mut d.service_name, a);
            set(&mut d.model_ids, b);
            Some(&mut d.service_tags)
        }
        MlEvent::ModelRegistered(d) => {
            set(&mut d.model_name, a);
            set(&mut d.model_version, b);
            Some(&mut d.model_tags)
        }
        MlEvent::RunStatusChanged(d) => {
            set(&mut d.run_id, a);
            set(&mut d.experiment_name, b);
            Some(&mut d.run_tags)
        }
        MlEvent::DatasetDriftDetected(d) => {
            set(&mut d.data_drift_name, a);
            set(&mut d.run_id, b);
            None
        }
        _ => None,
    };
    if let (Some(tags), Some(tag)) = (tags, tag) {
        tags.insert("area".to_owned(), Value::String(tag.to_owned()));
        tags.insert(tag.to_owned(), Value::String("key".to_owned()));
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let parts: Vec<String> = data
        .split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let part = |i: usize| parts.get(i).map(String::as_str);

    let mut fuzzed = Templates::new();
    let known = known_variables(&EventKind::ML);
    let source = part(0).unwrap_or("");
    let mut names = Vec::new();
    for name in ["fuzz.txt", "fuzz.json"] {
        if fuzzed
            .add(name.to_owned(), source.to_owned(), &known)
            .is_ok()
        {
            names.push(name);
        }
    }

    // The ModelDeployed event (the probes' event) and one more picked by the input length: the fixed
    // templates render for both, the fuzzed one for the picked event, in both escaping modes.
    let pick = data.len() % h.events.len();
    for (i, base) in h.events.iter().enumerate() {
        if i != 0 && i != pick {
            continue;
        }
        let mut event = base.clone();
        place(&mut event, part(1), part(2), part(3), part(4));
        let ctx = context(&event);
        for (name, _) in FIXED {
            let rendered = h.fixed.render_context(name, &ctx);
            check_probe(name, &event, rendered);
        }
        if i == pick {
            for name in &names {
                let _ = fuzzed.render(name, &event);
            }
        }
    }
});

fn check_probe(name: &str, event: &Event<MlEvent>, rendered: Result<String, TemplateError>) {
    let rendered = rendered.map_err(|e| e.to_string());
    let MlEvent::ModelDeployed(d) = &event.data else {
        return;
    };
    let service = d.service_name.as_deref().unwrap_or_default();
    let subject = event.subject.as_deref().unwrap_or_default();
    match name {
        "probe-name.txt" | "probe-data.txt" => {
            assert_eq!(
                rendered.as_deref(),
                Ok(service),
                "{name} must print the value verbatim"
            )
        }
        "probe-subject.txt" => {
            assert_eq!(
                rendered.as_deref(),
                Ok(subject),
                "{name} must print the value verbatim"
            )
        }
        "probe.json" => {
            let text = rendered.expect("probe.json renders");
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("JSON template wrote invalid JSON ({e}): {text}"));
            assert_eq!(v["name"], Value::String(service.to_owned()), "{text}");
            assert_eq!(v["subject"], Value::String(subject.to_owned()), "{text}");
            assert_eq!(v["tags"], Value::Object(d.service_tags.clone()), "{text}");
        }
        _ => {}
    }
}
