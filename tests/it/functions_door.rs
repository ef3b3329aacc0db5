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

/// One way a hook fails permanently (a redelivery would fail the same way): a hooks.toml hook (its
/// `${env:HOOK_URL}` the receiver's `/hook`, which answers `script`) and the event that makes it fail.
pub(crate) struct PermanentCause {
    pub(crate) name: &'static str,
    pub(crate) hook: String,
    pub(crate) event: Value,
    pub(crate) script: Vec<crate::support::receiver::Behaviour>,
    /// Words of the error.
    pub(crate) expect: &'static str,
}

/// The four permanent causes of issue 12 (item 4), each for a ModelRegistered event with `model_name`.
pub(crate) fn permanent_causes(id: &str) -> Vec<PermanentCause> {
    use crate::support::receiver::Behaviour;
    let event = |model_name: &str| {
        let mut event = fixture_events("eventgrid-model-registered.json").remove(0);
        event["id"] = json!(id);
        event["data"]["ModelName"] = json!(model_name);
        event
    };
    let webhook = |extra: &str| {
        format!("[[hooks]]\nname = \"notify\"\nevents = [\"ModelRegistered\"]\naction = \"webhook\"\nurl = \"${{env:HOOK_URL}}\"\nretries = 2\n{extra}")
    };
    vec![
        PermanentCause {
            name: "a target's 404",
            expect: "404 Not Found",
            hook: webhook(""),
            event: event("m"),
            script: vec![Behaviour::status(404)],
        },
        PermanentCause {
            name: "CR/LF from event data in a header",
            expect: "HTTP does not allow",
            hook: webhook("headers = { X-Model = \"{{ model_name }}\" }\n"),
            event: event("m\r\nX-Injected: 1"),
            script: vec![],
        },
        PermanentCause {
            name: "template fuel running out",
            expect: "fuel",
            hook: "[[hooks]]\nname = \"notify\"\nevents = [\"ModelRegistered\"]\naction = \"log\"\ntemplate = \"{% for a in model_name %}{% for b in model_name %}.{% endfor %}{% endfor %}\"\n".into(),
            event: event(&"x".repeat(1000)),
            script: vec![],
        },
        PermanentCause {
            name: "a body template that does not produce JSON",
            expect: "did not produce JSON",
            hook: webhook("body = 'model: {{ model_name }}'\n"),
            event: event("m"),
            script: vec![],
        },
    ]
}

/// Each permanent failure answers 200 with the error in `Logs` and on stderr and the raw event in the
/// poison binding; a redelivery does not run the hook again (nor ask the target that refused it).
#[tokio::test]
async fn permanent_hook_failures_answer_200_with_the_event_in_the_poison_binding() {
    use crate::support::receiver::Receiver;
    for cause in permanent_causes("perm-1") {
        let receiver = Receiver::start().await;
        receiver.script("/hook", cause.script.clone());
        let hooks = format!("[settings]\npoison_binding = \"poison\"\n{}", cause.hook);
        let url = receiver.url("/hook");
        let handler = spawn_app(&[("HOOK_URL", &url)], Some(&hooks)).await;
        let body = invocation(&cause.event).to_string();
        let (status, answer) =
            json_answer(handler.invoke(FUNCTION, "inv-p", body.clone()).await).await;
        let what = cause.name;
        assert_eq!(status, 200, "{what}: {answer}");
        let logs = answer["Logs"].to_string();
        assert!(
            logs.contains("hook notify failed permanently for event perm-1")
                && logs.contains(cause.expect),
            "{what}: {logs}"
        );
        let poison = &answer["Outputs"]["poison"];
        assert_eq!(poison["hook"], "notify", "{what}: {answer}");
        assert_eq!(poison["function"], FUNCTION, "{what}");
        let kept: Value = serde_json::from_str(poison["event"].as_str().unwrap()).unwrap();
        assert_eq!(kept, cause.event, "{what}: the raw event is kept whole");
        assert!(
            handler.logs().stderr().contains("failed permanently"),
            "{what}: {}",
            handler.logs().stderr()
        );
        let asked = receiver.requests("/hook").len();
        assert!(
            asked <= 1,
            "{what}: a 4xx is not retried ({asked} requests)"
        );
        let (status, _) = json_answer(handler.invoke(FUNCTION, "inv-p2", body).await).await;
        assert_eq!(status, 200, "{what}: the redelivery");
        assert_eq!(
            receiver.requests("/hook").len(),
            asked,
            "{what}: not sent again"
        );
    }
}

/// `on_permanent_failure = "retry"` keeps the answer of every failure: 500, so Event Grid redelivers.
#[tokio::test]
async fn on_permanent_failure_retry_answers_500() {
    use crate::support::receiver::Receiver;
    for cause in permanent_causes("perm-2") {
        let receiver = Receiver::start().await;
        receiver.script("/hook", cause.script.clone());
        let hooks = format!(
            "[settings]\npoison_binding = \"poison\"\n{}on_permanent_failure = \"retry\"\n",
            cause.hook
        );
        let url = receiver.url("/hook");
        let handler = spawn_app(&[("HOOK_URL", &url)], Some(&hooks)).await;
        let body = invocation(&cause.event).to_string();
        let response = handler.invoke(FUNCTION, "inv-r", body).await;
        let (status, answer) = json_answer(response).await;
        assert_eq!(status, 500, "{}: {answer}", cause.name);
        assert!(answer["Outputs"].get("poison").is_none(), "{answer}");
    }
}

/// A retryable failure still fails the invocation, even beside a permanent one.
#[tokio::test]
async fn a_retryable_failure_beside_a_permanent_one_answers_500() {
    use crate::support::receiver::{Behaviour, Receiver};
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Behaviour::status(404)]);
    receiver.script("/down", vec![Behaviour::status(503)]);
    let hooks = "[[hooks]]\nname = \"refused\"\naction = \"webhook\"\nurl = \"${env:HOOK_URL}\"\nretries = 0\n\n[[hooks]]\nname = \"busy\"\naction = \"webhook\"\nurl = \"${env:DOWN_URL}\"\nretries = 0\n";
    let (url, down) = (receiver.url("/hook"), receiver.url("/down"));
    let handler = spawn_app(&[("HOOK_URL", &url), ("DOWN_URL", &down)], Some(hooks)).await;
    let event = &fixture_events("eventgrid-model-registered.json")[0];
    let response = handler
        .invoke(FUNCTION, "inv-m", invocation(event).to_string())
        .await;
    let (status, answer) = json_answer(response).await;
    assert_eq!(status, 500, "{answer}");
    let logs = answer["Logs"].to_string();
    assert!(logs.contains("hook refused failed permanently"), "{logs}");
    assert!(logs.contains("hook busy failed for event"), "{logs}");
}
