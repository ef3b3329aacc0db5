//! Test support: the library's app served in this process ([`spawn_app`]), the built `handler`
//! binary run exactly as the Functions host runs it ([`Handler`]), fixtures, and raw-socket helpers.
#![allow(dead_code)]

pub mod app;
pub mod azure_ml;
pub mod receiver;
pub mod redis;
pub mod token_service;

// Not every test binary that includes this module uses all of them.
#[allow(unused_imports)]
pub use app::{build_app, panics_on_this_thread, spawn_app, TestApp};

use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture file as text.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Every good fixture (`*.json` directly under `tests/fixtures/`), sorted by name.
pub fn good_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The events of a fixture: the elements of an array, or the object itself.
pub fn fixture_events(name: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(&fixture(name)).unwrap() {
        Value::Array(items) => items,
        single => vec![single],
    }
}

/// The body the Functions host POSTs for an Event Grid trigger named `event` (built where
/// `handler send` builds it).
pub fn invocation(event: &Value) -> Value {
    aml_events::cli::invocation_body(event)
}

/// The same invocation with the event as a JSON-encoded string (a `dataType: string` binding).
pub fn invocation_string_encoded(event: &Value) -> Value {
    let mut body = invocation(event);
    body["Data"]["event"] = Value::String(event.to_string());
    body
}

/// A free TCP port on 127.0.0.1, as the host picks one.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs an invocation body to `{base}/{function}` with the headers the Functions host sends.
pub async fn host_request(
    base: &str,
    function: &str,
    invocation_id: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/{function}"))
        .header("Content-Type", "application/json; charset=utf-8")
        .header("X-Azure-Functions-InvocationId", invocation_id)
        .header("X-Azure-Functions-HostVersion", "4.1037.0")
        .header("User-Agent", "Azure-Functions-Host/4.1037.0")
        .body(body)
        .send()
        .await
        .expect("invocation request")
}

/// Polls `condition` every 10 ms until it holds; panics with `what` after `within`. For waiting on
/// something to happen instead of sleeping for as long as it usually takes.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A running `handler` process, for what needs one (see `process.rs`; elsewhere SIGTERM, exit codes,
/// and variables that `azure_identity` reads from the process environment itself). It gets its port
/// as from the host: picked with [`free_port`], released, then bound by the process, so another
/// process may take it in between; tests that need no process use [`spawn_app`], which keeps its
/// listener. Its stdout and stderr are drained as it runs (a full pipe would block its logging) and
/// handed over by [`Handler::wait`].
pub struct Handler {
    child: Option<Child>,
    output: Option<(
        std::thread::JoinHandle<String>,
        std::thread::JoinHandle<String>,
    )>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The port.
    pub port: u16,
}

impl Handler {
    /// Starts the binary with `FUNCTIONS_CUSTOMHANDLER_PORT` and `env`, in `dir` (the function app
    /// root), then polls `GET /` every 25 ms as the host does until it answers.
    pub async fn start_in(dir: &Path, env: &[(&str, &str)]) -> Handler {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_handler"));
        command
            .current_dir(dir)
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "worker-1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn handler");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text.push_str(&String::from_utf8_lossy(&bytes));
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let handler = Handler {
            child: Some(child),
            output: Some((stdout, stderr)),
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client.get(&handler.base).send().await.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "handler did not answer GET / within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        handler
    }

    /// Starts the binary in the repository root.
    pub async fn start(env: &[(&str, &str)]) -> Handler {
        Self::start_in(Path::new(env!("CARGO_MANIFEST_DIR")), env).await
    }

