//! The route table, through `warp::test` against `aml_events::door::routes` (no socket): which routes
//! exist for which settings, and what a request outside them is answered.

use crate::functions_door::FUNCTION;
use crate::support::{build_app, fixture, fixture_events, invocation};
use aml_events::door::routes;
use serde_json::{json, Value};
use warp::http::Response;

/// The routes of the app `env` describes, with the repository's `hooks.toml` (a log hook).
fn table(
    env: &[(&str, &str)],
) -> impl warp::Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone + 'static
{
    routes(build_app(env, None).expect("the app starts").doors())
}

fn json_body(response: &Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(response.body()).expect("JSON body")
}

/// Checks that an answer is JSON in the custom-handler shape and returns its status and body.
fn custom_handler_answer(response: &Response<bytes::Bytes>) -> (u16, Value) {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/json", "every answer is JSON");
    let body = json_body(response);
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["Logs", "Outputs", "ReturnValue"],
        "custom-handler response shape"
    );
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let routes = table(&[]);
    let answer = warp::test::request()
        .method("PUT")
        .path(&format!("/{FUNCTION}"))
        .reply(&routes)
        .await;
    let (status, _) = custom_handler_answer(&answer);
    assert_eq!(status, 405);
    let answer = warp::test::request()
        .method("POST")
        .path("/a/b")
        .body("{}")
        .reply(&routes)
        .await;
    let (status, _) = custom_handler_answer(&answer);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_readiness_route_answers_get_on_the_root() {
    let answer = warp::test::request()
        .method("GET")
        .path("/")
        .reply(&table(&[]))
        .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(json_body(&answer), json!({"status": "ready"}));
}

#[tokio::test]
async fn the_cloudevents_options_handshake_grants_event_grid() {
    let routes = table(&[("AML_EVENTS_WEBHOOK_KEY", "k1")]);
    let response = warp::test::request()
        .method("OPTIONS")
        .path("/api/eventgrid")
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .reply(&routes)
        .await;
    assert_eq!(response.status(), 200, "OPTIONS needs no key");
    assert_eq!(
        response.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net"
    );
    assert_eq!(response.headers()["webhook-allowed-rate"], "*");
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    let response = warp::test::request()
        .method("OPTIONS")
        .path("/api/eventgrid")
        .header("WebHook-Request-Origin", "evil.example")
        .reply(&routes)
        .await;
    assert_eq!(
        response.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net",
        "only Event Grid is granted"
    );
}

/// The status of an invocation, and of a validation handshake on the webhook path with `query`.
async fn statuses(env: &[(&str, &str)], query: &str) -> (u16, u16) {
    let routes = table(env);
    let event = &fixture_events("eventgrid-model-registered.json")[0];
    let invoked = warp::test::request()
        .method("POST")
        .path(&format!("/{FUNCTION}"))
        .header("content-type", "application/json")
        .body(invocation(event).to_string())
        .reply(&routes)
        .await;
    let validated = warp::test::request()
        .method("POST")
        .path(&format!("/api/eventgrid{query}"))
        .header("aeg-event-type", "SubscriptionValidation")
        .header("content-type", "application/json")
        .body(fixture("eventgrid-subscription-validation.json"))
        .reply(&routes)
        .await;
    (invoked.status().as_u16(), validated.status().as_u16())
}

#[tokio::test]
async fn which_routes_exist_with_and_without_a_key() {
    // On loopback (where the Functions host calls) both doors exist; a key guards the webhook only.
    assert_eq!(statuses(&[], "").await, (200, 200));
    let key = ("AML_EVENTS_WEBHOOK_KEY", "k-1");
    assert_eq!(statuses(&[key], "").await, (200, 401));
    assert_eq!(statuses(&[key], "?code=k-1").await, (200, 200));
    // Reachable by other hosts, invocations (which carry no credentials) do not exist.
    let exposed = ("AML_EVENTS_BIND_ADDRESS", "0.0.0.0");
    assert_eq!(statuses(&[exposed, key], "").await, (404, 401));
    assert_eq!(statuses(&[exposed, key], "?code=k-1").await, (404, 200));
    let insecure = ("AML_EVENTS_WEBHOOK_INSECURE", "true");
    assert_eq!(statuses(&[exposed, insecure], "").await, (404, 200));
    // The webhook door moves with its path; the old one is no route.
    let moved = ("AML_EVENTS_WEBHOOK_PATH", "/hooks/aml");
    assert_eq!(statuses(&[moved], "").await, (200, 404));
}
