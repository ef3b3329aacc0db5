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

/// A handler whose stdout and stderr nobody reads until [`Unread::read_all`] (or that the test
/// closes); killed if the test fails.
struct Unread {
    child: std::process::Child,
    port: u16,
}

impl Unread {
    fn start(env: &[(&str, &str)]) -> Unread {
        Self::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_handler")),
            env,
        )
    }

    /// Started only when the test closes the child's standard input (`sh` waits for that before it
    /// runs the handler), so that a test can close the pipes before the first line.
    fn start_held(env: &[(&str, &str)]) -> Unread {
        let mut sh = std::process::Command::new("sh");
        sh.args([
            "-c",
            "read -r _ || true; exec \"$0\" </dev/null",
            env!("CARGO_BIN_EXE_handler"),
        ])
        .stdin(std::process::Stdio::piped());
        Self::spawn(sh, env)
    }

    fn spawn(mut command: std::process::Command, env: &[(&str, &str)]) -> Unread {
        let port = crate::support::free_port();
        let child = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "worker-1")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn handler");
        Unread { child, port }
    }

    /// Starts reading both pipes, waits until what was read satisfies `caught_up` (at most 15 s),
    /// sends SIGTERM and returns the exit status, stdout and stderr.
    fn read_all(
        mut self,
        caught_up: impl Fn(&str, &str) -> bool,
    ) -> (std::process::ExitStatus, String, String) {
        use std::io::Read;
        use std::sync::{Arc, Mutex};
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            let text = Arc::new(Mutex::new(Vec::new()));
            let into = Arc::clone(&text);
            let thread = pipe.map(|mut pipe| {
                std::thread::spawn(move || {
                    let mut chunk = [0u8; 64 * 1024];
                    while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                        into.lock().unwrap().extend_from_slice(&chunk[..n]);
                    }
                })
            });
            (text, thread)
        };
        let stdout = drain(self.child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(self.child.stderr.take().map(|p| Box::new(p) as _));
        let read = |text: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&text.lock().unwrap()).into_owned()
        };
        // The writers resume once their pipes are read; their backlog is written before the exit,
        // whose flush waits only a second.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !caught_up(&read(&stdout.0), &read(&stderr.0)) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(killed.is_ok_and(|s| s.success()));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        for thread in [stdout.1, stderr.1].into_iter().flatten() {
            thread.join().unwrap();
        }
        (status, read(&stdout.0), read(&stderr.0))
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn unread_stdout_and_stderr_never_stop_the_invocations() {
    // A hook line at debug goes to stdout for each decodable event (6,000: more than the queue, the
    // writer's buffer and the pipe hold), an error line to stderr for each undecodable one (2,000).
    // Before the bounded wait, the invocations stopped after a few hundred.
    let handler = Unread::start(&[("RUST_LOG", "info,aml_events::hooks=debug")]);
    let base = format!("http://127.0.0.1:{}", handler.port);
    wait_until(Duration::from_secs(30), "GET / answers", || async {
        reqwest::get(&base).await.is_ok()
    })
    .await;
    let good = invocation(&fixture_events("eventgrid-model-deployed.json")[0]).to_string();
    let ml = "Microsoft.MachineLearningServices.ModelRegistered";
    let bad = invocation(&json!({"id": "e1", "eventType": ml, "data": {"modelVersion": {"v": 1}}}))
        .to_string();
    let started = std::time::Instant::now();
    for i in 0..8_000 {
        let body = if i % 4 == 3 {
            bad.clone()
        } else {
            good.clone()
        };
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            crate::support::host_request(&base, FUNCTION, &format!("inv-{i}"), body),
        )
        .await;
        let answer = answer.unwrap_or_else(|_| panic!("invocation {i} not answered within 5 s"));
        assert_eq!(answer.status(), 200, "invocation {i}");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(120),
        "8,000 invocations took {took:?}"
    );

    // Caught up: each stream's writer has taken a line again and written its drop warning.
    let warned = |text: &str| text.contains("log lines were dropped");
    let (status, stdout, stderr) = handler.read_all(|out, err| warned(out) && warned(err));
    assert!(status.success(), "exit status {status:?}");
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        let warnings: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("log lines were dropped"))
            })
            .collect();
        let lines = text.lines().count();
        assert!(
            !warnings.is_empty(),
            "a drop warning on {name} ({lines} lines)"
        );
        assert!(
            warnings
                .iter()
                .all(|w| w["level"] == "WARN" && w["dropped"].as_u64() > Some(0)),
            "{warnings:?}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn closed_stdout_and_stderr_neither_panic_nor_stop_the_server() {
    // Both read ends are dropped before the handler writes a line: every write fails with EPIPE, the
    // first one the report of the bad RUST_LOG spec on stderr.
    let mut handler = Unread::start_held(&[("RUST_LOG", "debug,x=loud")]);
    drop(handler.child.stdout.take());
    drop(handler.child.stderr.take());
    drop(handler.child.stdin.take()); // the handler starts now
    let base = format!("http://127.0.0.1:{}", handler.port);
    wait_until(Duration::from_secs(30), "GET / answers", || async {
        reqwest::get(&base).await.is_ok()
    })
    .await;
    let good = invocation(&fixture_events("eventgrid-model-deployed.json")[0]).to_string();
    let bad = invocation(&json!({"id": "e1", "eventType": "x", "data": 1})).to_string();
    for (i, body) in [good, bad].into_iter().cycle().take(20).enumerate() {
        let answer = crate::support::host_request(&base, FUNCTION, &format!("inv-{i}"), body).await;
        assert_eq!(answer.status(), 200, "invocation {i}");
    }
    let (status, _, _) = handler.read_all(|_, _| true);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn the_server_starts_with_stdout_and_stderr_closed() {
    // `>&-`: the descriptors are closed, not /dev/null.
    let port = crate::support::free_port();
    let mut child = std::process::Command::new("sh")
        .args(["-c", "exec \"$0\" >&- 2>&-", env!("CARGO_BIN_EXE_handler")])
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "worker-1")
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the handler exited at start: {status:?}");
        }
        assert!(std::time::Instant::now() < deadline, "no listener");
        std::thread::sleep(Duration::from_millis(25));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn decode_into_a_reader_that_stops_early_exits_cleanly() {
    // More than a pipe holds, so the handler is still writing when `head -c 1` closes its end.
    let event = &fixture_events("eventgrid-model-deployed.json")[0];
    let events = Value::Array(vec![event.clone(); 2_000]);
    let file = std::env::temp_dir().join(format!("aml-events-epipe-{}.json", std::process::id()));
    std::fs::write(&file, events.to_string()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .arg("decode")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_startup_error_to_a_closed_stderr_is_its_exit_code_not_a_panic() {
    let mut handler = Unread::start_held(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "http")]);
    drop(handler.child.stdout.take());
    drop(handler.child.stderr.take());
    drop(handler.child.stdin.take()); // the handler starts now
    let status = handler.child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
}

