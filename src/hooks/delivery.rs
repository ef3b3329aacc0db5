//! Sending a notification over HTTP with bounded retries.
//!
//! Retries on connection errors, timeouts, 408, 429 and 5xx, with exponential backoff and
//! jitter, honouring `Retry-After`; any other 4xx fails at once (the target said the request itself is
//! wrong, so the failure is *permanent*: `DeliveryError::is_permanent`). Every attempt and every wait fits inside the invocation's deadline: when the next attempt
//! cannot, delivery stops with the last error so the door can answer in time.
//!
//! The answer's body is read only when the request asks for it ([`Outgoing::read_answer`]), and then
//! at most [`MAX_ANSWER_BYTES`]: a notification is done once its status arrived, while the Azure ML
//! actions need what Resource Manager said (the job, its status, the error's `code` and `message`).
//!
//! The request goes out through a [`Transport`] (`transport.rs`): reqwest's client in the handler, an
//! in-process fake in tests, so that backoff, `Retry-After` and the deadline are tested under paused time, without a socket.
//!
//! (DESIGN.md named `backon` for this; a loop that needs `Retry-After` and an absolute deadline is
//! clearer written out than expressed through its adjust hooks.)

pub use super::transport::{
    Outgoing, Response, Transport, TransportError, TransportFuture, MAX_ANSWER_BYTES,
};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use std::time::{Duration, SystemTime};
use thiserror::Error;
use tokio::time::Instant;

/// Retry settings of one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub(crate) retries: u32,
    /// Limit for one attempt (connect, send, read the status).
    pub(crate) timeout: Duration,
    /// First backoff ceiling; doubles per retry.
    pub(crate) base_backoff: Duration,
    /// Largest backoff ceiling.
    pub(crate) max_backoff: Duration,
    /// `on_permanent_failure = "retry"`: a failure a retry would meet again is still answered as
    /// retryable (5xx, Event Grid redelivers), as before permanent failures were told apart.
    pub(crate) retry_permanent: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            timeout: Duration::from_secs(5),
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            retry_permanent: false,
        }
    }
}

/// Why one attempt did not deliver.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub(crate) enum AttemptError {
    /// The target answered with a status that is not a success.
    #[error("the target answered {0}")]
    Status(StatusCode),
    /// The transport did not finish within the attempt's limit.
    #[error("no answer within {} ms", .0.as_millis())]
    NoAnswer(Duration),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Delivery failed; the message names no URL.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub(crate) enum DeliveryError {
    /// The deadline had passed before this attempt could start.
    #[error("deadline reached before attempt {attempt}")]
    DeadlineReached {
        /// The attempt that did not start.
        attempt: u32,
    },
    /// The target refused the request itself (a 4xx other than 408 and 429).
    #[error("{error} (attempt {attempt}; not retried)")]
    NotRetried {
        /// The answer.
        error: AttemptError,
        /// The attempt it came on.
        attempt: u32,
        /// The refusal's body, when the request asked for it (Resource Manager explains there).
        answer: Vec<u8>,
    },
    /// Every attempt failed.
    #[error("{error} (attempt {attempt} of {attempt}; retries exhausted)")]
    RetriesExhausted {
        /// The last failure.
        error: AttemptError,
        /// The number of attempts made (all of them).
        attempt: u32,
    },
    /// The next attempt would start after the deadline.
    #[error("{error} (attempt {attempt}; the next attempt in {} ms would pass the invocation deadline)", .wait.as_millis())]
    NextAttemptTooLate {
        /// The last failure.
        error: AttemptError,
        /// The attempt it came on.
        attempt: u32,
        /// The wait before the next attempt.
        wait: Duration,
    },
}

impl DeliveryError {
    /// Whether a redelivery would fail the same way: the target refused the request itself (a 4xx
    /// other than 408 and 429). Timeouts, connection errors, 408, 429 and 5xx may pass.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, Self::NotRetried { .. })
    }

    /// The status and body of a refusal (a 4xx other than 408 and 429); `None` for other failures.
    pub(crate) fn refusal(&self) -> Option<(StatusCode, &[u8])> {
        match self {
            Self::NotRetried {
                error: AttemptError::Status(status),
                answer,
                ..
            } => Some((*status, answer)),
            _ => None,
        }
    }
}

