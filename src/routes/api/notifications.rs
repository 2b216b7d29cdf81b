use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::IntoResponse,
    Json,
};

use super::extract::ApiJson;
use crate::{
    domain::{
        Notification, NotificationSettings, NotificationTestResult, RevealedSigningSecret,
        UpdateNotificationSettings,
    },
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

/// Where the tenant's failure notifications go.
#[utoipa::path(get, path = "/api/notifications/settings", tag = "notifications",
    responses((status = 200, body = NotificationSettings), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn settings(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<NotificationSettings>, AppError> {
    Ok(Json(
        services::notifications::settings(&state, &principal).await?,
    ))
}

/// Sets the notification URL (checked like a runtime's: https, SSRF rules); `url: null`
/// turns notifications off. The first URL brings a signing secret. Audited.
#[utoipa::path(put, path = "/api/notifications/settings", tag = "notifications",
    request_body = UpdateNotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 400, description = "Invalid or refused URL"), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn update_settings(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<UpdateNotificationSettings>,
) -> Result<Json<NotificationSettings>, AppError> {
    Ok(Json(
        services::notifications::update_settings(&state, &principal, input).await?,
    ))
}

/// The signing secret of notifications (Standard Webhooks form); audited, and limited with
/// the other reveals.
#[utoipa::path(get, path = "/api/notifications/secret", tag = "notifications",
    responses((status = 200, body = RevealedSigningSecret), (status = 401),
        (status = 409, description = "No notification URL was ever set"),
        (status = 429, description = "Reveal limit reached; see Retry-After")),
    security(("session" = []), ("bearer" = [])))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<impl IntoResponse, AppError> {
    let secret = services::notifications::reveal_secret(&state, &principal).await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(secret),
    ))
}

/// Replaces the signing secret at once (audited); 204.
#[utoipa::path(post, path = "/api/notifications/regenerate-secret", tag = "notifications",
    responses((status = 204), (status = 401), (status = 409)),
    security(("session" = []), ("bearer" = [])))]
pub async fn regenerate_secret(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, AppError> {
    services::notifications::regenerate_secret(&state, &principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a signed `notification.test` event now and reports the receiver's answer.
#[utoipa::path(post, path = "/api/notifications/test", tag = "notifications",
    responses((status = 200, body = NotificationTestResult), (status = 401),
        (status = 409, description = "No notification URL set")),
    security(("session" = []), ("bearer" = [])))]
pub async fn send_test(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<NotificationTestResult>, AppError> {
    Ok(Json(
        services::notifications::send_test(&state, &principal).await?,
    ))
}

/// The tenant's latest 50 events, newest first, with how their delivery went.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications",
    responses((status = 200, body = Vec<Notification>), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn recent(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Notification>>, AppError> {
    Ok(Json(
        services::notifications::recent(&state, &principal).await?,
    ))
}
