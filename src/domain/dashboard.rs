//! The home page's figures for the signed-in tenant, read from the database (so they are
//! the same whichever server answers).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// The start of the window (24 hours ago).
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub since: Timestamp,
    /// Webhooks that queued an execution.
    pub accepted: i64,
    /// Webhooks answered with an earlier execution (same delivery id and body).
    pub duplicates: i64,
    /// Refused webhooks, by reason, most frequent first.
    pub rejected: Vec<ReasonCount>,
    /// Executions received in the window that completed / failed.
    pub completed: i64,
    pub failed: i64,
    /// Executions waiting to run now, and the age of the oldest, in seconds.
    pub queue_depth: i64,
    pub oldest_queued_seconds: i64,
    /// The agents with the most failed executions in the window (at most 5).
    pub failing_agents: Vec<FailingAgent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailingAgent {
    pub id: Uuid,
    pub name: String,
    pub failures: i64,
}