/// A delivered request: the final answer and the attempts it took.
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    /// The success status.
    pub(crate) status: StatusCode,
    /// The body, when the request asked for it.
    pub(crate) body: Vec<u8>,
    /// Attempts made, this one included.
    pub(crate) attempts: u32,
}

/// How one attempt ended.
enum Attempt {
    Delivered(Response),
    Retryable {
        error: AttemptError,
        retry_after: Option<Duration>,
    },
    Fatal(AttemptError, Vec<u8>),
}

/// Delivers `request` through `transport`, retrying per `policy` until `deadline`. Returns the final
/// answer and the number of attempts.
pub(crate) async fn deliver(
    transport: &dyn Transport,
    request: &Outgoing,
    policy: RetryPolicy,
    deadline: Instant,
) -> Result<Delivered, DeliveryError> {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let now = Instant::now();
        if now >= deadline {
            return Err(DeliveryError::DeadlineReached { attempt });
        }
        let limit = policy.timeout.min(deadline - now);
        let (error, retry_after) = match try_once(transport, request, limit).await {
            Attempt::Delivered(response) => {
                return Ok(Delivered {
                    status: response.status,
                    body: response.body,
                    attempts: attempt,
                })
            }
            Attempt::Fatal(error, answer) => {
                return Err(DeliveryError::NotRetried {
                    error,
                    attempt,
                    answer,
                })
            }
            Attempt::Retryable { error, retry_after } => (error, retry_after),
        };
        if attempt > policy.retries {
            return Err(DeliveryError::RetriesExhausted { error, attempt });
        }
        let wait = retry_after.unwrap_or_else(|| backoff(policy, attempt));
        if wait >= deadline.saturating_duration_since(Instant::now()) {
            return Err(DeliveryError::NextAttemptTooLate {
                error,
                attempt,
                wait,
            });
        }
        tracing::warn!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "{error}; retrying"
        );
        tokio::time::sleep(wait).await;
    }
}

/// One attempt, bounded by `limit` whatever the transport does.
async fn try_once(transport: &dyn Transport, request: &Outgoing, limit: Duration) -> Attempt {
    let response = match tokio::time::timeout(limit, transport.send(request, limit)).await {
        Err(_) => {
            return Attempt::Retryable {
                error: AttemptError::NoAnswer(limit),
                retry_after: None,
            }
        }
        Ok(Err(e)) if e.is_permanent() => return Attempt::Fatal(e.into(), Vec::new()),
        Ok(Err(e)) => {
            return Attempt::Retryable {
                error: e.into(),
                retry_after: None,
            }
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status;
    if status.is_success() {
        return Attempt::Delivered(response);
    }
    let retry_after = response
        .headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let error = AttemptError::Status(status);
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Attempt::Retryable { error, retry_after }
    } else {
        Attempt::Fatal(error, response.body)
    }
}

/// Jittered exponential backoff: a uniform wait between half and all of `base * 2^(attempt-1)`, capped.
fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_backoff
        .saturating_mul(1u32 << (attempt - 1).min(16))
        .min(policy.max_backoff);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(fastrand::u64(ms / 2..=ms.max(1)))
}

