//! A real HTTP receiver on 127.0.0.1 for notifications: records every request and answers with
//! scripted behaviours (status, delay, `Retry-After`), one per request, then 200.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use warp::http::{HeaderMap, StatusCode};
use warp::Filter;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The status to answer.
    pub status: u16,
    /// How long to wait before answering.
    pub delay: Duration,
    /// A `Retry-After` header value.
    pub retry_after: Option<String>,
}

impl Behaviour {
    /// Answer `status` at once.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            retry_after: None,
        }
    }

    /// Answer 200 after `delay` (a target that hangs past the hook's timeout).
    pub fn slow(delay: Duration) -> Self {
        Self {
            status: 200,
            delay,
            retry_after: None,
        }
    }

    /// Answer `status` with `Retry-After: value`.
    pub fn retry_after(status: u16, value: &str) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            retry_after: Some(value.to_owned()),
        }
    }
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
    /// The raw body.
    pub body: String,
    /// The status the receiver answered.
    pub answered: u16,
    /// When the request arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Behaviour>>,
    bodies: HashMap<String, String>,
    requests: Vec<Recorded>,
    /// Requests that have arrived per path, counted before any scripted delay.
    arrived: HashMap<String, usize>,
}

/// The running receiver; stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// Starts a receiver on a free port.
    pub async fn start() -> Receiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let route = warp::any()
            .and(warp::method())
            .and(warp::path::full())
            .and(
                warp::query::raw()
                    .map(Some)
                    .or(warp::any().map(|| None))
                    .unify(),
            )
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |method: warp::http::Method,
                      path: warp::path::FullPath,
                      query: Option<String>,
                      headers: HeaderMap,
                      body: bytes::Bytes| {
                    let state = shared.clone();
                    async move {
                        let at = std::time::Instant::now();
                        let path_only = path.as_str().to_owned();
                        let full = match query {
                            Some(q) => format!("{path_only}?{q}"),
                            None => path_only.clone(),
                        };
                        let behaviour = {
                            let mut state = state.lock().unwrap();
                            *state.arrived.entry(path_only.clone()).or_default() += 1;
                            state
                                .scripts
                                .get_mut(&path_only)
                                .and_then(VecDeque::pop_front)
                                .unwrap_or(Behaviour::status(200))
                        };
                        if !behaviour.delay.is_zero() {
                            tokio::time::sleep(behaviour.delay).await;
                        }
                        let answer_body = state
                            .lock()
                            .unwrap()
                            .bodies
                            .get(&path_only)
                            .cloned()
                            .unwrap_or_else(|| "{}".to_owned());
                        let text = String::from_utf8_lossy(&body).into_owned();
                        state.lock().unwrap().requests.push(Recorded {
                            method: method.to_string(),
                            path: full,
                            headers,
                            json: serde_json::from_str(&text).unwrap_or(Value::Null),
                            body: text,
                            answered: behaviour.status,
                            at,
                        });
                        let mut response = warp::http::Response::builder()
                            .status(StatusCode::from_u16(behaviour.status).unwrap());
                        if let Some(value) = behaviour.retry_after {
                            response = response.header("Retry-After", value);
                        }
                        response
                            .header("content-type", "application/json")
                            .body(answer_body)
                            .unwrap()
                    }
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async move {
                    let _ = stopped.await;
                })
                .run(),
        );
        Receiver {
            base: format!("http://{addr}"),
            state,
            _stop: stop,
        }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Queues behaviours for the next requests to `path` (afterwards: 200).
    pub fn script(&self, path: &str, behaviours: Vec<Behaviour>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .extend(behaviours);
    }

    /// Answers every request to `path` with `body` (for example a JWKS document).
    pub fn serve_json(&self, path: &str, body: &Value) {
        self.state
            .lock()
            .unwrap()
            .bodies
            .insert(path.to_owned(), body.to_string());
    }

    /// Waits until `n` requests to `path` have arrived (before their scripted delay), at most 10 s.
    pub async fn arrived(&self, path: &str, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let count = self.state.lock().unwrap().arrived.get(path).copied();
            if count.unwrap_or(0) >= n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{n} request(s) to {path} did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every request recorded so far whose path (without query) is `path`.
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .cloned()
            .collect()
    }

    /// Requests to `path` that were answered 2xx: the notifications that arrived.
    pub fn delivered(&self, path: &str) -> Vec<Recorded> {
        self.requests(path)
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }
}
