//! A stand-in for Azure Resource Manager's Azure ML jobs and for a batch endpoint, on 127.0.0.1 over
//! real HTTP, following the documented shapes (`../shared/reference/acting-in-azure.md`):
//!
//! - §2a: `PUT {ARM}/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}/jobs/{name}?api-version=…`
//!   with `{"properties": {...}}` creates the job (201, the job resource with `"status": "NotStarted"`
//!   and `services.Studio.endpoint`); `GET` of the same address answers it (200) or 404. A name that
//!   breaks `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$` is a 400. The status of a PUT to a name that exists is
//!   *not documented*; this stand-in answers 409 with Resource Manager's error shape, the harder case
//!   (a 2xx needs no check). Errors are `{"error": {"code", "message"}}`.
//! - §2b: `POST {scoring URI}` (`/batch/{endpoint}/jobs` here) creates a batch job and answers its
//!   resource (`id`, `name`, `properties`).
//! - Every request must carry `Authorization: Bearer {token}` with a token the test accepts, else 401.
//!
//! Stateful and shared by every app a test starts, so a fresh app (an empty dedupe store) meets the
//! jobs an earlier one created.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::Filter;

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `PUT`, `POST`.
    pub method: String,
    /// The decoded path.
    pub path: String,
    /// The raw query.
    pub query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The status answered.
    pub answered: u16,
}

/// Which bearer tokens the stand-in accepts.
pub type Accept = Arc<dyn Fn(&str) -> bool + Send + Sync>;

struct State {
    accept: Accept,
    jobs: BTreeMap<String, Value>,
    batch_jobs: Vec<Value>,
    seen: Vec<Seen>,
    /// Answers for the next PUTs, before any job logic.
    put_script: VecDeque<(u16, Value)>,
    /// GETs held until this many have arrived (then all go on, and later ones are not held).
    hold_gets: Option<usize>,
    held: usize,
}

/// The running stand-in; stops when dropped.
pub struct AzureMl {
    /// `http://127.0.0.1:PORT`: the Resource Manager address (`AML_EVENTS_ARM_ENDPOINT`).
    pub base: String,
    state: Arc<Mutex<State>>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"code": code, "message": message}}))
}

