use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    Json,
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::AgentId;
use crate::{
    domain::{Execution, ExecutionPage, ExecutionStatus},
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExecutionQuery {
    pub status: Option<ExecutionStatus>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// The previous page's `next_before`.
    pub before: Option<Uuid>,
}

/// One execution of the caller's tenant.
#[utoipa::path(get, path = "/api/executions/{id}", tag = "executions", params(("id" = Uuid, Path)),
    responses((status = 200, body = Execution), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Execution>, AppError> {
    let Ok(Path(id)) = id else {
        return Err(AppError::NotFound);
    };
    Ok(Json(
        services::executions::get(&state.pool, &principal, id).await?,
    ))
}

/// An agent's executions, newest first.
#[utoipa::path(get, path = "/api/agents/{id}/executions", tag = "executions",
    params(("id" = Uuid, Path), ExecutionQuery),
    responses((status = 200, body = ExecutionPage), (status = 400), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn for_agent(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(agent_id): AgentId,
    query: Result<Query<ExecutionQuery>, QueryRejection>,
) -> Result<Json<ExecutionPage>, AppError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest(rejection.body_text()))?;
    Ok(Json(
        services::executions::page_for_agent(
            &state.pool,
            &principal,
            agent_id,
            query.status,
            query.before,
            query.limit,
        )
        .await?,
    ))
}
