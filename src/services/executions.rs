//! Recording executions (durably, with their job) and reading them back.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::Principal;
use crate::{
    db::{self, deliveries::Claim, executions::NewExecution},
    domain::{Execution, ExecutionPage, ExecutionStatus},
    error::AppError,
    jobs::execute::ExecuteAgent,
};

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// Records a queued execution and its fang task in one transaction and returns its id (and
/// `true`); a delivery id seen for this agent in the last 24 hours returns the first
/// execution instead (and `false`).
pub async fn enqueue(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    payload: &Value,
    raw_body: &[u8],
    delivery_id: Option<&str>,
) -> Result<(Uuid, bool), sqlx::Error> {
    let execution_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    if let Some(delivery_id) = delivery_id {
        if let Claim::Duplicate(existing) =
            db::deliveries::claim(&mut tx, agent_id, delivery_id, execution_id).await?
        {
            tx.rollback().await?;
            return Ok((existing, false));
        }
    }
    db::executions::insert(
        &mut *tx,
        &NewExecution {
            id: execution_id,
            tenant_id,
            agent_id,
            payload,
            raw_body,
            delivery_id,
        },
    )
    .await?;
    db::tasks::insert(&mut *tx, &ExecuteAgent { execution_id }).await?;
    tx.commit().await?;
    Ok((execution_id, true))
}

pub async fn get(pool: &PgPool, principal: &Principal, id: Uuid) -> Result<Execution, AppError> {
    db::executions::find(pool, principal.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn page_for_agent(
    pool: &PgPool,
    principal: &Principal,
    agent_id: Uuid,
    status: Option<ExecutionStatus>,
    before: Option<Uuid>,
    limit: Option<i64>,
) -> Result<ExecutionPage, AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be 1..={MAX_PAGE}"),
        ));
    }
    if db::agents::find(pool, principal.tenant_id, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let items =
        db::executions::list_for_agent(pool, principal.tenant_id, agent_id, status, before, limit)
            .await?;
    let next_before = if items.len() as i64 == limit {
        items.last().map(|execution| execution.id)
    } else {
        None
    };
    Ok(ExecutionPage { items, next_before })
}
