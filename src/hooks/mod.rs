//! Business hooks: what the handler does with a decoded event.
//!
//! A [`Hook`] decides whether it wants an event and, when run, returns an [`Effect`] (a line for the
//! invocation's `Logs`, a message for an output binding) or a [`HookError`]. The [`Dispatcher`] runs
//! the hooks that want an event and folds their effects into an [`Outcome`] that the doors turn into
//! answers. Hooks never see which door called them.

use crate::event::{Event, MlEvent};
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The future a hook returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<Effect, HookError>> + Send + 'a>>;

/// Something to do when an event arrives. Implement it to define hooks in code.
pub trait Hook: Send + Sync {
    /// A name unique among the dispatcher's hooks; it appears in logs.
    fn name(&self) -> &str;

    /// Whether this hook wants `event`. Cheap and synchronous: filtering only.
    fn matches(&self, event: &Event<MlEvent>) -> bool;

    /// Runs the hook for `event`.
    fn run<'a>(&'a self, event: &'a Event<MlEvent>) -> HookFuture<'a>;
}

/// What a successful hook leaves in the invocation's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effect {
    /// A line for `Logs` (and the structured log).
    pub log: Option<String>,
    /// A message for the Functions output binding of this name.
    pub output: Option<(String, Value)>,
}

impl Effect {
    /// An effect that only logs `line`.
    pub fn log(line: impl Into<String>) -> Self {
        Self {
            log: Some(line.into()),
            output: None,
        }
    }
}

/// A hook failed. Every hook failure is a *retry*: the door answers 5xx so that Event Grid redelivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    /// What went wrong, with no secrets in it.
    pub message: String,
}

impl HookError {
    /// A failure described by `message` (which must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookError {}

/// A hook that failed for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// The hook's name.
    pub hook: String,
    /// Why it failed.
    pub error: HookError,
}

/// What the hooks did with one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Lines for the invocation's `Logs`.
    pub logs: Vec<String>,
    /// Messages per output binding name (each binding gets an array when several hooks write to it).
    pub outputs: Map<String, Value>,
    /// Hooks that failed; non-empty means the event must be redelivered.
    pub failures: Vec<HookFailure>,
}

impl Outcome {
    /// Adds `other` to this outcome.
    pub fn merge(&mut self, other: Outcome) {
        self.logs.extend(other.logs);
        for (binding, value) in other.outputs {
            add_output(&mut self.outputs, binding, value);
        }
        self.failures.extend(other.failures);
    }
}

/// Adds a message to an output binding; a second message turns the binding's value into an array,
/// which the Functions host writes as one message per element.
pub(crate) fn add_output(outputs: &mut Map<String, Value>, binding: String, value: Value) {
    match outputs.get_mut(&binding) {
        None => {
            outputs.insert(binding, value);
        }
        Some(Value::Array(items)) if !matches!(value, Value::Array(_)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            let mut items = match first {
                Value::Array(items) => items,
                single => vec![single],
            };
            match value {
                Value::Array(more) => items.extend(more),
                single => items.push(single),
            }
            *existing = Value::Array(items);
        }
    }
}

/// Runs the hooks that want an event.
#[derive(Clone)]
pub struct Dispatcher {
    hooks: Vec<Arc<dyn Hook>>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.hooks.iter().map(|h| h.name()))
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher over `hooks`, run in the given order.
    pub fn new(hooks: Vec<Arc<dyn Hook>>) -> Self {
        Self { hooks }
    }

    /// The embedded default: one summary line per Azure ML event.
    pub fn embedded_default() -> Self {
        Self::new(vec![Arc::new(SummaryLog)])
    }

    /// The names of the hooks, in order.
    pub fn hook_names(&self) -> impl Iterator<Item = &str> {
        self.hooks.iter().map(|h| h.name())
    }

    /// Runs every hook that wants `event` and collects what they did.
    pub async fn dispatch(&self, event: &Event<MlEvent>) -> Outcome {
        let mut outcome = Outcome::default();
        for hook in self.hooks.iter().filter(|h| h.matches(event)) {
            match hook.run(event).await {
                Ok(effect) => {
                    if let Some(line) = effect.log {
                        tracing::info!(hook = hook.name(), "{line}");
                        outcome.logs.push(line);
                    }
                    if let Some((binding, value)) = effect.output {
                        add_output(&mut outcome.outputs, binding, value);
                    }
                }
                Err(error) => {
                    tracing::error!(hook = hook.name(), %error, "hook failed");
                    outcome.failures.push(HookFailure {
                        hook: hook.name().to_owned(),
                        error,
                    });
                }
            }
        }
        outcome
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::embedded_default()
    }
}

/// The embedded default hook: [`Event::summary`] of every Azure ML event as a log line.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryLog;

impl Hook for SummaryLog {
    fn name(&self) -> &str {
        "log-ml-events"
    }

    fn matches(&self, event: &Event<MlEvent>) -> bool {
        event.kind().is_ml()
    }

    fn run<'a>(&'a self, event: &'a Event<MlEvent>) -> HookFuture<'a> {
        Box::pin(async move { Ok(Effect::log(event.summary())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_to_one_binding_accumulate_into_an_array() {
        let mut outputs = Map::new();
        add_output(&mut outputs, "q".into(), json!({"a": 1}));
        assert_eq!(outputs["q"], json!({"a": 1}));
        add_output(&mut outputs, "q".into(), json!({"b": 2}));
        add_output(&mut outputs, "q".into(), json!([{"c": 3}]));
        assert_eq!(outputs["q"], json!([{"a": 1}, {"b": 2}, {"c": 3}]));
    }

    #[tokio::test]
    async fn the_embedded_default_logs_ml_events_only() {
        let ml: Event<MlEvent> = Event::from_json(
            r#"{"id":"e1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{"modelName":"m","modelVersion":2}}"#,
        )
        .unwrap();
        let other: Event<MlEvent> = Event::from_json(
            r#"{"id":"e2","eventType":"Microsoft.Storage.BlobCreated","data":{}}"#,
        )
        .unwrap();
        let dispatcher = Dispatcher::embedded_default();
        let outcome = dispatcher.dispatch(&ml).await;
        assert_eq!(
            outcome.logs,
            vec!["ModelRegistered: model m version 2 registered [event e1]".to_owned()]
        );
        assert!(dispatcher.dispatch(&other).await.logs.is_empty());
    }
}
