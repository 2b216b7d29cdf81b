//! `notifications` (every event and how its delivery went) and the tenant's notification
//! settings on `tenants`. Event payloads are built here, from the rows they describe, in the
//! statement that records the event: an event is queued in the same transaction as what
//! caused it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// The tenant's notification URL and its sealed signing secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settings {
    pub url: Option<String>,
    pub sealed_secret: Option<String>,
}

pub async fn settings(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Settings, sqlx::Error> {
    sqlx::query_as(
        "select notification_url as url, notification_secret as sealed_secret
         from tenants where id = $1",
    )
    .bind(tenant_id)
    .fetch_one(db)
    .await
}

/// Sets the URL (null: notifications off) and, when given, the sealed secret.
pub async fn set_settings(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    url: Option<&str>,
    sealed_secret: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update tenants set notification_url = $2,
             notification_secret = coalesce($3, notification_secret)
         where id = $1",
    )
    .bind(tenant_id)
    .bind(url)
    .bind(sealed_secret)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_secret(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    sealed_secret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update tenants set notification_secret = $2 where id = $1")
        .bind(tenant_id)
        .bind(sealed_secret)
        .execute(db)
        .await?;
    Ok(())
}

/// Records an `execution.failed` event for each of these executions whose tenant has a
/// notification URL; returns (notification id, tenant id) of the events recorded.
pub async fn insert_execution_failures(
    db: impl PgExecutor<'_>,
    execution_ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "insert into notifications (id, tenant_id, agent_id, event, payload)
         select gen_random_uuid(), e.tenant_id, e.agent_id, 'execution.failed',
                jsonb_build_object(
                    'type', 'execution.failed',
                    'timestamp', now(),
                    'data', jsonb_build_object(
                        'execution_id', e.id, 'agent_id', e.agent_id, 'agent_name', a.name,
                        'delivery_id', e.delivery_id, 'attempts', e.attempts,
                        'error', e.error, 'created_at', e.created_at,
                        'failed_at', e.completed_at))
         from agent_executions e
         join agents a on a.id = e.agent_id
         join tenants t on t.id = e.tenant_id
         where e.id = any($1) and e.status = 'failed' and t.notification_url is not null
         returning id, tenant_id",
    )
    .bind(execution_ids)
    .fetch_all(db)
    .await
}

/// Records a `webhook.signature_failures` event for the agent, unless its tenant has no
/// notification URL or one was recorded within the last `window_seconds` (so at most one
/// per agent and window, across processes: the caller holds the agent's advisory lock).
pub async fn insert_signature_failures(
    db: impl PgExecutor<'_>,
    agent_id: Uuid,
    failures: u32,
    window_seconds: u64,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "insert into notifications (id, tenant_id, agent_id, event, payload)
         select gen_random_uuid(), a.tenant_id, a.id, 'webhook.signature_failures',
                jsonb_build_object(
                    'type', 'webhook.signature_failures',
                    'timestamp', now(),
                    'data', jsonb_build_object(
                        'agent_id', a.id, 'agent_name', a.name, 'failures', $2::int4,
                        'window_seconds', $3::int8))
         from agents a join tenants t on t.id = a.tenant_id
         where a.id = $1 and t.notification_url is not null
           and not exists (
               select 1 from notifications n
               where n.agent_id = a.id and n.event = 'webhook.signature_failures'
                 and n.created_at > now() - make_interval(secs => $3::float8))
         returning id, tenant_id",
    )
    .bind(agent_id)
    .bind(failures as i32)
    .bind(window_seconds as i64)
    .fetch_optional(db)
    .await
}

/// Serializes signature-failure events of one agent across processes until the caller's
/// transaction ends.
pub async fn lock_agent_events(db: impl PgExecutor<'_>, agent_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(agent_id)
        .execute(db)
        .await?;
    Ok(())
}

/// What a delivery attempt needs: the event and where it goes, with the sealed secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub tenant_id: Uuid,
    pub event: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i32,
    pub url: Option<String>,
    pub sealed_secret: Option<String>,
    pub sealed_tenant_key: String,
}

pub async fn pending(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Pending>, sqlx::Error> {
    sqlx::query_as(
        "select n.tenant_id, n.event, n.payload, n.status, n.attempts,
                t.notification_url as url, t.notification_secret as sealed_secret,
                t.sealed_key as sealed_tenant_key
         from notifications n join tenants t on t.id = n.tenant_id
         where n.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Records one delivery attempt: `status` becomes `delivered`, `failed` or stays `queued`.
pub async fn record_attempt(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: &str,
    response_status: Option<u16>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update notifications set status = $2, attempts = attempts + 1,
             response_status = $3, last_error = $4,
             delivered_at = case when $2 = 'delivered' then now() end
         where id = $1 and status = 'queued'",
    )
    .bind(id)
    .bind(status)
    .bind(response_status.map(i32::from))
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub event: String,
    pub agent_id: Option<Uuid>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub response_status: Option<i32>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The tenant's latest events, newest first.
pub async fn recent(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, event, agent_id, status, attempts, last_error, response_status, payload,
                created_at, delivered_at
         from notifications where tenant_id = $1
         order by created_at desc, id limit $2",
    )
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(db)
    .await
}
