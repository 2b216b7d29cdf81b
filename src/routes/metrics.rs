use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
};

use crate::{db, state::AppState};

/// Prometheus text format. The queue figures are read now, from the database.
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    match db::executions::queue_stats(&state.pool).await {
        Ok((depth, oldest)) => {
            state.metrics.queue_depth.set(depth);
            state.metrics.oldest_queued_seconds.set(oldest);
        }
        Err(err) => tracing::warn!(error = %err, "cannot read queue figures for /metrics"),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
