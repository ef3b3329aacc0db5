//! The front doors: transport only. Each turns a request into bytes and transport facts for the
//! [`Pipeline`] and the pipeline's results into that transport's answer.

pub(crate) mod auth;
pub(crate) mod body;
pub mod functions;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod webhook;

use crate::pipeline::Pipeline;
use crate::telemetry::bounded;
use body::{BodyReadError, BodyTimedOut, PayloadTooLarge};
use functions::InvocationResponse;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use tracing::Instrument;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};
use webhook::WebhookAnswer;

/// What every request needs, shared by all requests: the pipeline and each door's options. The
/// application (`app::App`) builds it from the settings.
#[derive(Debug)]
pub struct Doors {
    pub(crate) pipeline: Pipeline,
    pub(crate) functions: functions::FunctionsDoor,
    pub(crate) webhook: webhook::WebhookDoor,
    /// Whether `POST /{FunctionName}` is served (see `app::serves_invocations`).
    pub(crate) serve_invocations: bool,
    pub(crate) max_invocation_bytes: u64,
    /// A request's whole body must arrive within this long (`AML_EVENTS_BODY_TIMEOUT_SECS`).
    pub(crate) body_timeout: std::time::Duration,
}

/// The header carrying the host's invocation id.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// All routes of the process: `GET /` (readiness), the webhook door (`POST`/`OPTIONS` on its path) and
/// `POST /{FunctionName}` (invocations), with every rejection turned into a JSON answer by one `recover`.
pub fn routes(app: Arc<Doors>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    readiness()
        .or(webhook(app.clone()))
        .or(invocation(app))
        .recover(recover)
}

fn with_app(app: Arc<Doors>) -> impl Filter<Extract = (Arc<Doors>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The webhook door's path, matched exactly (it may have several segments).
fn webhook_path(path: String) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(move |full: warp::path::FullPath| {
            let matches = full.as_str() == path;
            async move {
                if matches {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

fn webhook_reply(answer: WebhookAnswer) -> warp::reply::Response {
    let mut response =
        warp::reply::with_status(warp::reply::json(&answer.body), answer.status).into_response();
    for (name, value) in answer.headers {
        if let Ok(value) = warp::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A request on the webhook path that failed before the door saw it (its body): answered in the
/// webhook's error shape by [`recover`], and never passed on to the other routes.
#[derive(Debug)]
struct WebhookRejected(WebhookAnswer);

impl warp::reject::Reject for WebhookRejected {}

/// `OPTIONS` and `POST` on the webhook path (default `/api/eventgrid`).
fn webhook(app: Arc<Doors>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let path = webhook_path(app.webhook.path.clone());
    let options = path
        .clone()
        .and(warp::options())
        .and(warp::header::headers_cloned())
        .and(with_app(app.clone()))
        .map(|headers: warp::http::HeaderMap, app: Arc<Doors>| {
            webhook_reply(app.webhook.options(&headers))
        });
    let body = body::limited(app.webhook.max_bytes, app.body_timeout).or_else(
        |rejection: Rejection| async move {
            let answer = body_error(&rejection).map(|(status, message)| {
                tracing::warn!(status = status.as_u16(), "webhook request not accepted");
                WebhookAnswer::error(status, message)
            });
            Err(answer.map_or(rejection, |a| warp::reject::custom(WebhookRejected(a))))
        },
    );
    let post = path
        .and(warp::post())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(body)
        .and(with_app(app))
        .then(
            |headers: warp::http::HeaderMap, query: String, body: bytes::Bytes, app: Arc<Doors>| {
                let header = |name: &str| {
                    let value = headers.get(name).and_then(|v| v.to_str().ok());
                    bounded(value.unwrap_or("")).into_owned()
                };
                let span = tracing::info_span!(
                    "webhook",
                    aeg_subscription_name = header("aeg-subscription-name").as_str(),
                    aeg_delivery_count = header("aeg-delivery-count").as_str(),
                    aeg_event_type = header("aeg-event-type").as_str(),
                );
                async move {
                    let answer = app
                        .webhook
                        .post(&app.pipeline, &headers, &query, &body)
                        .await;
                    let status = answer.status.as_u16();
                    if answer.status.is_client_error() || answer.status.is_server_error() {
                        let error = answer.body["error"]["message"].as_str().unwrap_or("");
                        tracing::warn!(status, error, "webhook request not accepted");
                    } else {
                        tracing::debug!(status, "webhook answered");
                    }
                    webhook_reply(answer)
                }
                .instrument(span)
            },
        );
    options.or(post)
}

/// `GET /`: the host polls it every 25 ms after start and treats any answer as "ready".
fn readiness() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::json(&json!({"status": "ready"})))
}

/// The longest function name Azure Functions allows.
const MAX_FUNCTION_NAME: usize = 127;

/// The function name of `/{FunctionName}`, read from the raw path before any percent-decoding, and
/// only as Azure Functions allows it (`[A-Za-z][A-Za-z0-9_-]*`, at most 127 characters): so
/// `/api%2Feventgrid` is no function, and can never reach the hooks around the webhook door's key.
fn function_name() -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::path::full().and_then(|full: warp::path::FullPath| async move {
        let name = full.as_str().strip_prefix('/').unwrap_or_default();
        let mut chars = name.chars();
        let valid = name.len() <= MAX_FUNCTION_NAME
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            Ok(name.to_owned())
        } else {
            Err(warp::reject::not_found())
        }
    })
}

/// `POST /{FunctionName}`: one custom-handler invocation.
fn invocation(app: Arc<Doors>) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = app.max_invocation_bytes;
    let enabled = app.serve_invocations;
    warp::any()
        .and_then(move || async move {
            if enabled {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(function_name())
        .and(warp::post())
        .and(warp::header::optional::<String>(INVOCATION_ID_HEADER))
        .and(body::limited(limit, app.body_timeout))
        .and(with_app(app))
        .then(
            |function: String,
             invocation_id: Option<String>,
             body: bytes::Bytes,
             app: Arc<Doors>| {
                let invocation_id = invocation_id.unwrap_or_default();
                let span = tracing::info_span!(
                    "invocation",
                    invocation_id = &*bounded(&invocation_id),
                    function = function.as_str()
                );
                async move {
                    let (status, response) =
                        app.functions.invoke(&app.pipeline, &function, &body).await;
                    tracing::debug!(status = status.as_u16(), "invocation answered");
                    warp::reply::with_status(warp::reply::json(&response), status)
                }
                .instrument(span)
            },
        )
}

/// The status and message for a body that could not be read within its limit.
fn body_error(rejection: &Rejection) -> Option<(StatusCode, String)> {
    if let Some(too_large) = rejection.find::<PayloadTooLarge>() {
        Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body exceeds the limit of {} bytes",
                too_large.limit
            ),
        ))
    } else if let Some(timed_out) = rejection.find::<BodyTimedOut>() {
        Some((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                timed_out.secs
            ),
        ))
    } else {
        rejection
            .find::<BodyReadError>()
            .map(|BodyReadError(reason)| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {reason}"),
                )
            })
    }
}

