//! Accepting a webhook, after the route has enforced size and content type. The order of
//! checks is part of the contract (see docs/architecture.md): agent, signature, status, JSON and
//! schema, rate limit, durable enqueue. Strangers learn nothing beyond "no such agent" or
//! "bad signature".

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
    crypto::{secrets::WebhookSecret, signature::SignatureError},
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

/// Which signature scheme a delivery used (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    StandardWebhooks,
    HubSignature,
    None,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::StandardWebhooks => "standard_webhooks",
            Scheme::HubSignature => "x_hub_signature_256",
            Scheme::None => "none",
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, SignatureError> {
    headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| SignatureError::Malformed))
        .transpose()
}

/// Checks the delivery's signature against the current secret and, during a grace period,
/// the previous one. Standard Webhooks headers win when both schemes are present.
fn verify_signature(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&WebhookSecret],
    require_timestamp: bool,
    now: i64,
) -> (Scheme, Result<(), VerifyFailure>) {
    if let Some(signatures) = headers.get("webhook-signature") {
        let result = (|| {
            let signatures = signatures.to_str().map_err(|_| SignatureError::Malformed)?;
            let id = header(headers, "webhook-id")?.ok_or(SignatureError::Missing)?;
            let timestamp = header(headers, "webhook-timestamp")?.ok_or(SignatureError::Missing)?;
            let mut outcome = Err(SignatureError::Mismatch);
            for secret in secrets {
                outcome = secret.verify_standard(id, timestamp, signatures, body, now);
                if !matches!(outcome, Err(SignatureError::Mismatch)) {
                    break;
                }
            }
            outcome
        })();
        return (
            Scheme::StandardWebhooks,
            result.map_err(VerifyFailure::Signature),
        );
    }
    if require_timestamp {
        return (Scheme::None, Err(VerifyFailure::TimestampRequired));
    }
    let hub = header(headers, "x-hub-signature-256")
        .transpose()
        .or_else(|| header(headers, "x-webhook-signature").transpose());
    let Some(hub) = hub else {
        return (
            Scheme::None,
            Err(VerifyFailure::Signature(SignatureError::Missing)),
        );
    };
    let result = hub.and_then(|value| {
        let mut outcome = Err(SignatureError::Mismatch);
        for secret in secrets {
            outcome = secret.verify_hub(body, value);
            if !matches!(outcome, Err(SignatureError::Mismatch)) {
                break;
            }
        }
        outcome
    });
    (
        Scheme::HubSignature,
        result.map_err(VerifyFailure::Signature),
    )
}

#[derive(Debug, Clone, Copy)]
enum VerifyFailure {
    Signature(SignatureError),
    TimestampRequired,
}

impl VerifyFailure {
    fn reason(self) -> &'static str {
        match self {
            VerifyFailure::Signature(SignatureError::Missing) => "missing",
            VerifyFailure::Signature(SignatureError::Malformed) => "malformed",
            VerifyFailure::Signature(SignatureError::Mismatch) => "mismatch",
            VerifyFailure::Signature(SignatureError::Expired) => "expired",
            VerifyFailure::TimestampRequired => "timestamp_required",
        }
    }

    fn into_error(self) -> WebhookError {
        match self {
            VerifyFailure::Signature(SignatureError::Expired) => WebhookError::Expired,
            VerifyFailure::TimestampRequired => WebhookError::TimestampRequired,
            VerifyFailure::Signature(_) => WebhookError::InvalidSignature,
        }
    }
}

/// The delivery id used for idempotency: `webhook-id`, else `X-GitHub-Delivery`, else
/// `Idempotency-Key`.
fn delivery_id(headers: &HeaderMap) -> Result<Option<String>, WebhookError> {
    let value = ["webhook-id", "x-github-delivery", "idempotency-key"]
        .iter()
        .find_map(|name| headers.get(*name));
    let Some(value) = value else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .map_err(|_| WebhookError::InvalidDeliveryId)?
        .trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.chars().count() > MAX_DELIVERY_ID_CHARS {
        return Err(WebhookError::DeliveryIdTooLong);
    }
    Ok(Some(id.to_owned()))
}

