//! What needs the built `handler` binary, started exactly as the Azure Functions host starts it: the
//! host's readiness poll, SIGTERM with an invocation in flight, startup refusals (exit code and
//! message), and the host's view of the output (JSON lines on stdout, errors on stderr).

use crate::functions_door::{json_answer, FUNCTION};
use crate::support::{
    chunk, chunked_head, fixture_events, invocation, read_head, read_response, wait_until, Handler,
};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn the_built_binary_answers_the_host_readiness_poll() {
    // `Handler::start` polls `GET /` every 25 ms, as the host does, until it answers.
    let handler = Handler::start(&[]).await;
    let response = reqwest::get(&handler.base).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    handler.terminate();
    let (status, _, _) = handler.wait(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn under_the_host_logs_are_json_lines_on_stdout_and_errors_on_stderr() {
    // The hooks' stdout copies of their `Logs` lines are debug under the Functions door.
    let handler = Handler::start(&[("RUST_LOG", "info,aml_events::hooks=debug")]).await;
    let event = &fixture_events("eventgrid-model-deployed.json")[0];
    let (status, _) = json_answer(
        handler
            .invoke(FUNCTION, "inv-1", invocation(event).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let ml = "Microsoft.MachineLearningServices.ModelRegistered";
    let undecodable =
        invocation(&json!({"id": "e1", "eventType": ml, "data": {"modelVersion": {"v": 1}}}));
    let (status, _) = json_answer(
        handler
            .invoke(FUNCTION, "inv-2", undecodable.to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200);

    handler.terminate();
    let (status, stdout, stderr) = handler.wait(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
    // A summary line carries invocation id, event id and type.
    let summary_line = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("ModelDeployed:"))
        })
        .expect("a JSON log line for a ModelDeployed event");
    let spans = summary_line["spans"].as_array().expect("span list");
    assert!(spans.iter().any(|s| s["invocation_id"] == "inv-1"));
    assert!(spans.iter().any(|s| s["event_id"].is_string()
        && s["event_type"] == "Microsoft.MachineLearningServices.ModelDeployed"));
    // Rejections go to stderr (the host logs them as errors) with the raw event.
    assert!(
        stderr.contains("rejected an event that cannot be decoded"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"\"id\":\"e1\""#),
        "the raw event is in the error line: {stderr}"
    );
    assert!(
        !stdout.contains("rejected an event that cannot be decoded"),
        "errors are not on stdout: {stdout}"
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_invocation_finish() {
    let handler = Handler::start(&[]).await;
    let event = &fixture_events("eventgrid-model-deployed.json")[0];
    let body = invocation(event).to_string();
    let (first, second) = body.as_bytes().split_at(body.len() / 2);

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
        .await
        .unwrap();
    // `Expect: 100-continue`: the `100 Continue` says the handler has the request and is reading its
    // body, so SIGTERM below finds it in flight (not waiting in the accept queue).
    let head = chunked_head("/MlWorkspaceEvents", handler.port).replace(
        "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n",
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let interim = read_head(&mut stream).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    stream.write_all(&chunk(first)).await.unwrap();

    handler.terminate();
    // New connections are refused while the in-flight one is still served.
    wait_until(Duration::from_secs(10), "the listener closes", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
            .await
            .is_err()
    })
    .await;

    stream.write_all(&chunk(second)).await.unwrap();
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("ModelDeployed:"), "{answer}");
    drop(stream);

    let (status, _, _) = handler.wait(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_non_numeric_port_is_a_clear_startup_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "http")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FUNCTIONS_CUSTOMHANDLER_PORT=\"http\" is not valid"),
        "{stderr}"
    );
}

#[test]
fn an_exposed_unprotected_door_is_refused_at_startup() {
    // Reachable from other hosts without a key: refused at startup.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env(
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            crate::support::free_port().to_string(),
        )
        .env("AML_EVENTS_BIND_ADDRESS", "0.0.0.0")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unprotected"));
}