/// The one place every rejection becomes an answer: the webhook's own error shape on its path, an
/// invocation-shaped body elsewhere (it keeps the host's parser happy even when it fails the
/// invocation). A rejection nothing here expects is a bug: 500, with a stable body.
async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(WebhookRejected(answer)) = rejection.find::<WebhookRejected>() {
        return Ok(webhook_reply(answer.clone()));
    }
    let (status, message) = if let Some(known) = body_error(&rejection) {
        known
    } else if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "no such route: invocations are POST /{FunctionName}".to_owned(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: invocations are POST /{FunctionName}".to_owned(),
        )
    } else if let Some(header) = rejection.find::<warp::reject::InvalidHeader>() {
        (
            StatusCode::BAD_REQUEST,
            format!("invalid header `{}`", header.name()),
        )
    } else {
        tracing::error!(rejection = ?rejection, "a request was rejected in an unexpected way");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be handled".to_owned(),
        )
    };
    tracing::warn!(status = status.as_u16(), "{message}");
    let body = InvocationResponse {
        logs: vec![message],
        ..InvocationResponse::default()
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), status).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::hooks::config::HooksConfig;
    use crate::settings::Settings;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn app(vars: &[(&str, &str)]) -> Arc<App> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings =
            Settings::from_vars(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .unwrap();
        let config = HooksConfig::parse("", "hooks.toml", &|_| None).unwrap();
        Arc::new(App::builder(settings).hooks_config(config).build().unwrap())
    }

    fn invocation() -> String {
        let event: serde_json::Value = serde_json::from_str(
            crate::samples::sample(
                crate::event::EventKind::ModelRegistered,
                crate::event::Schema::EventGrid,
            )
            .unwrap(),
        )
        .unwrap();
        let event = event.as_array().map_or(event.clone(), |a| a[0].clone());
        crate::cli::invocation_body(&event).to_string()
    }

    /// An app served on `127.0.0.1:0` for the tests that speak raw HTTP.
    struct Served {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<crate::server::Stopped>,
    }

    impl Served {
        async fn start(app: Arc<App>) -> (std::net::SocketAddr, Served) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(app.serve(listener, async {
                let _ = stopped.await;
            }));
            (address, Served { stop, task })
        }

        async fn stop(self) {
            let _ = self.stop.send(());
            self.task.await.unwrap();
        }
    }

    async fn post(app: &Arc<App>, path: &str) -> u16 {
        warp::test::request()
            .method("POST")
            .path(path)
            .header("content-type", "application/json")
            .body(invocation())
            .reply(&routes(app.doors()))
            .await
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn function_names_are_what_azure_functions_allows_on_the_raw_path() {
        let app = app(&[]);
        assert_eq!(post(&app, "/MlWorkspaceEvents").await, 200);
        assert_eq!(post(&app, "/ml-events_2").await, 200);
        assert_eq!(post(&app, &format!("/a{}", "b".repeat(126))).await, 200);
        for path in [
            "/api%2Feventgrid",
            "/1events",
            "/a.b",
            "/ml%2Devents",
            "/_x",
            &format!("/a{}", "b".repeat(127)),
        ] {
            assert_eq!(post(&app, path).await, 404, "{path}");
        }
    }

    #[tokio::test]
    async fn a_protected_webhook_door_has_no_invocation_route_beside_it_outside_the_host() {
        let keyed = app(&[("AML_EVENTS_WEBHOOK_KEY", "k1")]);
        assert_eq!(post(&keyed, "/MlWorkspaceEvents").await, 404);
        assert_eq!(post(&keyed, "/api%2Feventgrid").await, 404);
        assert_eq!(post(&keyed, "/api/eventgrid").await, 401);
        let under_host = app(&[
            ("AML_EVENTS_WEBHOOK_KEY", "k1"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "0"),
            ("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "0f8fad5b"),
        ]);
        assert_eq!(post(&under_host, "/MlWorkspaceEvents").await, 200);
        let opted_in = app(&[
            ("AML_EVENTS_WEBHOOK_KEY", "k1"),
            ("AML_EVENTS_SERVE_INVOCATIONS", "true"),
        ]);
        assert_eq!(post(&opted_in, "/MlWorkspaceEvents").await, 200);
        let opted_out = app(&[("AML_EVENTS_SERVE_INVOCATIONS", "false")]);
        assert_eq!(post(&opted_out, "/MlWorkspaceEvents").await, 404);
        let exposed = app(&[
            ("AML_EVENTS_WEBHOOK_KEY", "k1"),
            ("AML_EVENTS_BIND_ADDRESS", "0.0.0.0"),
            ("AML_EVENTS_SERVE_INVOCATIONS", "true"),
        ]);
        assert_eq!(post(&exposed, "/MlWorkspaceEvents").await, 404);
    }

    /// The attack as a proxy would forward it: the original, encoded URI on a real socket.
    #[tokio::test]
    async fn an_encoded_slash_does_not_reach_the_hooks_around_the_key() {
        let app = app(&[("AML_EVENTS_WEBHOOK_KEY", "k1")]);
        let (address, server) = Served::start(app).await;
        let body = invocation();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST /api%2Feventgrid HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        server.stop().await;
    }

    /// A slow sender (slowloris on the body): the head arrives, the body trickles. The whole body must
    /// arrive within the read timeout; then the answer is 408, on both doors, and the connection ends.
    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
        let app = app(&[("AML_EVENTS_BODY_TIMEOUT_SECS", "1")]);
        let (address, server) = Served::start(app).await;
        for path in ["/MlWorkspaceEvents", "/api/eventgrid"] {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                stream.read_to_end(&mut answer),
            )
            .await;
            assert!(read.is_ok(), "{path}: no answer within 10 s");
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
            assert!(
                answer.contains("did not arrive within 1 s"),
                "{path}: {answer}"
            );
        }
        server.stop().await;
    }

    /// The client sends its whole oversized body before it reads (as Python's `http.client` and
    /// Event Grid do): it must receive the 413, which Event Grid treats as final, and not a reset,
    /// which it retries for 24 hours. Twenty times on each door.
    #[tokio::test]
    async fn an_oversized_body_gets_its_413_twenty_times_out_of_twenty_on_both_doors() {
        let app = app(&[]);
        let (address, server) = Served::start(app).await;
        for (path, size) in [
            ("/MlWorkspaceEvents", 5_000_000),
            ("/api/eventgrid", 2_600_000),
        ] {
            let body = vec![b' '; size];
            for attempt in 0..20 {
                let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                let head = format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\naeg-event-type: Notification\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).await.unwrap();
                let sent = stream.write_all(&body).await;
                let mut answer = Vec::new();
                let read = stream.read_to_end(&mut answer).await;
                let answer = String::from_utf8_lossy(&answer);
                assert!(
                    sent.is_ok() && read.is_ok() && answer.starts_with("HTTP/1.1 413"),
                    "{path}, attempt {attempt}: sent {sent:?}, read {read:?}: {answer}"
                );
            }
        }
        server.stop().await;
    }
}
