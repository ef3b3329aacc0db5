//! Hostile and malformed input through both doors of the app served in this process: every case gets the answer of
//! the answers table with an error that names the problem (and its path when there is one), and the
//! process keeps serving.

use crate::support::{fixture_events, invocation, panics_on_this_thread, spawn_app};
use serde_json::{json, Value};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// (file under tests/fixtures/bad, webhook status, text the error must contain; `a|b` for either). The
/// Functions door
/// answers 200 for every undecodable event (a retry cannot help) with the error in `Logs`.
const CASES: &[(&str, u16, &str)] = &[
    ("empty.txt", 400, "empty"),
    ("whitespace.txt", 400, "empty"),
    ("truncated.json", 400, "not valid JSON"),
    ("non-utf8.bin", 400, "UTF-8"),
    ("bom-prefixed.json", 400, "not valid JSON"),
    ("number-1e400.json", 400, "number out of range"),
    (
        "model-version-object.json",
        400,
        "expected a string or an integer at $[0].data.modelVersion",
    ),
    (
        "model-version-fraction.json",
        400,
        "expected a string or an integer at $[0].data.modelVersion",
    ),
    (
        "data-null.json",
        400,
        "must be an object, found null at $[0].data",
    ),
    (
        "data-array.json",
        400,
        "must be an object, found an array at $[0].data",
    ),
    (
        "data-string.json",
        400,
        "must be an object, found a string at $[0].data",
    ),
    (
        "data-missing.json",
        400,
        "must be an object, found nothing at $[0].data",
    ),
    ("data-base64-invalid.json", 400, "not valid base64"),
    ("data-base64-not-json.json", 400, "need JSON data"),
    ("data-and-data-base64.json", 400, "mutually exclusive"),
    ("id-missing.json", 400, "missing `id` at $[0].id"),
    ("id-empty.json", 400, "`id` is empty at $[0].id"),
    ("id-null.json", 400, "missing `id` at $[0].id"),
    (
        "id-number.json",
        400,
        "`id` must be a string, found a number at $[0].id",
    ),
    (
        "event-type-number.json",
        400,
        "`eventType` must be a string",
    ),
    ("event-type-missing.json", 400, "missing `eventType`"),
    (
        "event-time-garbage.json",
        400,
        "`yesterday` is not an RFC 3339 date-time at $[0].eventTime",
    ),
    ("subject-number.json", 400, "`subject` must be a string"),
    (
        "specversion-number.json",
        400,
        "`specversion` must be a string",
    ),
    (
        "tags-string.json",
        400,
        "expected a JSON object at $[0].data.modelTags",
    ),
    (
        "drift-coefficient-text.json",
        400,
        "expected a number at $[0].data.driftCoefficient",
    ),
    (
        "drift-coefficient-nan.json",
        400,
        "expected a number at $[0].data.driftCoefficient",
    ),
    ("run-status-number.json", 400, "at $[0].data.runStatus"),
    ("model-ids-number.json", 400, "at $[0].data.modelIds"),
    ("start-time-garbage.json", 400, "at $[0].data.startTime"),
    ("lone-surrogate.json", 400, "escape"),
    ("top-level-number.json", 400, "found a number"),
    (
        "top-level-string.json",
        400,
        "found a JSON string|not valid JSON",
    ),
    ("top-level-null.json", 400, "found null"),
    ("array-of-numbers.json", 400, "expected an event object"),
    ("trailing-garbage.json", 400, "not valid JSON"),
    ("duplicate-keys.json", 400, "duplicate field `modelName`"),
    ("template-injection.json", 200, ""),
    ("nul-and-controls.json", 200, ""),
];

fn bad(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bad")
            .join(name),
    )
    .unwrap()
}

