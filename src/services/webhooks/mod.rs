//! Accepting a webhook, after the route has enforced size and content type. The order of
//! checks is part of the contract (see docs/architecture.md): agent, signature (by the
//! agent's scheme, `verify/`), the sender's handshake, status, JSON and schema, delivery id,
//! rate limit, durable enqueue. Strangers learn nothing beyond "no such agent" or "bad
//! signature".

pub mod verify;

use std::{sync::Arc, time::Duration};

use axum::http::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    audit,
    execution_writer::{Accepted, DeliveryId, Recorded},
    webhook_targets::{LoadError, Target},
};
use crate::{
    db,
    domain::{AuditAction, FieldError, WebhookAccepted},
    state::AppState,
};

/// The longest delivery id kept for idempotency.
pub const MAX_DELIVERY_ID_CHARS: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("Payload too large")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Request body not received in time")]
    BodyTimeout,
    #[error("Agent not found")]
    AgentNotFound,
    #[error("Invalid HMAC signature")]
    InvalidSignature,
    #[error("Request expired")]
    Expired,
    #[error("Signed timestamp required")]
    TimestampRequired,
    #[error("Agent is not active")]
    AgentNotActive,
    #[error("Invalid JSON payload")]
    InvalidJson,
    #[error("Validation failed")]
    ValidationFailed(Vec<FieldError>),
    #[error("Delivery id too long")]
    DeliveryIdTooLong,
    #[error("Delivery id must be visible ASCII")]
    InvalidDeliveryId,
    #[error("Delivery id reused with a different payload")]
    DeliveryIdConflict,
    #[error("Rate limit exceeded")]
    RateLimited(Duration),
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    #[error("Internal error")]
    Internal(#[source] anyhow::Error),
}

impl WebhookError {
    /// Refused before the agent was looked up: the request log finds its tenant separately.
    pub fn before_lookup(&self) -> bool {
        matches!(
            self,
            WebhookError::PayloadTooLarge
                | WebhookError::UnsupportedMediaType
                | WebhookError::BodyTimeout
        )
    }

    /// The request log's `reason` for this refusal (`None`: no such agent, nothing logged).
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            WebhookError::AgentNotFound => return None,
            WebhookError::PayloadTooLarge => "too_large",
            WebhookError::UnsupportedMediaType => "unsupported_media_type",
            WebhookError::BodyTimeout => "timeout",
            WebhookError::InvalidSignature => "invalid_signature",
            WebhookError::Expired => "expired",
            WebhookError::TimestampRequired => "timestamp_required",
            WebhookError::AgentNotActive => "agent_not_active",
            WebhookError::InvalidJson => "invalid_json",
            WebhookError::ValidationFailed(_) => "schema",
            WebhookError::DeliveryIdTooLong | WebhookError::InvalidDeliveryId => {
                "invalid_delivery_id"
            }
            WebhookError::DeliveryIdConflict => "delivery_id_conflict",
            WebhookError::RateLimited(_) => "rate_limited",
            WebhookError::Unavailable(_) => "unavailable",
            WebhookError::Internal(_) => "internal_error",
        })
    }
}

/// What the request log needs to know of a delivery, filled in as `accept` learns it.
#[derive(Debug, Default)]
pub struct Facts {
    /// The agent's tenant, once the agent is found.
    pub tenant_id: Option<Uuid>,
    /// The answer was the execution of an earlier delivery with the same id.
    pub duplicate: bool,
    /// The body's size and SHA-256, once it was read whole and its agent found (a stranger's
    /// body is never hashed).
    pub body: Option<(usize, [u8; 32])>,
    /// Where the agent's scheme keeps the delivery id, once the agent is found.
    pub id_source: Option<verify::IdSource>,
    /// A delivery id read from the verified body (the schemes that keep it there).
    pub body_delivery_id: Option<String>,
    /// A header carrying the agent's token under a name of the admin's choosing.
    pub secret_header: Option<String>,
}

/// The answer to an accepted delivery.
#[derive(Debug)]
pub enum Answer {
    /// 202: queued, or the execution of an earlier delivery with the same id.
    Queued(WebhookAccepted),
    /// 200 with this body: the sender's verification request, which queues nothing.
    Handshake(Value),
}

impl From<sqlx::Error> for WebhookError {
    fn from(err: sqlx::Error) -> Self {
        Arc::new(err).into()
    }
}

impl From<Arc<sqlx::Error>> for WebhookError {
    /// Connection-level failures mean "try again later" (503); anything else is a bug (500).
    fn from(err: Arc<sqlx::Error>) -> Self {
        if db::is_transient(&err) {
            WebhookError::Unavailable(err)
        } else {
            WebhookError::Internal(err.into())
        }
    }
}

impl From<LoadError> for WebhookError {
    fn from(err: LoadError) -> Self {
        match err {
            LoadError::Database(err) => err.into(),
            other => WebhookError::Internal(other.into()),
        }
    }
}

