//! The offline commands: `decode` and `sample`. Each returns its output so it can be tested.

use crate::event::{decode_batch, Event, EventKind, MlEvent, Schema};
use serde_json::{json, Value};
use std::io::Read;

/// Reads `path`, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

/// What `handler decode` shows for one event: its kind, summary, parsed helpers and the normalised
/// event (data in the service's camelCase).
pub fn describe(event: &Event<MlEvent>) -> Value {
    let mut data_view = json!({
        "kind": event.kind().short_name(),
        "summary": event.summary(),
        "workspace": event.workspace(),
        "subject": event.parsed_subject(),
    });
    if let MlEvent::ModelDeployed(d) = &event.data {
        data_view["model_ids"] = json!(d.model_ids());
    }
    data_view["event"] = json!(event);
    data_view
}

/// `handler decode`: every event of `text` described as pretty JSON (an array when the input is an
/// array). `Err` holds the output for the good events and one line per error; the exit code is then 1.
pub fn decode(text: &str) -> Result<String, (String, Vec<String>)> {
    let results =
        decode_batch::<MlEvent>(text).map_err(|e| (String::new(), vec![format!("error: {e}")]))?;
    let mut described = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(event) => described.push(describe(&event)),
            Err(e) => errors.push(format!("error: {e}")),
        }
    }
    let out = if text.trim_start().starts_with('[') {
        Value::Array(described)
    } else {
        described.pop().unwrap_or(Value::Null)
    };
    let pretty = serde_json::to_string_pretty(&out).unwrap_or_default();
    if errors.is_empty() {
        Ok(pretty)
    } else {
        Err((pretty, errors))
    }
}

/// `handler sample NAME --schema S`: the bundled sample's text.
pub fn sample(name: &str, schema: Schema) -> Result<&'static str, String> {
    let unknown = || {
        format!(
            "no sample named `{name}`; choose one of: {}",
            crate::samples::names().join(", ")
        )
    };
    let kind = EventKind::from_name(name)
        .filter(|k| k.is_ml())
        .ok_or_else(unknown)?;
    crate::samples::sample(kind, schema).ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_describes_the_sample() {
        let text = sample("model-deployed", Schema::EventGrid).unwrap();
        let out = decode(text).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["kind"], "ModelDeployed");
        assert_eq!(v[0]["model_ids"][1]["version"], "2");
        assert_eq!(v[0]["event"]["data"]["serviceName"], "my-sklearn-service");
    }

    #[test]
    fn decode_reports_errors_with_their_path() {
        let (_, errors) = decode(r#"[{"id":"1","eventType":"X"},{"eventType":"X"}]"#).unwrap_err();
        assert_eq!(errors, vec!["error: missing `id` at $[1].id".to_owned()]);
    }

    #[test]
    fn unknown_sample_names_list_the_choices() {
        let err = sample("nope", Schema::EventGrid).unwrap_err();
        assert!(err.contains("ModelRegistered"), "{err}");
    }
}
