//! Revealing, regenerating and setting an agent's webhook secret. Regenerate makes 32 random
//! bytes here; Set stores the secret a sending product generated (Stripe, Slack, …), for
//! senders that cannot be given ours. Both keep the previous secret for a grace period.

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{audit, keys, Principal};
use crate::{
    crypto::{secrets::MASKED, InboundSecret, ProvidedSecret},
    db,
    domain::{
        AuditAction, RegenerateSecret, RevealedSecret, SecretRegenerated, SecretSource, SetSecret,
        MAX_GRACE_PERIOD_SECONDS,
    },
    error::AppError,
    state::AppState,
};

fn no_trigger() -> AppError {
    AppError::Conflict(
        "this agent is a draft and has no webhook secret yet; activate it first".into(),
    )
}

/// The secret in clear, for an administrator who asked for it. Rate-limited per actor and
/// audited, including refusals.
pub async fn reveal(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
) -> Result<RevealedSecret, AppError> {
    if db::agents::find(&state.pool, principal.tenant_id, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    take_reveal(state, principal, Some(agent_id), None).await?;
    let secret = open_current(state, principal.tenant_id, agent_id).await?;
    audit::record(
        &state.pool,
        principal,
        AuditAction::SecretRevealed,
        Some(agent_id),
        "success",
        json!({}),
    )
    .await?;
    Ok(RevealedSecret {
        hmac_secret: secret.to_text(),
        standard_webhooks_secret: secret.to_standard_webhooks(),
    })
}

/// Takes one reveal from the actor's bucket (shared by every secret: webhook, runtime,
/// notification), or audits the refusal and answers 429. `secret` names which one in the
/// refusal's audit entry (the webhook secret's entries carry no name).
pub(super) async fn take_reveal(
    state: &AppState,
    principal: &Principal,
    agent_id: Option<Uuid>,
    secret: Option<&str>,
) -> Result<(), AppError> {
    let Err(retry_after) = super::shared_limits::take_reveal(state, principal.actor).await? else {
        return Ok(());
    };
    let mut details = json!({ "reason": "rate_limited", "retry_after_seconds": retry_after.as_secs_f64().ceil() });
    if let Some(secret) = secret {
        details["secret"] = json!(secret);
    }
    audit::record(
        &state.pool,
        principal,
        AuditAction::SecretRevealDenied,
        agent_id,
        "denied",
        details,
    )
    .await?;
    Err(AppError::RateLimited { retry_after })
}

/// The agent's current secret, opened with its tenant's key. The agent must exist in the
/// tenant (callers check); a draft has no secret yet (409).
pub async fn open_current(
    state: &AppState,
    tenant_id: Uuid,
    agent_id: Uuid,
) -> Result<InboundSecret, AppError> {
    let sealed = db::triggers::sealed_secrets(&state.pool, agent_id)
        .await?
        .ok_or_else(no_trigger)?;
    let source: SecretSource = sealed
        .secret_source
        .parse()
        .map_err(|e: String| AppError::internal(anyhow::anyhow!(e)))?;
    let tenant_key = keys::tenant_key(&state.pool, &state.keyring, tenant_id).await?;
    tenant_key
        .decrypt_inbound(&sealed.hmac_secret, source)
        .map_err(AppError::internal)
}

/// Replaces the secret with 32 fresh random bytes. With a grace period the previous one
/// keeps verifying until it ends; without, it stops at once.
pub async fn regenerate(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
    input: RegenerateSecret,
) -> Result<SecretRegenerated, AppError> {
    replace(
        state,
        principal,
        agent_id,
        InboundSecret::generate(),
        input.grace_period_seconds,
    )
    .await
}

/// Stores the secret the sending product generated, checked for length and characters;
/// the grace period works as with [`regenerate`]. Audited as `secret.set`, without the
/// secret.
pub async fn set(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
    input: SetSecret,
) -> Result<SecretRegenerated, AppError> {
    let secret = ProvidedSecret::parse(&input.secret)
        .map_err(|err| AppError::invalid("secret", err.to_string()))?;
    replace(
        state,
        principal,
        agent_id,
        InboundSecret::Provided(secret),
        input.grace_period_seconds,
    )
    .await
}

/// Concurrent replacements are serialized by the agent's row lock.
async fn replace(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
    secret: InboundSecret,
    grace_period_seconds: Option<u32>,
) -> Result<SecretRegenerated, AppError> {
    let grace = grace_period_seconds.unwrap_or(0);
    if grace > MAX_GRACE_PERIOD_SECONDS {
        return Err(AppError::invalid(
            "grace_period_seconds",
            format!("grace_period_seconds must be between 0 and {MAX_GRACE_PERIOD_SECONDS}"),
        ));
    }
    let source = secret.source();
    let mut tx = state.pool.begin().await?;
    if !db::agents::lock(&mut tx, principal.tenant_id, agent_id).await? {
        return Err(AppError::NotFound);
    }
    let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
    let sealed = tenant_key.encrypt_inbound(&secret);
    let previous_expires_at = (grace > 0).then(|| Utc::now() + Duration::seconds(i64::from(grace)));
    if !db::triggers::replace_secret(
        &mut tx,
        agent_id,
        &sealed,
        source.as_str(),
        previous_expires_at,
    )
    .await?
    {
        return Err(no_trigger());
    }
    let (action, message) = match source {
        SecretSource::Generated => (AuditAction::SecretRegenerated, "HMAC secret regenerated"),
        SecretSource::Provided => (AuditAction::SecretSet, "Webhook secret set"),
    };
    audit::record(
        &mut *tx,
        principal,
        action,
        Some(agent_id),
        "success",
        json!({ "grace_period_seconds": grace, "source": source }),
    )
    .await?;
    tx.commit().await?;
    // The old secret stops working here at once; other servers hear of it through NOTIFY.
    state.targets.invalidate(agent_id);
    Ok(SecretRegenerated {
        success: true,
        message: message.into(),
        new_secret_masked: MASKED.to_owned(),
        previous_secret_expires_at: previous_expires_at,
    })
}
