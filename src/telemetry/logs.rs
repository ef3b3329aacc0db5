//! Whether the line a hook logs is already recorded elsewhere: the Functions door puts it in the
//! invocation's `Logs`, which the host writes to Application Insights with the invocation id. Its
//! stdout copy would be a second record of the same line there, so under that door the copy is only
//! `debug`; the webhook and Lambda doors have no `Logs`, and keep it at `info`.
//!
//! A task-local value rather than a flag passed down: the door knows where its answer goes, the
//! dispatcher logs the line, and the layers in between (pipeline, hooks) need not carry it. A future
//! that leaves the task (a `tokio::spawn`) loses it and logs at `info`: a duplicate, never a loss.

use std::future::Future;

tokio::task_local! {
    /// Set while a Functions invocation is being answered.
    static LOGS_IN_ANSWER: ();
}

/// Runs `work` (the handling of one Functions invocation) with its hook lines recorded in the answer's
/// `Logs`: inside it, [`logs_reach_host`] is true.
pub async fn with_logs_in_answer<F: Future>(work: F) -> F::Output {
    LOGS_IN_ANSWER.scope((), work).await
}

/// Whether the current task answers a Functions invocation, whose `Logs` the host records: then a
/// hook's line goes to stdout only at `debug`, so that it appears once in Application Insights.
pub fn logs_reach_host() -> bool {
    LOGS_IN_ANSWER.try_with(|()| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_work_inside_the_scope_sees_it() {
        assert!(!logs_reach_host());
        assert!(with_logs_in_answer(async { logs_reach_host() }).await);
        // Across an await point, as a hook's future runs.
        let inside = with_logs_in_answer(async {
            tokio::task::yield_now().await;
            logs_reach_host()
        })
        .await;
        assert!(inside);
        assert!(!logs_reach_host());
        // A spawned task is another task: it logs at info (a duplicate, never a loss).
        let spawned =
            with_logs_in_answer(async { tokio::spawn(async { logs_reach_host() }).await.unwrap() })
                .await;
        assert!(!spawned);
    }
}
