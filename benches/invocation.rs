//! Invocation-path benchmarks, in process (no sockets):
//!
//! - `invoke/*`: `FunctionsDoor::invoke` with the default `Pipeline` (the embedded hooks) for each Azure ML
//!   event, on a tokio current-thread runtime: extracting `Data.event` from the host's request body,
//!   decoding, dispatching the hooks, building the answer. `invoke-json/*` also serialises the answer as
//!   the route does.
//! - `invoke-shipped-hooks/*`: the same with the `Pipeline` built from the shipped `hooks.toml` (what the
//!   handler runs when started in the function app root), and with its JSON log lines formatted as
//!   under the Functions host (written to a sink), so the cost of logging shows.
//! - `template/*`: rendering a text and a JSON-body template for a ModelDeployed event.
//! - `dedupe/memory/claim+complete`: one at-most-once record in the in-process store.
//! - `startup/hooks-config`: parsing and validating the shipped `hooks.toml` and building its
//!   dispatcher (part of every cold start).
//!
//! `cargo bench --bench invocation` (see BENCHMARKS.md).

use aml_events::door::functions::FunctionsDoor;
use aml_events::event::{split_batch, Event, EventKind, MlEvent};
use aml_events::hooks::config::HooksConfig;
use aml_events::hooks::dedupe::{Claim, DedupeStore, MemoryStore};
use aml_events::hooks::template::{known_variables, Templates};
use aml_events::pipeline::Pipeline;
use aml_events::telemetry::json_layer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::value::RawValue;
use serde_json::Value;
use std::hint::black_box;
use std::time::Duration;
use warp::http::StatusCode;

const FUNCTION: &str = "MlWorkspaceEvents";
const SHIPPED_HOOKS: &str = include_str!("../hooks.toml");

/// One Event Grid schema seed fixture per Azure ML event.
const EVENTS: [(&str, &str); 5] = [
    (
        "model-registered",
        include_str!("../tests/fixtures/eventgrid-model-registered.json"),
    ),
    (
        "model-deployed",
        include_str!("../tests/fixtures/eventgrid-model-deployed.json"),
    ),
    (
        "run-completed",
        include_str!("../tests/fixtures/eventgrid-run-completed.json"),
    ),
    (
        "run-status-changed",
        include_str!("../tests/fixtures/eventgrid-run-status-changed.json"),
    ),
    (
        "dataset-drift-detected",
        include_str!("../tests/fixtures/eventgrid-dataset-drift-detected.json"),
    ),
];

/// The body the Functions host POSTs for the single event of a seed fixture (an array of one), its
/// members in the order Azure sends them, built where the tests, the CLI and the load scripts build it.
fn invocation_body(fixture: &str) -> Vec<u8> {
    let events = split_batch(fixture).expect("a seed fixture is an event array");
    let event: Box<RawValue> = serde_json::from_str(events[0]).expect("valid JSON");
    aml_events::cli::invocation_text(&event).into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn shipped_core() -> Pipeline {
    let config = HooksConfig::parse(SHIPPED_HOOKS, "hooks.toml", &|_| None).expect("hooks.toml");
    Pipeline::new(config.dispatcher().expect("dispatcher"))
}

/// The JSON log lines of the handler under the Functions host (`telemetry::Output::JsonBatched`),
/// formatted as there but discarded instead of written to stdout.
fn json_log_subscriber() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::level_filters::LevelFilter::INFO);
    tracing_subscriber::registry().with(json_layer(std::io::sink).with_filter(filter))
}

fn invoke(c: &mut Criterion) {
    let rt = runtime();
    let door = FunctionsDoor::default();
    let core = Pipeline::default();
    let mut group = c.benchmark_group("invoke");
    group.throughput(Throughput::Elements(1));
    for (name, fixture) in EVENTS {
        let body = invocation_body(fixture);
        let (status, response) = rt.block_on(door.invoke(&core, FUNCTION, &body));
        assert_eq!(status, StatusCode::OK, "{name}: {response:?}");
        assert_eq!(response.logs.len(), 1, "{name}: one summary line");
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| rt.block_on(door.invoke(&core, FUNCTION, black_box(body))))
        });
    }
    group.finish();

    // What the route does per request besides the door: serialise the answer.
    let body = invocation_body(EVENTS[1].1);
    c.bench_function("invoke-json/model-deployed", |b| {
        b.iter(|| {
            let (status, response) = rt.block_on(door.invoke(&core, FUNCTION, black_box(&body)));
            (status, serde_json::to_vec(&response).unwrap())
        })
    });
}