/// Verifies, validates and durably enqueues one delivery; the 202's body on success.
pub async fn accept(
    state: &AppState,
    agent_id: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
    source_ip: Option<&str>,
    facts: &mut Facts,
) -> Result<WebhookAccepted, WebhookError> {
    let agent_id: Uuid = agent_id.parse().map_err(|_| WebhookError::AgentNotFound)?;
    let target = state
        .targets
        .get(&state.pool, &state.keyring, agent_id)
        .await?
        .ok_or(WebhookError::AgentNotFound)?;
    facts.tenant_id = Some(target.tenant_id);
    let body_sha256: [u8; 32] = Sha256::digest(&body).into();
    facts.body = Some((body.len(), body_sha256));

    let now = chrono::Utc::now();
    let (scheme, verified) = verify_signature(
        headers,
        &body,
        &target.secrets(now),
        target.require_timestamp,
        now.timestamp(),
    );
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

    if !target.active {
        return Err(WebhookError::AgentNotActive);
    }

    let payload: Value = serde_json::from_slice(&body).map_err(|_| WebhookError::InvalidJson)?;
    if !db::jsonb::can_store(&body) {
        return Err(WebhookError::InvalidJson);
    }
    if let Some(validator) = target.validator().await? {
        let violations = super::schemas::violations(&validator, &payload);
        if !violations.is_empty() {
            return Err(WebhookError::ValidationFailed(violations));
        }
    }
    // The parsed copy is not needed any more: PostgreSQL stores the raw body's JSON.
    drop(payload);
    let delivery_id = delivery_id(headers)?;

    if let Some(per_minute) = target.rate_limit_per_minute {
        state
            .limits
            .take_webhook(agent_id, per_minute)
            .map_err(WebhookError::RateLimited)?;
    }

    let delivery = delivery_id.map(|id| DeliveryId { id, body_sha256 });
    let recorded = state
        .executions
        .record(Accepted {
            tenant_id: target.tenant_id,
            agent_id,
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
            Ok(WebhookAccepted::queued(execution_id))
        }
        Recorded::Duplicate(execution_id) => {
            facts.duplicate = true;
            Ok(WebhookAccepted::queued(execution_id))
        }
        Recorded::Conflict => Err(WebhookError::DeliveryIdConflict),
    }
}

/// The tenant of the agent a webhook URL names, for logging requests refused before the
/// agent was looked up (size, content type, read timeout). Unknown agents: `None`.
pub async fn tenant_of(state: &AppState, agent_id: &str) -> Option<Uuid> {
    let agent_id: Uuid = agent_id.parse().ok()?;
    let target = state
        .targets
        .get(&state.pool, &state.keyring, agent_id)
        .await
        .ok()??;
    Some(target.tenant_id)
}

/// The delivery id as the request log shows it: like `delivery_id`, but whatever the
/// sender sent (cut to the longest id kept), also when the request was refused for it.
pub fn logged_delivery_id(headers: &HeaderMap) -> Option<String> {
    let value = ["webhook-id", "x-github-delivery", "idempotency-key"]
        .iter()
        .find_map(|name| headers.get(*name))?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_DELIVERY_ID_CHARS).collect())
}

