//! Reading executions back (they are recorded by `execution_writer`), and replaying them:
//! a replay is a new execution with the same payload (raw body), delivery id and agent,
//! whose `replay_of` names the original. The agent must be active, as for a delivery.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, Principal};
use crate::{
    db::{
        self,
        executions::{ExecutionFilter, ReplaySource},
    },
    domain::{
        AgentStatus, AuditAction, Execution, ExecutionDetail, ExecutionPage, ExecutionStatus,
        Replayed,
    },
    error::AppError,
    jobs::{execute::ExecuteAgent, TASK_TYPE},
};

pub async fn get(pool: &PgPool, principal: &Principal, id: Uuid) -> Result<Execution, AppError> {
    db::executions::find(pool, principal.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn page_for_agent(
    pool: &PgPool,
    principal: &Principal,
    agent_id: Uuid,
    filter: ExecutionFilter<'_>,
    limit: Option<i64>,
) -> Result<ExecutionPage, AppError> {
    let limit = super::page_limit(limit)?;
    if db::agents::find(pool, principal.tenant_id, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let items =
        db::executions::list_for_agent(pool, principal.tenant_id, agent_id, filter, limit).await?;
    let next_before = super::next_before(&items, limit, |execution| execution.id);
    Ok(ExecutionPage { items, next_before })
}

/// An execution with the request that queued it (from the request log, while kept) and its
/// agent's name, for the execution page.
pub async fn detail(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
) -> Result<ExecutionDetail, AppError> {
    let execution = get(pool, principal, id).await?;
    let agent = db::agents::find(pool, principal.tenant_id, execution.agent_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let request = db::requests::for_execution(
        pool,
        principal.tenant_id,
        execution.agent_id,
        execution.replay_of.unwrap_or(execution.id),
    )
    .await?;
    Ok(ExecutionDetail {
        execution,
        agent_name: agent.name,
        request,
    })
}

/// Refuses replays for an agent that would refuse the delivery itself. Locks the agent for
/// the caller's transaction, so a concurrent delete or suspension waits for the replay.
async fn check_replayable(
    conn: &mut sqlx::PgConnection,
    principal: &Principal,
    agent_id: Uuid,
) -> Result<(), AppError> {
    if !db::agents::lock(conn, principal.tenant_id, agent_id).await? {
        return Err(AppError::NotFound);
    }
    let agent = db::agents::find(&mut *conn, principal.tenant_id, agent_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if agent.status != AgentStatus::Active.as_str() {
        return Err(AppError::Conflict(format!(
            "the agent is {}: only an active agent's executions can be replayed",
            agent.status
        )));
    }
    Ok(())
}

/// Queues a replay of one execution.
pub async fn replay(pool: &PgPool, principal: &Principal, id: Uuid) -> Result<Replayed, AppError> {
    let original = get(pool, principal, id).await?;
    if !original.status.is_finished() {
        return Err(AppError::Conflict(format!(
            "the execution is {}: only a finished execution can be replayed",
            original.status
        )));
    }
    let mut tx = pool.begin().await?;
    check_replayable(&mut tx, principal, original.agent_id).await?;
    let replayed = db::executions::insert_replays(
        &mut *tx,
        principal.tenant_id,
        ReplaySource::One(id),
        &ExecuteAgent::metadata(Uuid::nil(), Uuid::nil()),
        TASK_TYPE,
    )
    .await?;
    let (execution_id, replay_of, agent_id) =
        replayed.first().copied().ok_or(AppError::NotFound)?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::ExecutionReplayed,
        Some(agent_id),
        "success",
        json!({ "execution_id": execution_id, "replay_of": replay_of }),
    )
    .await?;
    tx.commit().await?;
    Ok(Replayed {
        execution_id,
        replay_of,
    })
}

/// Queues a replay of each of the agent's executions of `status` created since `since`;
/// returns how many. Only finished executions can be replayed in bulk.
pub async fn replay_matching(
    pool: &PgPool,
    principal: &Principal,
    agent_id: Uuid,
    status: ExecutionStatus,
    since: DateTime<Utc>,
) -> Result<u64, AppError> {
    if !status.is_finished() {
        return Err(AppError::invalid(
            "status",
            "status must be failed or completed",
        ));
    }
    let mut tx = pool.begin().await?;
    check_replayable(&mut tx, principal, agent_id).await?;
    let replayed = db::executions::insert_replays(
        &mut *tx,
        principal.tenant_id,
        ReplaySource::Matching {
            agent_id,
            status,
            since,
        },
        &ExecuteAgent::metadata(Uuid::nil(), Uuid::nil()),
        TASK_TYPE,
    )
    .await?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::ExecutionReplayed,
        Some(agent_id),
        "success",
        json!({ "status": status, "since": since, "replayed": replayed.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(replayed.len() as u64)
}