fn valid_job_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AzureMl {
    /// Starts the stand-in; requests must carry `Bearer {token}` with a token `accept` takes.
    pub async fn start(accept: Accept) -> AzureMl {
        let state = Arc::new(Mutex::new(State {
            accept,
            jobs: BTreeMap::new(),
            batch_jobs: Vec::new(),
            seen: Vec::new(),
            put_script: VecDeque::new(),
            hold_gets: None,
            held: 0,
        }));
        let released = Arc::new(tokio::sync::watch::channel(false).0);
        let release = released.clone();
        let shared = state.clone();
        let route = warp::any()
            .and(warp::method())
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |method: Method,
                      path: warp::path::FullPath,
                      query: String,
                      headers: HeaderMap,
                      body: bytes::Bytes| {
                    let state = shared.clone();
                    let release = release.clone();
                    async move {
                        let path = percent_encoding::percent_decode_str(path.as_str())
                            .decode_utf8_lossy()
                            .into_owned();
                        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        if method == Method::GET {
                            hold(&state, &release).await;
                        }
                        let (status, answer) = {
                            let mut state = state.lock().unwrap();
                            let answer =
                                answer(&mut state, &method, &path, &query, &headers, &json);
                            state.seen.push(Seen {
                                method: method.to_string(),
                                path,
                                query,
                                headers,
                                json,
                                answered: answer.0,
                            });
                            answer
                        };
                        warp::http::Response::builder()
                            .status(StatusCode::from_u16(status).unwrap())
                            .header("content-type", "application/json; charset=utf-8")
                            .body(answer.to_string())
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
        AzureMl {
            base: format!("http://{addr}"),
            state,
            released,
            _stop: stop,
        }
    }

    /// The scoring URI of batch endpoint `name`, as Azure shows it (ending in `/jobs`).
    pub fn scoring_uri(&self, name: &str) -> String {
        format!("{}/batch/{name}/jobs", self.base)
    }

    /// The jobs created, by `{workspace}/{name}`.
    pub fn jobs(&self) -> BTreeMap<String, Value> {
        self.state.lock().unwrap().jobs.clone()
    }

    /// The batch jobs created.
    pub fn batch_jobs(&self) -> Vec<Value> {
        self.state.lock().unwrap().batch_jobs.clone()
    }

    /// Every request seen with `method`.
    pub fn seen(&self, method: &str) -> Vec<Seen> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .iter()
            .filter(|s| s.method == method)
            .cloned()
            .collect()
    }

    /// Answers the next PUT with `status` and `body` instead of creating the job.
    pub fn script_put(&self, status: u16, body: Value) {
        self.state
            .lock()
            .unwrap()
            .put_script
            .push_back((status, body));
    }

    /// Holds GETs until `n` have arrived, then lets them all go: two deliveries that both look
    /// before either creates the job.
    pub fn hold_gets_until(&self, n: usize) {
        let mut state = self.state.lock().unwrap();
        state.hold_gets = Some(n);
        state.held = 0;
        let _ = self.released.send(false);
    }
}

/// Waits while GETs are held (see [`AzureMl::hold_gets_until`]).
async fn hold(state: &Mutex<State>, release: &tokio::sync::watch::Sender<bool>) {
    let mut released = release.subscribe();
    let wait = {
        let mut state = state.lock().unwrap();
        match state.hold_gets {
            None => false,
            Some(n) => {
                state.held += 1;
                if state.held >= n {
                    state.hold_gets = None;
                    false
                } else {
                    true
                }
            }
        }
    };
    if wait {
        let _ = released.wait_for(|released| *released).await;
    } else {
        // The last held GET (or any GET when none are held) releases the others.
        release.send_replace(true);
    }
}

/// What the stand-in answers.
fn answer(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Value,
) -> (u16, Value) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let token = auth.and_then(|a| a.strip_prefix("Bearer "));
    if !token.is_some_and(|t| (state.accept)(t)) {
        return error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["batch", endpoint, "jobs"]) => batch_job(state, endpoint, body),
        (
            "GET" | "PUT",
            ["subscriptions", s, "resourceGroups", g, "providers", "Microsoft.MachineLearningServices", "workspaces", w, "jobs", name],
        ) => {
            if !query.starts_with("api-version=") {
                return error(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                );
            }
            let id = format!("/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}/jobs/{name}");
            let key = format!("{w}/{name}");
            if method == Method::GET {
                return match state.jobs.get(&key) {
                    Some(job) => (200, job.clone()),
                    None => error(404, "UserError", &format!("Could not find job {name}.")),
                };
            }
            if let Some(scripted) = state.put_script.pop_front() {
                return scripted;
            }
            if !valid_job_name(name) {
                return error(400, "UserError", "The job name is not valid.");
            }
            if state.jobs.contains_key(&key) {
                return error(409, "Conflict", &format!("Job {name} already exists."));
            }
            let Some(mut properties) = body.get("properties").cloned().filter(Value::is_object)
            else {
                return error(400, "UserError", "The request body must have properties.");
            };
            properties["status"] = json!("NotStarted");
            properties["services"] = json!({"Studio": {"endpoint": format!(
                "https://ml.azure.com/runs/{name}?wsid=/subscriptions/{s}/resourcegroups/{g}/workspaces/{w}"
            )}});
            let job = json!({"id": id, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/jobs", "properties": properties});
            state.jobs.insert(key, job.clone());
            (201, job)
        }
        _ => error(404, "NotFound", "No such resource."),
    }
}

/// A batch endpoint job: the BatchJobResource azure-ai-ml deserialises (reference §2b).
fn batch_job(state: &mut State, endpoint: &str, body: &Value) -> (u16, Value) {
    if body.get("properties").is_none() {
        return error(400, "UserError", "The request body must have properties.");
    }
    let name = format!("batchjob-{:04}", state.batch_jobs.len() + 1);
    let job = json!({
        "id": format!("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws/batchEndpoints/{endpoint}/jobs/{name}"),
        "name": name,
        "properties": {
            "status": "NotStarted",
            "interactionEndpoints": {"Studio": {"endpoint": format!("https://ml.azure.com/runs/{name}?wsid=/subscriptions/s/resourcegroups/g/workspaces/ml-prod-ws")}},
        },
    });
    state.batch_jobs.push(body.clone());
    (200, job)
}
