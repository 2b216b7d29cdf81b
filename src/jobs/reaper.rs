//! Periodic repairs that fang does not do:
//! - a task left `in_progress` by a dead worker (no heartbeat for a lease) is handed out again,
//!   keeping its place in the queue (its `scheduled_at` is not reset);
//! - an execution left `running` without a live task goes back to `queued`;
//! - a `queued` execution without a task (its task was lost) gets a new one;
//! - delivery ids older than 24 hours and expired sessions are deleted.
//!
//! Every statement is idempotent, so several processes may run it at once.

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
    let tasks_released = sqlx::query(
        "update fang_tasks set state = 'retried', updated_at = now()
         where state = 'in_progress' and updated_at < now() - make_interval(secs => $1)",
    )
    .bind(lease_seconds)
    .execute(pool)
    .await?
    .rows_affected();
    let executions_requeued = sqlx::query(
        "update agent_executions e set status = 'queued'
         where e.status = 'running'
           and e.started_at < now() - make_interval(secs => $1)
           and not exists (
               select 1 from fang_tasks t
               where t.metadata ->> 'execution_id' = e.id::text
                 and t.state = 'in_progress'
                 and t.updated_at >= now() - make_interval(secs => $1))",
    )
    .bind(lease_seconds)
    .execute(pool)
    .await?
    .rows_affected();
    let orphans: Vec<uuid::Uuid> = sqlx::query_scalar(
        "select e.id from agent_executions e
         where e.status = 'queued'
           and e.created_at < now() - make_interval(secs => $1)
           and not exists (
               select 1 from fang_tasks t
               where t.metadata ->> 'execution_id' = e.id::text
                 and t.state in ('new', 'retried', 'in_progress'))
         limit 1000",
    )
    .bind(lease_seconds.min(30.0))
    .fetch_all(pool)
    .await?;
    for execution_id in &orphans {
        db::tasks::insert(
            pool,
            &ExecuteAgent {
                execution_id: *execution_id,
            },
        )
        .await?;
    }
    db::deliveries::delete_older_than_a_day(pool).await?;
    db::sessions::delete_expired(pool).await?;
    let repairs = Repairs {
        tasks_released,
        executions_requeued,
        tasks_recreated: orphans.len() as u64,
    };
    if repairs != Repairs::default() {
        tracing::warn!(
            ?repairs,
            task_type = TASK_TYPE,
            "reaper repaired stale work"
        );
    }
    Ok(repairs)
}
