//! `agents` joined with their webhook trigger. Every read is scoped by tenant.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: String,
    pub status: String,
    pub system_prompt: String,
    pub rate_limit_per_minute: Option<i32>,
    pub require_timestamp: bool,
    pub verification_scheme: String,
    pub verification_header_name: Option<String>,
    pub draft_payload_schema: Option<Value>,
    pub runtime: Option<Value>,
    pub has_runtime_api_key: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    // From the trigger, when there is one.
    pub webhook_url: Option<String>,
    pub payload_schema: Option<Value>,
    pub secret_source: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "select a.id, a.tenant_id, a.name, a.description, a.status, a.system_prompt,
        a.rate_limit_per_minute, a.require_timestamp, a.verification_scheme,
        a.verification_header_name, a.draft_payload_schema, a.runtime,
        a.runtime_api_key is not null as has_runtime_api_key, a.created_at, a.updated_at,
        t.webhook_url, t.payload_schema, t.secret_source,
        case when t.previous_secret_expires_at > now() then t.previous_secret_expires_at end
            as previous_secret_expires_at
    from agents a left join agent_triggers t on t.agent_id = a.id and t.trigger_type = 'webhook'";

pub struct NewAgentRow<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub system_prompt: &'a str,
    pub rate_limit_per_minute: Option<i32>,
    pub require_timestamp: bool,
    pub verification_scheme: &'a str,
    pub verification_header_name: Option<&'a str>,
    pub draft_payload_schema: Option<&'a Value>,
    pub runtime: Option<&'a Value>,
    /// Sealed with the tenant key.
    pub runtime_api_key: Option<&'a str>,
    pub runtime_secret: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, agent: &NewAgentRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into agents (id, tenant_id, name, description, status, system_prompt,
             rate_limit_per_minute, require_timestamp, draft_payload_schema, runtime,
             runtime_api_key, runtime_secret, verification_scheme, verification_header_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(agent.id)
    .bind(agent.tenant_id)
    .bind(agent.name)
    .bind(agent.description)
    .bind(agent.status)
    .bind(agent.system_prompt)
    .bind(agent.rate_limit_per_minute)
    .bind(agent.require_timestamp)
    .bind(agent.draft_payload_schema)
    .bind(agent.runtime)
    .bind(agent.runtime_api_key)
    .bind(agent.runtime_secret)
    .bind(agent.verification_scheme)
    .bind(agent.verification_header_name)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} where a.tenant_id = $1 and a.id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Locks the agent row for the rest of the caller's transaction; `false` when there is no
/// such agent or it is archived (an archived agent is read-only: its history stays).
pub async fn lock(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "select 1 from agents where tenant_id = $1 and id = $2 and status <> 'archived'
             for update",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .is_some())
}

pub async fn list(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} where a.tenant_id = $1 and a.status <> 'archived'
         order by a.created_at desc, a.id"
    ))
    .bind(tenant_id)
    .fetch_all(db)
    .await
}

pub struct AgentChanges<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub system_prompt: &'a str,
    pub rate_limit_per_minute: Option<i32>,
    pub require_timestamp: bool,
    pub verification_scheme: &'a str,
    pub verification_header_name: Option<&'a str>,
    pub draft_payload_schema: Option<&'a Value>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    changes: &AgentChanges<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update agents set name = $3, description = $4, status = $5, system_prompt = $6,
             rate_limit_per_minute = $7, require_timestamp = $8, draft_payload_schema = $9,
             verification_scheme = $10, verification_header_name = $11, updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(changes.name)
    .bind(changes.description)
    .bind(changes.status)
    .bind(changes.system_prompt)
    .bind(changes.rate_limit_per_minute)
    .bind(changes.require_timestamp)
    .bind(changes.draft_payload_schema)
    .bind(changes.verification_scheme)
    .bind(changes.verification_header_name)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the runtime settings; `api_key`: `None` keeps the sealed key, `Some(key)`
/// replaces it (`Some(None)` removes it).
pub async fn set_runtime(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    runtime: Option<&Value>,
    api_key: Option<Option<&str>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update agents set runtime = $3,
             runtime_api_key = case when $4 then $5 else runtime_api_key end,
             updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(runtime)
    .bind(api_key.is_some())
    .bind(api_key.flatten())
    .execute(db)
    .await?;
    Ok(())
}

/// The sealed runtime secret: `None` for no such agent, `Some(None)` for an agent made
/// before runtimes existed that has none yet.
pub async fn runtime_secret(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("select runtime_secret from agents where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_runtime_secret(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
    sealed: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update agents set runtime_secret = $3, updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(sealed)
    .execute(db)
    .await?;
    Ok(())
}

/// Archives the agent (see `AgentStatus::Archived`); the trigger on `agents` tells every
/// server's target cache.
pub async fn archive(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update agents set status = 'archived', archived_at = now(), updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Everything the webhook route needs about an agent, in one round trip. The secrets are
/// still sealed: the tenant key opens them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookTarget {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub status: String,
    pub rate_limit_per_minute: Option<i32>,
    pub require_timestamp: bool,
    pub verification_scheme: String,
    pub verification_header_name: Option<String>,
    pub payload_schema: Option<Value>,
    pub sealed_tenant_key: String,
    pub hmac_secret: String,
    pub secret_source: String,
    /// Valid until `previous_secret_expires_at` (the caller compares: it may keep the row).
    pub previous_hmac_secret: Option<String>,
    pub previous_secret_source: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

pub async fn find_webhook_target(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<WebhookTarget>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.tenant_id, a.status, a.rate_limit_per_minute, a.require_timestamp,
                a.verification_scheme, a.verification_header_name,
                t.payload_schema, tn.sealed_key as sealed_tenant_key, t.hmac_secret,
                t.secret_source, t.previous_hmac_secret, t.previous_secret_source,
                t.previous_secret_expires_at
         from agents a
         join agent_triggers t on t.agent_id = a.id and t.trigger_type = 'webhook'
         join tenants tn on tn.id = a.tenant_id
         where a.id = $1 and a.status <> 'archived'",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentListRow {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub webhook_url: Option<String>,
    pub last_execution_status: Option<String>,
    pub last_execution_at: Option<DateTime<Utc>>,
}

/// The tenant's agents, newest first, each with its latest execution.
pub async fn list_with_last_execution(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<Vec<AgentListRow>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.name, a.status, t.webhook_url,
                last.status as last_execution_status, last.created_at as last_execution_at
         from agents a
         left join agent_triggers t on t.agent_id = a.id and t.trigger_type = 'webhook'
         left join lateral (
             select e.status, e.created_at from agent_executions e
             where e.agent_id = a.id order by e.created_at desc limit 1
         ) last on true
         where a.tenant_id = $1 and a.status <> 'archived'
         order by a.created_at desc, a.id",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await
}
