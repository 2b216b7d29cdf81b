use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::AuditEntry;

pub struct NewAuditEntry<'a> {
    pub tenant_id: Uuid,
    pub actor: &'a str,
    pub action: &'a str,
    pub agent_id: Option<Uuid>,
    pub outcome: &'a str,
    pub source_ip: Option<&'a str>,
    pub details: Value,
}

pub async fn insert(db: impl PgExecutor<'_>, entry: &NewAuditEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (tenant_id, actor, action, agent_id, outcome, source_ip, details)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.tenant_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.agent_id)
    .bind(entry.outcome)
    .bind(entry.source_ip)
    .bind(&entry.details)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
    action: String,
    actor: String,
    agent_id: Option<Uuid>,
    outcome: String,
    source_ip: Option<String>,
    details: Value,
}

/// Newest first, ids below `before` when given; `agent_id` narrows to one agent.
pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "select id, at, action, actor, agent_id, outcome, source_ip, details from audit_log
         where tenant_id = $1
           and ($2::uuid is null or agent_id = $2)
           and ($3::bigint is null or id < $3)
         order by id desc
         limit $4",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            action: r.action,
            actor: r.actor,
            agent_id: r.agent_id,
            outcome: r.outcome,
            source_ip: r.source_ip,
            details: r.details,
        })
        .collect())
}
