//! The REST API under `/api`: JSON in and out, authenticated by session cookie or API token.
//! Handlers only translate HTTP to `services` calls.

mod agents;
mod audit;
mod auth;
mod dashboard;
mod executions;
pub mod extract;
mod notifications;
mod openapi;
mod requests;
mod schemas;
mod tokens;

use axum::{
    routing::{delete, get, post},
    Router,
};

pub use openapi::ApiDoc;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/agents", get(agents::list).post(agents::create))
        .route(
            "/api/agents/{id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route(
            "/api/agents/{id}/webhook-secret",
            get(agents::reveal_secret).put(agents::set_secret),
        )
        .route(
            "/api/agents/{id}/regenerate-webhook-secret",
            post(agents::regenerate_secret),
        )
        .route(
            "/api/agents/{id}/runtime-secret",
            get(agents::reveal_runtime_secret),
        )
        .route(
            "/api/agents/{id}/regenerate-runtime-secret",
            post(agents::regenerate_runtime_secret),
        )
        .route("/api/agents/{id}/audit", get(audit::for_agent))
        .route("/api/agents/{id}/executions", get(executions::for_agent))
        .route(
            "/api/agents/{id}/executions/replay",
            post(executions::replay_matching),
        )
        .route("/api/agents/{id}/requests", get(requests::for_agent))
        .route("/api/executions/{id}", get(executions::get))
        .route("/api/executions/{id}/detail", get(executions::detail))
        .route("/api/executions/{id}/replay", post(executions::replay))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", delete(tokens::revoke))
        .route("/api/dashboard", get(dashboard::get))
        .route("/api/audit", get(audit::for_tenant))
        .route("/api/notifications", get(notifications::recent))
        .route(
            "/api/notifications/settings",
            get(notifications::settings).put(notifications::update_settings),
        )
        .route(
            "/api/notifications/secret",
            get(notifications::reveal_secret),
        )
        .route(
            "/api/notifications/regenerate-secret",
            post(notifications::regenerate_secret),
        )
        .route("/api/notifications/test", post(notifications::send_test))
        .route("/api/schemas/validate", post(schemas::validate))
        .route("/api/openapi.json", get(openapi::document))
}
