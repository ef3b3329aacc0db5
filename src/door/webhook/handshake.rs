//! Event Grid's two handshakes: the CloudEvents abuse-protection `OPTIONS` and the
//! `SubscriptionValidation` event, whose code the door echoes (the pipeline has found it).

use super::answer::WebhookAnswer;
use crate::event::{EventKind, SubscriptionValidation};
use serde_json::json;
use warp::http::{HeaderMap, StatusCode};

/// Origins Event Grid uses in the CloudEvents handshake (public and sovereign clouds).
pub const EVENT_GRID_ORIGINS: [&str; 5] = [
    "eventgrid.azure.net",
    "eventgrid.azure.us",
    "eventgrid.azure.cn",
    "eventgrid.azure.eaglex.ic.gov",
    "eventgrid.azure.microsoft.scloud",
];

/// The `OPTIONS` abuse-protection handshake of CloudEvents webhooks.
pub(crate) fn options(origin: Option<&str>) -> WebhookAnswer {
    let Some(origin) = origin else {
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

/// Echoes the validation code of the first handshake event; `follow` also GETs its URL.
pub(crate) fn echo(validation: Option<SubscriptionValidation>, follow: bool) -> WebhookAnswer {
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
        if follow {
            follow_validation_url(url);
        }
    }
    WebhookAnswer::json(StatusCode::OK, json!({"validationResponse": code}))
}

/// The header that carries the handshake's origin.
pub(crate) fn origin(headers: &HeaderMap) -> Option<&str> {
    super::header(headers, "webhook-request-origin")
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

/// GETs an Event Grid validation URL in the background (manual validation, `AML_EVENTS_VALIDATE_URL`).
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
}
