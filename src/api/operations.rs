//! Server functions of the operations pages: the request log, the execution page and
//! replays, agent deletion, API tokens and the home dashboard.

use leptos::prelude::*;
use uuid::Uuid;

use super::codec::JsonOrForm;
use crate::domain::{
    ApiError, ApiToken, CreatedToken, Dashboard, ExecutionDetail, Replayed, RequestOutcome,
    RequestPage,
};

#[server(prefix = "/api/fn", endpoint = "list_requests", input = JsonOrForm)]
pub async fn list_requests(
    agent_id: Uuid,
    outcome: Option<RequestOutcome>,
    before: Option<Uuid>,
) -> Result<RequestPage, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::request_log::page_for_agent(
        &state.pool,
        &principal,
        agent_id,
        outcome,
        before,
        Some(25),
    )
    .await
    .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "execution_detail", input = JsonOrForm)]
pub async fn get_execution_detail(id: Uuid) -> Result<ExecutionDetail, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::executions::detail(&state.pool, &principal, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "replay_execution", input = JsonOrForm)]
pub async fn replay_execution(id: Uuid) -> Result<Replayed, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::executions::replay(&state.pool, &principal, id)
        .await
        .map_err(fail)
}

/// Replays the agent's failed executions of the last `hours` (1 to 720); how many.
#[server(prefix = "/api/fn", endpoint = "replay_failed", input = JsonOrForm)]
pub async fn replay_failed(agent_id: Uuid, hours: u32) -> Result<u64, ApiError> {
    use super::context::{fail, principal};
    use crate::{domain::ExecutionStatus, error::AppError};
    let (state, principal) = principal().await?;
    if !(1..=720).contains(&hours) {
        return Err(fail(AppError::invalid("hours", "hours must be 1..=720")));
    }
    let since = chrono::Utc::now() - chrono::Duration::hours(hours.into());
    crate::services::executions::replay_matching(
        &state.pool,
        &principal,
        agent_id,
        ExecutionStatus::Failed,
        since,
    )
    .await
    .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "delete_agent", input = JsonOrForm)]
pub async fn delete_agent(id: Uuid) -> Result<(), ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::delete(&state, &principal, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "list_tokens", input = JsonOrForm)]
pub async fn list_tokens() -> Result<Vec<ApiToken>, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::tokens::list(&state.pool, &principal)
        .await
        .map_err(fail)
}

/// A new token that expires after `days` (never when `None`); shown this once.
#[server(prefix = "/api/fn", endpoint = "create_token", input = JsonOrForm)]
pub async fn new_token(name: String, days: Option<u32>) -> Result<CreatedToken, ApiError> {
    use super::context::{fail, principal};
    use crate::domain::CreateToken;
    use crate::error::AppError;
    let (state, principal) = principal().await?;
    if days.is_some_and(|days| !(1..=3650).contains(&days)) {
        return Err(fail(AppError::invalid("days", "days must be 1..=3650")));
    }
    let expires_at = days.map(|days| chrono::Utc::now() + chrono::Duration::days(days.into()));
    crate::services::tokens::create(&state.pool, &principal, CreateToken { name, expires_at })
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "revoke_token", input = JsonOrForm)]
pub async fn revoke_token(id: Uuid) -> Result<(), ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::tokens::revoke(&state.pool, &principal, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "dashboard", input = JsonOrForm)]
pub async fn load_dashboard() -> Result<Dashboard, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::dashboard::last_day(&state.pool, &principal)
        .await
        .map_err(fail)
}
