//! The plain Event Grid webhook door (`POST /api/eventgrid`), for Function Apps behind Entra ID,
//! container hosts without trigger bindings, and AWS Lambda function URLs.
//!
//! It speaks Event Grid's webhook protocol: the `SubscriptionValidation` handshake (echo the code),
//! the CloudEvents abuse-protection `OPTIONS` handshake, notifications as one object or an array in
//! either schema (and CloudEvents binary mode), and `Unsubscribe`. Answers are all-or-nothing, as Event
//! Grid expects of a batch: 200 when every event is handled, 500 when a hook failed (Event Grid retries
//! the whole batch; dedupe makes that cheap), 400 when the body or an event is malformed (Event Grid
//! dead-letters it; the answer names the event index and JSON path), 401 without a valid key or token.

use super::auth::{AuthError, Entra, Keys};
use crate::core::{Core, Disposition};
use crate::event::{
    is_json_media_type, media_type_essence, DecodeError, EventKind, JsonPath, MlEvent,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use warp::http::{HeaderMap, StatusCode};

/// Default path of the webhook door.
pub const DEFAULT_PATH: &str = "/api/eventgrid";
/// Event Grid's own limit for a delivery.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
/// Origins Event Grid uses in the CloudEvents handshake (public and sovereign clouds).
pub const EVENT_GRID_ORIGINS: [&str; 5] = [
    "eventgrid.azure.net",
    "eventgrid.azure.us",
    "eventgrid.azure.cn",
    "eventgrid.azure.eaglex.ic.gov",
    "eventgrid.azure.microsoft.scloud",
];
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
    /// Whether to `GET` the validation URL of a handshake (`AML_EVENTS_VALIDATE_URL=1`).
    pub follow_validation_url: bool,
}

impl Default for WebhookDoor {
    fn default() -> Self {
        Self {
            path: DEFAULT_PATH.to_owned(),
            max_bytes: DEFAULT_MAX_BYTES,
            keys: Keys::default(),
            entra: None,
            follow_validation_url: false,
        }
    }
}

/// An answer of the webhook door.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAnswer {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl WebhookAnswer {
    fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// An error answer: `{"error": {"status", "message"}}`.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self::json(
            status,
            json!({"error": {"status": status.as_u16(), "message": message.into()}}),
        )
    }

    fn decode_error(error: &DecodeError) -> Self {
        Self::json(
            StatusCode::BAD_REQUEST,
            json!({"error": {"status": 400, "message": error.to_string(), "path": error.path().to_string(),
                   "index": index_of(error.path())}}),
        )
    }
}

