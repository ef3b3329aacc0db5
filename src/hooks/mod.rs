//! Business hooks: what the handler does with a decoded event.
//!
//! A [`Hook`] decides whether it wants an event and, when run, returns an [`Effect`] (a line for the
//! invocation's `Logs`, a message for an output binding) or a [`HookError`]. The [`Dispatcher`] runs
//! the hooks that want an event concurrently, each at most once per event (see [`dedupe`]), all within
//! the invocation deadline, and folds their effects into an [`Outcome`] that the doors turn into
//! answers. Hooks never see which door called them.
//!
//! Hooks come from `hooks.toml` ([`config`]) or from code: implement [`Hook`] and pass it to
//! [`Dispatcher::new`] (see `examples/code_hook.rs`).

pub mod action;
mod bearer;
pub mod config;
pub mod dedupe;
pub mod delivery;
mod dispatch;
pub mod filter;
pub(crate) mod rule;
pub(crate) mod secrets;
pub mod template;
mod transport;

pub use dispatch::Dispatcher;
pub use filter::EventView;

use crate::event::{Event, MlEvent};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;
use tokio::time::Instant;

/// The future a hook returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<Effect, HookError>> + Send + 'a>>;

/// What a running hook may know about its invocation.
#[derive(Debug, Clone, Copy)]
pub struct HookContext {
    /// When every hook of this event must be done; retries must not go past it.
    pub deadline: Instant,
}

/// Something to do when an event arrives. Implement it to define hooks in code.
pub trait Hook: Send + Sync {
    /// A name unique among the dispatcher's hooks; part of the dedupe key, and shown in logs.
    fn name(&self) -> &str;

    /// Whether this hook wants `event`. Cheap and synchronous: filtering only.
    fn matches(&self, event: &Event<MlEvent>) -> bool;

    /// [`Hook::matches`] on an [`EventView`], which the dispatcher makes once per event so that the
    /// hooks' advanced filters share the event's data as JSON. The default asks [`Hook::matches`].
    fn matches_view(&self, view: &EventView<'_>) -> bool {
        self.matches(view.event())
    }

    /// Runs the hook for `event`, finishing before `ctx.deadline`.
    fn run<'a>(&'a self, event: &'a Event<MlEvent>, ctx: &'a HookContext) -> HookFuture<'a>;

    /// Whether the hook has effects outside the invocation (a notification, a pipeline run) and so
    /// must run at most once per event. Hooks that only log or write output bindings return `false`.
    fn dedupe(&self) -> bool {
        true
    }
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

/// A hook failed. Most failures are a *retry*: the door answers 5xx so that Event Grid redelivers.
/// A *permanent* failure is one a retry would meet again (the target refused the request itself with
/// a 4xx, a template cannot render this event): the doors answer success, log it and send the event
/// to the poison binding, instead of having Event Grid redeliver it for 24 hours to no end.
/// Its text is whatever the hook says (code-defined hooks write their own), so it stays one message.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct HookError {
    /// What went wrong, with no secrets in it.
    pub message: String,
    /// Whether a retry would fail the same way (set where the error arises).
    pub permanent: bool,
}

impl HookError {
    /// A failure described by `message` (which must not contain secrets) that a retry may cure.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure that a retry would meet again, described by `message` (no secrets in it).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            ..Self::new(message)
        }
    }
}

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
    /// Hooks that failed; a retryable one among them means the event must be redelivered.
    pub failures: Vec<HookFailure>,
}

impl Outcome {
    /// Whether a hook failed in a way a redelivery may cure.
    pub fn needs_retry(&self) -> bool {
        self.failures.iter().any(|f| !f.error.permanent)
    }

    /// The failures a redelivery would meet again.
    pub fn permanent_failures(&self) -> impl Iterator<Item = &HookFailure> {
        self.failures.iter().filter(|f| f.error.permanent)
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

/// Default budget for all hooks of one event: below Event Grid's 30 s delivery timeout.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);
/// Default lifetime of a "done" record.
pub(crate) const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(86_400);

/// The embedded default hook: [`Event::summary`] of every Azure ML event as a log line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SummaryLog;

impl Hook for SummaryLog {
    fn name(&self) -> &str {
        "log-ml-events"
    }

    fn matches(&self, event: &Event<MlEvent>) -> bool {
        event.kind().is_ml()
    }

    fn run<'a>(&'a self, event: &'a Event<MlEvent>, _ctx: &'a HookContext) -> HookFuture<'a> {
        Box::pin(async move { Ok(Effect::log(event.summary())) })
    }

    fn dedupe(&self) -> bool {
        false
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
}