/// The invocation the host would send for these event bytes: the JSON text when it is an object or
/// an array, otherwise the text as a JSON string; bytes that are not UTF-8 (or nothing) as the body.
fn invocation_body(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    if text.trim().is_empty() {
        return bytes.to_vec();
    }
    match serde_json::from_str::<Value>(text) {
        // Embedded byte for byte, so duplicate keys and odd escapes reach the handler as sent.
        Ok(Value::Object(_) | Value::Array(_)) => {
            format!(r#"{{"Data":{{"event":{text}}},"Metadata":{{}}}}"#).into_bytes()
        }
        _ => json!({"Data": {"event": text}}).to_string().into_bytes(),
    }
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const NOTIFY: [(&str, &str); 2] = [
    ("aeg-event-type", "Notification"),
    ("content-type", "application/json"),
];

#[tokio::test]
async fn every_bad_input_gets_its_answer_and_the_handler_keeps_serving() {
    let handler = spawn_app(&[], None).await;
    let panics_before = panics_on_this_thread();
    let invoke_url = format!("{}/MlWorkspaceEvents", handler.base);
    let webhook_url = format!("{}/api/eventgrid", handler.base);
    assert!(CASES.len() >= 39);
    for (name, webhook_status, want) in CASES {
        let bytes = bad(name);

        let (status, answer) = post(
            &invoke_url,
            &[("content-type", "application/json")],
            invocation_body(&bytes),
        )
        .await;
        assert_eq!(status, 200, "functions door, {name}: {answer}");
        let logs = answer["Logs"].to_string();
        if *webhook_status == 200 {
            assert!(!logs.contains("rejected"), "functions door, {name}: {logs}");
        } else {
            // The same error, with the path seen from the invocation's root.
            let want_here = want.replace("at $[", "at $.Data.event[");
            assert!(
                logs.contains("rejected event") && want_here.split('|').any(|w| logs.contains(w)),
                "functions door, {name}: {logs}"
            );
        }

        let (status, answer) = post(&webhook_url, &NOTIFY, bytes).await;
        assert_eq!(status, *webhook_status, "webhook door, {name}: {answer}");
        if status != 200 {
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                want.split('|').any(|w| message.contains(w)),
                "webhook door, {name}: {message}"
            );
        }
    }

    // Template syntax inside event values is printed, never evaluated.
    let injected = serde_json::from_slice::<Value>(&bad("template-injection.json")).unwrap();
    let (_, answer) = post(
        &invoke_url,
        &[],
        invocation(&injected).to_string().into_bytes(),
    )
    .await;
    assert!(answer["Logs"][0]
        .as_str()
        .unwrap()
        .contains("model {{ 7 * 7 }}{% for i in range(99999999) %}x{% endfor %}"));

    // 10,000 levels of nesting: refused (by the recursion limit, or as not an event), no stack overflow.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, answer) = post(&webhook_url, &NOTIFY, deep.clone().into_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"].as_str().is_some_and(
            |m| m.contains("recursion limit") || m.contains("expected an event object")
        ),
        "{answer}"
    );
    let (status, answer) = post(
        &invoke_url,
        &[],
        json!({"Data": {"event": deep}}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        {
            let logs = answer["Logs"].to_string();
            logs.contains("recursion limit") || logs.contains("expected an event object")
        },
        "{answer}"
    );

    // Invocation-only cases: no `Data`, an event string that is not JSON.
    let (status, answer) = post(&invoke_url, &[], br#"{"Metadata": {}}"#.to_vec()).await;
    assert_eq!(status, 200);
    assert!(answer["Logs"].to_string().contains("missing `Data`"));
    let (status, answer) = post(
        &invoke_url,
        &[],
        br#"{"Data": {"event": "{not json"}}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer["Logs"].to_string().contains("not valid JSON"));

    // A wrong content type on the webhook.
    let valid = fixture_events("eventgrid-model-registered.json");
    let (status, _) = post(
        &webhook_url,
        &[
            ("aeg-event-type", "Notification"),
            ("content-type", "text/xml"),
        ],
        Value::Array(valid.clone()).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 415);

    // A batch of 6,000 events.
    let batch: Vec<Value> = (0..6000)
        .map(|i| json!({"id": format!("b{i}"), "eventType": "Microsoft.MachineLearningServices.ModelRegistered", "data": {"modelName": "m"}}))
        .collect();
    let (status, answer) = post(
        &webhook_url,
        &NOTIFY,
        Value::Array(batch.clone()).to_string().into_bytes(),
    )
    .await;
    assert_eq!((status, &answer["events"]), (200, &json!(6000)), "{answer}");
    let (status, answer) = post(
        &invoke_url,
        &[],
        json!({"Data": {"event": batch}}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["Logs"].as_array().unwrap().len(), 6000);

    // A 100 MB body is refused by its declared length before it is read.
    for path in ["/MlWorkspaceEvents", "/api/eventgrid"] {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
            .await
            .unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\naeg-event-type: Notification\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n[");
        stream.write_all(head.as_bytes()).await.unwrap();
        let (status, _) = crate::support::read_response(&mut stream).await;
        assert_eq!(status, 413, "{path}");
    }

    // Still serving, normally.
    let (status, answer) = post(
        &invoke_url,
        &[],
        invocation(&valid[0]).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer["Logs"][0]
        .as_str()
        .unwrap()
        .starts_with("ModelRegistered:"));
    let (status, _) = post(
        &webhook_url,
        &NOTIFY,
        Value::Array(valid).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);

    let logs = handler.logs().clone();
    handler.shutdown(std::time::Duration::from_secs(15)).await;
    // One error line per rejected invocation event; nothing the app ran (on this test's thread)
    // panicked.
    assert_eq!(panics_on_this_thread(), panics_before, "the app panicked");
    let stderr = logs.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rejections = stderr
        .matches("rejected an event that cannot be decoded")
        .count();
    assert!(
        rejections >= CASES.len() - 2,
        "{rejections} rejection lines"
    );
}
