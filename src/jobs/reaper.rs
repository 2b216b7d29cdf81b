//! Periodic repairs, each an idempotent statement in `db::tasks`, so several processes may run
//! them at once:
//! - a task left `in_progress` by a dead worker (no heartbeat for a lease) is handed out again,
//!   keeping its place in the queue, and its execution goes back to `queued`;
//! - an execution left `running` without a live task goes back to `queued`;
//! - a `queued` execution without a task (its task was lost) gets a new one;
//! - expired sessions are deleted (records past their retention: `retention`).

use std::time::Duration;

use sqlx::PgPool;

use super::{execute::ExecuteAgent, TASK_TYPE};
use crate::db;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repairs {
    pub tasks_released: u64,
    pub executions_requeued: u64,
    pub tasks_recreated: u64,
}

pub async fn repair(pool: &PgPool, lease: Duration) -> Result<Repairs, sqlx::Error> {
    let lease_seconds = lease.as_secs_f64();
    let (tasks_released, executions_released) =
        db::tasks::release_stale(pool, lease_seconds).await?;
    let executions_requeued =
        executions_released + db::tasks::requeue_running_without_task(pool, lease_seconds).await?;
    let orphans = db::tasks::queued_without_task(pool, lease_seconds.min(30.0), 1000).await?;
    let tasks: Vec<serde_json::Value> = orphans
        .iter()
        .map(|(execution_id, tenant_id)| ExecuteAgent::metadata(*execution_id, *tenant_id))
        .collect();
    let tasks_recreated = if tasks.is_empty() {
        0
    } else {
        db::tasks::insert_many(pool, &tasks, TASK_TYPE).await?
    };
    db::sessions::delete_expired(pool).await?;
    let repairs = Repairs {
        tasks_released,
        executions_requeued,
        tasks_recreated,
    };
    if repairs != Repairs::default() {
        tracing::warn!(?repairs, "reaper repaired stale work");
    }
    Ok(repairs)
}
