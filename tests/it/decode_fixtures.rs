//! Every fixture decodes, round-trips (decode, serialise, decode, compare), and yields the typed values
//! the lenient rules promise.

use crate::support::{expected_facts, fixture, good_fixtures};
use aml_events::event::{decode, Body, Event, EventKind, MlEvent, RunStatus, Schema};

fn decode_all(name: &str) -> Vec<Event<MlEvent>> {
    let text = fixture(name);
    decode(Body::Events(text.as_bytes()))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .map(|d| d.event.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn one(name: &str) -> Event<MlEvent> {
    let mut events = decode_all(name);
    assert_eq!(events.len(), 1, "{name}");
    events.remove(0)
}

#[test]
fn every_fixture_decodes_and_round_trips() {
    let names = good_fixtures();
    assert!(
        names.len() >= 25,
        "expected the seed and live fixtures, found {names:?}"
    );
    for name in names {
        for event in decode_all(&name) {
            let json = serde_json::to_string(&event).unwrap();
            let again: Event<MlEvent> =
                Event::from_json(&json).unwrap_or_else(|e| panic!("{name} re-decode: {e}"));
            assert_eq!(again, event, "{name} did not round-trip through {json}");
            let summary = event.summary();
            for fact in expected_facts(&name) {
                assert!(
                    summary.contains(fact),
                    "{name}: summary {summary:?} lacks {fact:?}"
                );
            }
        }
    }
}

#[test]
fn the_ten_seed_examples_decode_in_both_schemas() {
    for kind in EventKind::ML {
        let stem = match kind {
            EventKind::ModelRegistered => "model-registered",
            EventKind::ModelDeployed => "model-deployed",
            EventKind::RunCompleted => "run-completed",
            EventKind::RunStatusChanged => "run-status-changed",
            _ => "dataset-drift-detected",
        };
        for (schema, prefix) in [
            (Schema::EventGrid, "eventgrid"),
            (Schema::CloudEvents, "cloudevents"),
        ] {
            let event = one(&format!("{prefix}-{stem}.json"));
            assert_eq!(
                (event.kind(), event.schema),
                (kind, schema),
                "{prefix}-{stem}"
            );
            assert_eq!(event.id, "831e1650-001e-001b-66ab-eeb76e069631");
            assert_eq!(event.time.unwrap().timestamp_subsec_nanos(), 958_410_300);
        }
    }
}

#[test]
fn docs_pascal_case_model_registered_with_a_numeric_version() {
    let event = one("eventgrid-model-registered.json");
    let MlEvent::ModelRegistered(data) = &event.data else {
        panic!("{:?}", event.data)
    };
    assert_eq!(data.model_name.as_deref(), Some("sklearn_regression_model"));
    assert_eq!(data.model_version.as_deref(), Some("20"));
    assert_eq!(data.model_tags["area"], "diabetes");
    assert_eq!(data.model_properties["type"], "test");
    assert_eq!(event.data_version.as_deref(), Some(""));
    assert_eq!(event.metadata_version.as_deref(), Some("1"));
    assert_eq!(event.workspace().unwrap().workspace, "{workspace-name}");
}

#[test]
fn live_and_sdk_model_versions_are_text() {
    for (name, version) in [
        ("eventgrid-model-registered-live.json", "1"),
        ("eventgrid-model-registered-sdk.json", "3"),
    ] {
        let MlEvent::ModelRegistered(data) = one(name).data else {
            panic!("{name}")
        };
        assert_eq!(data.model_version.as_deref(), Some(version), "{name}");
    }
}

#[test]
fn drift_coefficient_is_exact_and_times_keep_offsets() {
    let event = one("cloudevents-dataset-drift-detected-spec.json");
    assert_eq!(
        event.schema,
        Schema::CloudEvents,
        "`specVersion` is read as `specversion`"
    );
    let MlEvent::DatasetDriftDetected(data) = &event.data else {
        panic!()
    };
    assert_eq!(
        data.drift_coefficient.unwrap().to_bits(),
        0.835_034_906_847_920_8_f64.to_bits()
    );
    assert_eq!(
        data.start_time.unwrap().offset().local_minus_utc(),
        -7 * 3600
    );
    assert_eq!(
        data.target_dataset_id.as_deref(),
        Some("d7e74d2e-c972-4266-b5fb-6c9c182d2a74")
    );
}

#[test]
fn sdk_drift_fixture_without_target_dataset_keeps_the_typo_key() {
    let MlEvent::DatasetDriftDetected(data) = one("eventgrid-dataset-drift-detected-sdk.json").data
    else {
        panic!()
    };
    assert_eq!(data.target_dataset_id, None);
    assert_eq!(
        data.extra["tarAsSystemEventDatasetId"],
        "d7e74d2e-c972-4266-b5fb-6c9c182d2a74"
    );
}

#[test]
fn null_and_missing_drift_times_are_absent() {
    let MlEvent::DatasetDriftDetected(data) =
        one("eventgrid-dataset-drift-detected-null-times.json").data
    else {
        panic!()
    };
    assert_eq!((data.start_time, data.end_time), (None, None));
}

#[test]
fn run_events_tolerate_null_run_type_and_capitalised_run_tags() {
    let MlEvent::RunCompleted(seed) = one("eventgrid-run-completed.json").data else {
        panic!()
    };
    assert_eq!(seed.run_type, None);
    assert_eq!(seed.run_properties["iteration"], "5");
    let MlEvent::RunCompleted(live) = one("eventgrid-run-completed-live.json").data else {
        panic!()
    };
    assert_eq!(live.run_type.as_deref(), Some("automl"));
    assert_eq!(
        live.run_tags["stage"], "prod",
        "`RunTags` is read as `runTags`"
    );
}

#[test]
fn run_status_values_are_typed_or_kept() {
    let MlEvent::RunStatusChanged(docs) = one("eventgrid-run-status-changed.json").data else {
        panic!()
    };
    assert_eq!(
        docs.run_status,
        Some(RunStatus::Failed),
        "the docs send lower-case `failed`"
    );
    let MlEvent::RunStatusChanged(live) = one("eventgrid-run-status-changed-live.json").data else {
        panic!()
    };
    assert_eq!(live.run_status, Some(RunStatus::NotStarted));
    assert_eq!(
        live.run_properties["azureml.parameters"],
        r#"{"client_id":"c1"}"#
    );
}

#[test]
fn unknown_data_fields_and_extension_attributes_are_kept() {
    let MlEvent::ModelDeployed(data) = one("eventgrid-model-deployed-live.json").data else {
        panic!()
    };
    assert_eq!(data.extra["createdBy"]["userName"], "ana@contoso.com");
    let event = one("cloudevents-model-registered-extensions.json");
    assert_eq!(
        event.extensions["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(event.extensions["partitionkey"], "ml-prod-ws");
    assert_eq!(event.time.unwrap().offset().local_minus_utc(), 2 * 3600);
}

#[test]
fn cloud_events_data_base64_is_decoded_and_kept_base64() {
    let event = one("cloudevents-model-deployed-base64.json");
    assert!(event.data_base64);
    let MlEvent::ModelDeployed(data) = &event.data else {
        panic!()
    };
    assert_eq!(data.service_compute_type.as_deref(), Some("AKS"));
    let written = serde_json::to_value(&event).unwrap();
    assert!(written.get("data").is_none() && written["data_base64"].is_string());
}

#[test]
fn duplicate_source_resolves_last_wins() {
    let event = one("cloudevents-model-registered-sdk-duplicate-source.json");
    assert_eq!(
        event.source.as_deref(),
        Some("models/sklearn_regression_model:3")
    );
    assert_eq!(event.workspace(), None);
}

#[test]
fn event_grid_system_events_and_other_types_are_variants() {
    let MlEvent::SubscriptionValidation(v) = one("eventgrid-subscription-validation.json").data
    else {
        panic!()
    };
    assert_eq!(
        v.validation_code.as_deref(),
        Some("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")
    );
    assert!(matches!(
        one("eventgrid-subscription-deleted.json").data,
        MlEvent::SubscriptionDeleted(_)
    ));
    let other = one("eventgrid-other-blob-created.json");
    let MlEvent::Other(data) = &other.data else {
        panic!()
    };
    assert_eq!(data["contentLength"], 524288);
}
