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
                       created_at, started_at, completed_at, replay_of, attempt_log";

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
        replay_of: row.try_get("replay_of")?,
        failed_attempts: serde_json::from_value(row.try_get("attempt_log")?)
            .map_err(|err| sqlx::Error::Decode(err.into()))?,
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

/// Which of an agent's executions a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecutionFilter<'a> {
    pub status: Option<ExecutionStatus>,
    /// Only the executions of this delivery id (a replay keeps its original's).
    pub delivery_id: Option<&'a str>,
    /// After this execution (keyset paging).
    pub before: Option<Uuid>,
}

/// Newest first, as filtered.
pub async fn list_for_agent(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Uuid,
    filter: ExecutionFilter<'_>,
    limit: i64,
) -> Result<Vec<Execution>, sqlx::Error> {
    sqlx::query(&format!(
        "select {COLUMNS} from agent_executions
         where tenant_id = $1 and agent_id = $2
           and ($3::text is null or status = $3)
           and ($4::uuid is null or (created_at, id) < (
               select created_at, id from agent_executions where id = $4 and tenant_id = $1))
           and ($6::text is null or delivery_id = $6)
         order by created_at desc, id desc
         limit $5"
    ))
    .bind(tenant_id)
    .bind(agent_id)
    .bind(filter.status.map(ExecutionStatus::as_str))
    .bind(filter.before)
    .bind(limit)
    .bind(filter.delivery_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// What a replay copies.
#[derive(Debug, Clone, Copy)]
pub enum ReplaySource {
    /// This execution.
    One(Uuid),
    /// The agent's executions of this status created since then that were not replayed yet.
    Matching {
        agent_id: Uuid,
        status: ExecutionStatus,
        since: DateTime<Utc>,
    },
}

/// Queues a new execution for each source execution, with its payload, raw body and
/// delivery id, `replay_of` the source, and its task (`task_template` is an execution
/// task's metadata, whose execution and lane ids are filled in). One statement, so the
/// executions and their tasks commit together. Returns (new id, replayed id, agent id).
pub async fn insert_replays(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    source: ReplaySource,
    task_template: &Value,
    task_type: &str,
) -> Result<Vec<(Uuid, Uuid, Uuid)>, sqlx::Error> {
    let (id, agent_id, status, since) = match source {
        ReplaySource::One(id) => (Some(id), None, None, None),
        ReplaySource::Matching {
            agent_id,
            status,
            since,
        } => (None, Some(agent_id), Some(status.as_str()), Some(since)),
    };
    sqlx::query_as(
        "with source as (
             select id, tenant_id, agent_id, payload, raw_body, delivery_id
             from agent_executions e
             where tenant_id = $1
               and ($2::uuid is null or id = $2)
               and ($3::uuid is null or (agent_id = $3 and status = $4 and created_at >= $5
                   -- replayed once already: its replay is the one to replay again, so
                   -- repeated bulk replays do not multiply
                   and not exists (select 1 from agent_executions r where r.replay_of = e.id)))
             order by created_at
         ), replay as (
             insert into agent_executions
                 (id, tenant_id, agent_id, status, payload, raw_body, delivery_id, replay_of)
             select gen_random_uuid(), tenant_id, agent_id, 'queued', payload, raw_body,
                    delivery_id, id
             from source
             returning id, tenant_id, agent_id, replay_of
         ), tasks as (
             insert into fang_tasks (id, metadata, task_type, scheduled_at)
             select gen_random_uuid(),
                    $6::jsonb || jsonb_build_object('execution_id', id, 'lane_id', tenant_id),
                    $7, now()
             from replay
         )
         select id, replay_of, agent_id from replay",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(agent_id)
    .bind(status)
    .bind(since)
    .bind(task_template)
    .bind(task_type)
    .fetch_all(db)
    .await
}

/// The tenant's executions created since `since`, counted by status.
pub async fn counts_since(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select status, count(*) from agent_executions
         where tenant_id = $1 and created_at >= $2 group by status",
    )
    .bind(tenant_id)
    .bind(since)
    .fetch_all(db)
    .await
}

/// The tenant's agents with the most failed executions created since `since`.
pub async fn most_failing_agents(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.name, f.failures
         from (select agent_id, count(*) as failures from agent_executions
               where tenant_id = $1 and created_at >= $2 and status = 'failed'
               group by agent_id) f
         join agents a on a.id = f.agent_id
         order by f.failures desc, a.name limit $3",
    )
    .bind(tenant_id)
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The tenant's queued executions and the age of the oldest (seconds).
pub async fn tenant_queue(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "select count(*),
                coalesce(extract(epoch from now() - min(created_at))::float8, 0)
         from agent_executions where status = 'queued' and tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_one(db)
    .await
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
