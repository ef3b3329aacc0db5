//! Hooks end to end: the app served in process (the built handler where a test needs the process:
//! its CLI, SIGTERM and exit codes), a hooks.toml, and a real HTTP receiver on 127.0.0.1 for the
//! exact messages; retries, backoff, `Retry-After` and the deadline in process, through the same
//! configuration and dispatcher with an in-process transport under paused time (no socket, no waiting).

use crate::support::receiver;

use crate::support::{fixture_events, free_port, invocation, spawn_app, Handler};
use receiver::{Behaviour, Receiver};
use serde_json::{json, Value};
use std::time::Duration;

const FUNCTION: &str = "MlWorkspaceEvents";

fn event(fixture: &str) -> Value {
    fixture_events(fixture).remove(0)
}

fn with_id(mut event: Value, id: &str) -> Value {
    event["id"] = Value::String(id.to_owned());
    event
}

/// POSTs `event`'s invocation to the app or process at `base`.
async fn invoke(base: &str, event: &Value) -> (u16, Value) {
    let response =
        crate::support::host_request(base, FUNCTION, "inv", invocation(event).to_string()).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn teams_slack_webhook_and_output_hooks_send_exactly_these_messages() {
    let receiver = Receiver::start().await;
    let hooks = r#"
[[hooks]]
name = "deploy-notice"
events = ["ModelDeployed"]
action = "teams"
url = "${env:TEAMS_WEBHOOK_URL}"
template = "Deployed {{ model_ids | join(', ') }} to {{ service_name }} ({{ compute_type }})"
[hooks.when]
subject = "endpoints/*"
tags = { type = "regression" }

[[hooks]]
name = "failed-runs"
events = ["RunStatusChanged"]
action = "slack"
url = "${env:SLACK_WEBHOOK_URL}"
template = "Run {{ run_id }} of {{ experiment_name }} is {{ run_status }} <@here>"
[hooks.when]
run_status = ["Failed", "Canceled"]

[[hooks]]
name = "github-dispatch"
events = ["ModelRegistered"]
action = "webhook"
url = "${env:GITHUB_DISPATCH_URL}"
headers = { Authorization = "Bearer ${env:GITHUB_TOKEN}", Accept = "application/vnd.github+json" }
body = '{"event_type": "model-registered", "client_payload": {"model": {{ model_name }}, "version": {{ model_version }}, "workspace": {{ workspace }}}}'

[[hooks]]
name = "retrain-queue"
events = ["DatasetDriftDetected"]
action = "output"
binding = "retrain"
template = "{{ data_drift_name }} drifted by {{ drift_coefficient }}"
[hooks.when]
drift_above = 0.7
"#;
    let handler = spawn_app(
        &[
            ("TEAMS_WEBHOOK_URL", &receiver.url("/teams/TEAMS-SECRET")),
            ("SLACK_WEBHOOK_URL", &receiver.url("/slack/SLACK-SECRET")),
            (
                "GITHUB_DISPATCH_URL",
                &receiver.url("/repos/contoso/churn/dispatches"),
            ),
            ("GITHUB_TOKEN", "ghp_TESTTOKEN"),
        ],
        Some(hooks),
    )
    .await;

    // The docs' samples name their workspace with placeholders, which the studio links encode.
    let wsid = "wsid=/subscriptions/%7Bsubscription-id%7D/resourceGroups/%7Bresource-group-name%7D/providers/Microsoft.MachineLearningServices/workspaces/%7Bworkspace-name%7D";
    // Teams: an Adaptive Card with the template as text, the facts as a fact set and a button to the
    // endpoint in Azure ML studio.
    let (status, answer) = invoke(&handler.base, &event("eventgrid-model-deployed.json")).await;
    assert_eq!(status, 200, "{answer}");
    let teams = receiver.delivered("/teams/TEAMS-SECRET");
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].headers["content-type"], "application/json");
    assert_eq!(
        teams[0].json,
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "Deployed sklearn_regression_model:1, sklearn_regression_model:2 to my-sklearn-service (ACI)", "wrap": true, "weight": "Bolder", "size": "Medium"},
                        {"type": "FactSet", "facts": [
                            {"title": "Service", "value": "my-sklearn-service"},
                            {"title": "Compute", "value": "ACI"},
                            {"title": "Models", "value": "sklearn_regression_model:1, sklearn_regression_model:2"},
                            {"title": "Workspace", "value": "{workspace-name}"}
                        ]}
                    ],
                    "actions": [{
                        "type": "Action.OpenUrl",
                        "title": "Open endpoint in Azure ML studio",
                        "url": format!("https://ml.azure.com/endpoints/realtime/my-sklearn-service/detail?{wsid}")
                    }]
                }
            }]
        })
    );
    let log = answer["Logs"][0].as_str().unwrap();
    assert!(
        log.contains("hook deploy-notice: Teams message delivered to http://127.0.0.1:"),
        "{log}"
    );
    assert!(!log.contains("TEAMS-SECRET"), "{log}");

    // Slack: text plus blocks with the facts and a link to the run in studio; mrkdwn control
    // characters escaped.
    let (status, _) = invoke(&handler.base, &event("cloudevents-run-status-changed.json")).await;
    assert_eq!(status, 200);
    let slack = receiver.delivered("/slack/SLACK-SECRET");
    assert_eq!(slack.len(), 1);
    let text = "Run AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5 of automl-local-regression is Failed &lt;@here&gt;";
    assert_eq!(
        slack[0].json,
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Run*\nAutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5"},
                    {"type": "mrkdwn", "text": "*Experiment*\nautoml-local-regression"},
                    {"type": "mrkdwn", "text": "*Status*\nFailed"},
                    {"type": "mrkdwn", "text": "*Workspace*\n{workspace-name}"}
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<https://ml.azure.com/runs/AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5?{wsid}|Open run in Azure ML studio>")}]}
            ]
        })
    );
    // A run that is merely running does not alert.
    let (status, _) = invoke(
        &handler.base,
        &event("eventgrid-run-status-changed-live.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(receiver.requests("/slack/SLACK-SECRET").len(), 1);

    // GitHub repository_dispatch: templated JSON body and headers.
    let (status, _) = invoke(
        &handler.base,
        &event("eventgrid-model-registered-live.json"),
    )
    .await;
    assert_eq!(status, 200);
    let dispatch = receiver.delivered("/repos/contoso/churn/dispatches");
    assert_eq!(dispatch.len(), 1);
    assert_eq!(dispatch[0].method, "POST");
    assert_eq!(dispatch[0].headers["authorization"], "Bearer ghp_TESTTOKEN");
    assert_eq!(dispatch[0].headers["accept"], "application/vnd.github+json");
    assert_eq!(
        dispatch[0].json,
        json!({"event_type": "model-registered", "client_payload": {"model": "ncd-sklearn-model", "version": "1", "workspace": "ml-prod-ws"}})
    );

    // Output binding: part of the invocation's answer.
    let (status, answer) = invoke(
        &handler.base,
        &event("eventgrid-dataset-drift-detected.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["Outputs"],
        json!({"retrain": "myDriftMonitor drifted by 0.8350349068479208"})
    );
    let (status, answer) = invoke(
        &handler.base,
        &event("eventgrid-dataset-drift-detected-null-times.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["Outputs"]["retrain"],
        "churn-monitor drifted by 0.91"
    );
}

fn webhook_hook(name: &str, path_env: &str, retries: u32, timeout_ms: u64) -> String {
    format!(
        "[[hooks]]\nname = \"{name}\"\nevents = [\"ModelDeployed\"]\naction = \"webhook\"\nurl = \"${{env:{path_env}}}\"\nretries = {retries}\ntimeout_ms = {timeout_ms}\n"
    )
}

/// A 4xx (other than 408 and 429) is permanent: not retried, and answered 200 so that Event Grid does
/// not redeliver it for 24 hours; `on_permanent_failure = "retry"` keeps the 500.
#[tokio::test]
async fn a_4xx_is_not_retried_and_answers_200_unless_the_hook_opts_to_retry() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Behaviour::status(400)]);
    let handler = spawn_app(
        &[("HOOK_URL", &receiver.url("/hook"))],
        Some(&webhook_hook("n", "HOOK_URL", 3, 2000)),
    )
    .await;
    let (status, answer) = invoke(&handler.base, &event("eventgrid-model-deployed.json")).await;
    assert_eq!(
        status, 200,
        "a retry would be refused the same way: Event Grid must not redeliver"
    );
    assert_eq!(receiver.requests("/hook").len(), 1);
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains("400 Bad Request") && logs.contains("not retried"),
        "{logs}"
    );
    assert!(logs.contains("failed permanently"), "{logs}");
    drop(handler);

    receiver.script("/retry", vec![Behaviour::status(400)]);
    let hooks = format!(
        "{}on_permanent_failure = \"retry\"\n",
        webhook_hook("n", "HOOK_URL", 3, 2000)
    );
    let handler = spawn_app(&[("HOOK_URL", &receiver.url("/retry"))], Some(&hooks)).await;
    let (status, answer) = invoke(&handler.base, &event("eventgrid-model-deployed.json")).await;
    assert_eq!(
        status, 500,
        "the host fails the invocation so Event Grid redelivers"
    );
    assert_eq!(receiver.requests("/retry").len(), 1);
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains("400 Bad Request") && logs.contains("not retried"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_target_that_is_down_fails_fast_with_a_clear_error() {
    let down = format!("http://127.0.0.1:{}/hook", free_port());
    // No retry here, so no real-time backoff: retrying a refused connection is tested in process.
    let hooks = webhook_hook("n", "HOOK_URL", 0, 1000);
    let handler = spawn_app(&[("HOOK_URL", &down)], Some(&hooks)).await;
    let (status, answer) = invoke(&handler.base, &event("eventgrid-model-deployed.json")).await;
    assert_eq!(status, 500);
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains("could not connect") && logs.contains("retries exhausted"),
        "{logs}"
    );
    assert!(!logs.contains("/hook"), "the URL is a secret: {logs}");
}

