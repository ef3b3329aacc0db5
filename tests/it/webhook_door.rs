//! The Event Grid webhook door over real HTTP, with the app served in this process.

use crate::support::receiver::{Behaviour, Receiver};
use crate::support::{fixture, fixture_events, spawn_app, TestApp};
use serde_json::{json, Value};

const SEEDS: [&str; 5] = [
    "model-registered",
    "model-deployed",
    "run-completed",
    "run-status-changed",
    "dataset-drift-detected",
];

/// The hooks file of these tests: one webhook hook for every ML event, to `${env:HOOK_URL}`.
pub(crate) const NOTIFY_HOOK: &str = "[[hooks]]\nname = \"notify\"\nevents = [\"*\"]\naction = \"webhook\"\nurl = \"${env:HOOK_URL}\"\nretries = 0\n";

/// An app with [`NOTIFY_HOOK`] pointing at `receiver`'s `/hook`.
async fn handler(receiver: &Receiver, env: &[(&str, &str)]) -> TestApp {
    let hook_url = receiver.url("/hook");
    let mut all = vec![("HOOK_URL", hook_url.as_str())];
    all.extend_from_slice(env);
    spawn_app(&all, Some(NOTIFY_HOOK)).await
}

fn seed(schema: &str, name: &str, id: &str) -> Value {
    let mut event = fixture_events(&format!("{schema}-{name}.json")).remove(0);
    event["id"] = Value::String(id.to_owned());
    event
}

async fn post(
    handler: &TestApp,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path_and_query}", handler.base))
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

const NOTIFY: [(&str, &str); 2] = [
    ("aeg-event-type", "Notification"),
    ("content-type", "application/json; charset=utf-8"),
];

#[tokio::test]
async fn the_subscription_validation_handshake_echoes_the_code() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;
    let (status, _, body) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("aeg-event-type", "SubscriptionValidation"),
            ("content-type", "application/json"),
        ],
        fixture("eventgrid-subscription-validation.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
    assert!(receiver.requests("/hook").is_empty());
}

