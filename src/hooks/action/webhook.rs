//! The `webhook` action: a JSON request to any URL, with a templated body and headers.

use super::{json_headers, ConfiguredHook};
use crate::event::{Event, MlEvent};
use crate::hooks::HookError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

/// A configured webhook.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    /// The destination.
    pub(crate) url: Url,
    /// POST or PUT.
    pub(crate) method: Method,
    /// Header names with the template name of each value.
    pub(crate) headers: Vec<(HeaderName, String)>,
    /// Template name of the JSON body; `None` sends the event.
    pub(crate) body: Option<String>,
}

impl Webhook {
    /// The JSON body for `event`: the body template's output, or the event itself.
    pub(super) fn payload(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
    ) -> Result<Value, HookError> {
        match &self.body {
            Some(name) => {
                let text = hook
                    .shared
                    .templates
                    .render(name, event)
                    .map_err(|e| hook.fail_permanently(format!("body template: {e}")))?;
                serde_json::from_str(&text).map_err(|e| {
                    hook.fail_permanently(format!("the body template did not produce JSON: {e}"))
                })
            }
            None => serde_json::to_value(event).map_err(|e| hook.fail(e.to_string())),
        }
    }

    /// The request headers for `event`: `Content-Type` and the rendered configured ones.
    pub(super) fn headers(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
    ) -> Result<HeaderMap, HookError> {
        let mut map = json_headers();
        for (name, template) in &self.headers {
            let value = hook
                .shared
                .templates
                .render(template, event)
                .map_err(|e| hook.fail_permanently(format!("header `{name}` template: {e}")))?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                hook.fail_permanently(format!(
                    "header `{name}` rendered to a value HTTP does not allow"
                ))
            })?;
            map.insert(name.clone(), value);
        }
        Ok(map)
    }
}