#[tokio::test]
async fn redelivery_after_a_partial_failure_notifies_each_target_exactly_once() {
    let receiver = Receiver::start().await;
    receiver.script("/b", vec![Behaviour::status(502)]);
    let hooks = format!(
        "{}{}",
        webhook_hook("a", "A_URL", 0, 2000),
        webhook_hook("b", "B_URL", 0, 2000)
    );
    let handler = spawn_app(
        &[
            ("A_URL", &receiver.url("/a")),
            ("B_URL", &receiver.url("/b")),
        ],
        Some(&hooks),
    )
    .await;
    let deployed = event("eventgrid-model-deployed.json");

    let (status, _) = invoke(&handler.base, &deployed).await;
    assert_eq!(status, 500, "hook b failed: Event Grid must redeliver");
    let (status, answer) = invoke(&handler.base, &deployed).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["Logs"].to_string().contains("hook a: already done"),
        "{answer}"
    );
    let (status, _) = invoke(&handler.base, &deployed).await;
    assert_eq!(status, 200);

    assert_eq!(receiver.delivered("/a").len(), 1);
    assert_eq!(receiver.delivered("/b").len(), 1);
    assert_eq!(receiver.requests("/b").len(), 2);

    // Dedupe is per event id: another event with the same content is another notification.
    let (status, _) = invoke(&handler.base, &with_id(deployed, "another-event-id")).await;
    assert_eq!(status, 200);
    assert_eq!(receiver.delivered("/a").len(), 2);
    assert_eq!(receiver.delivered("/b").len(), 2);
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_notify_once() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Behaviour::slow(Duration::from_millis(500))]);
    let handler = spawn_app(
        &[("HOOK_URL", &receiver.url("/hook"))],
        Some(&webhook_hook("n", "HOOK_URL", 0, 2000)),
    )
    .await;
    let deployed = event("eventgrid-model-deployed.json");
    let (first, second) = tokio::join!(
        invoke(&handler.base, &deployed),
        invoke(&handler.base, &deployed)
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    assert_eq!(receiver.requests("/hook").len(), 1);
}