#[tokio::test]
async fn both_schemas_single_and_batched_are_handled() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;

    // Event Grid schema, one event (always an array on the wire).
    let (status, _, body) = post(
        &handler,
        "/api/eventgrid",
        &NOTIFY,
        json!([seed("eventgrid", "model-registered", "eg-1")]).to_string(),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"events": 1, "handled": 1, "ignored": 0}))
    );

    // CloudEvents structured mode, one object.
    let (status, _, _) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("aeg-event-type", "Notification"),
            (
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            ),
        ],
        seed("cloudevents", "model-deployed", "ce-1").to_string(),
    )
    .await;
    assert_eq!(status, 200);

    // All ten seed events (both schemas) in one batch.
    let mut batch = Vec::new();
    for (i, name) in SEEDS.iter().enumerate() {
        batch.push(seed("eventgrid", name, &format!("batch-eg-{i}")));
        batch.push(seed("cloudevents", name, &format!("batch-ce-{i}")));
    }
    let (status, _, body) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("aeg-event-type", "Notification"),
            ("content-type", "application/cloudevents-batch+json"),
        ],
        Value::Array(batch).to_string(),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"events": 10, "handled": 10, "ignored": 0}))
    );
    let ids: std::collections::BTreeSet<String> = receiver
        .delivered("/hook")
        .iter()
        .map(|r| r.json["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
}

#[tokio::test]
async fn cloudevents_binary_mode_is_read_from_headers() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;
    let data = seed("eventgrid", "model-deployed", "x")["data"].clone();
    let (status, _, _) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("content-type", "application/json"),
            ("ce-specversion", "1.0"),
            ("ce-id", "binary-1"),
            ("ce-source", "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ws"),
            ("ce-type", "Microsoft.MachineLearningServices.ModelDeployed"),
            ("ce-subject", "endpoints/my-sklearn-service"),
            ("ce-time", "2026-11-25T11:00:00+01:00"),
            ("ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ],
        data.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let delivered = receiver.delivered("/hook");
    assert_eq!(delivered.len(), 1);
    let event = &delivered[0].json;
    assert_eq!(event["id"], "binary-1");
    assert_eq!(event["subject"], "endpoints/my-sklearn-service");
    assert_eq!(
        event["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(event["data"]["serviceName"], "my-sklearn-service");
    assert_eq!(
        event["time"], "2026-11-25T11:00:00+01:00",
        "`+` in a ce-* header is not a space"
    );
}

#[tokio::test]
async fn unsubscribe_is_acknowledged() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;
    let (status, _, _) = post(
        &handler,
        "/api/eventgrid",
        &[("aeg-event-type", "Unsubscribe")],
        fixture("eventgrid-subscription-deleted.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(receiver.requests("/hook").is_empty());
}

#[tokio::test]
async fn keys_are_required_when_configured() {
    let receiver = Receiver::start().await;
    let handler = handler(
        &receiver,
        &[("AML_EVENTS_WEBHOOK_KEY", "old-key-1,new-key-2")],
    )
    .await;
    let body = || json!([seed("eventgrid", "model-registered", "auth-1")]).to_string();
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, body()).await;
    assert_eq!(status, 401);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing key"),
        "{answer}"
    );
    let (status, _, _) = post(&handler, "/api/eventgrid?code=wrong", &NOTIFY, body()).await;
    assert_eq!(status, 401);
    let (status, _, _) = post(&handler, "/api/eventgrid?code=old-key-1", &NOTIFY, body()).await;
    assert_eq!(status, 200);
    let mut headers = NOTIFY.to_vec();
    headers.push(("x-aml-events-key", "new-key-2"));
    let (status, _, _) = post(&handler, "/api/eventgrid", &headers, body()).await;
    assert_eq!(status, 200);
    assert_eq!(
        receiver.delivered("/hook").len(),
        1,
        "the second delivery of auth-1 is deduplicated"
    );
}

#[tokio::test]
async fn bad_bodies_are_rejected_with_the_index_and_path() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;

    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, "[{\"id\": ").await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{answer}"
    );

    let mut bad = seed("eventgrid", "model-registered", "bad-2");
    bad["data"]["ModelVersion"] = json!({"major": 1});
    let batch = json!([
        seed("eventgrid", "model-deployed", "ok-0"),
        seed("eventgrid", "run-completed", "ok-1"),
        bad,
        seed("eventgrid", "run-status-changed", "ok-3"),
    ]);
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, batch.to_string()).await;
    assert_eq!(status, 400, "Event Grid dead-letters the batch");
    assert_eq!(answer["error"]["index"], 2);
    assert_eq!(answer["error"]["path"], "$[2].data.ModelVersion");

    let (status, _, _) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("aeg-event-type", "Notification"),
            ("content-type", "text/plain"),
        ],
        "hello",
    )
    .await;
    assert_eq!(status, 415);

    // A delivery of one maximal event (Event Grid's 1 MiB per event) is larger than 1 MiB, and
    // accepted; over the 2 MiB default is a 413.
    let maximal =
        json!([{"id": "max", "eventType": "X", "data": {"pad": "x".repeat(1024 * 1024)}}])
            .to_string();
    assert!(maximal.len() > 1024 * 1024);
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, maximal).await;
    assert_eq!(status, 200, "{answer}");
    let big =
        json!([{"id": "big", "eventType": "X", "data": {"pad": "x".repeat(2 * 1024 * 1024)}}])
            .to_string();
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, big).await;
    assert_eq!(status, 413);
    assert_eq!(
        answer["error"]["status"], 413,
        "the webhook's own error shape: {answer}"
    );
}

