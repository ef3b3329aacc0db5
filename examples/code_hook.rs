//! A hook defined in code, served by the same custom-handler door as the configured ones.
//!
//! Run it like the handler: `FUNCTIONS_CUSTOMHANDLER_PORT=8080 cargo run --example code_hook`, then post
//! a RunStatusChanged invocation (`handler send sample:RunStatusChanged`).
//!
//! `FailureStreak` counts consecutive failed runs per experiment and asks for attention on the third;
//! hooks from `hooks.toml` run next to it.

use aml_events::app::App;
use aml_events::event::{Event, MlEvent, RunStatus};
use aml_events::hooks::{Effect, Hook, HookContext, HookFuture};
use aml_events::settings::Settings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts failures per experiment; a completed run resets the count.
#[derive(Default)]
struct FailureStreak {
    streaks: Mutex<HashMap<String, u32>>,
}

impl Hook for FailureStreak {
    fn name(&self) -> &str {
        "failure-streak"
    }

    fn matches(&self, event: &Event<MlEvent>) -> bool {
        matches!(
            event.data,
            MlEvent::RunStatusChanged(_) | MlEvent::RunCompleted(_)
        )
    }

    fn run<'a>(&'a self, event: &'a Event<MlEvent>, _ctx: &'a HookContext) -> HookFuture<'a> {
        Box::pin(async move {
            let (experiment, failed) = match &event.data {
                MlEvent::RunStatusChanged(d) => (
                    d.experiment_name.clone().unwrap_or_default(),
                    matches!(
                        d.run_status,
                        Some(RunStatus::Failed | RunStatus::Canceled | RunStatus::NotResponding)
                    ),
                ),
                MlEvent::RunCompleted(d) => (d.experiment_name.clone().unwrap_or_default(), false),
                _ => return Ok(Effect::default()),
            };
            let mut streaks = self.streaks.lock().unwrap_or_else(|p| p.into_inner());
            let streak = streaks.entry(experiment.clone()).or_default();
            *streak = if failed { *streak + 1 } else { 0 };
            Ok(match *streak {
                0 => Effect::default(),
                n if n >= 3 => Effect::log(format!(
                    "experiment {experiment} failed {n} runs in a row: needs attention"
                )),
                n => Effect::log(format!(
                    "experiment {experiment}: {n} failed run(s) in a row"
                )),
            })
        })
    }

    /// Counting is local state, not an outside effect: a redelivery may count again.
    fn dedupe(&self) -> bool {
        false
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let output = if settings.under_functions_host() {
        aml_events::telemetry::Output::JsonBatched
    } else {
        aml_events::telemetry::Output::Text
    };
    let _telemetry = aml_events::telemetry::init(output, settings.log_filter.as_deref());
    // The configured hooks (with their dedupe store and deadline), plus ours; `build` applies the
    // same checks as `handler serve` (an exposed, unprotected webhook door is refused).
    let app = App::builder(settings)
        .hook(Arc::new(FailureStreak::default()))
        .build()?;
    let _stopped = Arc::new(app).run().await?;
    Ok(())
}
