//! Deleting what is older than its retention, a small batch per statement: each statement
//! holds its row locks for milliseconds, and rows another process is deleting are skipped
//! (`for update skip locked`), so several worker processes may prune at once.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// The tables that are pruned, each by its own time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    /// Finished executions (queued and running ones are kept, however old).
    Executions,
    Requests,
    Deliveries,
    Audit,
}

impl Pruned {
    pub const ALL: [Pruned; 4] = [
        Self::Executions,
        Self::Requests,
        Self::Deliveries,
        Self::Audit,
    ];

    /// The table's name, also the label of `rows_pruned_total`.
    pub fn table(self) -> &'static str {
        match self {
            Self::Executions => "agent_executions",
            Self::Requests => "webhook_requests",
            Self::Deliveries => "webhook_deliveries",
            Self::Audit => "audit_log",
        }
    }

    fn old_rows(self) -> &'static str {
        match self {
            Self::Executions => "created_at < $1 and status in ('completed', 'failed')",
            Self::Requests => "received_at < $1",
            Self::Deliveries => "received_at < $1",
            Self::Audit => "at < $1",
        }
    }
}

/// Deletes up to `limit` rows of `table` older than `cutoff`; returns how many.
pub async fn prune_batch(
    db: impl PgExecutor<'_>,
    table: Pruned,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let name = table.table();
    let old_rows = table.old_rows();
    Ok(sqlx::query(&format!(
        "delete from {name} where ctid = any(array(
             select ctid from {name} where {old_rows} limit $2 for update skip locked))"
    ))
    .bind(cutoff)
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}
