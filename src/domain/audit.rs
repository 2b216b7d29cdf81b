use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Timestamp;

/// What the audit log records. Stored as its dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "agent.created")]
    AgentCreated,
    #[serde(rename = "agent.updated")]
    AgentUpdated,
    #[serde(rename = "agent.deleted")]
    AgentDeleted,
    #[serde(rename = "execution.replayed")]
    ExecutionReplayed,
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "schema.updated")]
    SchemaUpdated,
    #[serde(rename = "secret.revealed")]
    SecretRevealed,
    #[serde(rename = "secret.reveal_denied")]
    SecretRevealDenied,
    #[serde(rename = "secret.regenerated")]
    SecretRegenerated,
    #[serde(rename = "secret.set")]
    SecretSet,
    #[serde(rename = "runtime_secret.revealed")]
    RuntimeSecretRevealed,
    #[serde(rename = "runtime_secret.regenerated")]
    RuntimeSecretRegenerated,
    #[serde(rename = "notifications.updated")]
    NotificationsUpdated,
    #[serde(rename = "notification_secret.revealed")]
    NotificationSecretRevealed,
    #[serde(rename = "notification_secret.regenerated")]
    NotificationSecretRegenerated,
    #[serde(rename = "notification.test_sent")]
    NotificationTestSent,
    #[serde(rename = "webhook.signature_failed")]
    WebhookSignatureFailed,
    #[serde(rename = "webhook.test_sent")]
    WebhookTestSent,
    #[serde(rename = "auth.login_succeeded")]
    LoginSucceeded,
    #[serde(rename = "auth.login_failed")]
    LoginFailed,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentCreated => "agent.created",
            Self::AgentUpdated => "agent.updated",
            Self::AgentDeleted => "agent.deleted",
            Self::ExecutionReplayed => "execution.replayed",
            Self::TokenCreated => "token.created",
            Self::TokenRevoked => "token.revoked",
            Self::SchemaUpdated => "schema.updated",
            Self::SecretRevealed => "secret.revealed",
            Self::SecretRevealDenied => "secret.reveal_denied",
            Self::SecretRegenerated => "secret.regenerated",
            Self::SecretSet => "secret.set",
            Self::RuntimeSecretRevealed => "runtime_secret.revealed",
            Self::RuntimeSecretRegenerated => "runtime_secret.regenerated",
            Self::NotificationsUpdated => "notifications.updated",
            Self::NotificationSecretRevealed => "notification_secret.revealed",
            Self::NotificationSecretRegenerated => "notification_secret.regenerated",
            Self::NotificationTestSent => "notification.test_sent",
            Self::WebhookSignatureFailed => "webhook.signature_failed",
            Self::WebhookTestSent => "webhook.test_sent",
            Self::LoginSucceeded => "auth.login_succeeded",
            Self::LoginFailed => "auth.login_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Dotted action name, e.g. `secret.revealed`.
    pub action: String,
    /// `user:<id>`, `token:<id>` or `webhook`.
    pub actor: String,
    pub agent_id: Option<Uuid>,
    /// `success` or `denied` / `failure`.
    pub outcome: String,
    pub source_ip: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// Newest first; pass `next_before` as `before` for the next page (null at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}
