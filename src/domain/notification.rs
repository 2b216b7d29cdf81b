//! Failure notifications: events a tenant receives at its notification URL, signed like a
//! Standard Webhooks sender would sign them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{double_option, Timestamp};

/// `GET /api/notifications/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationSettings {
    /// Where events are posted; null: notifications are off.
    pub url: Option<String>,
    /// A fixed mask once a signing secret exists (it is made with the first URL).
    pub secret_masked: Option<String>,
    /// Invalid signatures for one agent within 5 minutes that raise an event.
    pub signature_failures_threshold: u32,
}

/// `PUT /api/notifications/settings`: `url: null` turns notifications off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateNotificationSettings {
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub url: Option<Option<String>>,
}

/// The answer of "Send test notification": what the receiver said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationTestResult {
    pub delivered: bool,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it was not delivered.
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One event and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Also its `webhook-id`, the same on every attempt.
    pub id: Uuid,
    /// `execution.failed` or `webhook.signature_failures`.
    pub event: String,
    pub agent_id: Option<Uuid>,
    /// `queued`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub response_status: Option<i32>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub payload: serde_json::Value,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub delivered_at: Option<Timestamp>,
}

/// Whose outbound signing secret the UI reveals or regenerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningSecretOwner {
    /// An agent's http runtime.
    Runtime(Uuid),
    /// The tenant's notifications.
    Notifications,
}

/// The test button's event (the others are named where `db::notifications` records them).
pub const NOTIFICATION_TEST: &str = "notification.test";

/// Seconds over which invalid signatures are counted, and the least time between two
/// signature-failure events of one agent.
pub const SIGNATURE_FAILURE_WINDOW_SECONDS: u64 = 300;
