//! The plain Event Grid webhook door (`POST /api/eventgrid`), for Function Apps behind Entra ID,
//! container hosts without trigger bindings, and AWS Lambda function URLs.
//!
//! It speaks Event Grid's webhook protocol: the `SubscriptionValidation` handshake (echo the code),
//! the CloudEvents abuse-protection `OPTIONS` handshake, notifications as one object or an array in
//! either schema (and CloudEvents binary mode), and `Unsubscribe`. Answers are all-or-nothing, as Event
//! Grid expects of a batch: 200 when every event is handled, 500 when a hook failed in a way a retry may
//! cure (Event Grid retries the whole batch; dedupe makes that cheap), 200 still when the only failures
//! are permanent (a target's 4xx, a template that cannot render the event: logged, not retried), 400 when the body or an event is malformed (Event Grid
//! dead-letters it; the answer names the event index and JSON path), 401 without a valid key or token.
//! The door only reads the transport: the pipeline decodes and classifies.

mod answer;
mod handshake;

pub use answer::WebhookAnswer;
pub use handshake::EVENT_GRID_ORIGINS;

use super::auth::{AuthError, Entra, Keys};
use crate::event::media_type_essence;
use crate::pipeline::{Body, Disposition, Pipeline, Processed};
use crate::settings::WebhookSettings;
use percent_encoding::percent_decode_str;
use serde_json::json;
use std::sync::Arc;
use url::form_urlencoded;
use warp::http::{HeaderMap, StatusCode};

/// The header carrying a key as an Event Grid custom delivery header.
pub const KEY_HEADER: &str = "x-aml-events-key";

/// Options of the webhook door.
#[derive(Debug, Clone)]
pub struct WebhookDoor {
    /// The path it serves (`AML_EVENTS_WEBHOOK_PATH`).
    pub path: String,
    /// Largest accepted body (`AML_EVENTS_MAX_WEBHOOK_BYTES`).
    pub max_bytes: u64,
    /// Accepted keys (`AML_EVENTS_WEBHOOK_KEY`); empty means no key is required.
    pub keys: Keys,
    /// Entra ID token validation (`AML_EVENTS_ENTRA_AUDIENCE` + `AML_EVENTS_ENTRA_TENANT`).
    pub entra: Option<Arc<Entra>>,
    /// Whether to `GET` the validation URL of a handshake (`AML_EVENTS_VALIDATE_URL`).
    pub follow_validation_url: bool,
}

impl Default for WebhookDoor {
    fn default() -> Self {
        let settings = WebhookSettings::default();
        Self {
            path: settings.path,
            max_bytes: settings.max_bytes,
            keys: Keys::default(),
            entra: None,
            follow_validation_url: false,
        }
    }
}

/// The door cannot be set up from its settings.
#[derive(Debug, thiserror::Error)]
#[error("the webhook door cannot check Entra ID tokens: {0}")]
pub struct WebhookSetupError(String);

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The keys a request presents: the `code` query parameter (decoded, and as written when a `+` in the
/// key was not encoded), then the key header. An empty `code=` presents nothing.
fn presented_keys(query: &str, headers: &HeaderMap) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some((_, code)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code") {
        if !code.is_empty() {
            if code.contains(' ') {
                keys.push(code.replace(' ', "+"));
            }
            keys.push(code.into_owned());
        }
    }
    if let Some(key) = header(headers, KEY_HEADER) {
        keys.push(key.to_owned());
    }
    keys
}

/// Percent-decoding of a `ce-*` header: RFC 3986, where `+` is itself (`ce-time: ...+02:00`).
fn percent_decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Media types a structured-mode notification may carry (parameters such as `charset` are ignored).
fn is_event_media_type(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        matches!(
            media_type_essence(ct).as_str(),
            "application/json"
                | "application/cloudevents+json"
                | "application/cloudevents-batch+json"
                | "text/json"
        )
    })
}

