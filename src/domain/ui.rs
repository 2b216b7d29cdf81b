//! Types the browser UI exchanges with its server functions.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AgentStatus, ExecutionStatus, FieldError, Timestamp};

/// The error every server function returns: what the API would have answered, so the UI
/// can show it next to the control that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status the REST API gives for the same problem (0: the call never arrived).
    pub status: u16,
    pub message: String,
    #[serde(default)]
    pub details: Vec<FieldError>,
    /// For 429/503: seconds until a retry may succeed.
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn is_unauthenticated(&self) -> bool {
        self.status == 401
    }

    /// A sentence for people, including when to retry.
    pub fn describe(&self) -> String {
        match (self.status, self.retry_after_seconds) {
            (429, Some(seconds)) => format!(
                "Too many requests: try again in {seconds} second{}.",
                if seconds == 1 { "" } else { "s" }
            ),
            (0, _) => format!("Cannot reach the server: {}", self.message),
            _ => capitalize(&self.message),
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server, `Deserialization` is how server_fn reports arguments it cannot
        // decode from a JSON body (`input = Json`): the caller's mistake, like `Args` for
        // form-encoded ones. (On the client it means an unreadable answer.)
        #[cfg(feature = "ssr")]
        let value = match value {
            ServerFnErrorErr::Deserialization(message) => ServerFnErrorErr::Args(message),
            other => other,
        };
        let status = match value {
            ServerFnErrorErr::Request(_) => 0,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => 400,
            _ => 500,
        };
        // The response's status too: server_fn sends every error as a 500.
        #[cfg(feature = "ssr")]
        if let Ok(code) = axum::http::StatusCode::from_u16(status) {
            crate::api::context::set_status(code);
        }
        ApiError {
            status,
            message: value.to_string(),
            details: Vec::new(),
            retry_after_seconds: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: Uuid,
    pub email: String,
}

/// A row of the agents list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: Uuid,
    pub name: String,
    pub status: AgentStatus,
    pub webhook_url: Option<String>,
    pub last_execution_status: Option<ExecutionStatus>,
    pub last_execution_at: Option<Timestamp>,
}

/// What "Send Test Webhook" shows: the real route's answer and how to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestWebhookResult {
    pub status: u16,
    /// What the status means for the admin, e.g. "Webhook accepted!".
    pub meaning: String,
    pub execution_id: Option<Uuid>,
    /// The route's JSON answer, as sent.
    pub response_body: serde_json::Value,
    pub details: Vec<FieldError>,
    /// The same request for a terminal, with the signature computed for this exact body.
    pub curl: String,
}

/// What each webhook status means, for people.
pub fn webhook_status_meaning(status: u16) -> &'static str {
    match status {
        202 => "Webhook accepted!",
        400 => "Payload rejected: invalid JSON or schema validation failed",
        401 => "Signature rejected: the request was not signed with this agent's secret",
        403 => "Agent is not active: activate it to accept webhooks",
        404 => "Agent not found",
        413 => "Payload too large",
        415 => "Content-Type must be application/json",
        429 => "Rate limited: too many webhooks for this agent right now",
        503 => "Service temporarily unavailable: try again shortly",
        _ => "Unexpected response",
    }
}
