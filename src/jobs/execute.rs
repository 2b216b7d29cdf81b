//! The task that runs one agent execution. It carries only the execution id; the execution
//! row says what to run and is moved `queued -> running -> completed | failed` with
//! conditional updates, so a task delivered twice runs the agent once.

use fang::{async_trait, typetag, AsyncQueueable, AsyncRunnable, FangError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::runner::RunInput;
use crate::db;

/// An execution gets at most this many attempts.
pub const MAX_ATTEMPTS: i32 = 5;
/// Backoff between attempts: 2, 4, 8, 16 s, capped here.
const MAX_BACKOFF_SECONDS: u32 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct ExecuteAgent {
    pub execution_id: Uuid,
}

fn fang_error(what: &str, err: impl std::fmt::Display) -> FangError {
    FangError {
        description: format!("{what}: {err}"),
    }
}

#[typetag::serde]
#[async_trait]
impl AsyncRunnable for ExecuteAgent {
    async fn run(&self, _queue: &dyn AsyncQueueable) -> Result<(), FangError> {
        let context = super::context()?;
        let pool = &context.pool;
        // The start may be lost in a PostgreSQL crash (asynchronous commit): that costs
        // nothing, because such a crash makes the run fail before `complete`, and the
        // execution is run again either way (from `running` by the reaper, or from `queued`).
        // A later synchronous commit (the completion) makes the start durable too.
        let Some(started) = db::executions::start(&context.bookkeeping, self.execution_id)
            .await
            .map_err(|err| fang_error("cannot start the execution", err))?
        else {
            tracing::info!(execution_id = %self.execution_id, "execution is not queued; nothing to do");
            return Ok(());
        };
        let input = RunInput {
            execution_id: self.execution_id,
            agent_id: started.agent_id,
            agent_name: started.agent_name,
            system_prompt: started.system_prompt,
            payload: started.payload,
            raw_body: started.raw_body,
            attempt: started.attempts,
        };
        match context.runner.run(&input).await {
            Ok(result) => {
                db::executions::complete(pool, self.execution_id, &result)
                    .await
                    .map_err(|err| fang_error("cannot record the result", err))?;
                context.metrics.execution("completed");
                tracing::info!(execution_id = %self.execution_id, attempt = input.attempt, "execution completed");
                Ok(())
            }
            Err(error) if input.attempt < MAX_ATTEMPTS => {
                db::executions::requeue(pool, self.execution_id, &error)
                    .await
                    .map_err(|err| fang_error("cannot requeue", err))?;
                context.metrics.execution("retrying");
                // An error makes fang schedule the retry with our backoff.
                Err(fang_error("agent run failed", error))
            }
            Err(error) => {
                db::executions::fail(pool, self.execution_id, &error)
                    .await
                    .map_err(|err| fang_error("cannot record the failure", err))?;
                context.metrics.execution("failed");
                tracing::warn!(execution_id = %self.execution_id, attempts = input.attempt, "execution failed");
                Ok(())
            }
        }
    }

    fn task_type(&self) -> String {
        super::TASK_TYPE.into()
    }

    /// Our attempt counter decides when to give up; fang's limit is only a backstop for
    /// tasks that keep failing before an attempt starts (for example, the database is down).
    fn max_retries(&self) -> i32 {
        20
    }

    fn backoff(&self, attempt: u32) -> u32 {
        2u32.saturating_pow(attempt + 1).min(MAX_BACKOFF_SECONDS)
    }
}
