//! Arbitrary bytes as an events body (`decode(Body::Events)`, `Event::from_json`, `decode_batch`) or,
//! after `ce:`, as a CloudEvents binary-mode request (`decode(Body::Binary)`): nothing may panic, every
//! decoded event must answer its accessors and serialise to JSON that parses again, and every event
//! that fails keeps its text.
//!
//! With `AML_FUZZ_ROUNDTRIP=1` it also checks that a decoded event, written back, decodes to the same
//! event (off by default: a stricter property than "never panics").
#![no_main]

use aml_events::event::{decode, decode_batch, Body, Decoded, Event, MlEvent, Schema};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn roundtrip_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("AML_FUZZ_ROUNDTRIP").is_some_and(|v| v == "1"))
}

fn exercise(event: &Event<MlEvent>) {
    let _ = event.kind();
    let _ = event.kind().is_ml();
    let _ = event.data.tags();
    let summary = event.summary();
    assert!(!summary.is_empty());
    let _ = event.facts();
    if let Some(ws) = event.workspace() {
        let _ = ws.to_string();
    }
    let _ = event.parsed_subject();
    if let MlEvent::ModelDeployed(d) = &event.data {
        for id in d.model_ids() {
            let _ = id.to_string();
        }
    }
    let _ = aml_events::hooks::template::context(event);

    let text = serde_json::to_string(event).expect("a decoded event serialises");
    let _: serde_json::Value =
        serde_json::from_str(&text).expect("a serialised event is valid JSON");
    if roundtrip_enabled() {
        let again = Event::<MlEvent>::from_json(&text)
            .unwrap_or_else(|e| panic!("written-back event does not decode: {e}\n{text}"));
        // The writer fills in CloudEvents' required `specversion` when the event had none.
        let mut expected = event.clone();
        if expected.schema == Schema::CloudEvents && expected.spec_version.is_none() {
            expected.spec_version = Some("1.0".to_owned());
        }
        assert_eq!(again, expected, "round trip changed the event\n{text}");
    }
}

fn exercise_all(decoded: &[Decoded<'_>]) {
    for item in decoded {
        match &item.event {
            Ok(event) => exercise(event),
            Err(error) => {
                let _ = error.to_string();
                assert!(
                    !item.raw.is_empty(),
                    "an undecodable event without its text: {error}"
                );
            }
        }
    }
}

/// `ce:` then `name: value` lines up to an empty line, then the data.
fn binary(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let (head, _) = text.split_once("\n\n").unwrap_or((&text, ""));
    let data = input
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(&[][..], |at| &input[at + 2..]);
    let mut content_type = None;
    let mut attributes = Vec::new();
    for line in head.lines() {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "content-type" => content_type = Some(value.trim().to_owned()),
            _ => attributes.push((name, value.trim().to_owned())),
        }
    }
    let body = Body::Binary {
        attributes: &attributes,
        content_type: content_type.as_deref(),
        data,
    };
    if let Ok(decoded) = decode(body) {
        exercise_all(&decoded);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(rest) = data.strip_prefix(b"ce:") {
        return binary(rest);
    }
    if let Ok(decoded) = decode(Body::Events(data)) {
        exercise_all(&decoded);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(event) = Event::<MlEvent>::from_json(text) {
        exercise(&event);
    }
    if let Ok(items) = decode_batch::<MlEvent>(text) {
        for item in &items {
            match item {
                Ok(event) => exercise(event),
                Err(error) => {
                    let _ = error.to_string();
                    let _ = error.path().to_string();
                }
            }
        }
    }
});