/// Verifies, validates and durably enqueues one delivery; the 202's body on success.
pub async fn accept(
    state: &AppState,
    agent_id: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
    source_ip: Option<&str>,
    facts: &mut Facts,
) -> Result<Answer, WebhookError> {
    let agent_id: Uuid = agent_id.parse().map_err(|_| WebhookError::AgentNotFound)?;
    let target = state
        .targets
        .get(&state.pool, &state.keyring, agent_id)
        .await?
        .ok_or(WebhookError::AgentNotFound)?;
    facts.tenant_id = Some(target.tenant_id);
    let body_sha256: [u8; 32] = Sha256::digest(&body).into();
    facts.body = Some((body.len(), body_sha256));

    let id_source = target.scheme.delivery_id();
    facts.id_source = Some(id_source);
    facts.secret_header = target.scheme.secret_header().map(str::to_owned);

    let now = chrono::Utc::now();
    let delivery = verify::Delivery {
        headers,
        body: &body,
        now: now.timestamp(),
    };
    let (scheme, verified) = target.scheme.verify(&delivery, &target.secrets(now));
    if let Err(failure) = verified {
        state.metrics.signature_failures.inc();
        if let Some(failures) = state.limits.signature_alarm.failure(target.id) {
            // Off the request: the sender of bad signatures does not wait for the event.
            let (state, agent_id) = (state.clone(), target.id);
            tokio::spawn(async move {
                if let Err(err) =
                    super::notifications::signature_failures(&state, agent_id, failures).await
                {
                    tracing::warn!(%agent_id, error = %err, "cannot record a signature failures event");
                }
            });
        }
        report_failure(state, &target, scheme, failure, source_ip).await;
        return Err(failure.into_error());
    }

    // Answered whatever the agent's status: a sender checks its URL when it is configured,
    // which may be before the agent is switched on.
    if let Some(answer) = target.scheme.handshake(&body) {
        return answer.map(Answer::Handshake);
    }

    if !target.active {
        return Err(WebhookError::AgentNotActive);
    }

    let payload: Value = serde_json::from_slice(&body).map_err(|_| WebhookError::InvalidJson)?;
    if let verify::IdSource::BodyField(_) = id_source {
        facts.body_delivery_id = verify::logged_delivery_id(id_source, headers, Some(&payload));
    }
    if !db::jsonb::can_store(&body) {
        return Err(WebhookError::InvalidJson);
    }
    if let Some(validator) = target.validator().await? {
        let violations = super::schemas::violations(&validator, &payload);
        if !violations.is_empty() {
            return Err(WebhookError::ValidationFailed(violations));
        }
    }
    let delivery_id = verify::delivery_id(id_source, headers, &payload)?;
    // The parsed copy is not needed any more: PostgreSQL stores the raw body's JSON.
    drop(payload);

    // The agent's rate limit is taken by the writer, with the other requests of its batch
    // (`shared_limits::take_webhooks`): shared by every process, one statement per batch at
    // most.
    let delivery = delivery_id.map(|id| DeliveryId { id, body_sha256 });
    let recorded = state
        .executions
        .record(Accepted {
            tenant_id: target.tenant_id,
            agent_id,
            rate_limit_per_minute: target.rate_limit_per_minute,
            raw_body: body,
            delivery,
        })
        .await
        .map_err(|err| {
            match err.as_database_error().and_then(|db| db.code()) {
                // A data exception: valid JSON that jsonb refused in a way `can_store` did
                // not foresee. The sender's fault, and Postgres's message quotes the
                // payload, so it is neither logged nor sent.
                Some(code) if code.starts_with("22") => WebhookError::InvalidJson,
                _ => err.into(),
            }
        })?;
    match recorded {
        Recorded::Created(execution_id) => {
            state.metrics.execution("queued");
            Ok(Answer::Queued(WebhookAccepted::queued(execution_id)))
        }
        Recorded::Duplicate(execution_id) => {
            facts.duplicate = true;
            Ok(Answer::Queued(WebhookAccepted::queued(execution_id)))
        }
        Recorded::Conflict => Err(WebhookError::DeliveryIdConflict),
        Recorded::RateLimited(wait) => Err(WebhookError::RateLimited(wait)),
    }
}

/// What the request log needs of the agent a webhook URL names when the request was
/// refused before the agent was looked up (size, content type, read timeout): its tenant
/// and its token header, filled into `facts`. Unknown agents leave `facts` as it was.
pub async fn learn_agent(state: &AppState, agent_id: &str, facts: &mut Facts) {
    let Ok(agent_id) = agent_id.parse::<Uuid>() else {
        return;
    };
    if let Ok(Some(target)) = state
        .targets
        .get(&state.pool, &state.keyring, agent_id)
        .await
    {
        facts.tenant_id = Some(target.tenant_id);
        facts.secret_header = target.scheme.secret_header().map(str::to_owned);
    }
}

/// The delivery id as the request log shows it: where the agent's scheme keeps it (a body
/// field only once the body was verified), or, for a request refused before its agent was
/// looked up, in the default scheme's headers.
pub fn logged_delivery_id(facts: &mut Facts, headers: &HeaderMap) -> Option<String> {
    match facts.id_source {
        Some(verify::IdSource::BodyField(_)) => facts.body_delivery_id.take(),
        Some(source) => verify::logged_delivery_id(source, headers, None),
        None => verify::logged_delivery_id(verify::DEFAULT_IDS, headers, None),
    }
}

/// Audits and logs a failed verification, at most a few per agent and minute. Never the
/// secret, the expected signature or the body.
async fn report_failure(
    state: &AppState,
    target: &Target,
    scheme: &'static str,
    failure: verify::VerifyFailure,
    source_ip: Option<&str>,
) {
    if !state.limits.may_report_failure(target.id) {
        return;
    }
    tracing::warn!(
        agent_id = %target.id,
        source_ip = source_ip.unwrap_or("unknown"),
        scheme,
        reason = failure.reason(),
        "webhook verification failed"
    );
    let recorded = audit::record_webhook(
        &state.pool,
        target.tenant_id,
        target.id,
        AuditAction::WebhookSignatureFailed,
        "failure",
        source_ip,
        json!({ "scheme": scheme, "reason": failure.reason() }),
    )
    .await;
    if let Err(err) = recorded {
        tracing::warn!(error = %err, "cannot audit a failed verification");
    }
}