/// The `ce-*` headers of a binary-mode CloudEvent as attributes, percent-decoded (RFC 3986).
fn binary_mode_attributes(headers: &HeaderMap) -> Result<Vec<(String, String)>, WebhookAnswer> {
    let mut attributes = Vec::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let Ok(value) = value.to_str() else {
            return Err(WebhookAnswer::error(
                StatusCode::BAD_REQUEST,
                format!("header ce-{attribute} is not text"),
            ));
        };
        let value = if attribute == "specversion" {
            value.trim().to_owned()
        } else {
            percent_decode(value)
        };
        attributes.push((attribute.to_owned(), value));
    }
    Ok(attributes)
}

impl WebhookDoor {
    /// The door its settings describe.
    pub fn new(settings: &WebhookSettings) -> Result<Self, WebhookSetupError> {
        let entra = match &settings.entra {
            Some(e) => Some(Arc::new(
                Entra::new(
                    e.audience.clone(),
                    e.tenant.clone(),
                    e.jwks_url.clone(),
                    e.issuers.clone(),
                )
                .map_err(|e| WebhookSetupError(e.to_string()))?,
            )),
            None => None,
        };
        Ok(Self {
            path: settings.path.clone(),
            max_bytes: settings.max_bytes,
            keys: Keys::parse(&settings.keys.join(",")),
            entra,
            follow_validation_url: settings.follow_validation_url,
        })
    }

    /// The `OPTIONS` abuse-protection handshake of CloudEvents webhooks.
    pub fn options(&self, headers: &HeaderMap) -> WebhookAnswer {
        handshake::options(handshake::origin(headers))
    }

    /// Whether a key or Entra ID protects the door.
    pub fn is_protected(&self) -> bool {
        !self.keys.is_empty() || self.entra.is_some()
    }

    async fn authenticate(&self, headers: &HeaderMap, query: &str) -> Result<(), AuthError> {
        if !self.keys.is_empty() {
            let presented = presented_keys(query, headers);
            let mut verdict = self.keys.check(None);
            for key in &presented {
                verdict = verdict.or_else(|_| self.keys.check(Some(key)));
            }
            verdict?;
        }
        if let Some(entra) = &self.entra {
            entra.check(header(headers, "authorization")).await?;
        }
        Ok(())
    }

    /// Handles a `POST`: authentication, then the request `aeg-event-type` names.
    pub async fn post(
        &self,
        pipeline: &Pipeline,
        headers: &HeaderMap,
        query: &str,
        body: &[u8],
    ) -> WebhookAnswer {
        match self.authenticate(headers, query).await {
            Ok(()) => {}
            Err(AuthError::Refused(reason)) => {
                tracing::warn!(reason = %reason, "webhook request refused");
                return WebhookAnswer::error(StatusCode::UNAUTHORIZED, reason);
            }
            // Event Grid retries a 503; a 401 would drop the delivery.
            Err(AuthError::Unavailable(reason)) => {
                tracing::error!(reason = %reason, "cannot check the request's token now");
                return WebhookAnswer::error(StatusCode::SERVICE_UNAVAILABLE, reason);
            }
        }
        if std::str::from_utf8(body).is_err() {
            return WebhookAnswer::error(StatusCode::BAD_REQUEST, "the body is not UTF-8");
        }
        let event_type = header(headers, "aeg-event-type").map(str::to_ascii_lowercase);
        match event_type.as_deref() {
            Some("subscriptionvalidation") => {
                let handshake = match pipeline.process(Body::Events(body)).await {
                    Ok(processed) => processed.into_iter().find_map(|p| match p.disposition {
                        Disposition::Handshake(v) => Some(v),
                        _ => None,
                    }),
                    Err(e) => return WebhookAnswer::decode_error(&e.error),
                };
                handshake::echo(handshake, self.follow_validation_url)
            }
            Some("unsubscribe" | "subscriptiondeletion") => {
                tracing::info!("Event Grid says the subscription was deleted");
                WebhookAnswer::json(StatusCode::OK, json!({}))
            }
            None | Some("notification") => self.notify(pipeline, headers, body).await,
            // A value this version does not know: the body decides (events are processed, anything
            // else is a 400 naming the problem) rather than dropping a delivery unread.
            Some(other) => {
                tracing::warn!(
                    aeg_event_type = %crate::telemetry::bounded(other),
                    "unknown aeg-event-type; reading the body as a notification"
                );
                self.notify(pipeline, headers, body).await
            }
        }
    }