/// Longest `Retry-After` taken literally; anything longer is past any deadline anyway.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After`: delay seconds or an HTTP date, capped at an hour.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::{Method, Url};
    use std::sync::Mutex;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            let first = backoff(policy, 1);
            assert!(
                first <= Duration::from_millis(250) && first >= Duration::from_millis(125),
                "{first:?}"
            );
            assert!(backoff(policy, 12) <= policy.max_backoff);
        }
    }

    /// Answers from a script, recording when each attempt came.
    #[derive(Debug, Default)]
    struct Scripted {
        answers: Mutex<Vec<Result<Response, TransportError>>>,
        at: Mutex<Vec<Instant>>,
    }

    impl Transport for Scripted {
        fn send<'a>(&'a self, _request: &'a Outgoing, _limit: Duration) -> TransportFuture<'a> {
            self.at.lock().unwrap().push(Instant::now());
            let mut answers = self.answers.lock().unwrap();
            let next = if answers.is_empty() {
                Ok(Response::new(StatusCode::OK))
            } else {
                answers.remove(0)
            };
            Box::pin(async move { next })
        }
    }

    fn request() -> Outgoing {
        Outgoing {
            method: Method::POST,
            url: Url::parse("https://example.test/hook").unwrap(),
            headers: HeaderMap::new(),
            body: b"{}".to_vec(),
            read_answer: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_would_pass_the_deadline_stops_delivery_at_once() {
        let mut busy = Response::new(StatusCode::SERVICE_UNAVAILABLE);
        busy.headers.insert(RETRY_AFTER, "5".parse().unwrap());
        let transport = Scripted {
            answers: Mutex::new(vec![Ok(busy)]),
            ..Scripted::default()
        };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(2);
        let err = deliver(&transport, &request(), RetryPolicy::default(), deadline)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the target answered 503 Service Unavailable (attempt 1; the next attempt in 5000 ms would pass the invocation deadline)"
        );
        assert_eq!(started.elapsed(), Duration::ZERO, "it did not wait");
    }

    #[tokio::test(start_paused = true)]
    async fn connection_errors_are_retried_with_growing_backoff() {
        let refused = || Err(TransportError::Connect("refused".into()));
        let transport = Scripted {
            answers: Mutex::new(vec![refused(), refused(), refused()]),
            ..Scripted::default()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let err = deliver(
            &transport,
            &request(),
            RetryPolicy {
                retries: 2,
                ..RetryPolicy::default()
            },
            deadline,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not connect: refused (attempt 3 of 3; retries exhausted)"
        );
        let at = transport.at.lock().unwrap();
        let (first, second) = (at[1] - at[0], at[2] - at[1]);
        assert!(
            first >= Duration::from_millis(125) && first <= Duration::from_millis(250),
            "{first:?}"
        );
        assert!(
            second >= Duration::from_millis(250) && second <= Duration::from_millis(500),
            "{second:?}"
        );
    }

    /// The reqwest transport over a real socket that accepts and never answers: its own limit fires
    /// and the error names no URL.
    #[tokio::test]
    async fn the_reqwest_transport_times_out_without_naming_the_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let mut request = request();
        request.url = Url::parse(&format!("http://127.0.0.1:{port}/SECRET-PATH")).unwrap();
        let client = reqwest::Client::new();
        let err = client
            .send(&request, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::TimedOut(_)), "{err}");
        assert!(!err.to_string().contains("SECRET-PATH"), "{err}");
    }

    /// A server on 127.0.0.1 that answers every request with `head` and then `body`, and then holds
    /// the connection open (a body that never ends unless `head` gives its length).
    async fn answering(head: &'static str, body: Vec<u8>) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                open.push(socket);
            }
        });
        port
    }

    /// A notification is done when its status arrives: a body that never ends does not hold it.
    #[tokio::test]
    async fn the_body_is_not_awaited_unless_asked_for() {
        let port = answering(
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
            b"{}".to_vec(),
        )
        .await;
        let mut request = request();
        request.url = Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
        let response = reqwest::Client::new()
            .send(&request, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.body.is_empty());
    }

    /// Asked for, the body is read up to [`MAX_ANSWER_BYTES`], and no further.
    #[tokio::test]
    async fn an_asked_for_body_is_read_up_to_the_cap() {
        let big = vec![b'x'; MAX_ANSWER_BYTES * 3];
        let port = answering(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 196608\r\n\r\n",
            big,
        )
        .await;
        let mut request = request();
        request.url = Url::parse(&format!("http://127.0.0.1:{port}/jobs/x")).unwrap();
        request.read_answer = true;
        let response = reqwest::Client::new()
            .send(&request, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.body.len(), MAX_ANSWER_BYTES);

        let port = answering(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 41\r\n\r\n",
            br#"{"error":{"code":"Bad","message":"no!!"}}"#.to_vec(),
        )
        .await;
        request.url = Url::parse(&format!("http://127.0.0.1:{port}/jobs/x")).unwrap();
        let err = deliver(
            &reqwest::Client::new(),
            &request,
            RetryPolicy::default(),
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        let (status, body) = err.refusal().unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, br#"{"error":{"code":"Bad","message":"no!!"}}"#);
    }
}