#[tokio::test]
async fn undecodable_events_go_to_the_poison_binding_when_configured() {
    let hooks = "[settings]\npoison_binding = \"poison\"\n";
    let handler = spawn_app(&[], Some(hooks)).await;
    let bad = json!({"id": "p1", "eventType": "Microsoft.MachineLearningServices.ModelRegistered", "data": {"modelVersion": [1]}});
    let (status, answer) = invoke(&handler.base, &bad).await;
    assert_eq!(status, 200);
    let poison = &answer["Outputs"]["poison"];
    assert_eq!(poison["path"], "$.Data.event.data.modelVersion");
    assert_eq!(poison["function"], FUNCTION);
    let kept: Value = serde_json::from_str(poison["event"].as_str().unwrap()).unwrap();
    assert_eq!(kept, bad, "the raw event is kept whole");
}

#[tokio::test]
async fn secrets_never_appear_in_answers_or_logs() {
    let receiver = Receiver::start().await;
    receiver.script("/hook/SECRET-PATH-TOKEN", vec![Behaviour::status(401)]);
    let hooks = r#"
[[hooks]]
name = "n"
events = ["*"]
action = "webhook"
url = "${env:HOOK_URL}"
retries = 0
headers = { Authorization = "Bearer ${env:API_TOKEN}" }
"#;
    let url = receiver.url("/hook/SECRET-PATH-TOKEN");
    let handler = spawn_app(
        &[("HOOK_URL", &url), ("API_TOKEN", "SECRET-API-TOKEN")],
        Some(hooks),
    )
    .await;
    let hooks_path = handler.hooks_path().expect("the app's hooks file");
    let (status, answer) = invoke(&handler.base, &event("eventgrid-model-deployed.json")).await;
    // A 401 is permanent: answered 200, its error (checked for secrets below) in `Logs` and stderr.
    assert_eq!(status, 200);
    assert!(answer["Logs"].to_string().contains("401"), "{answer}");
    assert_eq!(
        receiver.requests("/hook/SECRET-PATH-TOKEN")[0].headers["authorization"],
        "Bearer SECRET-API-TOKEN"
    );

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["check", "--hooks"])
        .arg(hooks_path)
        .env("HOOK_URL", &url)
        .env("API_TOKEN", "SECRET-API-TOKEN")
        .output()
        .unwrap();
    assert!(check.status.success());
    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["send", "sample:ModelDeployed", "--dry-run", "--hooks"])
        .arg(hooks_path)
        .env("HOOK_URL", &url)
        .env("API_TOKEN", "SECRET-API-TOKEN")
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );

    // What the app wrote on stdout and stderr, through its stop.
    let logs = handler.logs().clone();
    handler.shutdown(Duration::from_secs(15)).await;
    let (stdout, stderr) = (logs.stdout(), logs.stderr());
    let everything = [
        answer.to_string(),
        stdout,
        stderr,
        String::from_utf8_lossy(&check.stdout).into_owned(),
        String::from_utf8_lossy(&check.stderr).into_owned(),
        String::from_utf8_lossy(&dry.stdout).into_owned(),
        String::from_utf8_lossy(&dry.stderr).into_owned(),
    ]
    .join("\n");
    assert!(
        everything.contains("401"),
        "the failure is reported: {everything}"
    );
    for secret in ["SECRET-PATH-TOKEN", "SECRET-API-TOKEN"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
}

