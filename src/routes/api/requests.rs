use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::AgentId;
use crate::{
    domain::{RequestOutcome, RequestPage},
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    pub outcome: Option<RequestOutcome>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// The previous page's `next_before`.
    pub before: Option<Uuid>,
}

/// The request log of an agent's webhook URL, newest first: every request, accepted or
/// refused, with its status, reason, delivery id, source address and headers (credentials
/// redacted). Written asynchronously: a request appears within about a second.
#[utoipa::path(get, path = "/api/agents/{id}/requests", tag = "requests",
    params(("id" = Uuid, Path), RequestQuery),
    responses((status = 200, body = RequestPage), (status = 400), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn for_agent(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(agent_id): AgentId,
    query: Result<Query<RequestQuery>, QueryRejection>,
) -> Result<Json<RequestPage>, AppError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest(rejection.body_text()))?;
    Ok(Json(
        services::request_log::page_for_agent(
            &state.pool,
            &principal,
            agent_id,
            query.outcome,
            query.before,
            query.limit,
        )
        .await?,
    ))
}