/// The batch index a path starts with (`$[3].data` → 3).
fn index_of(path: &JsonPath) -> Value {
    let text = path.to_string();
    text.strip_prefix("$[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(Value::Null, Value::from)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The raw (still encoded) value of a query parameter.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Percent-decoding. `form` also reads `+` as a space (query strings); CloudEvents `ce-*` headers use
/// RFC 3986 encoding, where `+` is itself (`ce-time: ...+02:00`).
fn percent_decode(text: &str, form: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if form => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

impl WebhookDoor {
    /// Options from the environment: `AML_EVENTS_WEBHOOK_PATH`, `AML_EVENTS_MAX_WEBHOOK_BYTES`,
    /// `AML_EVENTS_WEBHOOK_KEY`, `AML_EVENTS_ENTRA_AUDIENCE` + `AML_EVENTS_ENTRA_TENANT`
    /// (+ `AML_EVENTS_ENTRA_JWKS_URL`), `AML_EVENTS_VALIDATE_URL`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut door = WebhookDoor::default();
        if let Some(path) = var("AML_EVENTS_WEBHOOK_PATH").filter(|p| !p.trim().is_empty()) {
            let path = format!("/{}", path.trim().trim_matches('/'));
            if path.contains(['?', '#', ' ']) {
                return Err(format!(
                    "AML_EVENTS_WEBHOOK_PATH={path:?} is not a URL path"
                ));
            }
            door.path = path;
        }
        if let Some(v) = var("AML_EVENTS_MAX_WEBHOOK_BYTES") {
            door.max_bytes = v
                .trim()
                .parse()
                .map_err(|_| format!("AML_EVENTS_MAX_WEBHOOK_BYTES={v:?} is not a byte count"))?;
        }
        if let Some(keys) = var("AML_EVENTS_WEBHOOK_KEY") {
            door.keys = Keys::parse(&keys);
            if door.keys.is_empty() {
                return Err("AML_EVENTS_WEBHOOK_KEY is set but holds no key".into());
            }
        }
        match (
            var("AML_EVENTS_ENTRA_AUDIENCE"),
            var("AML_EVENTS_ENTRA_TENANT"),
        ) {
            (Some(audience), Some(tenant))
                if !audience.trim().is_empty() && !tenant.trim().is_empty() =>
            {
                let issuers = var("AML_EVENTS_ENTRA_ISSUER").map(|list| {
                    list.split(',')
                        .map(|i| i.trim().to_owned())
                        .filter(|i| !i.is_empty())
                        .collect()
                });
                door.entra = Some(Arc::new(Entra::new(
                    audience.trim().to_owned(),
                    tenant.trim().to_owned(),
                    var("AML_EVENTS_ENTRA_JWKS_URL"),
                    issuers,
                )
                .map_err(|e| e.to_string())?));
            }
            (None, None) => {}
            _ => {
                return Err(
                    "set both AML_EVENTS_ENTRA_AUDIENCE and AML_EVENTS_ENTRA_TENANT, or neither"
                        .into(),
                )
            }
        }
        door.follow_validation_url = matches!(
            var("AML_EVENTS_VALIDATE_URL").as_deref().map(str::trim),
            Some("1" | "true" | "yes")
        );
        Ok(door)
    }

    /// The `OPTIONS` abuse-protection handshake of CloudEvents webhooks.
    pub fn options(&self, headers: &HeaderMap) -> WebhookAnswer {
        let Some(origin) = header(headers, "webhook-request-origin") else {
            let mut answer =
                WebhookAnswer::error(StatusCode::BAD_REQUEST, "missing WebHook-Request-Origin");
            answer.headers.push(("allow", "POST, OPTIONS".into()));
            return answer;
        };
        // Grant only Event Grid's origins; anyone else is answered with Event Grid's, i.e. not granted.
        let granted = EVENT_GRID_ORIGINS
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .copied()
            .unwrap_or(EVENT_GRID_ORIGINS[0]);
        WebhookAnswer {
            status: StatusCode::OK,
            body: json!({}),
            headers: vec![
                ("webhook-allowed-origin", granted.to_owned()),
                ("webhook-allowed-rate", "*".to_owned()),
                ("allow", "POST, OPTIONS".to_owned()),
            ],
        }
    }

    /// Whether a key or Entra ID protects the door.
    pub fn is_protected(&self) -> bool {
        !self.keys.is_empty() || self.entra.is_some()
    }

    async fn authenticate(&self, headers: &HeaderMap, query: &str) -> Result<(), AuthError> {
        if !self.keys.is_empty() {
            match (query_param(query, "code"), header(headers, KEY_HEADER)) {
                // The key as sent, or decoded (a URL written without encoding a `+` in the key).
                (Some(raw), _) => self
                    .keys
                    .check(Some(&percent_decode(raw, true)))
                    .or_else(|_| self.keys.check(Some(raw)))?,
                (None, presented) => self.keys.check(presented)?,
            }
        }
        if let Some(entra) = &self.entra {
            entra.check(header(headers, "authorization")).await?;
        }
        Ok(())
    }

    /// Handles a `POST`: authentication, then the request `aeg-event-type` names.
    pub async fn post(
        &self,
        core: &Core,
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
        let Ok(text) = std::str::from_utf8(body) else {
            return WebhookAnswer::error(StatusCode::BAD_REQUEST, "the body is not UTF-8");
        };
        match header(headers, "aeg-event-type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("subscriptionvalidation") => self.validate(text).await,
            Some("unsubscribe" | "subscriptiondeletion") => {
                tracing::info!("Event Grid says the subscription was deleted");
                WebhookAnswer::json(StatusCode::OK, json!({}))
            }
            None | Some("notification") => self.notify(core, headers, text).await,
            // A value this version does not know: the body decides (events are processed, anything
            // else is a 400 naming the problem) rather than dropping a delivery unread.
            Some(other) => {
                tracing::warn!(
                    aeg_event_type = other,
                    "unknown aeg-event-type; reading the body as a notification"
                );
                self.notify(core, headers, text).await
            }
        }
    }

    async fn validate(&self, text: &str) -> WebhookAnswer {
        let events = match crate::event::decode_batch::<MlEvent>(text) {
            Ok(events) => events,
            Err(e) => return WebhookAnswer::decode_error(&e),
        };
        let validation = events.into_iter().find_map(|e| match e {
            Ok(event) => match event.data {
                MlEvent::SubscriptionValidation(v) => Some(v),
                _ => None,
            },
            Err(_) => None,
        });
        let Some(validation) = validation else {
            return WebhookAnswer::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "no {} in the handshake",
                    EventKind::SubscriptionValidation.type_name()
                ),
            );
        };
        let Some(code) = validation.validation_code.filter(|c| !c.is_empty()) else {
            return WebhookAnswer::error(
                StatusCode::BAD_REQUEST,
                "the handshake has no validationCode",
            );
        };
        if let Some(url) = validation.validation_url {
            tracing::info!(validation_url = %url, "subscription validation: answered with the code; the URL validates manually");
            if self.follow_validation_url {
                follow_validation_url(url);
            }
        }
        WebhookAnswer::json(StatusCode::OK, json!({"validationResponse": code}))
    }

    async fn notify(&self, core: &Core, headers: &HeaderMap, text: &str) -> WebhookAnswer {
        let structured;
        let content_type = header(headers, "content-type").unwrap_or("");
        // `application/cloudevents*` is structured mode even when `ce-*` headers are present.
        let structured_mode = content_type
            .to_ascii_lowercase()
            .starts_with("application/cloudevents");
        let text = if let (Some(spec), false) = (header(headers, "ce-specversion"), structured_mode)
        {
            match binary_mode_event(headers, spec, text) {
                Ok(event) => {
                    structured = event.to_string();
                    structured.as_str()
                }
                Err(answer) => return answer,
            }
        } else if !is_event_media_type(header(headers, "content-type")) {
            return WebhookAnswer::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/json, application/cloudevents+json or application/cloudevents-batch+json",
            );
        } else {
            text
        };
        let processed = match core.process_body(text).await {
            Ok(processed) => processed,
            Err(e) => return WebhookAnswer::decode_error(&e),
        };
        let mut failures = Vec::new();
        let mut first_rejected: Option<DecodeError> = None;
        let (mut handled, mut ignored) = (0, 0);
        for (p, _raw) in &processed {
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
                        failures.push(json!({"event": p.event_id, "hook": f.hook}));
                    }
                }
                Disposition::Ignored => ignored += 1,
                Disposition::Rejected(e) => {
                    tracing::error!(error = %e.message(), path = %e.path(), "rejected an event that cannot be decoded");
                    first_rejected.get_or_insert_with(|| e.clone());
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
            return WebhookAnswer::decode_error(&e);
        }
        WebhookAnswer::json(
            StatusCode::OK,
            json!({"events": processed.len(), "handled": handled, "ignored": ignored}),
        )
    }
}

