//! Every statement on the queue: fang's `fang_tasks` table and the execution state changes
//! that go with a task's. `jobs/` decides what a task is and when it runs; this module only
//! moves rows, in batches, and fences every change of a claimed task with its lease token.
//!
//! An execution task's lifecycle, one statement per arrow (each batch of tasks at once):
//! - enqueue (`executions::insert_queued`, with the execution; or `insert_many`);
//! - `claim`: task `new|retried -> in_progress` with a fresh lease token, and its execution
//!   `queued -> running` (the attempt counted), in the same statement;
//! - `heartbeat`: renews the leases still held, and says which were lost;
//! - `finish`: completes, fails or reschedules the tasks, and records the executions'
//!   results, only where the lease token still matches (a stale worker writes nothing);
//! - `release` (shutdown) and `release_stale` (the reaper) hand a task and its execution back.

use serde_json::Value;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

/// A task a claim handed to this worker.
#[derive(Debug)]
pub struct Claimed {
    pub id: Uuid,
    /// fang's typetag JSON of the task.
    pub metadata: Value,
    /// Earlier failed runs of the task itself (fang's counter).
    pub retries: i32,
    pub lane_id: Uuid,
    /// Set for an execution task.
    pub execution_id: Option<Uuid>,
    /// The execution this claim started; `None` for an execution task when the execution was
    /// no longer queued (already finished, or run by another task): nothing to run.
    pub execution: Option<StartedExecution>,
}

/// What a runner needs, read by the claim that started the execution.
#[derive(Debug, Clone)]
pub struct StartedExecution {
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub agent_name: String,
    pub system_prompt: String,
    pub payload: Value,
    pub raw_body: Vec<u8>,
    pub delivery_id: Option<String>,
    /// This attempt's number, 1 for the first.
    pub attempts: i32,
    /// The agent's runtime settings; null = the built-in runner.
    pub runtime: Option<Value>,
    /// Sealed; read only when the agent has a runtime.
    pub credentials: SealedCredentials,
}

/// The agent's runtime credentials, still sealed: the tenant key (itself sealed with the
/// master key) opens them. Read only for agents with a runtime other than the built-in.
#[derive(Clone, Default)]
pub struct SealedCredentials {
    pub tenant_key: Option<String>,
    pub runtime_secret: Option<String>,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedCredentials([redacted])")
    }
}

/// How a claimed task ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The execution completed with this result; the task is removed.
    Completed(Value),
    /// The execution failed for good with this error; the task is removed.
    Failed(String),
    /// The run failed and runs again after the delay; the execution waits `queued` with its error.
    Retry { error: String, delay_seconds: u32 },
    /// The task is done and removed (a task without an execution, or nothing left to run).
    Done,
    /// A task without an execution failed for good: kept as `failed` with its error.
    GiveUp(String),
}

impl Outcome {
    fn kind(&self) -> &'static str {
        match self {
            Outcome::Completed(_) => "completed",
            Outcome::Failed(_) => "failed",
            Outcome::Retry { .. } => "retry",
            Outcome::Done => "done",
            Outcome::GiveUp(_) => "give_up",
        }
    }
}

/// A claimed task, as every update after the claim names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub task_id: Uuid,
    pub token: Uuid,
}