fn invoke_shipped_hooks(c: &mut Criterion) {
    let rt = runtime();
    let door = FunctionsDoor::default();
    let core = shipped_core();
    let body = invocation_body(EVENTS[1].1);
    let (status, response) = rt.block_on(door.invoke(&core, FUNCTION, &body));
    assert_eq!(status, StatusCode::OK, "{response:?}");
    assert_eq!(response.logs.len(), 1);

    let mut group = c.benchmark_group("invoke-shipped-hooks");
    group.bench_function("model-deployed/no-subscriber", |b| {
        b.iter(|| rt.block_on(door.invoke(&core, FUNCTION, black_box(&body))))
    });
    let subscriber = json_log_subscriber();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("model-deployed/json-logs", |b| {
            b.iter(|| rt.block_on(door.invoke(&core, FUNCTION, black_box(&body))))
        });
    });
    group.finish();
}

fn templates(c: &mut Criterion) {
    let event =
        Event::<MlEvent>::from_json(split_batch(EVENTS[1].1).unwrap()[0]).expect("ModelDeployed");
    let known = known_variables(&[EventKind::ModelDeployed]);
    let mut templates = Templates::new();
    let text = "Deployed {{ model_ids | join(', ') }} to {{ service_name }} ({{ compute_type }}) in {{ workspace }}";
    let body = r#"{"event_type": "model-deployed", "client_payload": {"service": {{ service_name }}, "models": {{ model_ids }}, "tags": {{ service_tags }}, "subject": {{ subject }}}}"#;
    for (name, source) in [("text", text), ("body.json", body)] {
        let unknown = templates
            .add(name.to_owned(), source.to_owned(), &known)
            .expect("template compiles");
        assert!(unknown.is_empty(), "{name}: unknown variables {unknown:?}");
        templates.render(name, &event).expect("template renders");
    }
    let rendered = templates.render("body.json", &event).unwrap();
    serde_json::from_str::<Value>(&rendered).expect("the body template renders JSON");

    let mut group = c.benchmark_group("template");
    for name in ["text", "body.json"] {
        group.bench_function(name, |b| {
            b.iter(|| {
                templates
                    .render(black_box(name), black_box(&event))
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn dedupe(c: &mut Criterion) {
    let rt = runtime();
    let store = MemoryStore::new();
    // Keys as the dispatcher builds them (`source|id|hook`); 4000 of them, reused round-robin. Each
    // record is completed with a zero TTL, so the next round re-claims an expired record: the map stays
    // at a realistic, constant size (and below the 4096-record sweep threshold).
    let source = "/subscriptions/a8e7c1b2-0000-4f6a-9d3e-5c2b1a0f9e8d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws";
    let keys: Vec<String> = (0..4000)
        .map(|i| format!("{source}|831e1650-001e-001b-66ab-{i:012x}|deploy-notice"))
        .collect();
    let lease_ttl = Duration::from_secs(25);
    let mut i = 0usize;
    c.bench_function("dedupe/memory/claim+complete", |b| {
        b.iter(|| {
            let key = &keys[i % keys.len()];
            i += 1;
            rt.block_on(async {
                let Claim::Acquired(lease) = store.claim(black_box(key), lease_ttl).await.unwrap()
                else {
                    panic!("{key} was not acquired")
                };
                store.complete(&lease, Duration::ZERO).await.unwrap();
            })
        })
    });
}

fn startup(c: &mut Criterion) {
    c.bench_function("startup/hooks-config", |b| {
        b.iter(|| {
            HooksConfig::parse(black_box(SHIPPED_HOOKS), "hooks.toml", &|_| None)
                .unwrap()
                .dispatcher()
                .unwrap()
        })
    });
}

criterion_group!(
    benches,
    invoke,
    invoke_shipped_hooks,
    templates,
    dedupe,
    startup
);
criterion_main!(benches);