    /// POSTs an invocation body to `/{function}` with the host's headers.
    pub async fn invoke(
        &self,
        function: &str,
        invocation_id: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        host_request(&self.base, function, invocation_id, body).await
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().unwrap().id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (at most `within`) and returns its status, stdout and stderr.
    pub fn wait(mut self, within: Duration) -> (ExitStatus, String, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("handler did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = self.output.take().unwrap();
        (status, stdout.join().unwrap(), stderr.join().unwrap())
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The facts each good fixture's summary line must contain; an empty list means the event is not an
/// ML event and produces no line.
pub fn expected_facts(name: &str) -> Vec<&'static str> {
    let seed_run =
        "run AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5 of experiment automl-local-regression";
    let stem = name.trim_end_matches(".json");
    let seed = stem
        .trim_start_matches("eventgrid-")
        .trim_start_matches("cloudevents-");
    match (stem, seed) {
        (_, "model-registered") => vec![
            "ModelRegistered:",
            "model sklearn_regression_model version 20",
        ],
        (_, "model-deployed") => vec![
            "ModelDeployed:",
            "service my-sklearn-service (ACI)",
            "sklearn_regression_model:1, sklearn_regression_model:2",
        ],
        (_, "run-completed") => vec!["RunCompleted:", seed_run, "completed"],
        (_, "run-status-changed") => vec!["RunStatusChanged:", seed_run, "is now Failed"],
        (_, "dataset-drift-detected") => {
            vec![
                "DatasetDriftDetected:",
                "drift monitor myDriftMonitor",
                "coefficient 0.8350349068479208",
            ]
        }
        ("eventgrid-model-registered-live", _) => vec![
            "model ncd-sklearn-model version 1",
            "in workspace ml-prod-ws",
        ],
        ("eventgrid-model-registered-sdk", _) => vec!["model sklearn_regression_model version 3"],
        ("eventgrid-model-deployed-live", _) => {
            vec![
                "service aciservice1 (ACI)",
                "sklearn_mnist1:3, sklearn_mnist1:4",
            ]
        }
        ("eventgrid-run-completed-live", _) => vec![seed_run, "completed"],
        ("eventgrid-run-status-changed-live", _) => {
            vec!["experiment ml-pipeline-X-dev", "is now NotStarted"]
        }
        ("eventgrid-dataset-drift-detected-sdk", _) => {
            vec!["drift monitor copetersDriftMonitor3", "0.8350349068479208"]
        }
        ("eventgrid-dataset-drift-detected-null-times", _) => {
            vec!["drift monitor churn-monitor", "coefficient 0.91"]
        }
        ("cloudevents-model-registered-extensions", _) => {
            vec!["model churn-classifier version 12", "workspace ml-prod-ws"]
        }
        ("cloudevents-model-deployed-base64", _) => {
            vec![
                "service churn-endpoint (AKS)",
                "churn-classifier:12, churn-featurizer:4",
            ]
        }
        ("cloudevents-run-status-changed-live", _) => vec!["run train_churn_1733", "is now Failed"],
        ("cloudevents-run-completed-live", _) => {
            vec!["run train_churn_1734 of experiment churn-training"]
        }
        ("cloudevents-dataset-drift-detected-spec", _) => {
            vec!["drift monitor myDriftMonitor", "0.8350349068479208"]
        }
        ("cloudevents-model-registered-sdk-duplicate-source", _) => {
            vec!["model sklearn_regression_model version 3"]
        }
        ("eventgrid-run-status-changed-monitor-breach", _) => vec![
            "RunStatusChanged: model monitor signal 'data-drift-signal' breached: jensen_shannon_distance 0.31 > 0.1 on age, jensen_shannon_distance 0.27 > 0.1 on income; run c3e9a1d7-5b2f-4e8a-9c6d-1f0e2d3c4b5a of experiment credit-card-fraud-monitor is now Failed",
        ],
        ("eventgrid-run-status-changed-monitor-breach-pascal", _) => vec![
            "model monitor signal 'credit_card_fraud_monitor_data_drift' breached: two_sample_kolmogorov_smirnov_test 0.023 < 0.05 on transaction_amount; run d4f0b2e8",
        ],
        ("eventgrid-run-status-changed-monitor-unparsed", _) => {
            vec!["RunStatusChanged: model monitor signal breached; run f6b2d4a0"]
        }
        ("eventgrid-run-status-changed-monitor-huge", _) => vec![
            "model monitor signal 'wide-table-drift' breached: jensen_shannon_distance 0.5 > 0.1 on feature_0000, jensen_shannon_distance 0.50001 > 0.1 on feature_0001, jensen_shannon_distance 0.50002 > 0.1 on feature_0002 (and at least 97 more); run a7c3e5b1",
        ],
        ("cloudevents-run-completed-monitor-breach", _) => vec![
            "RunCompleted: model monitor signal 'feature-attribution-drift' breached: normalized_discounted_cumulative_gain 0.62 < 0.8 on income; run b8d4f6c2-0a7e-4d3f-9c1b-6e5d7c8b9a0f of experiment credit-card-fraud-monitor completed",
        ],
        ("eventgrid-run-completed-monitor", _) => vec![
            "RunCompleted: run e5a1c3f9-7d4b-4a0c-9e8f-3b2a4f5e6d7c of experiment credit-card-fraud-monitor completed",
        ],
        (_, "subscription-validation" | "subscription-deleted" | "other-blob-created") => vec![],
        _ => panic!("fixture {name} has no expected facts: add them to tests/support/mod.rs"),
    }
}

/// Reads one HTTP/1.1 response from `stream` (the server closes or sends `Content-Length`), returning
/// the status code and the body.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("response within 10 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let head = text[..head_end].to_ascii_lowercase();
            if let Some(len) = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            }) {
                if buf.len() >= head_end + 4 + len {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Reads from `stream` up to and including the first blank line (`\r\n\r\n`): one response head,
/// such as an interim `100 Continue`. Returns it as text.
pub async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("a response head within 10 s")
            .expect("read");
        assert!(
            n == 1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The head of a chunked POST the way .NET's HttpClient sends an `ObjectContent` of unknown length.
pub fn chunked_head(path: &str, port: u16) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nX-Azure-Functions-InvocationId: chunked-1\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
}

/// One chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
