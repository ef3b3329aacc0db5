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

/// `handler check`: validates the hooks file and returns the hooks table and a summary line.
pub fn check(
    path: Option<&std::path::Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let config = crate::hooks::config::HooksConfig::load_with(
        path,
        env,
        env("AML_EVENTS_DEDUPE").as_deref(),
    )
    .map_err(|e| e.to_string())?;
    config.dispatcher().map_err(|e| e.to_string())?;
    Ok(config.check_report())
}

/// How `handler send` delivers events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAs {
    /// As the Functions host: `POST /{FunctionName}` with `{"Data": {"event": ...}}`, one per event.
    Invocation,
    /// As Event Grid: one `POST` with `aeg-event-type: Notification` and all events in an array.
    Webhook,
}

/// The events of a `send` input: a file, `-`, or `sample:NAME` (Event Grid schema unless `schema`).
pub fn send_input(input: &str, schema: Schema) -> Result<Vec<Value>, String> {
    let text = match input.strip_prefix("sample:") {
        Some(name) => sample(name, schema)?.to_owned(),
        None => read_input(input)?,
    };
    match serde_json::from_str::<Value>(&text).map_err(|e| format!("{input}: not JSON: {e}"))? {
        Value::Array(items) => Ok(items),
        single => Ok(vec![single]),
    }
}

/// `handler send --dry-run`: what every matching hook would send for each event, as pretty JSON.
pub fn dry_run(
    events: &[Value],
    config: &crate::hooks::config::HooksConfig,
) -> Result<String, String> {
    let mut out = Vec::new();
    for (i, raw) in events.iter().enumerate() {
        let event: Event<MlEvent> = Event::from_json(&raw.to_string()).map_err(|e| {
            format!(
                "event {i}: {}",
                e.within(&crate::event::JsonPath::root().index(i))
            )
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
    let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    Ok(config.secrets.redact(&text))
}

/// `handler send`: posts `events` to `to` and returns one line per request (status and body).
/// `Err` when a request failed or was not answered 2xx.
pub async fn send(events: &[Value], to: &str, mode: SendAs) -> Result<String, String> {
    let client = reqwest::Client::new();
    let mut lines = Vec::new();
    let mut ok = true;
    let requests: Vec<reqwest::RequestBuilder> = match mode {
        SendAs::Invocation => events
            .iter()
            .map(|event| {
                let body = json!({
                    "Data": {"event": event},
                    "Metadata": {"data": event.get("data").cloned().unwrap_or(Value::Null),
                                 "sys": {"MethodName": "MlWorkspaceEvents"}}
                });
                client
                    .post(to)
                    .header("Content-Type", "application/json")
                    .header(
                        "X-Azure-Functions-InvocationId",
                        format!("send-{:016x}", fastrand::u64(..)),
                    )
                    .body(body.to_string())
            })
            .collect(),
        SendAs::Webhook => vec![client
            .post(to)
            .header("Content-Type", "application/json")
            .header("aeg-event-type", "Notification")
            .body(Value::Array(events.to_vec()).to_string())],
    };
    for request in requests {
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                ok &= status.is_success();
                let body = response.text().await.unwrap_or_default();
                lines.push(format!("{} {body}", status.as_u16()));
            }
            Err(e) => {
                ok = false;
                lines.push(format!("error: {}", e.without_url()));
            }
        }
    }
    let text = lines.join("\n");
    if ok {
        Ok(text)
    } else {
        Err(text)
    }
}
