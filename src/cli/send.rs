//! `handler send`: posting events to a running handler as the Functions host or Event Grid would.

use super::SendAs;
use serde_json::value::RawValue;
use serde_json::Value;

/// What `handler send` did: one line per request (status and body), and whether all were 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The lines.
    pub text: String,
    /// Whether every request was answered 2xx.
    pub ok: bool,
}

/// `Metadata.sys` of every invocation built here: the trigger's method, a fixed clock and id.
const SYS: &str = r#"{"MethodName":"MlWorkspaceEvents","UtcNow":"2026-11-25T10:00:00.1234567Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}"#;

/// The body the Functions host POSTs for an Event Grid trigger named `event` (`function.json`): the
/// event under `Data`, its data again under `Metadata`, as [`invocation_text`] builds it (the one
/// builder, which tests, benchmarks, `send` and `handler invocation` use). A [`Value`] has its
/// members sorted, `data` before the type: where the member order matters, build from the text.
pub fn invocation_body(event: &Value) -> Value {
    let raw = serde_json::value::to_raw_value(event).expect("a Value is JSON");
    serde_json::from_str(&invocation_text(&raw)).expect("an invocation around JSON is JSON")
}

/// The invocation body around the event's own text, its members in the order it has them. Azure
/// sends `eventType` before `data`, and the decoder reads `data` in place only then (its one-pass
/// path); a [`Value`] would sort the members and send every event down the general path instead.
pub fn invocation_text(event: &RawValue) -> String {
    /// Only `data`, borrowed; every other member is skipped unread.
    #[derive(serde::Deserialize)]
    struct DataMember<'a> {
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
    }
    let data = serde_json::from_str::<DataMember<'_>>(event.get())
        .ok()
        .and_then(|member| member.data)
        .map_or("null", RawValue::get);
    format!(
        r#"{{"Data":{{"event":{}}},"Metadata":{{"data":{},"sys":{SYS}}}}}"#,
        compact(event.get()),
        compact(data)
    )
}

/// `json` without the white space between its tokens (it is valid JSON: a [`RawValue`]'s text),
/// members kept in their order: one line per event, as `handler invocation` promises.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// `handler invocation`: the body of each event's invocation, one compact JSON line each.
pub fn invocations(events: &[Box<RawValue>]) -> String {
    let lines: Vec<String> = events.iter().map(|e| invocation_text(e)).collect();
    lines.join("\n")
}

/// `handler send`: posts `events` to `to`.
pub async fn send(events: &[Box<RawValue>], to: &str, mode: SendAs) -> SendReport {
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
                    .body(invocation_text(event))
            })
            .collect(),
        SendAs::Webhook => vec![client
            .post(to)
            .header("Content-Type", "application/json")
            .header("aeg-event-type", "Notification")
            .body(batch_text(events))],
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

/// An Event Grid batch of `events`, each as its text.
fn batch_text(events: &[Box<RawValue>]) -> String {
    let texts: Vec<&str> = events.iter().map(|e| e.get()).collect();
    format!("[{}]", texts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn the_body_keeps_the_event_as_sent_and_means_what_the_event_means() {
        for (name, text) in crate::event::fixture_events() {
            let event = raw(&text);
            let body = invocation_text(&event);
            assert!(
                body.contains(&format!(r#"{{"event":{}}}"#, compact(event.get()))),
                "{name:?}: the event's text, as it came"
            );
            assert!(!body.contains('\n'), "{name:?}: one line");
            let value: Value = serde_json::from_str(&text).unwrap();
            let parsed: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed, invocation_body(&value), "{name:?}");
        }
    }

    #[test]
    fn compacting_drops_white_space_between_tokens_only() {
        let text = "{ \"a\" : [1, 2],\n\t\"b\\\" c\": \" x\\\\\" , \"d\": {} }";
        let compacted = compact(text);
        assert_eq!(compacted, r#"{"a":[1,2],"b\" c":" x\\","d":{}}"#);
        let before: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&compacted).unwrap(), before);
    }

    #[test]
    fn an_event_without_data_or_not_an_object_has_null_metadata_data() {
        for text in [r#"{"id":"1"}"#, "17", r#""x""#, r#"{"data":1,"data":2}"#] {
            let body: Value = serde_json::from_str(&invocation_text(&raw(text))).unwrap();
            assert_eq!(body["Metadata"]["data"], Value::Null, "{text}");
            assert_eq!(
                body["Data"]["event"],
                serde_json::from_str::<Value>(text).unwrap_or(Value::Null)
            );
        }
    }
}
