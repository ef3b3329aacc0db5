//! The Lambda door: API Gateway v2 (function URL) events through the same warp routes, served as
//! `lambda_http` serves them, with no AWS and no network but the local notification receiver.
use crate::support::receiver::{Behaviour, Receiver};
use crate::support::{fixture, fixture_events};
use aml_events::app::App;
use aml_events::door::routes;
use aml_events::hooks::config::HooksConfig;
use aml_events::settings::Settings;
use lambda_http::tower::ServiceExt;
use lambda_http::IntoResponse;
use serde_json::{json, Value};
use std::sync::Arc;

/// The app a Lambda function runs: one webhook hook to `receiver`, key `lambda-key-1`.
fn app(receiver: &Receiver) -> Arc<App> {
    let hook_url = receiver.url("/hook");
    let env = move |k: &str| match k {
        "HOOK_URL" => Some(hook_url.clone()),
        "AML_EVENTS_WEBHOOK_KEY" => Some("lambda-key-1".to_owned()),
        "AWS_LAMBDA_RUNTIME_API" => Some("127.0.0.1:9001".to_owned()),
        _ => None,
    };
    let hooks = "[[hooks]]\nname = \"notify\"\naction = \"webhook\"\nurl = \"${env:HOOK_URL}\"\nretries = 0\n";
    let config = HooksConfig::parse(hooks, "hooks.toml", &env).unwrap();
    let settings = Settings::from_vars(env).unwrap();
    Arc::new(App::builder(settings).hooks_config(config).build().unwrap())
}

/// A function-URL event: the notification fixture with `edit` applied.
fn function_url_event(edit: impl FnOnce(&mut Value)) -> lambda_http::Request {
    let mut event: Value =
        serde_json::from_str(&fixture("lambda/function-url-notification.json")).unwrap();
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("a function URL event")
}

fn with_body(body: Value) -> impl FnOnce(&mut Value) {
    move |event| event["body"] = Value::String(body.to_string())
}

/// Runs `request` through the warp routes as `lambda_http::run` does and returns status, headers, body.
async fn call(
    app: Arc<App>,
    request: lambda_http::Request,
) -> (u16, lambda_http::http::HeaderMap, Value) {
    let response = warp::service(routes(app.doors()))
        .oneshot(request)
        .await
        .unwrap();
    let response = response.into_response().await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (status, headers, body)
}

fn seed(name: &str, id: &str) -> Value {
    let mut event = fixture_events(name).remove(0);
    event["id"] = Value::String(id.to_owned());
    event
}

