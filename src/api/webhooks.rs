use leptos::prelude::*;

use super::codec::JsonOrForm;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::domain::{ApiError, Execution, ExecutionPage, ExecutionStatus, TestWebhookResult};

/// Signs `payload` the way the agent accepts deliveries and sends it through the real
/// webhook route, as if from the admin's own address.
#[server(prefix = "/api/fn", endpoint = "send_test_webhook", input = Json)]
pub async fn send_test_webhook(id: Uuid, payload: String) -> Result<TestWebhookResult, ApiError> {
    use super::context::{fail, principal};
    use crate::routes::webhook::test_sender::{self, Caller};

    let (state, principal) = principal().await?;
    let caller = use_context::<axum::http::request::Parts>()
        .map(|parts| Caller::of(&parts))
        .unwrap_or_default();
    test_sender::send(&state, &principal, &caller, id, payload)
        .await
        .map_err(fail)
}

/// A page of the agent's executions, optionally of one status or one delivery id.
#[server(prefix = "/api/fn", endpoint = "list_executions", input = JsonOrForm)]
pub async fn list_executions(
    agent_id: Uuid,
    status: Option<ExecutionStatus>,
    delivery_id: Option<String>,
    before: Option<Uuid>,
) -> Result<ExecutionPage, ApiError> {
    use super::context::{fail, principal};
    use crate::db::executions::ExecutionFilter;
    let (state, principal) = principal().await?;
    let delivery_id = delivery_id.filter(|id| !id.trim().is_empty());
    crate::services::executions::page_for_agent(
        &state.pool,
        &principal,
        agent_id,
        ExecutionFilter {
            status,
            delivery_id: delivery_id.as_deref().map(str::trim),
            before,
        },
        Some(25),
    )
    .await
    .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "get_execution", input = JsonOrForm)]
pub async fn get_execution(id: Uuid) -> Result<Execution, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::executions::get(&state.pool, &principal, id)
        .await
        .map_err(fail)
}