#[tokio::test]
async fn dry_run_prints_payloads_and_sends_nothing_and_send_posts_to_a_handler() {
    let receiver = Receiver::start().await;
    let hooks = webhook_hook("n", "HOOK_URL", 0, 2000);
    let handler = spawn_app(&[("HOOK_URL", &receiver.url("/hook"))], Some(&hooks)).await;
    let hooks_path = handler.hooks_path().expect("the app's hooks file");

    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "send",
            "sample:model-deployed",
            "--schema",
            "cloudevents",
            "--dry-run",
            "--hooks",
        ])
        .arg(hooks_path)
        .env("HOOK_URL", receiver.url("/hook"))
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let preview: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(preview[0]["kind"], "ModelDeployed");
    assert_eq!(preview[0]["hooks"][0]["hook"], "n");
    assert_eq!(
        preview[0]["hooks"][0]["payload"]["type"],
        "Microsoft.MachineLearningServices.ModelDeployed"
    );
    assert!(
        receiver.requests("/hook").is_empty(),
        "--dry-run sends nothing"
    );

    // `tokio::process`: the receiver runs on this test's runtime and must keep answering meanwhile.
    let send = tokio::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["send", "sample:ModelDeployed", "--to"])
        .arg(format!("{}/{FUNCTION}", handler.base))
        .output()
        .await
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    assert!(String::from_utf8_lossy(&send.stdout).starts_with("200 "));
    assert_eq!(receiver.delivered("/hook").len(), 1);
}