/// Builds a structured CloudEvent from binary mode: attributes in `ce-*` headers, data in the body.
fn binary_mode_event(headers: &HeaderMap, spec: &str, body: &str) -> Result<Value, WebhookAnswer> {
    let mut event = Map::new();
    event.insert("specversion".into(), Value::String(spec.to_owned()));
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        if attribute == "specversion" {
            continue;
        }
        let Ok(value) = value.to_str() else {
            return Err(WebhookAnswer::error(
                StatusCode::BAD_REQUEST,
                format!("header ce-{attribute} is not text"),
            ));
        };
        event.insert(
            attribute.to_owned(),
            Value::String(percent_decode(value, false)),
        );
    }
    let content_type = header(headers, "content-type").unwrap_or("application/json");
    event.insert(
        "datacontenttype".into(),
        Value::String(content_type.to_owned()),
    );
    if body.trim().is_empty() {
        // No data.
    } else if is_json_media_type(content_type) {
        let data: Value = crate::event::parse_str(body)
            .map_err(|e| WebhookAnswer::decode_error(&e.within(&JsonPath::root().key("data"))))?;
        event.insert("data".into(), data);
    } else {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        event.insert("data_base64".into(), Value::String(encoded));
    }
    Ok(Value::Object(event))
}

/// The validation URL, if it is one Event Grid would send: https on one of Event Grid's own hosts. The
/// URL comes from the request body; following anything else would let a caller make us fetch any URL.
fn allowed_validation_url(url: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse(url).ok().filter(|u| {
        u.scheme() == "https"
            && u.host_str().is_some_and(|h| {
                EVENT_GRID_ORIGINS
                    .iter()
                    .any(|o| h.ends_with(&format!(".{o}")))
            })
    })
}

/// GETs an Event Grid validation URL in the background (manual validation, `AML_EVENTS_VALIDATE_URL=1`).
fn follow_validation_url(url: String) {
    let Some(url) = allowed_validation_url(&url) else {
        tracing::warn!("validationUrl is not an https Event Grid URL; not following it");
        return;
    };
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "cannot create an HTTP client to follow the validation URL");
                return;
            }
        };
        match client.get(url).send().await {
            Ok(r) => tracing::info!(
                status = r.status().as_u16(),
                "followed the subscription validation URL"
            ),
            Err(e) => {
                tracing::error!(error = %e.without_url(), "could not follow the subscription validation URL")
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(query_param("a=1&code=k%2By%3D", "code"), Some("k%2By%3D"));
        assert_eq!(percent_decode("k%2By%3D", true), "k+y=");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(
            percent_decode("2024-05-01T10:00:00+02:00", false),
            "2024-05-01T10:00:00+02:00"
        );
        assert_eq!(query_param("x=1", "code"), None);
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("é%e9%", false), "é\u{fffd}%");
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

    #[test]
    fn only_event_grid_validation_urls_are_followed() {
        assert!(allowed_validation_url(
            "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate?id=1"
        )
        .is_some());
        assert!(
            allowed_validation_url("https://rp-usgovvirginia.eventgrid.azure.us/validate")
                .is_some()
        );
        assert!(allowed_validation_url("http://rp-eastus2.eventgrid.azure.net/validate").is_none());
        assert!(
            allowed_validation_url("https://eventgrid.azure.net.evil.example/validate").is_none()
        );
        assert!(allowed_validation_url("https://169.254.169.254/latest/meta-data").is_none());
        assert!(allowed_validation_url("not a url").is_none());
    }

    #[test]
    fn decode_errors_name_the_batch_index() {
        let e = DecodeError::new(JsonPath::root().index(3).key("data"), "bad");
        let answer = WebhookAnswer::decode_error(&e);
        assert_eq!(answer.body["error"]["index"], 3);
        assert_eq!(answer.body["error"]["path"], "$[3].data");
    }
}
