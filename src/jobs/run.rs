//! One run of a claimed task, to its outcome. The run holds no database connection: the
//! claim brought everything an execution needs, and the outcome goes to the finisher.
//!
//! Every way a run can go wrong ends as a failed attempt of that run, never as a dead worker
//! or a task that comes back forever: an error, a panic (the runner runs on a task of its
//! own), and a run longer than `workers.run_timeout_seconds` (it is aborted).

use std::time::Duration;

use fang::{AsyncQueue, AsyncQueueable, AsyncRunnable};
use serde::Deserialize;
use tracing::Instrument;

use super::{
    context, execute,
    runner::{RunError, RunInput},
    JobContext,
};
use crate::{
    db::{
        self,
        tasks::{Claimed, Outcome, StartedExecution},
    },
    domain::AgentRuntime,
};

/// What every run needs.
pub(super) struct Runs {
    pub context: JobContext,
    /// Handed to fang tasks' `run` (tasks other than executions may enqueue through it).
    pub queue: AsyncQueue,
    pub timeout: Duration,
    pub max_backoff: Duration,
}

impl Runs {
    /// The outcome of a claimed task, and its attempt number (0 for tasks without execution).
    pub(super) async fn run(&self, mut task: Claimed) -> (Outcome, i32) {
        match (task.execution_id, task.execution.take()) {
            (Some(execution_id), Some(started)) => {
                let attempt = started.attempts;
                (self.run_execution(execution_id, started).await, attempt)
            }
            // Its execution is no longer queued (finished, or run through another task).
            (Some(_), None) => (Outcome::Done, 0),
            (None, _) => (self.run_task(task).await, 0),
        }
    }

    async fn run_execution(&self, execution_id: uuid::Uuid, started: StartedExecution) -> Outcome {
        let attempt = started.attempts;
        let runtime_seconds = started
            .runtime
            .as_ref()
            .and_then(|runtime| AgentRuntime::deserialize(runtime).ok())
            .map_or(0, |runtime| runtime.timeout_seconds());
        // A runtime's own timeout may be longer than the run timeout: it gets a few more
        // seconds than it, so that its own (clearer) timeout fires first.
        let limit = self
            .timeout
            .max(Duration::from_secs(u64::from(runtime_seconds) + 5));
        let input = RunInput {
            execution_id,
            tenant_id: started.tenant_id,
            agent_id: started.agent_id,
            agent_name: started.agent_name,
            system_prompt: started.system_prompt,
            payload: started.payload,
            raw_body: started.raw_body,
            delivery_id: started.delivery_id,
            attempt,
            runtime: started.runtime,
            credentials: started.credentials,
        };
        // The fault drill counts these to tell runs repeated after a fault (allowed) from
        // executions completed twice (never).
        tracing::info!(%execution_id, attempt, "execution run started");
        let runner = self.context.runner.clone();
        let failure = match isolated(limit, async move { runner.run(&input).await }).await {
            Ok(Ok(result)) => match serde_json::to_vec(&result) {
                Ok(bytes) if db::jsonb::can_store(&bytes) => return Outcome::Completed(result),
                _ => RunError::retry("the runner's result cannot be stored (JSON that PostgreSQL's jsonb refuses, such as \\u0000)"),
            },
            Ok(Err(error)) => error,
            Err(failure) => RunError::retry(failure.to_string()),
        };
        execute::after_failed_attempt(attempt, failure, self.max_backoff)
    }

    /// Any other fang task (for example a queue probe), with fang's retry policy.
    async fn run_task(&self, task: Claimed) -> Outcome {
        let runnable: Box<dyn AsyncRunnable> = match serde_json::from_value(task.metadata) {
            Ok(runnable) => runnable,
            Err(err) => {
                tracing::error!(task_id = %task.id, error = %err, "task metadata is not a known task; failing it");
                return Outcome::GiveUp(format!("unknown task: {err}"));
            }
        };
        let max_retries = runnable.max_retries();
        let delay_seconds = runnable
            .backoff(task.retries.max(0) as u32)
            .min(self.max_backoff.as_secs() as u32);
        let queue = self.queue.clone();
        let run = context::scope(self.context.clone(), async move {
            runnable.run(&queue as &dyn AsyncQueueable).await
        });
        let error = match isolated(self.timeout, run).await {
            Ok(Ok(())) => return Outcome::Done,
            Ok(Err(err)) => err.description,
            Err(failure) => failure.to_string(),
        };
        if task.retries < max_retries {
            Outcome::Retry {
                error,
                delay_seconds,
            }
        } else {
            Outcome::GiveUp(error)
        }
    }
}

#[derive(Debug)]
enum Failure {
    Panicked(String),
    TimedOut(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panicked(message) => write!(f, "the run panicked: {message}"),
            Failure::TimedOut(limit) => {
                write!(f, "the run timed out after {} s", limit.as_secs_f64())
            }
        }
    }
}

/// Runs `future` on a task of its own, so that a panic is caught as a failure, and aborts it
/// after `timeout`, or when the caller is dropped (its run was aborted).
async fn isolated<T: Send + 'static>(
    timeout: Duration,
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, Failure> {
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let handle = tokio::spawn(future.in_current_span());
    let _abort = AbortOnDrop(handle.abort_handle());
    match tokio::time::timeout(timeout, handle).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(err)) => Err(Failure::Panicked(panic_message(err))),
        Err(_) => Err(Failure::TimedOut(timeout)),
    }
}

fn panic_message(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-text panic payload".into()),
        Err(err) => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_panic_and_a_timeout_are_failures_and_a_timed_out_run_is_stopped() {
        let panicked = isolated(Duration::from_secs(5), async { panic!("runner bug") }).await;
        assert_eq!(
            panicked.unwrap_err().to_string(),
            "the run panicked: runner bug"
        );

        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        struct SetOnDrop(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let guard = SetOnDrop(dropped.clone());
        let hanging = isolated(Duration::from_millis(50), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .await;
        assert_eq!(
            hanging.unwrap_err().to_string(),
            "the run timed out after 0.05 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the hanging run was stopped"
        );
    }
}