    async fn notify(&self, pipeline: &Pipeline, headers: &HeaderMap, body: &[u8]) -> WebhookAnswer {
        let content_type = header(headers, "content-type");
        // `application/cloudevents*` is structured mode even when `ce-*` headers are present.
        let structured_mode = content_type.is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/cloudevents")
        });
        let attributes;
        let body = if header(headers, "ce-specversion").is_some() && !structured_mode {
            attributes = match binary_mode_attributes(headers) {
                Ok(attributes) => attributes,
                Err(answer) => return answer,
            };
            Body::Binary {
                attributes: &attributes,
                content_type,
                data: body,
            }
        } else if !is_event_media_type(content_type) {
            return WebhookAnswer::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/json, application/cloudevents+json or application/cloudevents-batch+json",
            );
        } else {
            Body::Events(body)
        };
        match pipeline.process(body).await {
            Ok(processed) => notification_answer(&processed),
            Err(e) => WebhookAnswer::decode_error(&e.error),
        }
    }
}

/// All-or-nothing: 500 when a hook failed retryably, else 400 for the first undecodable event, else
/// 200 (naming the hooks that failed permanently: the dispatcher logged their errors).
fn notification_answer(processed: &[Processed<'_>]) -> WebhookAnswer {
    let mut failures = Vec::new();
    let mut not_retried = Vec::new();
    let mut first_rejected = None;
    let (mut handled, mut ignored) = (0, 0);
    for p in processed {
        match &p.disposition {
            Disposition::Handled(outcome) => {
                handled += 1;
                if !outcome.outputs.is_empty() {
                    tracing::warn!(
                        bindings = ?outcome.outputs.keys().collect::<Vec<_>>(),
                        "output hooks only take effect under the Functions host; their messages are dropped here"
                    );
                }
                for f in &outcome.failures {
                    // Details (targets, errors) stay in the logs, not in the answer to the caller.
                    let failure = json!({"event": p.event_id, "hook": f.hook});
                    if f.error.permanent {
                        not_retried.push(failure);
                    } else {
                        failures.push(failure);
                    }
                }
            }
            Disposition::Ignored | Disposition::Handshake(_) => ignored += 1,
            Disposition::Rejected(e) => {
                tracing::error!(error = %e.message(), path = %e.path(), "rejected an event that cannot be decoded");
                first_rejected.get_or_insert(e);
            }
        }
    }
    // A retryable failure outranks a poison event: retrying is the only way the work gets done.
    if !failures.is_empty() {
        return WebhookAnswer::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": {"status": 500, "message": "hooks failed; redeliver", "failures": failures}}),
        );
    }
    if let Some(e) = first_rejected {
        return WebhookAnswer::decode_error(e);
    }
    let mut body = json!({"events": processed.len(), "handled": handled, "ignored": ignored});
    if !not_retried.is_empty() {
        body["failed_permanently"] = not_retried.into();
    }
    WebhookAnswer::json(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, warp::http::HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn keys_are_read_from_the_query_decoded_and_as_written() {
        assert_eq!(presented_keys("a=1&code=k%2By%3D", &headers(&[])), ["k+y="]);
        assert_eq!(presented_keys("code=k+y", &headers(&[])), ["k+y", "k y"]);
        assert!(presented_keys("x=1", &headers(&[])).is_empty());
        assert_eq!(
            presented_keys("code=", &headers(&[(KEY_HEADER, "from-header")])),
            ["from-header"]
        );
    }

    #[test]
    fn ce_headers_are_percent_decoded_as_rfc_3986() {
        assert_eq!(
            percent_decode("2024-05-01T10:00:00+02:00"),
            "2024-05-01T10:00:00+02:00"
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("é%e9%"), "é\u{fffd}%");
        assert_eq!(percent_decode("a%20b"), "a b");
    }

    #[test]
    fn event_media_types_tolerate_parameters() {
        assert!(is_event_media_type(Some(
            "application/cloudevents-batch+json; charset=utf-8"
        )));
        assert!(is_event_media_type(Some("Application/JSON")));
        assert!(is_event_media_type(None));
        assert!(!is_event_media_type(Some("text/plain")));
    }
}
