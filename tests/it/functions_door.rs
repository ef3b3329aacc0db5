//! The Functions door over real HTTP, called exactly as the Azure Functions host calls it, with the
//! app served in this process (`process` runs the built binary for what needs a process).

use crate::support::{
    chunk, chunked_head, expected_facts, fixture_events, good_fixtures, invocation,
    invocation_string_encoded, read_response, spawn_app,
};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub(crate) const FUNCTION: &str = "MlWorkspaceEvents";

/// Checks that an answer is JSON in the custom-handler shape and returns its status and body.
pub(crate) async fn json_answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/json", "every answer is JSON");
    let body: Value = response.json().await.expect("JSON body");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["Logs", "Outputs", "ReturnValue"],
        "custom-handler response shape"
    );
    (status, body)
}

/// Under the host, a hook's line reaches Application Insights once: in the answer's `Logs`, not also
/// as an info line on stdout.
#[tokio::test]
async fn a_hook_line_is_in_logs_once_and_not_on_stdout_at_info() {
    let handler = spawn_app(&[], None).await;
    let event = &fixture_events("eventgrid-model-deployed.json")[0];
    let answer = handler
        .invoke(FUNCTION, "inv-once", invocation(event).to_string())
        .await;
    let (status, body) = json_answer(answer).await;
    assert_eq!(status, 200);
    let logs = body["Logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.as_str().unwrap().starts_with("ModelDeployed:")),
        "{logs:?}"
    );
    let stdout = handler.logs().stdout();
    assert!(
        !stdout.contains("ModelDeployed:"),
        "the line is on stdout too: {stdout:?}"
    );
    handler.shutdown(Duration::from_secs(15)).await;
}

#[tokio::test]
async fn every_fixture_is_decoded_and_logged_then_shutdown_is_clean() {
    // The hooks' stdout copies of their `Logs` lines are debug under the Functions door.
    let handler = spawn_app(&[("RUST_LOG", "info,aml_events::hooks=debug")], None).await;
    let mut calls = 0;
    for name in good_fixtures() {
        let facts = expected_facts(&name);
        for event in fixture_events(&name) {
            for (form, body) in [
                ("object", invocation(&event)),
                ("string", invocation_string_encoded(&event)),
            ] {
                calls += 1;
                let invocation_id = format!("inv-{calls}");
                let answer = handler
                    .invoke(FUNCTION, &invocation_id, body.to_string())
                    .await;
                let (status, body) = json_answer(answer).await;
                assert_eq!(status, 200, "{name} ({form}): {body}");
                assert_eq!(body["Outputs"], json!({}), "{name} ({form})");
                assert_eq!(body["ReturnValue"], Value::Null);
                let logs = body["Logs"].as_array().unwrap();
                if facts.is_empty() {
                    assert!(
                        logs.is_empty(),
                        "{name} ({form}) is not an ML event: {logs:?}"
                    );
                } else {
                    assert_eq!(logs.len(), 1, "{name} ({form}): {logs:?}");
                    let line = logs[0].as_str().unwrap();
                    for fact in &facts {
                        assert!(
                            line.contains(fact),
                            "{name} ({form}): {line:?} lacks {fact:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(calls >= 50, "{calls} invocations");

    // Under the host, logs are JSON lines; a summary line carries invocation id, event id and type.
    let logs = handler.logs().clone();
    handler.shutdown(Duration::from_secs(15)).await;
    let summary_line = logs
        .json()
        .into_iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("ModelDeployed:"))
        })
        .expect("a JSON log line for a ModelDeployed event");
    let spans = summary_line["spans"].as_array().expect("span list");
    assert!(spans.iter().any(|s| s["invocation_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("inv-"))));
    assert!(spans.iter().any(|s| s["event_id"].is_string()
        && s["event_type"] == "Microsoft.MachineLearningServices.ModelDeployed"));
}

#[tokio::test]
async fn undecodable_events_are_answered_200_with_the_error_and_path() {
    let handler = spawn_app(&[], None).await;
    let ml = "Microsoft.MachineLearningServices.ModelRegistered";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not JSON",
            "{\"Data\": {\"event\": ".to_owned(),
            "not valid JSON",
        ),
        (
            "no Data",
            json!({"Metadata": {}}).to_string(),
            "missing `Data`",
        ),
        (
            "missing id",
            invocation(&json!({"eventType": ml, "data": {}})).to_string(),
            "missing `id` at $.Data.event.id",
        ),
        (
            "modelVersion as an object",
            invocation(&json!({"id": "e1", "eventType": ml, "data": {"modelVersion": {"v": 1}}}))
                .to_string(),
            "at $.Data.event.data.modelVersion",
        ),
        (
            "data null",
            invocation(&json!({"id": "e2", "eventType": ml, "data": null})).to_string(),
            "found null at $.Data.event.data",
        ),
        (
            "event string that is not JSON",
            json!({"Data": {"event": "{not json"}}).to_string(),
            "not valid JSON",
        ),
    ];
    for (case, body, want) in cases {
        let (status, answer) = json_answer(handler.invoke(FUNCTION, case, body).await).await;
        assert_eq!(
            status, 200,
            "{case}: retrying an undecodable event cannot help"
        );
        let line = answer["Logs"][0].as_str().unwrap_or_default();
        assert!(
            line.starts_with("rejected event:") && line.contains(want),
            "{case}: {line:?}"
        );
    }

    // A declared length over the 4 MiB limit is refused with 413 before the body is read.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
        .await
        .unwrap();
    let head = format!(
        "POST /{FUNCTION} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        4 * 1024 * 1024 + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(status, 413, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        answer["Logs"][0].as_str().unwrap().contains("4194304"),
        "{answer}"
    );

    // The process kept serving: a valid event is handled normally.
    let event = &fixture_events("eventgrid-model-registered.json")[0];
    let (status, answer) = json_answer(
        handler
            .invoke(FUNCTION, "after", invocation(event).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer["Logs"][0]
        .as_str()
        .unwrap()
        .starts_with("ModelRegistered:"));

    let logs = handler.logs().clone();
    handler.shutdown(Duration::from_secs(15)).await;
    let stderr = logs.stderr();
    // Rejections go to stderr (the host logs them as errors) with the raw event.
    assert!(
        stderr.contains("rejected an event that cannot be decoded"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"\"id\":\"e1\""#),
        "the raw event is in the error line: {stderr}"
    );
}

#[tokio::test]
async fn chunked_invocations_are_read_and_limited_while_streaming() {
    let handler = spawn_app(&[("AML_EVENTS_MAX_INVOCATION_BYTES", "65536")], None).await;
    let event = &fixture_events("cloudevents-run-status-changed.json")[0];
    let body = invocation(event).to_string();

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
        .await
        .unwrap();
    stream
        .write_all(chunked_head("/MlWorkspaceEvents", handler.port).as_bytes())
        .await
        .unwrap();
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(&chunk(first)).await.unwrap();
    stream.write_all(&chunk(second)).await.unwrap();
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("RunStatusChanged:"), "{answer}");

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
        .await
        .unwrap();
    stream
        .write_all(chunked_head("/MlWorkspaceEvents", handler.port).as_bytes())
        .await
        .unwrap();
    let block = vec![b' '; 16 * 1024];
    for _ in 0..5 {
        if stream.write_all(&chunk(&block)).await.is_err() {
            break;
        }
    }
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(status, 413, "{answer}");
}
