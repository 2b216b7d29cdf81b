use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Principal;
use crate::{
    db::{self, audit::NewAuditEntry},
    domain::{AuditAction, AuditPage},
    error::AppError,
};

/// Writes one audit entry. `details` must never hold a secret, token or signature.
pub async fn record(
    db: impl PgExecutor<'_>,
    principal: &Principal,
    action: AuditAction,
    agent_id: Option<Uuid>,
    outcome: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    db::audit::insert(
        db,
        &NewAuditEntry {
            tenant_id: principal.tenant_id,
            actor: &principal.actor.to_string(),
            action: action.as_str(),
            agent_id,
            outcome,
            source_ip: principal.source_ip.as_deref(),
            details,
        },
    )
    .await
}

/// An entry whose actor is the webhook sender (no signed-in principal).
pub async fn record_webhook(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Uuid,
    action: AuditAction,
    outcome: &str,
    source_ip: Option<&str>,
    details: Value,
) -> Result<(), sqlx::Error> {
    db::audit::insert(
        db,
        &NewAuditEntry {
            tenant_id,
            actor: "webhook",
            action: action.as_str(),
            agent_id: Some(agent_id),
            outcome,
            source_ip,
            details,
        },
    )
    .await
}

pub async fn page(
    db: impl PgExecutor<'_>,
    principal: &Principal,
    agent_id: Option<Uuid>,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<AuditPage, AppError> {
    let limit = super::page_limit(limit)?;
    let items = db::audit::list(db, principal.tenant_id, agent_id, before, limit).await?;
    let next_before = super::next_before(&items, limit, |entry| entry.id);
    Ok(AuditPage { items, next_before })
}
