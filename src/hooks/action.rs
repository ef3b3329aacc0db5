//! Hooks defined in `hooks.toml`: what each action does and the messages it sends.

use super::delivery::{deliver, Outgoing, RetryPolicy};
use super::rule::Rule;
use super::secrets::{describe_url, Secrets};
use super::template::Templates;
use super::{Effect, Hook, HookContext, HookError, HookFuture};
use crate::event::{Event, MlEvent};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The action names of `hooks.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// A line in `Logs` and the structured log.
    Log,
    /// An HTTP request with a JSON body.
    Webhook,
    /// A Microsoft Teams Workflows webhook (Adaptive Card).
    Teams,
    /// A Slack incoming webhook.
    Slack,
    /// A message for a Functions output binding.
    Output,
}

/// What a configured hook does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Log the text.
    Log,
    /// Add the text (or the event) to output binding `binding`.
    Output {
        /// The output binding name.
        binding: String,
    },
    /// Send a JSON request.
    Webhook {
        /// The destination.
        url: Url,
        /// POST or PUT.
        method: Method,
        /// Header names with the template name of each value.
        headers: Vec<(HeaderName, String)>,
        /// Template name of the JSON body; `None` sends the event.
        body: Option<String>,
    },
    /// Post an Adaptive Card.
    Teams {
        /// The Workflows webhook URL.
        url: Url,
    },
    /// Post a Slack message.
    Slack {
        /// The incoming-webhook URL.
        url: Url,
    },
}

/// What every configured hook shares: compiled templates, the HTTP client, the secrets to redact.
#[derive(Debug)]
pub struct Shared {
    /// All templates of the configuration.
    pub templates: Templates,
    /// One client for all deliveries (connection reuse); `None` when no hook sends HTTP.
    pub client: Option<reqwest::Client>,
    /// Values never to show.
    pub secrets: Secrets,
}

/// A hook from `hooks.toml`.
#[derive(Debug, Clone)]
pub struct ConfiguredHook {
    /// Its unique name.
    pub name: String,
    /// Which events it wants.
    pub rule: Rule,
    /// What it does.
    pub action: Action,
    /// Template name of its text (`template`), if any; otherwise the event summary.
    pub text_template: Option<String>,
    /// Timeout and retries for deliveries.
    pub policy: RetryPolicy,
    /// Templates, client and secrets.
    pub shared: Arc<Shared>,
}

/// What a hook would send, for `handler send --dry-run` and for tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// The hook's name.
    pub hook: String,
    /// The action.
    pub action: ActionKind,
    /// Where it goes: a URL shown by host only, an output binding, or `Logs`.
    pub destination: String,
    /// The method for HTTP actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Header names (values are not shown: they usually hold tokens).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// The message: JSON for HTTP and output actions, a string for log.
    pub payload: Value,
}

impl ConfiguredHook {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self.action {
            Action::Log => ActionKind::Log,
            Action::Output { .. } => ActionKind::Output,
            Action::Webhook { .. } => ActionKind::Webhook,
            Action::Teams { .. } => ActionKind::Teams,
            Action::Slack { .. } => ActionKind::Slack,
        }
    }

    /// Where the hook sends, without secrets.
    pub fn destination(&self) -> String {
        match &self.action {
            Action::Log => "Logs".to_owned(),
            Action::Output { binding } => format!("output binding `{binding}`"),
            Action::Webhook { url, .. } | Action::Teams { url } | Action::Slack { url } => {
                describe_url(url)
            }
        }
    }

    fn fail(&self, message: impl AsRef<str>) -> HookError {
        HookError::new(self.shared.secrets.redact(message.as_ref()))
    }

    fn text(&self, event: &Event<MlEvent>) -> Result<String, HookError> {
        match &self.text_template {
            Some(name) => self
                .shared
                .templates
                .render(name, event)
                .map_err(|e| self.fail(format!("template: {e}"))),
            None => Ok(event.summary()),
        }
    }

    /// An output hook's message: its text when it has a template, otherwise the event.
    fn output_payload(&self, event: &Event<MlEvent>) -> Result<Value, HookError> {
        match &self.text_template {
            Some(_) => Ok(Value::String(self.text(event)?)),
            None => serde_json::to_value(event).map_err(|e| self.fail(e.to_string())),
        }
    }

    /// Builds what the hook would do for `event`, without doing it.
    pub fn prepare(
        &self,
        event: &Event<MlEvent>,
    ) -> Result<(Preview, Option<Outgoing>), HookError> {
        let preview = |payload: Value, outgoing: Option<&Outgoing>| Preview {
            hook: self.name.clone(),
            action: self.kind(),
            destination: self.destination(),
            method: outgoing.map(|o| o.method.to_string()),
            headers: outgoing
                .map(|o| o.headers.keys().map(|k| k.to_string()).collect())
                .unwrap_or_default(),
            payload,
        };
        let json_request =
            |url: &Url, method: Method, headers: HeaderMap, payload: &Value| Outgoing {
                method,
                url: url.clone(),
                headers,
                body: serde_json::to_vec(payload).unwrap_or_default(),
            };
        let json_headers = || {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers
        };
        match &self.action {
            Action::Log => Ok((preview(Value::String(self.text(event)?), None), None)),
            Action::Output { .. } => Ok((preview(self.output_payload(event)?, None), None)),
            Action::Teams { url } => {
                let payload = teams_card(&self.text(event)?, &event.facts());
                let out = json_request(url, Method::POST, json_headers(), &payload);
                Ok((preview(payload, Some(&out)), Some(out)))
            }
            Action::Slack { url } => {
                let payload = slack_message(&self.text(event)?, &event.facts());
                let out = json_request(url, Method::POST, json_headers(), &payload);
                Ok((preview(payload, Some(&out)), Some(out)))
            }
            Action::Webhook {
                url,
                method,
                headers,
                body,
            } => {
                let payload = match body {
                    Some(name) => {
                        let text = self
                            .shared
                            .templates
                            .render(name, event)
                            .map_err(|e| self.fail(format!("body template: {e}")))?;
                        serde_json::from_str(&text).map_err(|e| {
                            self.fail(format!("the body template did not produce JSON: {e}"))
                        })?
                    }
                    None => serde_json::to_value(event).map_err(|e| self.fail(e.to_string()))?,
                };
                let mut map = json_headers();
                for (name, template) in headers {
                    let value = self
                        .shared
                        .templates
                        .render(template, event)
                        .map_err(|e| self.fail(format!("header `{name}` template: {e}")))?;
                    let value = HeaderValue::from_str(&value).map_err(|_| {
                        self.fail(format!(
                            "header `{name}` rendered to a value HTTP does not allow"
                        ))
                    })?;
                    map.insert(name.clone(), value);
                }
                let out = json_request(url, method.clone(), map, &payload);
                Ok((preview(payload, Some(&out)), Some(out)))
            }
        }
    }
}

impl Hook for ConfiguredHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn matches(&self, event: &Event<MlEvent>) -> bool {
        self.rule.matches(event)
    }

    /// Logs and output bindings are part of the invocation's answer: redelivering them is right, so
    /// only hooks with outside effects keep dedupe records.
    fn dedupe(&self) -> bool {
        !matches!(self.action, Action::Log | Action::Output { .. })
    }

    fn run<'a>(&'a self, event: &'a Event<MlEvent>, ctx: &'a HookContext) -> HookFuture<'a> {
        Box::pin(async move {
            // Log and output hooks run on every event: build their one value and nothing else.
            match &self.action {
                Action::Log => return Ok(Effect::log(self.text(event)?)),
                Action::Output { binding } => {
                    return Ok(Effect {
                        log: None,
                        output: Some((binding.clone(), self.output_payload(event)?)),
                    })
                }
                _ => {}
            }
            let (preview, outgoing) = self.prepare(event)?;
            match outgoing {
                Some(request) => {
                    let Some(client) = &self.shared.client else {
                        return Err(self.fail("no HTTP client was built for this configuration"));
                    };
                    let (status, attempts) = deliver(client, &request, self.policy, ctx.deadline)
                        .await
                        .map_err(|e| {
                            self.fail(format!(
                                "{} to {}: {}",
                                self.kind_word(),
                                preview.destination,
                                e.message
                            ))
                        })?;
                    Ok(Effect::log(format!(
                        "hook {}: {} delivered to {} ({status}, attempt {attempts})",
                        self.name,
                        self.kind_word(),
                        preview.destination
                    )))
                }
                None => Err(self.fail("nothing to send")),
            }
        })
    }
}

impl ConfiguredHook {
    fn kind_word(&self) -> &'static str {
        match self.action {
            Action::Teams { .. } => "Teams message",
            Action::Slack { .. } => "Slack message",
            _ => "webhook",
        }
    }
}

/// A Teams Workflows message: one Adaptive Card with the text and the facts. (The retired Office 365
/// connector `MessageCard` format is deliberately not produced: Workflows accept Adaptive Cards only.)
pub fn teams_card(text: &str, facts: &[(&'static str, String)]) -> Value {
    let facts: Vec<Value> = facts
        .iter()
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": text, "wrap": true, "weight": "Bolder", "size": "Medium"},
                    {"type": "FactSet", "facts": facts}
                ]
            }
        }]
    })
}

/// Escapes the three characters Slack's mrkdwn reserves.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (notifications, fallback) and blocks with the facts.
pub fn slack_message(text: &str, facts: &[(&'static str, String)]) -> Value {
    let fields: Vec<Value> = facts
        .iter()
        .take(10) // Slack allows at most 10 fields in a section.
        .map(|(title, value)| json!({"type": "mrkdwn", "text": format!("*{title}*\n{}", slack_escape(value))}))
        .collect();
    let mut blocks =
        vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(text)}})];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    json!({"text": slack_escape(text), "blocks": blocks})
}
