//! Arbitrary bytes as the Functions host's invocation body, through `decode(Body::Invocation)` (every
//! event that fails keeps its text) and `FunctionsDoor::invoke` with the
//! default pipeline (the embedded `log-ml-events` hook and an in-memory dedupe store: no network I/O).
//! The answer must serialise to JSON that parses, and, since the default hook cannot fail, be a 200.
#![no_main]

use aml_events::pipeline::Pipeline;
use aml_events::door::functions::FunctionsDoor;
use aml_events::event::{decode, Body};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Harness {
    runtime: tokio::runtime::Runtime,
    pipeline: Pipeline,
    plain: FunctionsDoor,
    poison: FunctionsDoor,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
        pipeline: Pipeline::default(),
        plain: FunctionsDoor::default(),
        poison: FunctionsDoor {
            poison_binding: Some("poison".to_owned()),
        },
    })
}

fuzz_target!(|body: &[u8]| {
    if let Ok(decoded) = decode(Body::Invocation(body)) {
        for item in &decoded {
            if let Err(error) = &item.event {
                assert!(
                    !item.raw.is_empty(),
                    "an undecodable event without its text: {error}"
                );
            }
        }
    }
    let h = harness();
    // The first byte picks the door (with or without a poison output binding); the body is the rest
    // but also the whole input, so seeds that are plain invocation bodies work unchanged.
    let door = if body.first().is_some_and(|b| b & 1 == 1) {
        &h.poison
    } else {
        &h.plain
    };
    let (status, response) = h
        .runtime
        .block_on(door.invoke(&h.pipeline, "MlWorkspaceEvents", body));
    assert_eq!(
        status.as_u16(),
        200,
        "the default hooks cannot fail, so every invocation answers 200: {response:?}"
    );
    let text = serde_json::to_string(&response).expect("the answer serialises");
    let back: serde_json::Value = serde_json::from_str(&text).expect("the answer is valid JSON");
    assert!(back.get("Outputs").is_some_and(|v| v.is_object()));
    assert!(back.get("Logs").is_some_and(|v| v.is_array()));
    if door.poison_binding.is_none() {
        assert!(
            response.outputs.is_empty(),
            "no output binding configured: {response:?}"
        );
    }
});
