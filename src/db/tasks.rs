//! fang's `fang_tasks` table, written with our own statements where fang's API falls short:
//! inserting inside the caller's transaction, and claiming a task atomically.

use chrono::{DateTime, Utc};
use fang::{AsyncRunnable, FangTaskState, Task};
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

const COLUMNS: &str = "id, metadata, error_message, state::text as state, task_type, uniq_hash, \
                       retries, scheduled_at, created_at, updated_at";

/// The same row fang's `insert_task` writes (metadata is the typetag JSON of the task),
/// but on the caller's connection, so it commits or rolls back with the caller's writes.
pub async fn insert(
    db: impl PgExecutor<'_>,
    task: &dyn AsyncRunnable,
) -> Result<Uuid, sqlx::Error> {
    let metadata = serde_json::to_value(task).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query_scalar(
        "insert into fang_tasks (id, metadata, task_type, scheduled_at)
         values ($1, $2, $3, now()) returning id",
    )
    .bind(Uuid::new_v4())
    .bind(metadata)
    .bind(task.task_type())
    .fetch_one(db)
    .await
}

/// Takes the oldest runnable task of `task_type` and marks it `in_progress` in one
/// statement. fang's own fetch selects and updates separately, so two workers could take
/// the same task; `for update skip locked` inside a single update cannot.
pub async fn claim_next(
    db: impl PgExecutor<'_>,
    task_type: &str,
) -> Result<Option<Task>, sqlx::Error> {
    let sql = format!(
        "update fang_tasks set state = 'in_progress', updated_at = now()
         where id = (
             select id from fang_tasks
             where task_type = $1 and state in ('new', 'retried') and scheduled_at <= now()
             order by scheduled_at, created_at
             limit 1
             for update skip locked
         )
         returning {COLUMNS}"
    );
    let row = sqlx::query(&sql).bind(task_type).fetch_optional(db).await?;
    row.map(|row| {
        Ok(Task {
            id: row.try_get("id")?,
            metadata: row.try_get("metadata")?,
            error_message: row.try_get("error_message")?,
            state: FangTaskState::from(row.try_get::<String, _>("state")?),
            task_type: row.try_get("task_type")?,
            uniq_hash: row.try_get("uniq_hash")?,
            retries: row.try_get("retries")?,
            scheduled_at: row.try_get::<DateTime<Utc>, _>("scheduled_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    })
    .transpose()
}

/// Renews a running task's lease (its heartbeat).
pub async fn touch(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update fang_tasks set updated_at = now() where id = $1 and state = 'in_progress'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Hands running tasks back to the queue (their worker is stopping): the tasks become
/// runnable again and their executions go back to `queued`. Returns how many were released.
pub async fn release(db: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<u64, sqlx::Error> {
    let released: i64 = sqlx::query_scalar(
        "with released as (
             update fang_tasks set state = 'retried', updated_at = now()
             where id = any($1) and state = 'in_progress'
             returning metadata ->> 'execution_id' as execution_id
         ), requeued as (
             update agent_executions set status = 'queued'
             where id::text in (select execution_id from released where execution_id is not null)
               and status = 'running'
         )
         select count(*) from released",
    )
    .bind(ids)
    .fetch_one(db)
    .await?;
    Ok(released as u64)
}
