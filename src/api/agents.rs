use leptos::prelude::*;

use super::codec::JsonOrForm;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::domain::{
    Agent, AgentStatus, AgentSummary, ApiError, AuditPage, CreateAgent, RevealedSecret,
    SchemaValidation, SecretRegenerated, UpdateAgent,
};

#[server(prefix = "/api/fn", endpoint = "list_agents", input = JsonOrForm)]
pub async fn list_agents() -> Result<Vec<AgentSummary>, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::summaries(&state, &principal)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "get_agent", input = JsonOrForm)]
pub async fn get_agent(id: Uuid) -> Result<Agent, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::get(&state, &principal, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "create_agent", input = Json)]
pub async fn new_agent(input: CreateAgent) -> Result<Agent, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::create(&state, &principal, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "update_agent", input = Json)]
pub async fn edit_agent(id: Uuid, patch: UpdateAgent) -> Result<Agent, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::update(&state, &principal, id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "set_agent_status", input = JsonOrForm)]
pub async fn set_agent_status(id: Uuid, status: AgentStatus) -> Result<Agent, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    let patch = UpdateAgent {
        status: Some(status),
        ..UpdateAgent::default()
    };
    crate::services::agents::update(&state, &principal, id, patch)
        .await
        .map_err(fail)
}

/// The secret in clear, fetched only when the admin asks (audited, rate-limited).
#[server(prefix = "/api/fn", endpoint = "reveal_secret", input = JsonOrForm)]
pub async fn reveal_secret(id: Uuid) -> Result<RevealedSecret, ApiError> {
    use super::context::{fail, no_store, principal};
    let (state, principal) = principal().await?;
    let secret = crate::services::secrets::reveal(&state, &principal, id)
        .await
        .map_err(fail)?;
    no_store();
    Ok(secret)
}

#[server(prefix = "/api/fn", endpoint = "regenerate_secret", input = JsonOrForm)]
pub async fn regenerate_webhook_secret(
    id: Uuid,
    grace_period_seconds: u32,
) -> Result<SecretRegenerated, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    let input = crate::domain::RegenerateSecret {
        grace_period_seconds: Some(grace_period_seconds),
    };
    crate::services::secrets::regenerate(&state, &principal, id, input)
        .await
        .map_err(fail)
}

/// Stores the secret the sending product generated ("Set secret").
#[server(prefix = "/api/fn", endpoint = "set_webhook_secret", input = Json)]
pub async fn set_webhook_secret(
    id: Uuid,
    input: crate::domain::SetSecret,
) -> Result<SecretRegenerated, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::secrets::set(&state, &principal, id, input)
        .await
        .map_err(fail)
}

/// Checks schema text (JSON syntax first, then JSON Schema rules) without saving it; a
/// schema over a cost limit is refused (400) instead.
#[server(prefix = "/api/fn", endpoint = "validate_schema", input = Json)]
pub async fn validate_schema(schema_text: String) -> Result<SchemaValidation, ApiError> {
    use super::context::{fail, principal};
    principal().await?;
    match parse_schema_text(&schema_text) {
        Ok(schema) => crate::services::schemas::validation(schema)
            .await
            .map_err(fail),
        Err(error) => Ok(SchemaValidation {
            valid: false,
            errors: vec![error],
        }),
    }
}

/// Saves schema text as the agent's payload schema; `None` (or blank text) removes it.
#[server(prefix = "/api/fn", endpoint = "save_schema", input = Json)]
pub async fn save_schema(id: Uuid, schema_text: Option<String>) -> Result<Agent, ApiError> {
    use super::context::{fail, principal};
    use crate::error::AppError;

    let (state, principal) = principal().await?;
    let schema = match schema_text.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(parse_schema_text(text).map_err(|error| {
            fail(AppError::Invalid {
                message: "invalid payload schema".into(),
                details: vec![error],
            })
        })?),
    };
    let patch = UpdateAgent {
        payload_schema: Some(schema),
        ..UpdateAgent::default()
    };
    crate::services::agents::update(&state, &principal, id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "agent_audit", input = JsonOrForm)]
pub async fn agent_audit(id: Uuid) -> Result<AuditPage, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::agents::get(&state, &principal, id)
        .await
        .map_err(fail)?;
    crate::services::audit::page(&state.pool, &principal, Some(id), None, Some(50))
        .await
        .map_err(fail)
}

/// JSON text to a value, or where the syntax breaks.
#[cfg(feature = "ssr")]
fn parse_schema_text(text: &str) -> Result<serde_json::Value, crate::domain::FieldError> {
    serde_json::from_str(text).map_err(|err| crate::domain::FieldError {
        path: String::new(),
        message: format!("not valid JSON: {err}"),
    })
}