#[test]
fn a_broken_hooks_file_is_refused_at_startup_and_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.toml");
    std::fs::write(&path, "[[hooks]]\nname = \"deploy-notice\"\naction = \"teams\"\nurl = \"${env:TEAMS_URL_UNSET}\"\n").unwrap();

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["check", "--hooks"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("hook `deploy-notice`: key `url`") && stderr.contains("TEAMS_URL_UNSET"),
        "{stderr}"
    );

    let serve = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", free_port().to_string())
        .env("AML_EVENTS_HOOKS", &path)
        .output()
        .unwrap();
    assert_eq!(
        serve.status.code(),
        Some(2),
        "a broken file is never served"
    );
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(
        stderr.contains("refusing to serve") && stderr.contains("hook `deploy-notice`: key `url`"),
        "{stderr}"
    );
}

/// On the built binary: what is tested is the signal and the exit status. `TestApp::shutdown` runs
/// the same drain (`App::serve`), but neither the SIGTERM handler nor the exit code made of its
/// result.
#[tokio::test]
async fn sigterm_during_an_in_flight_hook_finishes_it_then_exits() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Behaviour::slow(Duration::from_millis(800))]);
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks.toml");
    std::fs::write(&hooks, webhook_hook("n", "HOOK_URL", 0, 3000)).unwrap();
    let handler = Handler::start_in(
        dir.path(),
        &[
            ("AML_EVENTS_HOOKS", &hooks.to_string_lossy()),
            ("HOOK_URL", &receiver.url("/hook")),
        ],
    )
    .await;
    let deployed = event("eventgrid-model-deployed.json");
    // SIGTERM once the hook's request is at the target (which takes 800 ms to answer).
    let signal = async {
        receiver.arrived("/hook", 1).await;
        handler.terminate();
    };
    let ((status, answer), ()) = tokio::join!(invoke(&handler.base, &deployed), signal);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(receiver.delivered("/hook").len(), 1);
    let (exit, _, _) = handler.wait(Duration::from_secs(15));
    assert!(exit.success(), "{exit:?}");
}

/// Delivery in process: the configuration and dispatcher the handler builds, with HTTP hooks sending
/// through [`Target`] under paused time.
mod in_process {
    use super::receiver::Behaviour;
    use super::{event, webhook_hook};
    use aml_events::event::{Event, MlEvent};
    use aml_events::hooks::config::HooksConfig;
    use aml_events::hooks::delivery::{
        Outgoing, Response, Transport, TransportError, TransportFuture,
    };
    use aml_events::hooks::{Dispatcher, Outcome};
    use reqwest::header::{HeaderValue, RETRY_AFTER};
    use reqwest::StatusCode;
    use serde_json::Value;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::time::Instant;

