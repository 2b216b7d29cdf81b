use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    Json,
};
use uuid::Uuid;

use super::extract::ApiJson;
use crate::{
    domain::{ApiToken, CreateToken, CreatedToken},
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

/// The tenant's API tokens (never the tokens themselves), newest first.
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = Vec<ApiToken>), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<ApiToken>>, AppError> {
    Ok(Json(services::tokens::list(&state.pool, &principal).await?))
}

/// Creates a token; the answer is the only time it is shown.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<CreateToken>,
) -> Result<impl IntoResponse, AppError> {
    let created = services::tokens::create(&state.pool, &principal, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a token: its next request is answered 401.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, AppError> {
    let Ok(Path(id)) = id else {
        return Err(AppError::NotFound);
    };
    services::tokens::revoke(&state.pool, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
