//! The ten example events of the Azure ML event schema page (five events in two schemas), bundled so
//! that `handler sample` and `handler send sample:NAME` work without files. They are the same files the
//! tests decode, under `tests/fixtures/`.

use crate::event::{EventKind, Schema};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}

const SAMPLES: [(EventKind, Schema, &str); 10] = [
    (
        EventKind::ModelRegistered,
        Schema::EventGrid,
        fixture!("eventgrid-model-registered.json"),
    ),
    (
        EventKind::ModelDeployed,
        Schema::EventGrid,
        fixture!("eventgrid-model-deployed.json"),
    ),
    (
        EventKind::RunCompleted,
        Schema::EventGrid,
        fixture!("eventgrid-run-completed.json"),
    ),
    (
        EventKind::RunStatusChanged,
        Schema::EventGrid,
        fixture!("eventgrid-run-status-changed.json"),
    ),
    (
        EventKind::DatasetDriftDetected,
        Schema::EventGrid,
        fixture!("eventgrid-dataset-drift-detected.json"),
    ),
    (
        EventKind::ModelRegistered,
        Schema::CloudEvents,
        fixture!("cloudevents-model-registered.json"),
    ),
    (
        EventKind::ModelDeployed,
        Schema::CloudEvents,
        fixture!("cloudevents-model-deployed.json"),
    ),
    (
        EventKind::RunCompleted,
        Schema::CloudEvents,
        fixture!("cloudevents-run-completed.json"),
    ),
    (
        EventKind::RunStatusChanged,
        Schema::CloudEvents,
        fixture!("cloudevents-run-status-changed.json"),
    ),
    (
        EventKind::DatasetDriftDetected,
        Schema::CloudEvents,
        fixture!("cloudevents-dataset-drift-detected.json"),
    ),
];

/// The sample for `kind` in `schema`, as the delivery body Event Grid sends (a one-element array).
/// `None` for kinds without a sample (the non-ML kinds).
pub fn sample(kind: EventKind, schema: Schema) -> Option<&'static str> {
    SAMPLES
        .iter()
        .find(|(k, s, _)| *k == kind && *s == schema)
        .map(|(_, _, text)| *text)
}

/// The names `handler sample` accepts, for its help and errors.
pub fn names() -> Vec<&'static str> {
    EventKind::ML.iter().map(|k| k.short_name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{decode_batch, MlEvent};

    #[test]
    fn every_sample_decodes_to_its_kind_and_schema() {
        for (kind, schema, text) in SAMPLES {
            let events = decode_batch::<MlEvent>(text).unwrap();
            let event = events.into_iter().next().unwrap().unwrap();
            assert_eq!((event.kind(), event.schema), (kind, schema));
        }
    }
}
