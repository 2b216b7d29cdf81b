//! The OpenAPI document, generated from the handlers' annotations and the domain types.

use axum::Json;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use super::{agents, audit, auth, dashboard, executions, notifications, requests, schemas, tokens};
use crate::{domain, routes::webhook};

#[derive(OpenApi)]
#[openapi(
    info(title = "agent-webhooks", description = "Signed webhook triggers for agents: admin REST API."),
    paths(
        auth::login, auth::logout,
        agents::create, agents::list, agents::get, agents::update, agents::delete,
        agents::reveal_secret, agents::regenerate_secret, agents::set_secret,
        agents::reveal_runtime_secret, agents::regenerate_runtime_secret,
        audit::for_agent, audit::for_tenant,
        executions::get, executions::for_agent, executions::detail, executions::replay,
        executions::replay_matching, requests::for_agent,
        tokens::list, tokens::create, tokens::revoke, dashboard::get,
        notifications::settings, notifications::update_settings, notifications::reveal_secret,
        notifications::regenerate_secret, notifications::send_test, notifications::recent,
        schemas::validate,
        webhook::receive,
    ),
    components(schemas(
        domain::Agent, domain::AgentStatus, domain::CreateAgent, domain::UpdateAgent,
        domain::RevealedSecret, domain::RegenerateSecret, domain::SecretRegenerated,
        domain::SetSecret, domain::Verification, domain::VerificationScheme, domain::SecretSource,
        domain::AgentRuntime, domain::HttpRuntime, domain::OpenAiRuntime,
        domain::RevealedSigningSecret,
        domain::NotificationSettings, domain::UpdateNotificationSettings,
        domain::NotificationTestResult, domain::Notification,
        domain::AuditEntry, domain::AuditPage, domain::SchemaValidation, domain::FieldError,
        domain::Execution, domain::ExecutionStatus, domain::ExecutionPage,
        domain::WebhookAccepted, domain::WebhookErrorBody,
        domain::FailedAttempt, domain::Replayed, domain::ExecutionDetail,
        executions::ReplayMatching, executions::ReplayedCount,
        domain::WebhookRequest, domain::RequestOutcome, domain::RequestPage,
        domain::ApiToken, domain::CreateToken, domain::CreatedToken,
        domain::Dashboard, domain::ReasonCount, domain::FailingAgent,
    )),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API token from `agent-webhooks create-token`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("aw_session"))),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
