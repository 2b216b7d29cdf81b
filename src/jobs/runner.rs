//! The seam where an agent's work plugs in. `runtimes::Runtimes` runs each agent's chosen
//! runtime (built-in, http, openai); a Rust program may hand `Application::build_with_runner`
//! an [`AgentRunner`] of its own instead.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

pub use crate::db::tasks::SealedCredentials;

/// What a runner gets for one execution.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub execution_id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub agent_name: String,
    pub system_prompt: String,
    /// The parsed payload (already validated against the agent's schema).
    pub payload: Value,
    /// The request body exactly as received and signed.
    pub raw_body: Vec<u8>,
    /// The sender's delivery id (`webhook-id`, `X-GitHub-Delivery`, ...), if it sent one.
    pub delivery_id: Option<String>,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The agent's runtime settings as saved (`domain::AgentRuntime`); null = built-in.
    pub runtime: Option<Value>,
    pub credentials: SealedCredentials,
}

/// A failed attempt, and whether another attempt may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    pub message: String,
    pub retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Another attempt after the usual backoff (2, 4, 8, 16 s, capped).
    Backoff,
    /// Another attempt after this long (the target's `Retry-After`).
    After(Duration),
    /// No other attempt: the execution fails now (a refused request, a 4xx answer).
    Never,
}

impl RunError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: Retry::Backoff,
        }
    }

    /// Retried after `after` when the target said so, else after the usual backoff.
    pub fn retry_after(message: impl Into<String>, after: Option<Duration>) -> Self {
        Self {
            message: message.into(),
            retry: after.map_or(Retry::Backoff, Retry::After),
        }
    }

    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: Retry::Never,
        }
    }
}

impl From<String> for RunError {
    fn from(message: String) -> Self {
        Self::retry(message)
    }
}

impl From<&str> for RunError {
    fn from(message: &str) -> Self {
        Self::retry(message)
    }
}

#[fang::async_trait]
pub trait AgentRunner: Send + Sync + 'static {
    /// Runs the agent once. `Ok` carries the result stored on the execution; an `Err` is
    /// retried as it says until the attempts run out, then stored as the error.
    async fn run(&self, input: &RunInput) -> Result<Value, RunError>;
}
