//! The commands that need no server: `check`, `decode`, `sample`, and `send`'s input and dry run.

use super::CliError;
use crate::app::{load_hooks, App};
use crate::event::{DecodeError, EventKind, JsonPath, MlEvent, Schema};
use crate::hooks::config::HooksConfig;
use crate::pipeline::{decode as decode_body, Body};
use crate::settings::Settings;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::io::Read;

/// Reads `path`, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|source| CliError::Read {
        what: if path == "-" {
            "standard input".to_owned()
        } else {
            path.to_owned()
        },
        source,
    })?;
    Ok(text)
}

/// What `handler decode` shows for one event: its kind, summary, parsed helpers (a model monitor
/// breach among them) and the normalised event (data in the service's camelCase).
pub fn describe(event: &crate::event::Event<MlEvent>) -> Value {
    let mut data_view = json!({
        "kind": event.kind().short_name(),
        "summary": event.summary(),
        "workspace": event.workspace(),
        "subject": event.parsed_subject(),
    });
    if let MlEvent::ModelDeployed(d) = &event.data {
        data_view["model_ids"] = json!(d.model_ids());
    }
    if let Some(breach) = event.data.monitor() {
        data_view["monitor"] = json!(breach);
    }
    data_view["event"] = json!(event);
    data_view
}

/// Events `handler decode` could not decode, beside the output for those it could; the exit code
/// is then 1.
#[derive(Debug, thiserror::Error)]
#[error("{} of the events cannot be decoded", errors.len())]
pub struct PartlyDecoded {
    /// The good events described, as `Ok` would have had them (`null` or `[]` when none).
    pub output: String,
    /// What is wrong with each of the others, and where.
    pub errors: Vec<DecodeError>,
}

/// `handler decode`: every event of `text` described as pretty JSON (an array when the input is an
/// array).
pub fn decode(text: &str) -> Result<String, PartlyDecoded> {
    let results = decode_body(Body::Events(text.as_bytes())).map_err(|e| PartlyDecoded {
        output: String::new(),
        errors: vec![e.error],
    })?;
    let mut described = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result.event {
            Ok(event) => described.push(describe(&event)),
            Err(e) => errors.push(e),
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
        Err(PartlyDecoded {
            output: pretty,
            errors,
        })
    }
}

/// `handler sample NAME --schema S`: the bundled sample's text.
pub fn sample(name: &str, schema: Schema) -> Result<&'static str, CliError> {
    let unknown = || CliError::UnknownSample {
        name: name.to_owned(),
        choices: crate::samples::names().join(", "),
    };
    let kind = EventKind::from_name(name)
        .filter(|k| k.is_ml())
        .ok_or_else(unknown)?;
    crate::samples::sample(kind, schema).ok_or_else(unknown)
}

/// `handler check`: validates the hooks file (and builds the application from it, as `serve`
/// would) and returns the hooks table and a summary line.
pub fn check(settings: &Settings) -> Result<String, CliError> {
    let config = load_hooks(settings)?;
    App::builder(settings.clone())
        .hooks_config(config.clone())
        .build()?;
    Ok(config.check_report())
}

/// The events of a `send` input: a file, `-`, or `sample:NAME` (Event Grid schema unless `schema`),
/// each as its text, members in the order the input has them (what is posted is what was given).
pub fn send_input(input: &str, schema: Schema) -> Result<Vec<Box<RawValue>>, CliError> {
    let text = match input.strip_prefix("sample:") {
        Some(name) => sample(name, schema)?.to_owned(),
        None => read_input(input)?,
    };
    let not_json = |source| CliError::NotJson {
        input: input.to_owned(),
        source,
    };
    if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Box<RawValue>>>(&text).map_err(not_json)
    } else {
        serde_json::from_str::<Box<RawValue>>(&text)
            .map(|event| vec![event])
            .map_err(not_json)
    }
}

/// `handler send --dry-run`: what every matching hook would send for each event, as pretty JSON.
pub fn dry_run<E: serde::Serialize>(
    events: &[E],
    config: &HooksConfig,
) -> Result<String, CliError> {
    let mut out = Vec::new();
    for (index, raw) in events.iter().enumerate() {
        let text = serde_json::to_string(raw)?;
        let event = decode_body(Body::Events(text.as_bytes()))
            .map_err(|e| e.error)
            .and_then(|mut events| match events.pop() {
                Some(decoded) => decoded.event,
                None => Err(crate::event::DecodeError::new(JsonPath::root(), "no event")),
            })
            .map_err(|e| CliError::Event {
                index,
                error: e.within(&JsonPath::root().index(index)),
            })?;
        let mut hooks = Vec::new();
        for hook in config
            .hooks
            .iter()
            .filter(|h| crate::hooks::Hook::matches(*h, &event))
        {
            match hook.prepare(&event) {
                Ok((preview, _)) => hooks.push(json!(preview)),
                Err(e) => hooks.push(json!({"hook": hook.name, "error": e.message})),
            }
        }
        out.push(json!({"event": event.id, "kind": event.kind().short_name(), "hooks": hooks}));
    }
    let text = serde_json::to_string_pretty(&out)?;
    Ok(config.secrets.redact(&text))
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
    fn decode_shows_a_model_monitor_breach() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eventgrid-run-status-changed-monitor-breach.json"
        );
        let out = decode(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["monitor"]["signal"], "data-drift-signal");
        assert_eq!(v[0]["monitor"]["features"][0]["feature"], "age");
    }

    #[test]
    fn decode_reports_errors_with_their_path() {
        let failed = decode(r#"[{"id":"1","eventType":"X"},{"eventType":"X"}]"#).unwrap_err();
        let errors: Vec<String> = failed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, ["missing `id` at $[1].id"]);
    }

    #[test]
    fn unknown_sample_names_list_the_choices() {
        let err = sample("nope", Schema::EventGrid).unwrap_err().to_string();
        assert!(err.contains("ModelRegistered"), "{err}");
    }
}