/// Audits and logs a failed verification, at most a few per agent and minute. Never the
/// secret, the expected signature or the body.
async fn report_failure(
    state: &AppState,
    target: &Target,
    scheme: Scheme,
    failure: VerifyFailure,
    source_ip: Option<&str>,
) {
    if !state.limits.may_report_failure(target.id) {
        return;
    }
    tracing::warn!(
        agent_id = %target.id,
        source_ip = source_ip.unwrap_or("unknown"),
        scheme = scheme.as_str(),
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
        json!({ "scheme": scheme.as_str(), "reason": failure.reason() }),
    )
    .await;
    if let Err(err) = recorded {
        tracing::warn!(error = %err, "cannot audit a failed verification");
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::generate()
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn hub_signatures_use_the_base64_text_as_key_and_accept_the_previous_secret() {
        let (current, previous) = (secret(), secret());
        let body = br#"{"a":1}"#;
        let signed_with_previous = headers(&[("x-hub-signature-256", previous.sign_hub(body))]);
        let both = [&current, &previous];
        assert!(
            verify_signature(&signed_with_previous, body, &both, false, 0)
                .1
                .is_ok()
        );
        assert!(
            verify_signature(&signed_with_previous, body, &[&current], false, 0)
                .1
                .is_err()
        );
        let alias = headers(&[("x-webhook-signature", current.sign_hub(body))]);
        assert_eq!(
            verify_signature(&alias, body, &both, false, 0).0,
            Scheme::HubSignature
        );
        assert!(verify_signature(&alias, body, &both, false, 0).1.is_ok());
    }

    #[test]
    fn standard_webhooks_headers_win_and_timestamps_are_checked() {
        let key = secret();
        let body = b"{}";
        let now = 1_700_000_000;
        let signature = key.sign_standard("msg_1", now, body);
        let good = headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", now.to_string()),
            ("webhook-signature", signature.clone()),
            // A wrong hub signature alongside is ignored.
            ("x-hub-signature-256", format!("sha256={}", "0".repeat(64))),
        ]);
        let (scheme, result) = verify_signature(&good, body, &[&key], true, now);
        assert_eq!(scheme, Scheme::StandardWebhooks);
        assert!(result.is_ok());
        let (_, late) = verify_signature(&good, body, &[&key], false, now + 301);
        assert!(matches!(
            late,
            Err(VerifyFailure::Signature(SignatureError::Expired))
        ));
        let no_id = headers(&[
            ("webhook-timestamp", now.to_string()),
            ("webhook-signature", signature),
        ]);
        assert!(verify_signature(&no_id, body, &[&key], false, now)
            .1
            .is_err());
    }

    #[test]
    fn require_timestamp_refuses_hub_only_deliveries() {
        let key = secret();
        let hub = headers(&[("x-hub-signature-256", key.sign_hub(b"{}"))]);
        let (_, result) = verify_signature(&hub, b"{}", &[&key], true, 0);
        assert!(matches!(result, Err(VerifyFailure::TimestampRequired)));
    }

    #[test]
    fn unsigned_deliveries_are_missing_signatures() {
        let (scheme, result) = verify_signature(&HeaderMap::new(), b"{}", &[&secret()], false, 0);
        assert_eq!(scheme, Scheme::None);
        assert!(matches!(
            result,
            Err(VerifyFailure::Signature(SignatureError::Missing))
        ));
    }

    /// Property: whatever the headers say, verification answers (never panics) and only the
    /// right signature over the exact body passes.
    #[test]
    fn random_headers_never_panic_and_never_verify() {
        use rand::{Rng, RngCore};

        let key = secret();
        let mut rng = rand::rng();
        let names = [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "x-hub-signature-256",
            "x-webhook-signature",
        ];
        let pieces = [
            "v1,", "sha256=", " ", ",", "=", "0", "f", "whsec_", "v2,", "AAAA", "\u{00e9}",
        ];
        for _ in 0..2_000 {
            let mut map = HeaderMap::new();
            for name in names {
                if rng.random_bool(0.6) {
                    let value: String = (0..rng.random_range(0..12))
                        .map(|_| pieces[rng.random_range(0..pieces.len())])
                        .collect();
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        map.insert(name, value);
                    }
                }
            }
            let mut body = vec![0u8; rng.random_range(0..64)];
            rng.fill_bytes(&mut body);
            let now = rng.random_range(0..2_000_000_000i64);
            let (_, result) = verify_signature(&map, &body, &[&key], rng.random_bool(0.5), now);
            assert!(result.is_err(), "random headers verified: {map:?}");
        }
    }

    #[test]
    fn the_delivery_id_prefers_webhook_id() {
        let map = headers(&[
            ("idempotency-key", "k".into()),
            ("x-github-delivery", "g".into()),
        ]);
        assert_eq!(delivery_id(&map).unwrap().as_deref(), Some("g"));
        let long = headers(&[("idempotency-key", "x".repeat(MAX_DELIVERY_ID_CHARS + 1))]);
        assert!(matches!(
            delivery_id(&long),
            Err(WebhookError::DeliveryIdTooLong)
        ));
    }
}