/// Claims up to `limit` runnable tasks of `task_type` for one lease token, and starts their
/// executions, in one statement.
///
/// Fair order: instead of the oldest tasks of the whole table, the claim visits up to
/// `limit` lanes (tenants) that have runnable work, in lane order starting after
/// `after_lane` and wrapping around, and takes about `limit / lanes` of the oldest tasks
/// of each. A tenant with a backlog of a million therefore delays another tenant's task by
/// one claim, not by a million tasks. Each lane is found with one index probe (a "loose
/// index scan" over `fang_tasks_lane_claim_order`), so the cost does not grow with the
/// backlog. Rows another worker is claiming are skipped, not waited for.
///
/// The tasks come back in the order their lanes were visited, so the last one's lane is
/// where the next claim continues.
pub async fn claim(
    db: impl PgExecutor<'_>,
    task_type: &str,
    token: Uuid,
    after_lane: Uuid,
    limit: u32,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows = sqlx::query(
        "with recursive above(lane_id, n) as (
             select (select lane_id from fang_tasks
                     where task_type = $1 and state in ('new', 'retried')
                       and scheduled_at <= now() and lane_id > $2
                     order by lane_id limit 1), 1
             union all
             select (select lane_id from fang_tasks
                     where task_type = $1 and state in ('new', 'retried')
                       and scheduled_at <= now() and lane_id > a.lane_id
                     order by lane_id limit 1), a.n + 1
             from above a where a.lane_id is not null and a.n < $3
         ), below(lane_id, n) as (
             select (select lane_id from fang_tasks
                     where task_type = $1 and state in ('new', 'retried')
                       and scheduled_at <= now() and lane_id <= $2
                     order by lane_id limit 1), 1
             union all
             select (select lane_id from fang_tasks
                     where task_type = $1 and state in ('new', 'retried')
                       and scheduled_at <= now() and lane_id > b.lane_id and lane_id <= $2
                     order by lane_id limit 1), b.n + 1
             from below b where b.lane_id is not null and b.n < $3
         ), lanes as (
             -- `above` first; `below` is only read when `above` found fewer than $3 lanes.
             select lane_id, row_number() over () as lane_rank, count(*) over () as lane_count
             from (select lane_id from above where lane_id is not null
                   union all
                   select lane_id from below where lane_id is not null
                   limit $3) found
         ), picked as (
             select t.id, l.lane_rank,
                    row_number() over (partition by l.lane_id
                                       order by t.scheduled_at, t.created_at) as lane_position
             from lanes l cross join lateral (
                 select f.id, f.scheduled_at, f.created_at from fang_tasks f
                 where f.task_type = $1 and f.lane_id = l.lane_id
                   and f.state in ('new', 'retried') and f.scheduled_at <= now()
                 order by f.scheduled_at, f.created_at
                 limit ceil($3::numeric / l.lane_count)::bigint
                 for update skip locked
             ) t
             order by lane_position, l.lane_rank
             limit $3
         ), claimed as (
             update fang_tasks f
             set state = 'in_progress', updated_at = now(), lease_token = $4
             from picked p where f.id = p.id
             returning f.id, f.metadata, f.retries, f.lane_id, f.execution_id, p.lane_rank
         ), started as (
             update agent_executions e
             set status = 'running', started_at = now(), attempts = e.attempts + 1
             from claimed c where e.id = c.execution_id and e.status = 'queued'
             returning e.id, e.tenant_id, e.agent_id, e.payload, e.raw_body, e.delivery_id,
                       e.attempts
         ), runs as (
             -- Two tasks of one execution (one the reaper re-created while the first was
             -- merely late) may be claimed together; the execution started once, and only
             -- one of them runs it. The other finds nothing to run.
             select distinct on (c.execution_id) c.id as task_id, c.execution_id
             from claimed c join started s on s.id = c.execution_id
             order by c.execution_id, c.id
         )
         select c.id, c.metadata, c.retries, c.lane_id, c.execution_id, s.id as started_id,
                s.tenant_id, s.agent_id, s.payload, s.raw_body, s.delivery_id, s.attempts,
                a.name, a.system_prompt, a.runtime, a.runtime_secret, a.runtime_api_key,
                tn.sealed_key
         from claimed c
         left join runs r on r.task_id = c.id
         left join started s on s.id = r.execution_id
         left join agents a on a.id = s.agent_id
         -- Credentials are opened only for runtimes that need them.
         left join tenants tn on tn.id = s.tenant_id and a.runtime is not null
         order by c.lane_rank",
    )
    // Planned for its parameters every time, never from a cached generic plan: a generic
    // plan built while the queue was empty (or without statistics, with autovacuum off)
    // cost 100-200 ms per claim on a backlog of 40,000, where the planned one takes 2-17 ms
    // (measured with scripts/bench.sh; the drain fell from 6,000/s to 150/s). Planning
    // costs about a millisecond per claim, so a few microseconds per task.
    .persistent(false)
    .bind(task_type)
    .bind(after_lane)
    .bind(limit.max(1) as i32)
    .bind(token)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let started: Option<Uuid> = row.try_get("started_id")?;
            let execution = match started {
                Some(_) => Some(StartedExecution {
                    tenant_id: row.try_get("tenant_id")?,
                    agent_id: row.try_get("agent_id")?,
                    agent_name: row.try_get("name")?,
                    system_prompt: row.try_get("system_prompt")?,
                    payload: row.try_get("payload")?,
                    raw_body: row
                        .try_get::<Option<Vec<u8>>, _>("raw_body")?
                        .unwrap_or_default(),
                    delivery_id: row.try_get("delivery_id")?,
                    attempts: row.try_get("attempts")?,
                    runtime: row.try_get("runtime")?,
                    credentials: SealedCredentials {
                        tenant_key: row.try_get("sealed_key")?,
                        runtime_secret: row.try_get("runtime_secret")?,
                        api_key: row.try_get("runtime_api_key")?,
                    },
                }),
                None => None,
            };
            Ok(Claimed {
                id: row.try_get("id")?,
                metadata: row.try_get("metadata")?,
                retries: row.try_get("retries")?,
                lane_id: row.try_get("lane_id")?,
                execution_id: row.try_get("execution_id")?,
                execution,
            })
        })
        .collect()
}