#[tokio::test]
async fn a_failing_hook_answers_500_and_the_redelivery_does_not_notify_twice() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[]).await;
    receiver.script(
        "/hook",
        vec![Behaviour::status(200), Behaviour::status(503)],
    );
    let batch = json!([
        seed("eventgrid", "model-registered", "r-1"),
        seed("eventgrid", "model-deployed", "r-2")
    ])
    .to_string();
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, batch.clone()).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["error"]["failures"].as_array().unwrap().len(), 1);
    let (status, _, _) = post(
        &handler,
        "/api/eventgrid",
        &[NOTIFY[0], NOTIFY[1], ("aeg-delivery-count", "1")],
        batch,
    )
    .await;
    assert_eq!(status, 200);
    let mut ids: Vec<String> = receiver
        .delivered("/hook")
        .iter()
        .map(|r| r.json["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["r-1", "r-2"], "each event notified exactly once");
}

#[tokio::test]
async fn the_webhook_path_is_configurable() {
    let receiver = Receiver::start().await;
    let handler = handler(&receiver, &[("AML_EVENTS_WEBHOOK_PATH", "/hooks/aml")]).await;
    let body = json!([seed("eventgrid", "model-registered", "p-1")]).to_string();
    let (status, _, _) = post(&handler, "/hooks/aml", &NOTIFY, body.clone()).await;
    assert_eq!(status, 200);
    let (status, _, _) = post(&handler, "/api/eventgrid", &NOTIFY, body).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_exposed_door_needs_a_key_and_never_serves_invocations() {
    let receiver = Receiver::start().await;
    // Reachable from other hosts without a key: refused at startup (the process's exit code and
    // message: `process::an_exposed_unprotected_door_is_refused_at_startup`).
    let refused = crate::support::build_app(&[("AML_EVENTS_BIND_ADDRESS", "0.0.0.0")], None)
        .expect_err("an unprotected exposed door is refused");
    assert_eq!(refused.exit_code(), 2);
    assert!(refused.to_string().contains("unprotected"), "{refused}");

    let handler = handler(
        &receiver,
        &[
            ("AML_EVENTS_BIND_ADDRESS", "0.0.0.0"),
            ("AML_EVENTS_WEBHOOK_KEY", "k-1"),
        ],
    )
    .await;
    let event = seed("eventgrid", "model-deployed", "exposed-1");
    // The custom-handler route carries no credentials, so it does not exist on an exposed address.
    let (status, _, _) = post(
        &handler,
        "/MlWorkspaceEvents",
        &[],
        crate::support::invocation(&event).to_string(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post(
        &handler,
        "/api/eventgrid?code=k-1",
        &NOTIFY,
        json!([event]).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(receiver.delivered("/hook").len(), 1);
}

/// Header values become span fields, repeated on every log line of the request: they are bounded,
/// so the log a request causes stays proportional to what was sent (under the host, stdout is
/// Application Insights, billed per GB). Before the bound, this request logged about 60 times its
/// own size.
#[tokio::test]
async fn a_huge_header_does_not_multiply_the_log() {
    let handler = spawn_app(&[], None).await;
    let name = "s".repeat(64 * 1024);
    let batch: Vec<Value> = (0..100)
        .map(|i| seed("eventgrid", "model-deployed", &format!("amp-{i}")))
        .collect();
    let body = Value::Array(batch).to_string();
    let sent = name.len() + body.len();
    let (status, _, answer) = post(
        &handler,
        "/api/eventgrid",
        &[
            ("aeg-event-type", "Notification"),
            ("aeg-subscription-name", &name),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let logged: usize = handler
        .logs()
        .lines()
        .iter()
        .map(|(l, _)| l.len() + 1)
        .sum();
    assert!(
        handler.logs().stdout().contains("ModelDeployed:"),
        "the events were logged"
    );
    assert!(logged < sent, "{logged} bytes logged for {sent} bytes sent");
    handler.shutdown(std::time::Duration::from_secs(15)).await;
}

/// A batch whose only failures are permanent is answered 200 (naming them), and the redelivery of a
/// batch does not ask a target that refused again; a retryable failure beside them still makes it 500.
#[tokio::test]
async fn permanent_failures_answer_200_for_the_batch_unless_one_is_retryable() {
    use crate::functions_door::permanent_causes;
    for cause in permanent_causes("wp-1") {
        let receiver = Receiver::start().await;
        receiver.script("/hook", cause.script.clone());
        let url = receiver.url("/hook");
        let handler = spawn_app(&[("HOOK_URL", &url)], Some(&cause.hook)).await;
        let batch = json!([cause.event, seed("eventgrid", "model-deployed", "wp-2")]).to_string();
        let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, batch.clone()).await;
        let what = cause.name;
        assert_eq!(status, 200, "{what}: {answer}");
        assert_eq!(
            answer["failed_permanently"],
            json!([{"event": "wp-1", "hook": "notify"}]),
            "{what}: {answer}"
        );
        let stderr = handler.logs().stderr();
        assert!(
            stderr.contains("failed permanently") && stderr.contains(cause.expect),
            "{what}: {stderr}"
        );
        let asked = receiver.requests("/hook").len();
        let (status, _, _) = post(&handler, "/api/eventgrid", &NOTIFY, batch).await;
        assert_eq!(status, 200, "{what}: the redelivery");
        assert_eq!(receiver.requests("/hook").len(), asked, "{what}");

        let opted_out = format!("{}on_permanent_failure = \"retry\"\n", cause.hook);
        receiver.script("/hook", cause.script.clone());
        let handler = spawn_app(&[("HOOK_URL", &url)], Some(&opted_out)).await;
        let batch = json!([cause.event]).to_string();
        let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, batch).await;
        assert_eq!(
            status, 500,
            "{what} with on_permanent_failure = \"retry\": {answer}"
        );
    }

    let receiver = Receiver::start().await;
    receiver.script(
        "/hook",
        vec![Behaviour::status(404), Behaviour::status(503)],
    );
    let handler = handler(&receiver, &[]).await;
    let batch = json!([
        seed("eventgrid", "model-registered", "wm-1"),
        seed("eventgrid", "model-deployed", "wm-2")
    ])
    .to_string();
    let (status, _, answer) = post(&handler, "/api/eventgrid", &NOTIFY, batch).await;
    assert_eq!(status, 500, "a retryable failure in the batch: {answer}");
    assert_eq!(
        answer["error"]["failures"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
}
