//! Decoding benchmarks: each of the five Azure ML events in both schemas (the ten seed fixtures of the
//! Azure docs page), a 100-event mixed batch and a Functions invocation through `decode`, and the same
//! bytes parsed into `serde_json::Value` as the yardstick. Budget: typed decoding is no slower than
//! parsing into a `Value`.
//!
//! `cargo bench --bench decode` (see BENCHMARKS.md).

use aml_events::event::{decode, split_batch, Body, Event, MlEvent};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::Value;
use std::hint::black_box;

/// The ten seed fixtures: (name, file text). Each file is an array holding one event.
const SEEDS: [(&str, &str); 10] = [
    (
        "eventgrid/model-registered",
        include_str!("../tests/fixtures/eventgrid-model-registered.json"),
    ),
    (
        "eventgrid/model-deployed",
        include_str!("../tests/fixtures/eventgrid-model-deployed.json"),
    ),
    (
        "eventgrid/run-completed",
        include_str!("../tests/fixtures/eventgrid-run-completed.json"),
    ),
    (
        "eventgrid/run-status-changed",
        include_str!("../tests/fixtures/eventgrid-run-status-changed.json"),
    ),
    (
        "eventgrid/dataset-drift-detected",
        include_str!("../tests/fixtures/eventgrid-dataset-drift-detected.json"),
    ),
    (
        "cloudevents/model-registered",
        include_str!("../tests/fixtures/cloudevents-model-registered.json"),
    ),
    (
        "cloudevents/model-deployed",
        include_str!("../tests/fixtures/cloudevents-model-deployed.json"),
    ),
    (
        "cloudevents/run-completed",
        include_str!("../tests/fixtures/cloudevents-run-completed.json"),
    ),
    (
        "cloudevents/run-status-changed",
        include_str!("../tests/fixtures/cloudevents-run-status-changed.json"),
    ),
    (
        "cloudevents/dataset-drift-detected",
        include_str!("../tests/fixtures/cloudevents-dataset-drift-detected.json"),
    ),
];

/// The raw text of the single event object in a seed fixture.
fn event_text(fixture: &str) -> &str {
    let events = split_batch(fixture).expect("a seed fixture is an event array");
    assert_eq!(events.len(), 1, "a seed fixture holds one event");
    events[0]
}

/// A JSON array of `n` events cycling through the ten seeds (both schemas mixed).
fn mixed_batch(n: usize) -> String {
    let events: Vec<&str> = SEEDS.iter().map(|(_, text)| event_text(text)).collect();
    let items: Vec<&str> = events.iter().copied().cycle().take(n).collect();
    format!("[{}]", items.join(","))
}

fn single_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode/event");
    for (name, fixture) in SEEDS {
        let text = event_text(fixture);
        // Every seed must decode to its typed variant, or the figures would time an error path.
        let event = Event::<MlEvent>::from_json(text).expect("seed fixture decodes");
        assert!(event.kind().is_ml(), "{name} is not an ML event");
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("typed", name), text, |b, text| {
            b.iter(|| Event::<MlEvent>::from_json(black_box(text)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("value", name), text, |b, text| {
            b.iter(|| serde_json::from_str::<Value>(black_box(text)).unwrap())
        });
    }
    group.finish();
}

fn batch(c: &mut Criterion) {
    let body = mixed_batch(100);
    let decoded = decode(Body::Events(body.as_bytes())).expect("the batch decodes");
    assert_eq!(decoded.len(), 100);
    assert!(
        decoded.iter().all(|d| d.event.is_ok()),
        "every batch element decodes"
    );

    let mut group = c.benchmark_group("decode/batch-100-mixed");
    group.throughput(Throughput::Elements(100));
    group.bench_function("typed", |b| {
        b.iter(|| decode(Body::Events(black_box(body.as_bytes()))).unwrap())
    });
    group.bench_function("value", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&body)).unwrap())
    });
    group.finish();
}

/// The Functions host's invocation of the ModelDeployed seed, its data repeated in `Metadata` as the
/// host sends it: the event decoded where it stands, `Metadata` skipped.
fn invocation(c: &mut Criterion) {
    let event = event_text(SEEDS[1].1);
    let event: Box<serde_json::value::RawValue> = serde_json::from_str(event).expect("JSON");
    let body = aml_events::cli::invocation_text(&event);
    let decoded = decode(Body::Invocation(body.as_bytes())).expect("an invocation");
    assert!(decoded[0].event.is_ok(), "the invocation's event decodes");
    let mut group = c.benchmark_group("decode/invocation/model-deployed");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("typed", |b| {
        b.iter(|| decode(Body::Invocation(black_box(body.as_bytes()))).unwrap())
    });
    group.bench_function("value", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&body)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, single_events, batch, invocation);
criterion_main!(benches);
