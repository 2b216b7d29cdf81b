//! "Send Test Webhook": signs an admin's payload with the agent's secret and sends it
//! through the real webhook route (the same router handler external callers reach, called
//! in process), then explains the answer.

use axum::{
    body::{to_bytes, Body},
    http::{header, Request},
};
use tower::ServiceExt;
use uuid::Uuid;

use super::{agents, keys, Principal};
use crate::{
    crypto::signature::hub_signature,
    db,
    domain::{webhook_status_meaning, FieldError, TestWebhookResult},
    error::AppError,
    routes,
    state::AppState,
};

pub async fn send(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
    body: String,
) -> Result<TestWebhookResult, AppError> {
    let agent = agents::get(state, principal, agent_id).await?;
    let Some(url) = agent.webhook_url else {
        return Err(AppError::Conflict(
            "this agent is a draft and has no webhook yet; activate it first".into(),
        ));
    };
    let sealed = db::triggers::sealed_secrets(&state.pool, agent_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tenant_key = keys::tenant_key(&state.pool, &state.keyring, principal.tenant_id).await?;
    let secret = tenant_key
        .decrypt_secret(&sealed.hmac_secret)
        .map_err(AppError::internal)?;
    let signature = hub_signature(&secret.hub_key(), body.as_bytes());

    let request = Request::post(format!("/agents/{agent_id}/webhook"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-hub-signature-256", &signature)
        .body(Body::from(body.clone()))
        .map_err(AppError::internal)?;
    let response = routes::webhook::router()
        .with_state(state.clone())
        .oneshot(request)
        .await
        .map_err(AppError::internal)?;
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(AppError::internal)?;
    let response_body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    let execution_id = response_body["execution_id"]
        .as_str()
        .and_then(|id| id.parse().ok());
    let details: Vec<FieldError> =
        serde_json::from_value(response_body["details"].clone()).unwrap_or_default();
    Ok(TestWebhookResult {
        status,
        meaning: webhook_status_meaning(status).to_owned(),
        execution_id,
        response_body,
        details,
        curl: curl_command(&url, &signature, &body),
    })
}

/// A command that sends the same bytes with the same signature from a terminal.
pub fn curl_command(url: &str, signature: &str, body: &str) -> String {
    format!(
        "curl -X POST {} \\\n  -H 'Content-Type: application/json' \\\n  -H 'X-Hub-Signature-256: {signature}' \\\n  --data-binary {}",
        shell_quote(url),
        shell_quote(body)
    )
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_quotes_survive_the_shell() {
        let command = curl_command(
            "http://h/agents/1/webhook",
            "sha256=ab",
            r#"{"name":"O'Brien"}"#,
        );
        assert!(
            command.contains(r#"--data-binary '{"name":"O'\''Brien"}'"#),
            "{command}"
        );
        assert!(command.contains("-H 'X-Hub-Signature-256: sha256=ab'"));
    }
}
