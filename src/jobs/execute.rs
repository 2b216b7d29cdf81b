//! The task that runs one agent execution, and its retry policy. The task carries only the
//! execution id and its lane (the tenant); the claim that hands the task to a worker also
//! starts the execution and reads what to run (`db::tasks::claim`), so the worker runs it
//! without another round trip (see `jobs::run`).

use std::time::Duration;

use fang::{async_trait, typetag, AsyncQueueable, AsyncRunnable, FangError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::runner::{Retry, RunError};
use crate::db::tasks::Outcome;

/// An execution gets at most this many attempts.
pub const MAX_ATTEMPTS: i32 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct ExecuteAgent {
    pub execution_id: Uuid,
    /// Claims go round-robin across lanes; an execution's lane is its tenant. Tasks written
    /// before lanes existed lack it and share the nil lane.
    #[serde(default)]
    pub lane_id: Uuid,
}

impl ExecuteAgent {
    /// The task's stored form (typetag JSON), exactly as fang writes it.
    pub fn metadata(execution_id: Uuid, tenant_id: Uuid) -> serde_json::Value {
        super::task_metadata(&ExecuteAgent {
            execution_id,
            lane_id: tenant_id,
        })
    }
}

#[typetag::serde]
#[async_trait]
impl AsyncRunnable for ExecuteAgent {
    /// Never called: the worker recognizes execution tasks by their `execution_id` column and
    /// runs them itself, because their claim already started the execution. Reached only if
    /// some other fang worker took the task; the error hands it back to the queue.
    async fn run(&self, _queue: &dyn AsyncQueueable) -> Result<(), FangError> {
        Err(FangError {
            description: "execution tasks are run by jobs::WorkerPool".into(),
        })
    }

    fn task_type(&self) -> String {
        super::TASK_TYPE.into()
    }
}

/// What a failed attempt (an error, a panic or a timeout) leads to: failure when the error
/// says no attempt can help or after the last attempt; otherwise another attempt after the
/// delay the target asked for (`Retry-After`), or after a backoff of 2, 4, 8, 16 s (capped
/// at `max_backoff`).
pub fn after_failed_attempt(attempt: i32, error: RunError, max_backoff: Duration) -> Outcome {
    if attempt >= MAX_ATTEMPTS || error.retry == Retry::Never {
        return Outcome::Failed(error.message);
    }
    let delay_seconds = match error.retry {
        Retry::After(delay) => u32::try_from(delay.as_secs_f64().ceil() as u64)
            .unwrap_or(u32::MAX)
            .max(1),
        _ => 2u32
            .saturating_pow(attempt.clamp(1, 31) as u32)
            .min(max_backoff.as_secs() as u32),
    };
    Outcome::Retry {
        error: error.message,
        delay_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_attempts_back_off_exponentially_up_to_the_cap_then_fail() {
        let cap = Duration::from_secs(30);
        let delay = |attempt| match after_failed_attempt(attempt, RunError::retry("boom"), cap) {
            Outcome::Retry { delay_seconds, .. } => delay_seconds,
            other => panic!("attempt {attempt}: {other:?}"),
        };
        assert_eq!([delay(1), delay(2), delay(3), delay(4)], [2, 4, 8, 16]);
        assert_eq!(
            after_failed_attempt(1, "x".into(), Duration::from_secs(1)),
            Outcome::Retry {
                error: "x".into(),
                delay_seconds: 1
            }
        );
        assert_eq!(
            after_failed_attempt(MAX_ATTEMPTS, "boom".into(), cap),
            Outcome::Failed("boom".into())
        );
    }

    #[test]
    fn a_target_s_retry_after_beats_the_backoff_and_a_refusal_fails_at_once() {
        let cap = Duration::from_secs(30);
        let after = RunError::retry_after("503", Some(Duration::from_millis(120_500)));
        assert_eq!(
            after_failed_attempt(1, after.clone(), cap),
            Outcome::Retry {
                error: "503".into(),
                delay_seconds: 121
            }
        );
        assert_eq!(
            after_failed_attempt(MAX_ATTEMPTS, after, cap),
            Outcome::Failed("503".into())
        );
        assert_eq!(
            after_failed_attempt(1, RunError::fail("400"), cap),
            Outcome::Failed("400".into())
        );
    }

    #[test]
    fn the_task_json_carries_the_execution_and_its_lane_and_reads_old_tasks() {
        let (execution, tenant) = (Uuid::new_v4(), Uuid::new_v4());
        let metadata = ExecuteAgent::metadata(execution, tenant);
        assert_eq!(metadata["type"], "ExecuteAgent");
        assert_eq!(metadata["execution_id"], execution.to_string());
        assert_eq!(metadata["lane_id"], tenant.to_string());
        let old = serde_json::json!({"type": "ExecuteAgent", "execution_id": execution});
        let task: Box<dyn AsyncRunnable> = serde_json::from_value(old).unwrap();
        assert_eq!(task.task_type(), super::super::TASK_TYPE);
    }
}