#[tokio::test]
async fn function_url_requests_are_served_by_the_webhook_door() {
    let receiver = Receiver::start().await;
    let app = app(&receiver);

    // Validation handshake.
    let validation: Value =
        serde_json::from_str(&fixture("eventgrid-subscription-validation.json")).unwrap();
    let request = function_url_event(|e| {
        e["headers"]["aeg-event-type"] = json!("SubscriptionValidation");
        e["body"] = json!(validation.to_string());
    });
    let (status, _, body) = call(app.clone(), request).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
        )
    );

    // CloudEvents OPTIONS handshake (no key needed).
    let options =
        lambda_http::request::from_str(&fixture("lambda/function-url-options.json")).unwrap();
    let (status, headers, _) = call(app.clone(), options).await;
    assert_eq!(status, 200);
    assert_eq!(headers["webhook-allowed-origin"], "eventgrid.azure.net");
    assert_eq!(headers["webhook-allowed-rate"], "*");

    // A batch in the Event Grid schema.
    let batch = json!([
        seed("eventgrid-model-registered.json", "l-1"),
        seed("eventgrid-model-deployed.json", "l-2")
    ]);
    let (status, _, body) = call(app.clone(), function_url_event(with_body(batch))).await;
    assert_eq!(
        (status, body),
        (200, json!({"events": 2, "handled": 2, "ignored": 0}))
    );

    // One CloudEvent, base64-encoded by the function URL.
    let ce = seed("cloudevents-run-status-changed.json", "l-3");
    let request = function_url_event(|e| {
        use base64::Engine as _;
        e["headers"]["content-type"] = json!("application/cloudevents+json; charset=utf-8");
        e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(ce.to_string()));
        e["isBase64Encoded"] = json!(true);
    });
    let (status, _, _) = call(app.clone(), request).await;
    assert_eq!(status, 200);

    // The custom-handler route does not exist behind a function URL (it carries no credentials).
    let invocation = function_url_event(|e| {
        e["rawPath"] = json!("/MlWorkspaceEvents");
        e["requestContext"]["http"]["path"] = json!("/MlWorkspaceEvents");
        e["body"] = json!(crate::support::invocation(&seed(
            "eventgrid-model-deployed.json",
            "l-x"
        ))
        .to_string());
    });
    assert_eq!(call(app.clone(), invocation).await.0, 404);

    // Unsubscribe.
    let request = function_url_event(|e| e["headers"]["aeg-event-type"] = json!("Unsubscribe"));
    let (status, _, _) = call(app.clone(), request).await;
    assert_eq!(status, 200);

    let mut ids: Vec<String> = receiver
        .delivered("/hook")
        .iter()
        .map(|r| r.json["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["l-1", "l-2", "l-3"]);
}

#[tokio::test]
async fn function_url_requests_are_refused_like_webhook_requests() {
    let receiver = Receiver::start().await;
    let app = app(&receiver);
    let one = json!([seed("eventgrid-model-registered.json", "r-1")]);

    let missing_key = function_url_event(|e| {
        e["rawQueryString"] = json!("");
        e["queryStringParameters"] = json!({});
        e["body"] = json!(one.to_string());
    });
    assert_eq!(call(app.clone(), missing_key).await.0, 401);
    let wrong_key = function_url_event(|e| {
        e["rawQueryString"] = json!("code=nope");
        e["queryStringParameters"] = json!({"code": "nope"});
        e["body"] = json!(one.to_string());
    });
    assert_eq!(call(app.clone(), wrong_key).await.0, 401);

    let mut bad = seed("eventgrid-model-registered.json", "r-2");
    bad["data"]["ModelVersion"] = json!([20]);
    let malformed = json!([seed("eventgrid-run-completed.json", "r-3"), bad]);
    let (status, _, body) = call(app.clone(), function_url_event(with_body(malformed))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["path"], "$[1].data.ModelVersion");

    let big =
        json!([{"id": "big", "eventType": "X", "data": {"pad": "x".repeat(2 * 1024 * 1024)}}]);
    assert_eq!(
        call(app.clone(), function_url_event(with_body(big)))
            .await
            .0,
        413
    );

    // A failing hook: 500, then the redelivery notifies once in total.
    receiver.script("/hook", vec![Behaviour::status(500)]);
    let deployed = json!([seed("eventgrid-model-deployed.json", "r-4")]);
    assert_eq!(
        call(app.clone(), function_url_event(with_body(deployed.clone())))
            .await
            .0,
        500
    );
    assert_eq!(
        call(app.clone(), function_url_event(with_body(deployed.clone())))
            .await
            .0,
        200
    );
    assert_eq!(
        call(app.clone(), function_url_event(with_body(deployed)))
            .await
            .0,
        200
    );
    assert_eq!(
        receiver
            .delivered("/hook")
            .iter()
            .filter(|r| r.json["id"] == "r-4")
            .count(),
        1
    );
}

/// `auth` behind a function URL: a Lambda function has no managed identity, so a client secret at
/// Entra ID (the local token service, over TLS). The webhook gets the Bearer token; a token endpoint
/// that is down answers 500 (Event Grid redelivers), one that refuses answers 200 with the hook
/// failed permanently; the answers show neither the token nor the secret.
#[tokio::test]
async fn function_url_requests_send_hooks_with_an_entra_id_token() {
    use crate::support::token_service::{Answer, TokenService};
    let service = TokenService::start().await;
    let receiver = Receiver::start().await;
    let hooks = "[[hooks]]\nname = \"devops\"\naction = \"webhook\"\nurl = \"${env:HOOK_URL}\"\nretries = 0\n\
        auth = { type = \"client_secret\", tenant_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\", client_id = \"0d4a7a2e-3c47-4e3b-9a3f-2f1d8c0b5e61\", secret = \"${env:AML_SP_SECRET}\" }\n\
        resource = \"499b84ac-1321-427f-aa17-267ca6975798\"\n";
    // A fresh app is a fresh credential: no token cached.
    let app = || {
        let mut vars: Vec<(String, String)> = service.entra_env();
        vars.push(("HOOK_URL".into(), receiver.url("/hook")));
        vars.push(("AML_SP_SECRET".into(), "lambda-sp-secret~7".into()));
        vars.push(("AML_EVENTS_WEBHOOK_KEY".into(), "lambda-key-1".into()));
        vars.push(("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into()));
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let config = HooksConfig::parse(hooks, "hooks.toml", &env).unwrap();
        let settings = Settings::from_vars(env).unwrap();
        Arc::new(App::builder(settings).hooks_config(config).build().unwrap())
    };
    let one = |id: &str| with_body(json!([seed("eventgrid-model-registered.json", id)]));

    let (status, _, body) = call(app(), function_url_event(one("t-1"))).await;
    assert_eq!(status, 200, "{body}");
    let bearers: Vec<String> = receiver
        .requests("/hook")
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(bearers, [format!("Bearer {}", service.issued()[0])]);
    assert_eq!(
        service.requests()[0].form["client_secret"],
        "lambda-sp-secret~7"
    );

    let app = app();
    service.answer(vec![Answer::status(503), Answer::invalid_client()]);
    let (status, _, down) = call(app.clone(), function_url_event(one("t-2"))).await;
    assert_eq!(status, 500, "{down}");
    let (status, _, refused) = call(app, function_url_event(one("t-3"))).await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(
        refused["failed_permanently"][0]["hook"], "devops",
        "{refused}"
    );
    for shown in [down.to_string(), refused.to_string()] {
        assert!(!shown.contains("lambda-sp-secret"), "{shown}");
        service.assert_no_secret_in("the answer", &shown);
    }
    assert_eq!(
        receiver.requests("/hook").len(),
        1,
        "no request without a token"
    );
}
