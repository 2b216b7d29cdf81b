//! `agent_executions`: the record of every accepted webhook. Its status changes go with its
//! task's, in the queue's statements (`db::tasks`), fenced by the task's lease.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::domain::{Execution, ExecutionStatus};

/// A queued execution to record, with its task's fang metadata.
pub struct NewExecution<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    /// The exact bytes received; valid UTF-8 JSON (the route checked), stored as they are
    /// and as `payload` (jsonb, parsed by Postgres, so large numbers keep every digit).
    pub raw_body: &'a [u8],
    pub delivery_id: Option<&'a str>,
    pub task_metadata: Value,
}

/// Records queued executions and their fang tasks in one statement (so, without an explicit
/// transaction, in one atomic commit). `payload` is parsed from `raw_body` by Postgres.
pub async fn insert_queued(
    db: impl PgExecutor<'_>,
    executions: &[NewExecution<'_>],
    task_type: &str,
) -> Result<(), sqlx::Error> {
    let mut ids = Vec::with_capacity(executions.len());
    let mut tenants = Vec::with_capacity(executions.len());
    let mut agents = Vec::with_capacity(executions.len());
    let mut bodies = Vec::with_capacity(executions.len());
    let mut deliveries = Vec::with_capacity(executions.len());
    let mut metadata = Vec::with_capacity(executions.len());
    for execution in executions {
        ids.push(execution.id);
        tenants.push(execution.tenant_id);
        agents.push(execution.agent_id);
        bodies.push(execution.raw_body);
        deliveries.push(execution.delivery_id);
        metadata.push(&execution.task_metadata);
    }
    sqlx::query(
        "with recorded as (
             insert into agent_executions
                 (id, tenant_id, agent_id, status, payload, raw_body, delivery_id)
             select id, tenant_id, agent_id, 'queued', convert_from(raw_body, 'UTF8')::jsonb,
                    raw_body, delivery_id
             from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bytea[], $5::text[])
                 as e(id, tenant_id, agent_id, raw_body, delivery_id)
         )
         insert into fang_tasks (id, metadata, task_type, scheduled_at)
         select gen_random_uuid(), metadata, $7, now() from unnest($6::jsonb[]) as t(metadata)",
    )
    .bind(ids)
    .bind(tenants)
    .bind(agents)
    .bind(bodies)
    .bind(deliveries)
    .bind(metadata)
    .bind(task_type)
    .execute(db)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, agent_id, status, delivery_id, payload, result, error, attempts, \
                       created_at, started_at, completed_at";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<Execution, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Execution {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        status: status
            .parse()
            .map_err(|err: String| sqlx::Error::Decode(err.into()))?,
        delivery_id: row.try_get("delivery_id")?,
        payload: row.try_get("payload")?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

pub async fn find(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Execution>, sqlx::Error> {
    sqlx::query(&format!(
        "select {COLUMNS} from agent_executions where tenant_id = $1 and id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Newest first, optionally of one status, after the execution `before` (keyset paging).
pub async fn list_for_agent(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Uuid,
    status: Option<ExecutionStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Execution>, sqlx::Error> {
    sqlx::query(&format!(
        "select {COLUMNS} from agent_executions
         where tenant_id = $1 and agent_id = $2
           and ($3::text is null or status = $3)
           and ($4::uuid is null or (created_at, id) < (
               select created_at, id from agent_executions where id = $4 and tenant_id = $1))
         order by created_at desc, id desc
         limit $5"
    ))
    .bind(tenant_id)
    .bind(agent_id)
    .bind(status.map(ExecutionStatus::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// How many executions wait to run, and for how long the oldest has waited (seconds).
pub async fn queue_stats(db: impl PgExecutor<'_>) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "select count(*),
                coalesce(extract(epoch from now() - min(created_at))::float8, 0)
         from agent_executions where status = 'queued'",
    )
    .fetch_one(db)
    .await
}
