//! What a hook would send for an event: its payload and, for the HTTP actions, its request; built
//! alike for sending and for `handler send --dry-run`.

use super::{slack, teams, Action, ActionKind, ConfiguredHook, HookError};
use crate::event::studio;
use crate::event::{Event, MlEvent};
use crate::hooks::delivery::Outgoing;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::Value;

/// What a hook would send, for `handler send --dry-run` and for tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Preview {
    /// The hook's name.
    pub(crate) hook: String,
    /// The action.
    pub(crate) action: ActionKind,
    /// Where it goes: a URL shown by host only, an output binding, or `Logs`.
    pub(crate) destination: String,
    /// The method for HTTP actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method: Option<String>,
    /// Header names (values are not shown: they usually hold tokens).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) headers: Vec<String>,
    /// With `auth`: the credential type and the audience of the token that would be added as
    /// `Authorization` (no token is fetched for a preview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auth: Option<String>,
    /// The message: JSON for HTTP and output actions, a string for log.
    pub(crate) payload: Value,
}

/// `Content-Type: application/json`, the start of every request's headers.
pub(super) fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

pub(super) fn json_request(
    url: &Url,
    method: Method,
    headers: HeaderMap,
    payload: &Value,
) -> Outgoing {
    Outgoing {
        method,
        url: url.clone(),
        headers,
        body: serde_json::to_vec(payload).unwrap_or_default(),
        read_answer: false,
    }
}

impl ConfiguredHook {
    pub(super) fn text(&self, event: &Event<MlEvent>) -> Result<String, HookError> {
        match &self.text_template {
            Some(name) => self
                .shared
                .templates
                .render(name, event)
                .map_err(|e| self.fail_permanently(format!("template: {e}"))),
            None => Ok(event.summary()),
        }
    }

    /// An output hook's message: its text when it has a template, otherwise the event.
    pub(super) fn output_payload(&self, event: &Event<MlEvent>) -> Result<Value, HookError> {
        match &self.text_template {
            Some(_) => Ok(Value::String(self.text(event)?)),
            None => serde_json::to_value(event).map_err(|e| self.fail(e.to_string())),
        }
    }

    /// The payload and the request (for HTTP actions) that the hook would send for `event`.
    fn message(&self, event: &Event<MlEvent>) -> Result<(Value, Option<Outgoing>), HookError> {
        let (payload, request) = match &self.action {
            Action::Log => return Ok((Value::String(self.text(event)?), None)),
            Action::Output { .. } => return Ok((self.output_payload(event)?, None)),
            Action::Teams { url } => {
                let link = studio::link(&self.azure.studio_url, event);
                let payload = teams::card(&self.text(event)?, &event.facts(), link.as_ref());
                let request = json_request(url, Method::POST, json_headers(), &payload);
                (payload, request)
            }
            Action::Slack { url } => {
                let link = studio::link(&self.azure.studio_url, event);
                let payload = slack::message(&self.text(event)?, &event.facts(), link.as_ref());
                let request = json_request(url, Method::POST, json_headers(), &payload);
                (payload, request)
            }
            Action::Webhook(webhook) => {
                let payload = webhook.payload(self, event)?;
                let headers = webhook.headers(self, event)?;
                let request = json_request(&webhook.url, webhook.method.clone(), headers, &payload);
                (payload, request)
            }
            Action::AmlJob(job) => {
                let job = job.request(self, event)?;
                let request = json_request(&job.url, Method::PUT, json_headers(), &job.body);
                (job.body, request)
            }
            Action::AmlBatchEndpoint(batch) => batch.request(self, event)?,
        };
        Ok((payload, Some(request)))
    }

    /// Builds what the hook would do for `event`, without doing it.
    pub(crate) fn prepare(
        &self,
        event: &Event<MlEvent>,
    ) -> Result<(Preview, Option<Outgoing>), HookError> {
        let (payload, outgoing) = self.message(event)?;
        let headers: Vec<String> = outgoing
            .as_ref()
            .map(|o| o.headers.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        let destination = match (&self.action, &outgoing) {
            // The job's own address: it names no secret and says which job a redelivery finds.
            (Action::AmlJob(_), Some(request)) => request.url.to_string(),
            _ => self.destination(),
        };
        let preview = Preview {
            hook: self.name.clone(),
            action: self.kind(),
            destination,
            method: outgoing.as_ref().map(|o| o.method.to_string()),
            headers,
            auth: self.auth.as_ref().map(|a| {
                format!(
                    "{} token for {} in `Authorization`",
                    a.spec.type_name(),
                    a.audience
                )
            }),
            payload,
        };
        Ok((preview, outgoing))
    }
}
