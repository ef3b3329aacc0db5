//! The dispatcher: which hooks run for an event, each under its dedupe lease, within the deadline.

use super::dedupe::{record_key, Claim, DedupeStore, Lease, MemoryStore};
use super::{
    add_output, Effect, EventView, Hook, HookContext, HookError, HookFailure, Outcome, SummaryLog,
    DEFAULT_DEADLINE, DEFAULT_DEDUPE_TTL,
};
use crate::event::{Event, MlEvent};
use futures_util::future::join_all;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long writing a hook's dedupe record may take after the hook ran.
const STORE_GRACE: Duration = Duration::from_secs(2);
/// How often a duplicate delivery checks whether the delivery holding a lease has finished.
const BUSY_POLL: Duration = Duration::from_millis(50);

/// Runs the hooks that want an event, concurrently, at most once each per event.
#[derive(Clone)]
pub struct Dispatcher {
    hooks: Vec<Arc<dyn Hook>>,
    store: Arc<dyn DedupeStore>,
    deadline: Duration,
    dedupe_ttl: Duration,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "hooks",
                &self.hooks.iter().map(|h| h.name()).collect::<Vec<_>>(),
            )
            .field("store", &self.store)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// How one hook ended for one event.
enum HookResult {
    Ran(Effect),
    Skipped,
    Failed(HookError),
}

impl Dispatcher {
    /// A dispatcher over `hooks` with an in-memory dedupe store and the default deadline and TTL.
    pub fn new(hooks: Vec<Arc<dyn Hook>>) -> Self {
        Self {
            hooks,
            store: Arc::new(MemoryStore::new()),
            deadline: DEFAULT_DEADLINE,
            dedupe_ttl: DEFAULT_DEDUPE_TTL,
        }
    }