    /// One request the target saw.
    #[derive(Debug, Clone)]
    struct Seen {
        at: Instant,
        path: String,
        json: Value,
    }

    /// A scripted target, as the real receiver (one [`Behaviour`] per request, then 200), or one
    /// that refuses connections. It honours the attempt's limit as reqwest does.
    #[derive(Debug, Default)]
    struct Target {
        script: Mutex<VecDeque<Behaviour>>,
        refuse: bool,
        seen: Mutex<Vec<Seen>>,
    }

    impl Target {
        fn scripted(behaviours: Vec<Behaviour>) -> Arc<Self> {
            Arc::new(Self {
                script: Mutex::new(behaviours.into()),
                ..Self::default()
            })
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Transport for Target {
        fn send<'a>(&'a self, request: &'a Outgoing, limit: Duration) -> TransportFuture<'a> {
            self.seen.lock().unwrap().push(Seen {
                at: Instant::now(),
                path: request.url.path().to_owned(),
                json: serde_json::from_slice(&request.body).unwrap(),
            });
            let behaviour = self.script.lock().unwrap().pop_front();
            let refuse = self.refuse;
            Box::pin(async move {
                if refuse {
                    return Err(TransportError::Connect("connection refused".into()));
                }
                let Some(behaviour) = behaviour else {
                    return Ok(Response::new(StatusCode::OK));
                };
                if behaviour.delay > limit {
                    tokio::time::sleep(limit).await;
                    return Err(TransportError::TimedOut("operation timed out".into()));
                }
                tokio::time::sleep(behaviour.delay).await;
                let mut response = Response::new(StatusCode::from_u16(behaviour.status).unwrap());
                if let Some(value) = &behaviour.retry_after {
                    response
                        .headers
                        .insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
                }
                Ok(response)
            })
        }
    }

    /// The dispatcher of `hooks_toml` (its `${env:HOOK_URL}` pointing at `/hook`) over `target`.
    fn dispatcher(hooks_toml: &str, target: &Arc<Target>) -> Dispatcher {
        let env = |name: &str| (name == "HOOK_URL").then(|| "https://target.test/hook".to_owned());
        HooksConfig::parse(hooks_toml, "hooks.toml", &env)
            .unwrap()
            .dispatcher_with(target.clone())
            .unwrap()
    }

    async fn dispatch(dispatcher: &Dispatcher, fixture: &str) -> Outcome {
        let event: Event<MlEvent> = Event::from_json(&event(fixture).to_string()).unwrap();
        dispatcher.dispatch(&event).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_5xx_is_retried_with_backoff_and_delivered_once() {
        let target = Target::scripted(vec![Behaviour::status(500), Behaviour::status(503)]);
        let dispatcher = dispatcher(&webhook_hook("n", "HOOK_URL", 3, 2000), &target);
        let outcome = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        assert!(
            outcome.failures.is_empty(),
            "the door answers 200: {outcome:?}"
        );
        let seen = target.seen();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| s.path == "/hook"));
        assert!(outcome.logs[0].contains("attempt 3"), "{outcome:?}");
        // Jittered exponential backoff: 125–250 ms, then 250–500 ms.
        let (first, second) = (seen[1].at - seen[0].at, seen[2].at - seen[1].at);
        assert!(
            first >= Duration::from_millis(125) && first <= Duration::from_millis(250),
            "{first:?}"
        );
        assert!(
            second >= Duration::from_millis(250) && second <= Duration::from_millis(500),
            "{second:?}"
        );
        // The default body is the decoded event.
        assert_eq!(seen[2].json["data"]["serviceName"], "my-sklearn-service");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let target = Target::scripted(vec![Behaviour::retry_after(429, "1")]);
        let dispatcher = dispatcher(&webhook_hook("n", "HOOK_URL", 2, 2000), &target);
        let outcome = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        assert!(outcome.failures.is_empty(), "{outcome:?}");
        let seen = target.seen();
        assert_eq!(seen.len(), 2);
        let gap = seen[1].at - seen[0].at;
        assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
        assert!(
            gap < Duration::from_millis(1050),
            "waited {gap:?} for Retry-After: 1"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_target_times_out_within_the_deadline() {
        let target = Target::scripted(vec![Behaviour::slow(Duration::from_secs(10)); 5]);
        let hooks = format!(
            "[settings]\ndeadline_ms = 1500\n{}",
            webhook_hook("n", "HOOK_URL", 5, 400)
        );
        let dispatcher = dispatcher(&hooks, &target);
        let started = Instant::now();
        let outcome = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        let took = started.elapsed();
        assert_eq!(
            outcome.failures.len(),
            1,
            "the door answers 500: {outcome:?}"
        );
        assert!(
            took <= Duration::from_millis(1500),
            "finished after {took:?}, past the 1.5 s deadline"
        );
        let message = &outcome.failures[0].error.message;
        assert!(
            message.contains("timed out") || message.contains("deadline passed"),
            "{message}"
        );
        assert!(target.seen().len() >= 2, "it retried within the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_that_is_down_is_retried_then_fails_with_a_clear_error() {
        let target = Arc::new(Target {
            refuse: true,
            ..Target::default()
        });
        let dispatcher = dispatcher(&webhook_hook("n", "HOOK_URL", 1, 1000), &target);
        let outcome = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        assert_eq!(target.seen().len(), 2);
        let message = &outcome.failures[0].error.message;
        assert!(
            message.contains("could not connect") && message.contains("retries exhausted"),
            "{message}"
        );
        assert!(!message.contains("/hook"), "the URL is a secret: {message}");
    }

    #[test]
    fn on_permanent_failure_takes_report_or_retry_only() {
        let env = |_: &str| Some("https://target.test/hook".to_owned());
        for value in ["report", "retry"] {
            let hooks = format!(
                "{}on_permanent_failure = \"{value}\"\n",
                webhook_hook("n", "HOOK_URL", 0, 1000)
            );
            assert!(
                HooksConfig::parse(&hooks, "hooks.toml", &env).is_ok(),
                "{value}"
            );
        }
        let hooks = format!(
            "{}on_permanent_failure = \"sometimes\"\n",
            webhook_hook("n", "HOOK_URL", 0, 1000)
        );
        let error = HooksConfig::parse(&hooks, "hooks.toml", &env)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sometimes") && error.contains("retry"),
            "{error}"
        );
    }

    /// A permanent failure is recorded as done: the redelivery of the event (another hook failed)
    /// does not send the refused request again.
    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_is_not_run_again_by_a_redelivery() {
        let target = Target::scripted(vec![Behaviour::status(404)]);
        let dispatcher = dispatcher(&webhook_hook("n", "HOOK_URL", 3, 2000), &target);
        let first = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        assert!(!first.needs_retry(), "{first:?}");
        assert!(first.failures[0].error.permanent, "{first:?}");
        let second = dispatch(&dispatcher, "eventgrid-model-deployed.json").await;
        assert!(second.failures.is_empty(), "{second:?}");
        assert_eq!(target.seen().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_duplicate_deliveries_notify_once() {
        let target = Target::scripted(vec![Behaviour::slow(Duration::from_millis(500))]);
        let dispatcher = dispatcher(&webhook_hook("n", "HOOK_URL", 0, 2000), &target);
        let (first, second) = tokio::join!(
            dispatch(&dispatcher, "eventgrid-model-deployed.json"),
            dispatch(&dispatcher, "eventgrid-model-deployed.json")
        );
        assert!(
            first.failures.is_empty() && second.failures.is_empty(),
            "{first:?} {second:?}"
        );
        assert_eq!(target.seen().len(), 1);
        let skipped = [&first, &second]
            .iter()
            .filter(|o| o.logs.iter().any(|l| l.contains("already done")))
            .count();
        assert_eq!(skipped, 1, "{first:?} {second:?}");
    }
}
