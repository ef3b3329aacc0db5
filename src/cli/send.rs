//! `handler send`: posting events to a running handler as the Functions host or Event Grid would.

use super::SendAs;
use serde_json::{json, Value};

/// What `handler send` did: one line per request (status and body), and whether all were 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The lines.
    pub text: String,
    /// Whether every request was answered 2xx.
    pub ok: bool,
}

/// The body the Functions host POSTs for an Event Grid trigger named `event` (`function.json`): the
/// event under `Data`, its data again under `Metadata`. Tests, benchmarks and `send` build it here.
pub fn invocation_body(event: &Value) -> Value {
    json!({
        "Data": {"event": event},
        "Metadata": {"data": event.get("data").cloned().unwrap_or(Value::Null),
                     "sys": {"MethodName": "MlWorkspaceEvents", "UtcNow": "2026-11-25T10:00:00.1234567Z",
                             "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}}
    })
}

/// `handler invocation`: the body of each event's invocation, one compact JSON line each.
pub fn invocations(events: &[Value]) -> String {
    let lines: Vec<String> = events
        .iter()
        .map(|e| invocation_body(e).to_string())
        .collect();
    lines.join("\n")
}

/// `handler send`: posts `events` to `to`.
pub async fn send(events: &[Value], to: &str, mode: SendAs) -> SendReport {
    let client = reqwest::Client::new();
    let mut lines = Vec::new();
    let mut ok = true;
    let requests: Vec<reqwest::RequestBuilder> = match mode {
        SendAs::Invocation => events
            .iter()
            .map(|event| {
                client
                    .post(to)
                    .header("Content-Type", "application/json")
                    .header(
                        "X-Azure-Functions-InvocationId",
                        format!("send-{:016x}", fastrand::u64(..)),
                    )
                    .body(invocation_body(event).to_string())
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
    SendReport {
        text: lines.join("\n"),
        ok,
    }
}
