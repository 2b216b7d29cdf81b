use axum::{
    extract::{Query, State},
    Json,
};
use serde::Deserialize;

use super::extract::AgentId;
use crate::{
    domain::AuditPage,
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// Only entries with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
}

fn query(
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<PageQuery, AppError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
}

/// The audit log of one agent, newest first.
#[utoipa::path(get, path = "/api/agents/{id}/audit", tag = "audit", params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = AuditPage), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn for_agent(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
    page: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, AppError> {
    let page = query(page)?;
    services::agents::get(&state, &principal, id).await?;
    Ok(Json(
        services::audit::page(&state.pool, &principal, Some(id), page.before, page.limit).await?,
    ))
}

/// The tenant's whole audit log, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(PageQuery),
    responses((status = 200, body = AuditPage), (status = 401)), security(("session" = []), ("bearer" = [])))]
pub async fn for_tenant(
    State(state): State<AppState>,
    principal: Principal,
    page: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, AppError> {
    let page = query(page)?;
    Ok(Json(
        services::audit::page(&state.pool, &principal, None, page.before, page.limit).await?,
    ))
}