/// Renews the leases still held; returns the task ids whose lease is still this worker's.
/// A lease that is missing from the answer was lost (the reaper handed the task out, or
/// another worker holds it now).
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    leases: &[Lease],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let (ids, tokens) = split(leases);
    sqlx::query_scalar(
        "update fang_tasks f set updated_at = now()
         from unnest($1::uuid[], $2::uuid[]) as held(id, lease_token)
         where f.id = held.id and f.lease_token = held.lease_token and f.state = 'in_progress'
         returning f.id",
    )
    .persistent(false) // see `claim`: a generic plan may scan the whole queue
    .bind(ids)
    .bind(tokens)
    .fetch_all(db)
    .await
}

/// Ends claimed tasks and records their executions' outcomes, in one statement. Only tasks
/// whose lease is still held change; their leases are returned, and every other outcome was
/// discarded (its worker had lost the lease). One batch may hold two outcomes of one task,
/// a stale one and the current one, so the answer names leases, not tasks.
pub async fn finish(
    db: impl PgExecutor<'_>,
    finished: &[(Lease, Outcome)],
) -> Result<Vec<Lease>, sqlx::Error> {
    let mut ids = Vec::with_capacity(finished.len());
    let mut tokens = Vec::with_capacity(finished.len());
    let mut kinds = Vec::with_capacity(finished.len());
    let mut results: Vec<Option<&Value>> = Vec::with_capacity(finished.len());
    let mut errors: Vec<Option<&str>> = Vec::with_capacity(finished.len());
    let mut delays = Vec::with_capacity(finished.len());
    for (lease, outcome) in finished {
        ids.push(lease.task_id);
        tokens.push(lease.token);
        kinds.push(outcome.kind());
        let (result, error, delay) = match outcome {
            Outcome::Completed(result) => (Some(result), None, 0),
            Outcome::Failed(error) | Outcome::GiveUp(error) => (None, Some(error.as_str()), 0),
            Outcome::Retry {
                error,
                delay_seconds,
            } => (None, Some(error.as_str()), *delay_seconds as i32),
            Outcome::Done => (None, None, 0),
        };
        results.push(result);
        errors.push(error);
        delays.push(delay);
    }
    let rows = sqlx::query(
        "with outcome as (
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[],
                                  $6::int4[])
                 as o(task_id, lease_token, kind, result, error, delay_seconds)
         ), removed as (
             delete from fang_tasks f using outcome o
             where f.id = o.task_id and f.lease_token = o.lease_token and f.state = 'in_progress'
               and o.kind in ('completed', 'failed', 'done')
             returning f.id, f.execution_id, o.lease_token
         ), rescheduled as (
             update fang_tasks f
             set state = case when o.kind = 'retry' then 'retried' else 'failed' end::fang_task_state,
                 retries = f.retries + 1, error_message = o.error, lease_token = null,
                 scheduled_at = case when o.kind = 'retry'
                                     then now() + make_interval(secs => o.delay_seconds)
                                     else f.scheduled_at end,
                 updated_at = now()
             from outcome o
             where f.id = o.task_id and f.lease_token = o.lease_token and f.state = 'in_progress'
               and o.kind in ('retry', 'give_up')
             returning f.id, f.execution_id, o.lease_token
         ), held as (
             select * from removed union all select * from rescheduled
         ), recorded as (
             update agent_executions e
             set status = case o.kind when 'completed' then 'completed'
                                      when 'failed' then 'failed' else 'queued' end,
                 result = case when o.kind = 'completed' then o.result else e.result end,
                 error = o.error,
                 attempt_log = case when o.error is null then e.attempt_log
                     else e.attempt_log || jsonb_build_array(jsonb_build_object(
                         'attempt', e.attempts, 'started_at', e.started_at,
                         'failed_at', now(), 'error', o.error)) end,
                 completed_at = case when o.kind = 'retry' then null else now() end
             from held h join outcome o on o.task_id = h.id and o.lease_token = h.lease_token
             where e.id = h.execution_id and e.status = 'running'
               and o.kind in ('completed', 'failed', 'retry')
         )
         select id, lease_token from held",
    )
    .persistent(false)
    .bind(ids)
    .bind(tokens)
    .bind(kinds)
    .bind(results)
    .bind(errors)
    .bind(delays)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Lease {
                task_id: row.try_get("id")?,
                token: row.try_get("lease_token")?,
            })
        })
        .collect()
}

