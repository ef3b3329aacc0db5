//! Property tests: arbitrary and mutated JSON through the decoder and through both doors in-process
//! never panics and always yields a well-formed answer.

use aml_events::door::functions::FunctionsDoor;
use aml_events::door::webhook::WebhookDoor;
use aml_events::event::{decode, decode_batch, Body, Event, MlEvent};
use aml_events::pipeline::Pipeline;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use warp::http::{HeaderMap, HeaderValue};

/// Arbitrary JSON, biased towards the shapes and names events have.
fn arb_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "id",
        "eventType",
        "type",
        "data",
        "data_base64",
        "specversion",
        "source",
        "topic",
        "subject",
        "time",
        "eventTime",
        "modelName",
        "ModelVersion",
        "modelVersion",
        "modelIds",
        "runStatus",
        "driftCoefficient",
        "startTime",
        "runTags",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "Microsoft.MachineLearningServices.ModelRegistered",
            "Microsoft.MachineLearningServices.ModelDeployed",
            "Microsoft.MachineLearningServices.RunStatusChanged",
            "Microsoft.MachineLearningServices.DatasetDriftDetected",
            "Microsoft.EventGrid.SubscriptionValidationEvent",
            "1.0",
            "2026-11-25T10:00:00.1234567+02:00",
            "e30=",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8).prop_map(|pairs| Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

/// A fixture's bytes with a few bytes flipped, removed or the text cut short.
fn mutated_fixture() -> impl Strategy<Value = Vec<u8>> {
    let names = crate::support::good_fixtures();
    (
        prop::sample::select(names),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(name, edits)| {
            let mut bytes = crate::support::fixture(&name).into_bytes();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
            }
            bytes
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn check_doors(rt: &tokio::runtime::Runtime, body: &[u8]) -> Result<(), TestCaseError> {
    let core = Pipeline::default();
    let (status, response) =
        rt.block_on(FunctionsDoor::default().invoke(&core, "MlWorkspaceEvents", body));
    prop_assert!(
        status == 200 || status == 500,
        "functions door answered {status}"
    );
    let shaped = serde_json::to_value(&response).unwrap();
    prop_assert!(shaped["Logs"].is_array() && shaped["Outputs"].is_object());

    let mut headers = HeaderMap::new();
    headers.insert("aeg-event-type", HeaderValue::from_static("Notification"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let answer = rt.block_on(WebhookDoor::default().post(&core, &headers, "", body));
    prop_assert!(
        [200u16, 400, 500].contains(&answer.status.as_u16()),
        "webhook door answered {}",
        answer.status
    );
    if answer.status != 200 {
        prop_assert!(
            answer.body["error"]["message"].is_string(),
            "{}",
            answer.body
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_decoder(value in arb_json()) {
        let text = value.to_string();
        let _ = decode_batch::<MlEvent>(&text);
        let _ = Event::<MlEvent>::from_json(&text);
    }

    #[test]
    fn arbitrary_json_gets_a_well_formed_answer_from_both_doors(value in arb_json()) {
        let rt = runtime();
        check_doors(&rt, value.to_string().as_bytes())?;
        check_doors(&rt, json!({"Data": {"event": value}}).to_string().as_bytes())?;
    }

    #[test]
    fn mutated_fixtures_get_a_well_formed_answer_from_both_doors(bytes in mutated_fixture()) {
        let rt = runtime();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = decode_batch::<MlEvent>(text);
        }
        check_doors(&rt, &bytes)?;
        let mut invocation = br#"{"Data":{"event":"#.to_vec();
        invocation.extend_from_slice(&bytes);
        invocation.extend_from_slice(b"}}");
        check_doors(&rt, &invocation)?;
    }

    #[test]
    fn every_event_that_fails_to_decode_keeps_its_text(value in arb_json()) {
        let text = value.to_string();
        let invocation = json!({"Data": {"event": value}}).to_string();
        let quoted = json!({"Data": {"event": text}}).to_string();
        for body in [
            Body::Events(text.as_bytes()),
            Body::Invocation(invocation.as_bytes()),
            Body::Invocation(quoted.as_bytes()),
        ] {
            if let Ok(decoded) = decode(body) {
                for item in decoded {
                    if let Err(error) = &item.event {
                        prop_assert!(!item.raw.is_empty(), "{error} without its text in {body:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn decoded_events_round_trip(value in arb_json()) {
        if let Ok(event) = Event::<MlEvent>::from_json(&value.to_string()) {
            let written = serde_json::to_string(&event).unwrap();
            let again = Event::<MlEvent>::from_json(&written);
            prop_assert!(again.is_ok(), "{written}: {:?}", again.err());
            prop_assert_eq!(again.unwrap(), event);
        }
    }
}
