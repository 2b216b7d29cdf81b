//! "Send Test Webhook": signs an admin's payload with the agent's secret, the way the agent's
//! sender would (its verification scheme: Stripe's `Stripe-Signature`, Slack's, a token
//! header, …; for the default scheme Standard Webhooks when the agent requires a signed
//! timestamp, otherwise `X-Hub-Signature-256`), and sends it in process through the webhook route wrapped in the
//! same edge layers as external requests: a request id, the admin's client address and
//! transport (so `require_https` and trusted proxies judge it like the admin's own request).
//! Then it explains the answer, with a `curl` command that sends the same bytes.
//! Audited as `webhook.test_sent`.

use std::net::SocketAddr;

use axum::{
    body::{to_bytes, Body},
    extract::ConnectInfo,
    http::{header, request::Parts, HeaderName, HeaderValue, Request},
};
use serde_json::json;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{
    domain::{webhook_status_meaning, AuditAction, FieldError, TestWebhookResult},
    error::AppError,
    routes,
    services::{agents, audit, secrets, webhooks::verify, Principal},
    state::AppState,
};

/// What the edge layers need to know about the admin's own request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    peer: Option<SocketAddr>,
    /// `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Request-Id`, as the admin's request had them.
    forwarded: Vec<(HeaderName, HeaderValue)>,
}

impl Caller {
    pub fn of(parts: &Parts) -> Self {
        let forwarded = [
            HeaderName::from_static("x-forwarded-for"),
            HeaderName::from_static("x-forwarded-proto"),
            routes::REQUEST_ID,
        ]
        .into_iter()
        .flat_map(|name| {
            parts
                .headers
                .get_all(&name)
                .iter()
                .map(|value| (name.clone(), value.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
        Self {
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| *peer),
            forwarded,
        }
    }
}

pub async fn send(
    state: &AppState,
    principal: &Principal,
    caller: &Caller,
    agent_id: Uuid,
    body: String,
) -> Result<TestWebhookResult, AppError> {
    let agent = agents::get(state, principal, agent_id).await?;
    let Some(url) = agent.webhook_url else {
        return Err(AppError::Conflict(
            "this agent is a draft and has no webhook yet; activate it first".into(),
        ));
    };
    let secret = secrets::open_current(state, principal.tenant_id, agent_id).await?;
    let scheme = verify::for_agent(&agent.verification, agent.require_timestamp)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("inconsistent verification settings")))?;
    let signed = scheme.sign(&secret, body.as_bytes(), chrono::Utc::now().timestamp());

    let mut request = Request::post(format!("/agents/{agent_id}/webhook"))
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in &signed.headers {
        request = request.header(name.as_str(), value);
    }
    for (name, value) in &caller.forwarded {
        request = request.header(name, value);
    }
    let mut request = request
        .body(Body::from(body.clone()))
        .map_err(AppError::internal)?;
    if let Some(peer) = caller.peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = routes::edge(super::router(), state)
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
    let execution_id: Option<Uuid> = response_body["execution_id"]
        .as_str()
        .and_then(|id| id.parse().ok());
    let details: Vec<FieldError> =
        serde_json::from_value(response_body["details"].clone()).unwrap_or_default();
    audit::record(
        &state.pool,
        principal,
        AuditAction::WebhookTestSent,
        Some(agent_id),
        if status == 202 { "success" } else { "failure" },
        json!({ "status": status, "scheme": signed.scheme, "execution_id": execution_id }),
    )
    .await?;
    Ok(TestWebhookResult {
        status,
        meaning: webhook_status_meaning(status).to_owned(),
        execution_id,
        response_body,
        details,
        curl: curl_command(
            &url,
            &signed.headers,
            &body,
            agent.verification.scheme.is_token(),
        ),
    })
}

/// A command that sends the same bytes with the same signature headers from a terminal. A
/// token scheme's header is the secret itself: shown as `$WEBHOOK_SECRET`, so that the
/// secret is only ever shown by Reveal (audited and limited).
fn curl_command(url: &str, headers: &[(String, String)], body: &str, token: bool) -> String {
    let mut command = format!(
        "curl -X POST {} \\\n  -H 'Content-Type: application/json' \\\n",
        shell_quote(url)
    );
    for (name, value) in headers {
        if token {
            // The name is quoted on its own: only the variable is left to the shell.
            command.push_str(&format!(
                "  -H {}\"$WEBHOOK_SECRET\" \\\n",
                shell_quote(&format!("{name}: "))
            ));
        } else {
            command.push_str(&format!(
                "  -H {} \\\n",
                shell_quote(&format!("{name}: {value}"))
            ));
        }
    }
    command.push_str(&format!("  --data-binary {}", shell_quote(body)));
    command
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
            &[("X-Hub-Signature-256".into(), "sha256=ab".into())],
            r#"{"name":"O'Brien"}"#,
            false,
        );
        assert!(
            command.contains(r#"--data-binary '{"name":"O'\''Brien"}'"#),
            "{command}"
        );
        assert!(command.contains("-H 'X-Hub-Signature-256: sha256=ab'"));
    }
}
