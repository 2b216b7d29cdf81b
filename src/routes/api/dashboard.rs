use axum::{extract::State, Json};

use crate::{
    domain::Dashboard,
    error::AppError,
    services::{self, Principal},
    state::AppState,
};

/// The tenant's last 24 hours: webhooks accepted and refused (by reason), executions
/// completed and failed, the queue now, the agents failing most.
#[utoipa::path(get, path = "/api/dashboard", tag = "dashboard",
    responses((status = 200, body = Dashboard), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Dashboard>, AppError> {
    Ok(Json(
        services::dashboard::last_day(&state.pool, &principal).await?,
    ))
}