    /// Adds a hook (defined in code) after the existing ones.
    pub fn with_hook(mut self, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Uses `store` for dedupe records.
    pub fn with_store(mut self, store: Arc<dyn DedupeStore>) -> Self {
        self.store = store;
        self
    }

    /// Sets the budget for all hooks of one event.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets how long a hook stays "done" for an event id.
    pub fn with_dedupe_ttl(mut self, ttl: Duration) -> Self {
        self.dedupe_ttl = ttl;
        self
    }

    /// The embedded default: one summary line per Azure ML event.
    pub fn embedded_default() -> Self {
        Self::new(vec![Arc::new(SummaryLog)])
    }

    /// The names of the hooks, in order.
    pub fn hook_names(&self) -> impl Iterator<Item = &str> {
        self.hooks.iter().map(|h| h.name())
    }

    /// The budget for all hooks of one event.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs every hook that wants `event` within the dispatcher's deadline and collects what they did.
    pub async fn dispatch(&self, event: &Event<MlEvent>) -> Outcome {
        self.dispatch_until(event, Instant::now() + self.deadline)
            .await
    }

    /// Like [`Dispatcher::dispatch`] with an absolute deadline: all events of one request share the
    /// request's deadline, so a large batch still answers before Event Grid stops waiting (events not
    /// started in time fail and are redelivered).
    pub async fn dispatch_until(&self, event: &Event<MlEvent>, deadline: Instant) -> Outcome {
        let ctx = HookContext { deadline };
        let wanted: Vec<&Arc<dyn Hook>> = {
            let view = EventView::new(event);
            self.hooks
                .iter()
                .filter(|h| h.matches_view(&view))
                .collect()
        };
        let results = join_all(
            wanted
                .iter()
                .map(|hook| self.run_once(hook.as_ref(), event, &ctx)),
        )
        .await;
        let mut outcome = Outcome::default();
        for (hook, result) in wanted.into_iter().zip(results) {
            match result {
                HookResult::Ran(effect) => {
                    if let Some(line) = effect.log {
                        // `message` as a `&str` is copied as is; `"{line}"` would go through `fmt`.
                        // Under the Functions door the line is in `Logs`, which the host records:
                        // its stdout copy is only debug, so it appears once in Application Insights.
                        if crate::telemetry::logs_reach_host() {
                            tracing::debug!(hook = hook.name(), message = line.as_str());
                        } else {
                            tracing::info!(hook = hook.name(), message = line.as_str());
                        }
                        outcome.logs.push(line);
                    }
                    if let Some((binding, value)) = effect.output {
                        add_output(&mut outcome.outputs, binding, value);
                    }
                }
                HookResult::Skipped => {
                    let line = format!(
                        "hook {}: already done for event {}; skipped",
                        hook.name(),
                        event.id
                    );
                    if crate::telemetry::logs_reach_host() {
                        tracing::debug!(hook = hook.name(), "{line}");
                    } else {
                        tracing::info!(hook = hook.name(), "{line}");
                    }
                    outcome.logs.push(line);
                }
                HookResult::Failed(error) if error.permanent => {
                    tracing::error!(
                        hook = hook.name(),
                        %error,
                        "hook failed permanently; a redelivery would fail the same way, so it is not retried"
                    );
                    outcome.failures.push(HookFailure {
                        hook: hook.name().to_owned(),
                        error,
                    });
                }
                HookResult::Failed(error) => {
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

    /// The dedupe key of (event, hook): the source keeps ids of different topics apart (see
    /// [`record_key`] for why it is a hash).
    fn key(event: &Event<MlEvent>, hook: &str) -> String {
        record_key(event.source.as_deref().unwrap_or(""), &event.id, hook)
    }

    async fn run_once(
        &self,
        hook: &dyn Hook,
        event: &Event<MlEvent>,
        ctx: &HookContext,
    ) -> HookResult {
        if !hook.dedupe() {
            return run_within(hook, event, ctx).await;
        }
        let key = Self::key(event, hook.name());
        // The lease outlives this invocation's deadline a little, so a crashed instance's lease is gone
        // by the time Event Grid redelivers (10 s at the earliest after its 30 s timeout).
        let lease_ttl = self.deadline + Duration::from_secs(5);
        let claim = async {
            loop {
                match self.store.claim(&key, lease_ttl).await {
                    Ok(Claim::Acquired(lease)) => return Ok(lease),
                    Ok(Claim::Done) => return Err(HookResult::Skipped),
                    Ok(Claim::Busy) => tokio::time::sleep(BUSY_POLL).await,
                    Err(e) => return Err(HookResult::Failed(HookError::new(e.to_string()))),
                }
            }
        };
        let lease = match tokio::time::timeout_at(ctx.deadline, claim).await {
            Ok(Ok(lease)) => lease,
            Ok(Err(result)) => return result,
            Err(_) => {
                return HookResult::Failed(HookError::new(
                    "the deadline passed before this hook could be claimed (another delivery of this event holds it, or the dedupe store is slow)",
                ))
            }
        };
        let result = run_within(hook, event, ctx).await;
        // Recording the result gets a short grace after the deadline: the work is done, its record matters.
        // A permanent failure is recorded as done too: a redelivery (another hook's retry) would only
        // meet it again, and send the request a target refused once more.
        match &result {
            HookResult::Ran(_) => {
                if let Some(e) = self.complete(&lease).await {
                    return HookResult::Failed(HookError::new(format!(
                        "the hook succeeded but its dedupe record could not be written, so a redelivery may run it again: {e}"
                    )));
                }
            }
            HookResult::Failed(error) if error.permanent => {
                if let Some(e) = self.complete(&lease).await {
                    tracing::warn!(
                        hook = hook.name(),
                        "could not record a permanent failure as done, so a redelivery may run the hook again: {e}"
                    );
                }
            }
            _ => match tokio::time::timeout(STORE_GRACE, self.store.release(&lease)).await {
                Ok(Ok(())) => {}
                _ => tracing::warn!(
                    hook = hook.name(),
                    "could not release a dedupe lease; it expires by itself"
                ),
            },
        }
        result
    }
}

impl Dispatcher {
    /// Marks `lease` done for the dedupe TTL; the error's text when that failed.
    async fn complete(&self, lease: &Lease) -> Option<String> {
        match tokio::time::timeout(STORE_GRACE, self.store.complete(lease, self.dedupe_ttl)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!(
                "the dedupe store did not answer within {STORE_GRACE:?}"
            )),
        }
    }
}

async fn run_within(hook: &dyn Hook, event: &Event<MlEvent>, ctx: &HookContext) -> HookResult {
    match tokio::time::timeout_at(ctx.deadline, hook.run(event, ctx)).await {
        Ok(Ok(effect)) => HookResult::Ran(effect),
        Ok(Err(error)) => HookResult::Failed(error),
        Err(_) => HookResult::Failed(HookError::new(
            "the invocation deadline passed before the hook finished",
        )),
    }
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::embedded_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookFuture;

    /// A code-defined hook that fails the first `fail_first` runs, counting every run.
    struct Flaky {
        runs: std::sync::atomic::AtomicU32,
        fail_first: u32,
    }

    impl Hook for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn matches(&self, event: &Event<MlEvent>) -> bool {
            event.kind().is_ml()
        }
        fn run<'a>(&'a self, _event: &'a Event<MlEvent>, _ctx: &'a HookContext) -> HookFuture<'a> {
            let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let fail = n <= self.fail_first;
            Box::pin(async move {
                if fail {
                    Err(HookError::new(format!("run {n} failed")))
                } else {
                    Ok(Effect::log(format!("run {n} ok")))
                }
            })
        }
    }

    fn model_registered(id: &str) -> Event<MlEvent> {
        Event::from_json(&format!(
            r#"{{"id":"{id}","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{{"modelName":"m"}}}}"#
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn a_failed_hook_runs_again_on_redelivery_and_then_never_again() {
        let flaky = Arc::new(Flaky {
            runs: 0.into(),
            fail_first: 1,
        });
        let dispatcher = Dispatcher::embedded_default().with_hook(flaky.clone());
        let event = model_registered("e1");
        let first = dispatcher.dispatch(&event).await;
        assert_eq!(first.failures.len(), 1);
        assert_eq!(first.failures[0].error.message, "run 1 failed");
        let second = dispatcher.dispatch(&event).await;
        assert!(second.failures.is_empty());
        assert!(
            second.logs.contains(&"run 2 ok".to_owned()),
            "{:?}",
            second.logs
        );
        let third = dispatcher.dispatch(&event).await;
        assert!(
            third
                .logs
                .iter()
                .any(|l| l == "hook flaky: already done for event e1; skipped"),
            "{:?}",
            third.logs
        );
        assert_eq!(flaky.runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The summary log is not deduplicated: every delivery logs.
        assert!(third.logs.iter().any(|l| l.starts_with("ModelRegistered:")));
    }

    /// An Event Grid event of `topic` (Event Grid schema) with `id`.
    fn on_topic(topic: &str, id: &str) -> Event<MlEvent> {
        let json = serde_json::json!({
            "id": id,
            "topic": topic,
            "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
            "data": {"modelName": "m"},
        });
        Event::from_json(&json.to_string()).unwrap()
    }

    #[tokio::test]
    async fn events_whose_fields_join_to_the_same_text_are_different_events() {
        // Keyed `topic|id|hook`, these two were one record: the second, a real notification, was
        // skipped as "already done".
        let flaky = Arc::new(Flaky {
            runs: 0.into(),
            fail_first: 0,
        });
        let dispatcher = Dispatcher::new(vec![flaky.clone()]);
        for event in [on_topic("w|evil", "x"), on_topic("w", "evil|x")] {
            let outcome = dispatcher.dispatch(&event).await;
            assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
            assert!(
                !outcome.logs.iter().any(|l| l.contains("skipped")),
                "{:?}",
                outcome.logs
            );
        }
        assert_eq!(flaky.runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_mebibyte_id_does_not_make_a_mebibyte_key() {
        let store = Arc::new(MemoryStore::new());
        let flaky = Arc::new(Flaky {
            runs: 0.into(),
            fail_first: 0,
        });
        let dispatcher = Dispatcher::new(vec![flaky]).with_store(store.clone());
        let id = "x".repeat(1 << 20);
        let outcome = dispatcher.dispatch(&on_topic("topic", &id)).await;
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        assert_eq!(store.len(), 1);
        assert_eq!(store.longest_key(), 71);
    }

    struct Sleeper;

    impl Hook for Sleeper {
        fn name(&self) -> &str {
            "sleeper"
        }
        fn matches(&self, _event: &Event<MlEvent>) -> bool {
            true
        }
        fn run<'a>(&'a self, _event: &'a Event<MlEvent>, _ctx: &'a HookContext) -> HookFuture<'a> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(Effect::default())
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn hooks_are_cut_off_at_the_deadline_and_their_lease_released() {
        let dispatcher =
            Dispatcher::new(vec![Arc::new(Sleeper)]).with_deadline(Duration::from_secs(2));
        let started = Instant::now();
        let outcome = dispatcher.dispatch(&model_registered("e2")).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(
            outcome.failures[0].error.message,
            "the invocation deadline passed before the hook finished"
        );
        // Released: the redelivery runs it (and times out) again instead of waiting on a stale lease.
        let again = dispatcher.dispatch(&model_registered("e2")).await;
        assert_eq!(
            again.failures[0].error.message,
            "the invocation deadline passed before the hook finished"
        );
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
