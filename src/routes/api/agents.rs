use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::IntoResponse,
    Json,
};

use super::extract::{AgentId, ApiJson};
use crate::{
    domain::{
        Agent, CreateAgent, RegenerateSecret, RevealedSecret, RevealedSigningSecret,
        SecretRegenerated, SetSecret, UpdateAgent,
    },
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

/// Creates an agent; unless it is a draft, its webhook URL and secret are created with it.
#[utoipa::path(post, path = "/api/agents", tag = "agents", request_body = CreateAgent,
    responses((status = 201, body = Agent), (status = 400, description = "Invalid input"), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<CreateAgent>,
) -> Result<impl IntoResponse, AppError> {
    let agent = services::agents::create(&state, &principal, input).await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// Every agent of the caller's tenant, newest first.
#[utoipa::path(get, path = "/api/agents", tag = "agents",
    responses((status = 200, body = Vec<Agent>), (status = 401)), security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Agent>>, AppError> {
    Ok(Json(services::agents::list(&state, &principal).await?))
}

#[utoipa::path(get, path = "/api/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Agent), (status = 401), (status = 404)), security(("session" = []), ("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
) -> Result<Json<Agent>, AppError> {
    Ok(Json(services::agents::get(&state, &principal, id).await?))
}

/// Changes the given fields; `payload_schema: null` clears the schema.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    request_body = UpdateAgent,
    responses((status = 200, body = Agent), (status = 400), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
    ApiJson(patch): ApiJson<UpdateAgent>,
) -> Result<Json<Agent>, AppError> {
    Ok(Json(
        services::agents::update(&state, &principal, id, patch).await?,
    ))
}

/// The webhook secret in clear (audited; 10 per minute per user or token).
#[utoipa::path(get, path = "/api/agents/{id}/webhook-secret", tag = "secrets", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RevealedSecret), (status = 401), (status = 404),
        (status = 409, description = "Draft agent without a secret"),
        (status = 429, description = "Reveal limit reached; see Retry-After")),
    security(("session" = []), ("bearer" = [])))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
) -> Result<impl IntoResponse, AppError> {
    let secret = services::secrets::reveal(&state, &principal, id).await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(secret),
    ))
}

/// Replaces the webhook secret; with a grace period the old one verifies until it ends.
#[utoipa::path(post, path = "/api/agents/{id}/regenerate-webhook-secret", tag = "secrets",
    params(("id" = uuid::Uuid, Path)), request_body = RegenerateSecret,
    responses((status = 200, body = SecretRegenerated), (status = 400), (status = 401), (status = 404), (status = 409)),
    security(("session" = []), ("bearer" = [])))]
pub async fn regenerate_secret(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
    body: axum::body::Bytes,
) -> Result<Json<SecretRegenerated>, AppError> {
    // The body is optional: no body means no grace period.
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        RegenerateSecret::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| AppError::BadRequest(format!("invalid JSON body: {err}")))?
    };
    Ok(Json(
        services::secrets::regenerate(&state, &principal, id, input).await?,
    ))
}

/// Stores the secret the sending product generated (Stripe's `whsec_…`, Slack's signing
/// secret, a service desk's token): 16 to 512 visible ASCII characters, audited as
/// `secret.set`; with a grace period the old secret verifies until it ends.
#[utoipa::path(put, path = "/api/agents/{id}/webhook-secret", tag = "secrets",
    params(("id" = uuid::Uuid, Path)), request_body = SetSecret,
    responses((status = 200, body = SecretRegenerated), (status = 400), (status = 401), (status = 404),
        (status = 409, description = "Draft agent without a secret")),
    security(("session" = []), ("bearer" = [])))]
pub async fn set_secret(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
    ApiJson(input): ApiJson<SetSecret>,
) -> Result<Json<SecretRegenerated>, AppError> {
    Ok(Json(
        services::secrets::set(&state, &principal, id, input).await?,
    ))
}

/// The http runtime's signing secret (Standard Webhooks form), audited, and limited with the
/// webhook secret's reveals (10 per minute per user or token).
#[utoipa::path(get, path = "/api/agents/{id}/runtime-secret", tag = "secrets", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RevealedSigningSecret), (status = 401), (status = 404),
        (status = 429, description = "Reveal limit reached; see Retry-After")),
    security(("session" = []), ("bearer" = [])))]
pub async fn reveal_runtime_secret(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
) -> Result<impl IntoResponse, AppError> {
    let secret = services::runtimes::reveal_secret(&state, &principal, id).await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(secret),
    ))
}

/// Replaces the http runtime's signing secret at once (audited); 204.
#[utoipa::path(post, path = "/api/agents/{id}/regenerate-runtime-secret", tag = "secrets",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn regenerate_runtime_secret(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
) -> Result<StatusCode, AppError> {
    services::runtimes::regenerate_secret(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes (archives) the agent: it leaves the lists and its webhook URL answers 404 at
/// once; its executions, request log and audit stay readable.
#[utoipa::path(delete, path = "/api/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)),
    security(("session" = []), ("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    AgentId(id): AgentId,
) -> Result<StatusCode, AppError> {
    services::agents::delete(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
