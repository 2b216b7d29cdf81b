use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::json;
use sqlx::PgPool;

use crate::db::health::{readiness, Readiness};

/// Liveness: the process answers. Never touches the database.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and all migrations are applied.
pub async fn readyz(State(pool): State<PgPool>) -> impl IntoResponse {
    match readiness(&pool).await {
        Ok(Readiness::Ready) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Readiness::MigrationsPending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "migrations pending" })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unavailable" })),
            )
        }
    }
}
