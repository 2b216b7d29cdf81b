use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiJson, SourceIp};
use crate::{
    domain::Password, error::AppError, routes::csrf::cookie, services::auth, state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub password: Password,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
}

fn session_cookie(state: &AppState, value: &str, max_age_seconds: i64) -> HeaderValue {
    HeaderValue::from_str(&auth::session_cookie(
        &state.settings,
        value,
        max_age_seconds,
    ))
    .expect("cookie text is ASCII")
}

/// Signs an administrator in and sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "Wrong email or password"),
        (status = 403, description = "Cross-site request"),
        (status = 429, description = "Too many sign-in attempts from this address or for this account; see Retry-After"),
        (status = 503, description = "Password checks busy; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    SourceIp(source_ip): SourceIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let ttl_hours = state.settings.security.session_ttl_hours;
    let session = auth::login(&state, &body.email, body.password, source_ip.as_deref()).await?;
    let cookie = session_cookie(&state, &session.token, i64::from(ttl_hours) * 3600);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(LoginResponse {
            user_id: session.user.id,
            tenant_id: session.user.tenant_id,
            email: session.user.email,
        }),
    )
        .into_response())
}

/// Ends the browser session and clears its cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = cookie(&headers, auth::session_cookie_name(&state.settings)) {
        auth::logout(&state.pool, token).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie(&state, "", 0))],
    )
        .into_response())
}
