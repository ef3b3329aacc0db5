//! The request a hook sends and the [`Transport`] that sends it: reqwest's client in the handler, an
//! in-process fake in tests (so that delivery's retries and deadlines run under paused time). What
//! comes back is reduced to what delivery decides on ([`Response`]) or a [`TransportError`] whose
//! text never holds the URL.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;

/// One HTTP request to deliver.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// POST or PUT.
    pub method: Method,
    /// The destination (a secret: never logged).
    pub url: Url,
    /// Headers, `Content-Type` included.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the answer's body is wanted (at most [`MAX_ANSWER_BYTES`]). `false` for notifications:
    /// waiting for a body after the status arrived could turn a delivered message into a timeout.
    pub read_answer: bool,
}

/// The most of an answer's body that is read. The answers the actions read are small (an Azure ML job
/// resource is a few KiB, Resource Manager's `{"error": {code, message, details}}` well under one), so
/// 64 KiB keeps every one whole while bounding what a misbehaving target can make the handler hold
/// per hook and event. A longer body is cut there (and then usually no longer parses as JSON).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the target answered: all that delivery decides on, and the body when the request asked for it.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Retry-After` is read from them).
    pub headers: HeaderMap,
    /// The first [`MAX_ANSWER_BYTES`] of the body when [`Outgoing::read_answer`] was set; else empty.
    pub body: Vec<u8>,
}

impl Response {
    /// An answer with `status`, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// An answer with `status` and a JSON `body` (tests' transports).
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        Self {
            body: body.to_string().into_bytes(),
            ..Self::new(status)
        }
    }
}

/// Sending failed before a status arrived. The text never contains the URL (it may hold a token).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportError {
    /// The attempt's time limit passed.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// No connection could be made.
    #[error("could not connect: {0}")]
    Connect(String),
    /// Anything else: TLS, a broken connection, an unreadable answer.
    #[error("transport error: {0}")]
    Other(String),
    /// No token for the request's `auth` (nothing was sent). The text names the credential and
    /// the audience, never a token; `permanent` when the token endpoint refused.
    #[error("{message}")]
    Token {
        /// What the token provider said.
        message: String,
        /// Whether a retry would meet the same refusal.
        permanent: bool,
    },
}

impl TransportError {
    /// Whether a retry would fail the same way (only a refused token).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Token {
                permanent: true,
                ..
            }
        )
    }
}

/// The future a [`Transport`] returns.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'a>>;

/// Sends one request and returns the target's answer: reqwest's client in the handler; tests pass
/// their own to [`crate::hooks::config::HooksConfig::dispatcher_with`].
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `request`, giving up after `limit`.
    fn send<'a>(&'a self, request: &'a Outgoing, limit: Duration) -> TransportFuture<'a>;
}

impl Transport for reqwest::Client {
    fn send<'a>(&'a self, request: &'a Outgoing, limit: Duration) -> TransportFuture<'a> {
        let send = self
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .timeout(limit)
            .send();
        let read_answer = request.read_answer;
        Box::pin(async move {
            let mut response = send.await.map_err(|e| {
                let text = describe(&e);
                if e.is_timeout() {
                    TransportError::TimedOut(text)
                } else if e.is_connect() {
                    TransportError::Connect(text)
                } else {
                    TransportError::Other(text)
                }
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            if read_answer {
                // A body cut short by the connection keeps what arrived: the status is the answer,
                // the body only its detail.
                while let Ok(Some(chunk)) = response.chunk().await {
                    let room = MAX_ANSWER_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() == MAX_ANSWER_BYTES {
                        break;
                    }
                }
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}

/// A reqwest error's text without the URL (which may hold a token).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "[url]");
    }
    text
}