/// `handler subscription` as a user runs it: the pinned output for the shipped file, and for the
/// webhook door the key's header, never the key (nor the key given in the URL).
#[test]
fn the_subscription_command_prints_the_pinned_output_and_no_key() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("AML_EVENTS_HOOKS")
            .env("AML_EVENTS_WEBHOOK_KEY", "SECRET-KEY-1")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["subscription"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        crate::support::fixture("subscription/shipped.az.sh")
    );
    let out = run(&[
        "subscription",
        "--format",
        "arm",
        "--endpoint",
        "https://h.example/api/eventgrid?code=SECRET-KEY-1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(!text.contains("SECRET-KEY-1"), "{text}");
    let arm: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dest = &arm["resources"][0]["properties"]["destination"]["properties"];
    assert_eq!(dest["endpointUrl"], "https://h.example/api/eventgrid");
    assert_eq!(
        dest["deliveryAttributeMappings"][0]["name"],
        "x-aml-events-key"
    );
    let out = run(&["subscription", "--endpoint", "http://h.example/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("an https URL"));
}

/// `handler invocation`, which the load scripts and the profile-guided build's training run use to
/// build the host's request bodies: one line per event of the file, each the invocation that the
/// tests post (Data.event, Metadata.data), and a sample by name.
#[test]
fn the_invocation_command_prints_the_host_body_of_each_event() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .unwrap()
    };
    // Two events in one array, on standard input.
    let mut events = crate::support::fixture_events("eventgrid-dataset-drift-detected-sdk.json");
    events.extend(crate::support::fixture_events(
        "cloudevents-model-deployed.json",
    ));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["invocation", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(&events).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected: Vec<serde_json::Value> = events.iter().map(crate::support::invocation).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines, expected);

    let out = run(&[
        "invocation",
        "sample:run-completed",
        "--schema",
        "cloudevents",
    ]);
    assert!(out.status.success(), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["Data"]["event"]["specversion"], "1.0");
    assert_eq!(body["Metadata"]["data"], body["Data"]["event"]["data"]);

    let out = run(&["invocation", "tests/fixtures/no-such-file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.json"));
}
