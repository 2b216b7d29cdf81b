//! `agent_triggers`: the webhook URL, the encrypted secret(s) and the payload schema.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

pub async fn insert(
    db: impl PgExecutor<'_>,
    agent_id: Uuid,
    webhook_url: &str,
    sealed_secret: &str,
    payload_schema: Option<&Value>,
) -> Result<(), sqlx::Error> {
    // A trigger is born with a generated secret (the column's default source).
    sqlx::query(
        "insert into agent_triggers (id, agent_id, webhook_url, hmac_secret, payload_schema)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(agent_id)
    .bind(webhook_url)
    .bind(sealed_secret)
    .bind(payload_schema)
    .execute(db)
    .await?;
    Ok(())
}

/// The sealed current secret, and the previous one while its grace period lasts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedSecrets {
    pub hmac_secret: String,
    /// `generated` or `provided`.
    pub secret_source: String,
    pub previous_hmac_secret: Option<String>,
}

pub async fn sealed_secrets(
    db: impl PgExecutor<'_>,
    agent_id: Uuid,
) -> Result<Option<SealedSecrets>, sqlx::Error> {
    sqlx::query_as(
        "select hmac_secret, secret_source,
                case when previous_secret_expires_at > now() then previous_hmac_secret end
                    as previous_hmac_secret
         from agent_triggers where agent_id = $1 and trigger_type = 'webhook'",
    )
    .bind(agent_id)
    .fetch_optional(db)
    .await
}

/// Replaces the secret (`source`: `generated` or `provided`). With a grace period the old one
/// is kept until `previous_expires_at`. Runs under the agent's row lock, so concurrent
/// replacements apply one after the other.
pub async fn replace_secret(
    conn: &mut PgConnection,
    agent_id: Uuid,
    sealed_secret: &str,
    source: &str,
    previous_expires_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update agent_triggers set
             previous_hmac_secret = case when $3::timestamptz is null then null else hmac_secret end,
             previous_secret_source =
                 case when $3::timestamptz is null then null else secret_source end,
             previous_secret_expires_at = $3,
             hmac_secret = $2,
             secret_source = $4,
             updated_at = now()
         where agent_id = $1 and trigger_type = 'webhook'",
    )
    .bind(agent_id)
    .bind(sealed_secret)
    .bind(previous_expires_at)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn set_payload_schema(
    db: impl PgExecutor<'_>,
    agent_id: Uuid,
    payload_schema: Option<&Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update agent_triggers set payload_schema = $2, updated_at = now()
         where agent_id = $1 and trigger_type = 'webhook'",
    )
    .bind(agent_id)
    .bind(payload_schema)
    .execute(db)
    .await?;
    Ok(())
}

/// Every sealed secret of a tenant (for tests and audits that the database holds no clear text).
pub async fn all_sealed_for_tenant(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select t.hmac_secret from agent_triggers t join agents a on a.id = t.agent_id
         where a.tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await
}
