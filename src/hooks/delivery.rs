//! Sending a notification over HTTP with bounded retries.
//!
//! Retries on connection errors, timeouts, 408, 429 and 5xx, with exponential backoff and
//! jitter, honouring `Retry-After`; any other 4xx fails at once (the target said the request itself is
//! wrong). Every attempt and every wait fits inside the invocation's deadline: when the next attempt
//! cannot, delivery stops with the last error so the door can answer in time.
//!
//! (DESIGN.md named `backon` for this; a loop that needs `Retry-After` and an absolute deadline is
//! clearer written out than expressed through its adjust hooks.)

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Retry settings of one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Limit for one attempt (connect, send, read the status).
    pub timeout: Duration,
    /// First backoff ceiling; doubles per retry.
    pub base_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            timeout: Duration::from_secs(5),
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

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
}

/// Delivery failed; the message names no URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// What happened, attempt count included.
    pub message: String,
}

/// How one attempt ended.
enum Attempt {
    Delivered(StatusCode),
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fatal(String),
}

/// Delivers `request`, retrying per `policy` until `deadline`. Returns the final status and the number
/// of attempts.
pub async fn deliver(
    client: &reqwest::Client,
    request: &Outgoing,
    policy: RetryPolicy,
    deadline: Instant,
) -> Result<(StatusCode, u32), DeliveryError> {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let now = Instant::now();
        if now >= deadline {
            return Err(DeliveryError {
                message: format!("deadline reached before attempt {attempt}"),
            });
        }
        let limit = policy.timeout.min(deadline - now);
        let (reason, retry_after) = match try_once(client, request, limit).await {
            Attempt::Delivered(status) => return Ok((status, attempt)),
            Attempt::Fatal(reason) => {
                return Err(DeliveryError {
                    message: format!("{reason} (attempt {attempt}; not retried)"),
                })
            }
            Attempt::Retryable {
                reason,
                retry_after,
            } => (reason, retry_after),
        };
        if attempt > policy.retries {
            return Err(DeliveryError {
                message: format!(
                    "{reason} (attempt {attempt} of {}; retries exhausted)",
                    policy.retries + 1
                ),
            });
        }
        let wait = retry_after.unwrap_or_else(|| backoff(policy, attempt));
        if wait >= deadline.saturating_duration_since(Instant::now()) {
            return Err(DeliveryError {
                message: format!(
                    "{reason} (attempt {attempt}; the next attempt in {} ms would pass the invocation deadline)",
                    wait.as_millis()
                ),
            });
        }
        tracing::warn!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "{reason}; retrying"
        );
        tokio::time::sleep(wait).await;
    }
}

async fn try_once(client: &reqwest::Client, request: &Outgoing, limit: Duration) -> Attempt {
    let send = client
        .request(request.method.clone(), request.url.clone())
        .headers(request.headers.clone())
        .body(request.body.clone())
        .timeout(limit)
        .send();
    let response = match tokio::time::timeout(limit, send).await {
        Err(_) => {
            return Attempt::Retryable {
                reason: format!("no answer within {} ms", limit.as_millis()),
                retry_after: None,
            }
        }
        Ok(Err(e)) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "transport error"
            };
            return Attempt::Retryable {
                reason: format!("{kind}: {}", describe(&e)),
                retry_after: None,
            };
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Delivered(status);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let reason = format!("the target answered {status}");
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Attempt::Retryable {
            reason,
            retry_after,
        }
    } else {
        Attempt::Fatal(reason)
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
pub fn parse_retry_after(value: &str) -> Option<Duration> {
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
}
