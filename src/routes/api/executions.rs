use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{AgentId, ApiJson};
use crate::{
    db::executions::ExecutionFilter,
    domain::{Execution, ExecutionDetail, ExecutionPage, ExecutionStatus, Replayed, Timestamp},
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
    /// Only the executions of this delivery id (replays keep their original's).
    pub delivery_id: Option<String>,
}

/// `POST /api/agents/{id}/executions/replay`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayMatching {
    /// `failed` or `completed`.
    pub status: ExecutionStatus,
    /// Executions received at or after this instant (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayedCount {
    pub replayed: u64,
}

fn path_id(
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Uuid, AppError> {
    id.map(|Path(id)| id).map_err(|_| AppError::NotFound)
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
    Ok(Json(
        services::executions::get(&state.pool, &principal, path_id(id)?).await?,
    ))
}

/// The execution with its agent's name and the request that queued it (for a replay, the
/// original's), from the request log while it keeps it.
#[utoipa::path(get, path = "/api/executions/{id}/detail", tag = "executions", params(("id" = Uuid, Path)),
    responses((status = 200, body = ExecutionDetail), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Json<ExecutionDetail>, AppError> {
    Ok(Json(
        services::executions::detail(&state.pool, &principal, path_id(id)?).await?,
    ))
}

/// Queues a new execution with the same payload (`replay_of` names this one).
#[utoipa::path(post, path = "/api/executions/{id}/replay", tag = "executions", params(("id" = Uuid, Path)),
    responses((status = 202, body = Replayed), (status = 401), (status = 404),
        (status = 409, description = "The agent is not active")),
    security(("session" = []), ("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<(StatusCode, Json<Replayed>), AppError> {
    let replayed = services::executions::replay(&state.pool, &principal, path_id(id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(replayed)))
}

/// Replays each of the agent's executions of `status` received since `since`.
#[utoipa::path(post, path = "/api/agents/{id}/executions/replay", tag = "executions",
    params(("id" = Uuid, Path)), request_body = ReplayMatching,
    responses((status = 202, body = ReplayedCount), (status = 400), (status = 401), (status = 404),
        (status = 409, description = "The agent is not active")),
    security(("session" = []), ("bearer" = [])))]
pub async fn replay_matching(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(agent_id): AgentId,
    ApiJson(input): ApiJson<ReplayMatching>,
) -> Result<(StatusCode, Json<ReplayedCount>), AppError> {
    let replayed = services::executions::replay_matching(
        &state.pool,
        &principal,
        agent_id,
        input.status,
        input.since,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayedCount { replayed })))
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
            ExecutionFilter {
                status: query.status,
                delivery_id: query.delivery_id.as_deref(),
                before: query.before,
            },
            query.limit,
        )
        .await?,
    ))
}
