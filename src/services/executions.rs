//! Reading executions back (they are recorded by `execution_writer`).

use sqlx::PgPool;
use uuid::Uuid;

use super::Principal;
use crate::{
    db,
    domain::{Execution, ExecutionPage, ExecutionStatus},
    error::AppError,
};

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

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
