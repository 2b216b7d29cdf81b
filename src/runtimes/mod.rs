//! Agent runtimes: what one execution of an agent does, chosen per agent (`domain::AgentRuntime`).
//! - `builtin`: records what arrived (the default);
//! - `http`: forwards the delivery to the agent's URL, signed like a Standard Webhooks sender;
//! - `openai`: asks an OpenAI-compatible chat completions endpoint, with the agent's system
//!   prompt and the payload.
//!
//! [`Runtimes`] is the worker's [`AgentRunner`]: it reads the agent's runtime from the claim,
//! opens the credentials it needs (sealed with the tenant key) and runs it. Every request
//! leaves through the one client in `outbound` (SSRF rules, timeouts, redirects, signing).
//! How an answer ends the attempt is decided here, one rule for both network runtimes:
//! a refused target fails at once; no answer (timeout, connection) is retried; 429 and 5xx
//! are retried after the target's `Retry-After` when it sends one.

pub mod address;
pub mod builtin;
mod http;
mod openai;
pub mod outbound;

use std::{sync::Arc, time::Instant};

use serde::Deserialize;
use serde_json::Value;

pub use builtin::BuiltinRunner;
use outbound::{Answer, Outbound, SendError};

use crate::{
    crypto::{
        keyring::{MasterKeyring, TenantKey},
        secrets::{Credential, WebhookSecret},
    },
    domain::AgentRuntime,
    jobs::runner::{AgentRunner, RunError, RunInput},
    metrics::Metrics,
};

pub struct Runtimes {
    outbound: Arc<Outbound>,
    keyring: Arc<MasterKeyring>,
    builtin: BuiltinRunner,
    metrics: Arc<Metrics>,
}

impl Runtimes {
    pub fn new(
        outbound: Arc<Outbound>,
        keyring: Arc<MasterKeyring>,
        builtin: BuiltinRunner,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            outbound,
            keyring,
            builtin,
            metrics,
        }
    }

    fn tenant_key(&self, input: &RunInput) -> Result<TenantKey, RunError> {
        let sealed =
            input.credentials.tenant_key.as_deref().ok_or_else(|| {
                RunError::fail("the tenant's key was not read with the execution")
            })?;
        self.keyring
            .open_tenant_key(sealed)
            .map_err(|err| RunError::fail(format!("cannot open the tenant's key: {err}")))
    }

    fn runtime_secret(&self, input: &RunInput) -> Result<WebhookSecret, RunError> {
        let sealed = input.credentials.runtime_secret.as_deref().ok_or_else(|| {
            RunError::fail("the agent has no runtime secret yet: regenerate it (POST /api/agents/{id}/regenerate-runtime-secret)")
        })?;
        self.tenant_key(input)?
            .decrypt_secret(sealed)
            .map_err(|err| RunError::fail(format!("cannot open the runtime secret: {err}")))
    }

    fn api_key(&self, input: &RunInput) -> Result<Option<Credential>, RunError> {
        let Some(sealed) = input.credentials.api_key.as_deref() else {
            return Ok(None);
        };
        self.tenant_key(input)?
            .decrypt_credential(sealed)
            .map(Some)
            .map_err(|err| RunError::fail(format!("cannot open the API key: {err}")))
    }
}

#[fang::async_trait]
impl AgentRunner for Runtimes {
    async fn run(&self, input: &RunInput) -> Result<Value, RunError> {
        let runtime = match &input.runtime {
            None => AgentRuntime::Builtin,
            Some(saved) => AgentRuntime::deserialize(saved).map_err(|err| {
                RunError::fail(format!(
                    "the agent's runtime settings cannot be read: {err}"
                ))
            })?,
        };
        let started = Instant::now();
        let (result, outcome) = match &runtime {
            AgentRuntime::Builtin => return self.builtin.run(input).await,
            AgentRuntime::Http(settings) => {
                let secret = self.runtime_secret(input)?;
                http::run(&self.outbound, settings, &secret, input).await
            }
            AgentRuntime::Openai(settings) => {
                let api_key = self.api_key(input)?;
                openai::run(&self.outbound, settings, api_key.as_ref(), input).await
            }
        };
        let kind = runtime.kind();
        self.metrics
            .runtime_request_duration
            .with_label_values(&[kind])
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .runtime_requests
            .with_label_values(&[kind, outcome])
            .inc();
        result
    }
}

/// An attempt's result and its `runtime_requests_total` outcome label.
type Attempt = (Result<Value, RunError>, &'static str);

/// A request that got no answer: refused targets fail at once, the rest is retried.
fn no_answer(who: &str, err: SendError) -> Attempt {
    let message = format!("{who}: {err}");
    match err {
        SendError::Refused(_) | SendError::Target(_) => (Err(RunError::fail(message)), "refused"),
        SendError::Timeout(_) | SendError::ConnectTimeout => {
            (Err(RunError::retry(message)), "timeout")
        }
        SendError::Connect(_) | SendError::Other(_) => {
            (Err(RunError::retry(message)), "connection_error")
        }
    }
}

/// An answer that is not a success: 429 and 5xx (and, when `retry_408`, 408) are retried,
/// after the answer's `Retry-After` when it has one; anything else fails at once.
fn unsuccessful(answer: &Answer, message: String, retry_408: bool) -> Attempt {
    if !answer.is_transient(retry_408) {
        return (Err(RunError::fail(message)), "client_error");
    }
    let label = if answer.status.as_u16() == 429 {
        "rate_limited"
    } else {
        "server_error"
    };
    (
        Err(RunError::retry_after(message, answer.retry_after())),
        label,
    )
}
