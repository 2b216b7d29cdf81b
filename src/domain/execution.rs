use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{timestamp, FieldError, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ExecutionStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 4] =
        [Self::Queued, Self::Running, Self::Completed, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown execution status {s:?}"))
    }
}

/// One run of an agent, triggered by one accepted webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Execution {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub status: ExecutionStatus,
    pub delivery_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub payload: serde_json::Value,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub attempts: i32,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// The execution this one replays (same payload), if it is a replay.
    #[serde(default)]
    pub replay_of: Option<Uuid>,
    /// The attempts that failed, oldest first (the last attempt's outcome is `status`).
    #[serde(default)]
    pub failed_attempts: Vec<FailedAttempt>,
}

/// One attempt of an execution that failed (and was retried, or ended it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailedAttempt {
    pub attempt: i32,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub failed_at: Timestamp,
    pub error: String,
}

/// The execution page: the execution, its agent's name, and the request that queued it
/// (the original's, for a replay) while the request log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExecutionDetail {
    pub execution: Execution,
    pub agent_name: String,
    pub request: Option<super::WebhookRequest>,
}

/// The answer to a replay: the new execution, and the one it replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Replayed {
    pub execution_id: Uuid,
    pub replay_of: Uuid,
}

impl Execution {
    /// From receipt to completion, once finished.
    pub fn duration_ms(&self) -> Option<i64> {
        self.completed_at
            .as_ref()
            .map(|done| timestamp::millis_between(&self.created_at, done))
    }
}

/// Newest first; pass `next_before` as `before` for the next page (null at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    pub next_before: Option<Uuid>,
}

/// The 202 answer of the webhook route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookAccepted {
    /// Always `queued`.
    pub status: String,
    pub execution_id: Uuid,
    pub message: String,
}

impl WebhookAccepted {
    pub fn queued(execution_id: Uuid) -> Self {
        Self {
            status: "queued".into(),
            execution_id,
            message: "Agent execution queued".into(),
        }
    }
}

/// Every non-2xx answer of the webhook route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
}