/// Hands held tasks back at once (their worker stops): runnable again in their old place,
/// their executions `queued`. Returns how many were released.
pub async fn release(db: impl PgExecutor<'_>, leases: &[Lease]) -> Result<u64, sqlx::Error> {
    let (ids, tokens) = split(leases);
    let released: i64 = sqlx::query_scalar(
        "with released as (
             update fang_tasks f set state = 'retried', lease_token = null, updated_at = now()
             from unnest($1::uuid[], $2::uuid[]) as held(id, lease_token)
             where f.id = held.id and f.lease_token = held.lease_token and f.state = 'in_progress'
             returning f.execution_id
         ), requeued as (
             update agent_executions set status = 'queued'
             where id in (select execution_id from released) and status = 'running'
         )
         select count(*) from released",
    )
    .bind(ids)
    .bind(tokens)
    .fetch_one(db)
    .await?;
    Ok(released as u64)
}

/// The reaper's first repair: tasks whose heartbeat stopped for `lease_seconds` (their
/// worker died) become runnable again in their old place, and their executions `queued`,
/// in one statement. Returns (tasks, executions) handed back.
pub async fn release_stale(
    db: impl PgExecutor<'_>,
    lease_seconds: f64,
) -> Result<(u64, u64), sqlx::Error> {
    let (tasks, executions): (i64, i64) = sqlx::query_as(
        "with released as (
             update fang_tasks set state = 'retried', lease_token = null, updated_at = now()
             where state = 'in_progress' and updated_at < now() - make_interval(secs => $1)
             returning execution_id
         ), requeued as (
             update agent_executions set status = 'queued'
             where id in (select execution_id from released) and status = 'running'
             returning id
         )
         select (select count(*) from released), (select count(*) from requeued)",
    )
    .bind(lease_seconds)
    .fetch_one(db)
    .await?;
    Ok((tasks as u64, executions as u64))
}

/// Executions `running` for longer than `lease_seconds` without a task in progress (a task
/// removed by hand, or a state a crash left behind) go back to `queued`.
pub async fn requeue_running_without_task(
    db: impl PgExecutor<'_>,
    lease_seconds: f64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update agent_executions e set status = 'queued'
         where e.status = 'running'
           and e.started_at < now() - make_interval(secs => $1)
           and not exists (
               select 1 from fang_tasks t
               where t.execution_id = e.id and t.state = 'in_progress'
                 and t.updated_at >= now() - make_interval(secs => $1))",
    )
    .bind(lease_seconds)
    .execute(db)
    .await?
    .rows_affected())
}

/// Executions `queued` for longer than `older_than_seconds` without a live task (the task
/// was lost): (execution id, tenant id), at most `limit`.
pub async fn queued_without_task(
    db: impl PgExecutor<'_>,
    older_than_seconds: f64,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "select e.id, e.tenant_id from agent_executions e
         where e.status = 'queued'
           and e.created_at < now() - make_interval(secs => $1)
           and not exists (
               select 1 from fang_tasks t
               where t.execution_id = e.id and t.state in ('new', 'retried', 'in_progress'))
         limit $2",
    )
    .bind(older_than_seconds)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Inserts tasks (their typetag JSON) in one statement: the row fang's `insert_task`
/// writes, on the caller's connection, so it commits or rolls back with the caller's writes.
/// PostgreSQL derives `execution_id` and `lane_id` from the metadata.
pub async fn insert_many(
    db: impl PgExecutor<'_>,
    metadata: &[Value],
    task_type: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "insert into fang_tasks (id, metadata, task_type, scheduled_at)
         select gen_random_uuid(), metadata, $2, now() from unnest($1::jsonb[]) as t(metadata)",
    )
    .bind(metadata)
    .bind(task_type)
    .execute(db)
    .await?
    .rows_affected())
}

fn split(leases: &[Lease]) -> (Vec<Uuid>, Vec<Uuid>) {
    leases
        .iter()
        .map(|lease| (lease.task_id, lease.token))
        .unzip()
}
