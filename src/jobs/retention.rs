//! The pruning pass: deletes what is older than its retention (`retention.*` settings), in
//! batches of `BATCH` rows (see `db::retention`), so that it takes no long locks and never
//! holds up the webhook route or the queue. Runs in every worker process; concurrent passes
//! skip each other's rows.

use std::time::Duration;

use chrono::Utc;
use prometheus::IntCounterVec;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{
    config::RetentionSettings,
    db::retention::{prune_batch, Pruned},
};

/// Rows per delete statement.
const BATCH: i64 = 1000;

/// How long rows of `table` are kept.
fn kept(settings: &RetentionSettings, table: Pruned) -> Duration {
    const DAY: u64 = 24 * 3600;
    match table {
        Pruned::Executions => Duration::from_secs(u64::from(settings.executions_days) * DAY),
        Pruned::Requests => Duration::from_secs(u64::from(settings.requests_days) * DAY),
        Pruned::Deliveries => settings.deliveries(),
        Pruned::Audit => Duration::from_secs(u64::from(settings.audit_days) * DAY),
    }
}

/// One pass over every table; counts the deleted rows in `pruned{table}`.
pub async fn prune(
    pool: &PgPool,
    settings: &RetentionSettings,
    pruned: &IntCounterVec,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for table in Pruned::ALL {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(kept(settings, table)).unwrap_or(chrono::Duration::MAX);
        loop {
            let deleted = prune_batch(pool, table, cutoff, BATCH).await?;
            pruned.with_label_values(&[table.table()]).inc_by(deleted);
            total += deleted;
            if deleted < BATCH as u64 {
                break;
            }
            // Let the webhook route's and the workers' statements in between batches.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // Full rate-limit buckets hold nothing (a few rows per active admin or address).
    let buckets = crate::db::rate_limits::prune(pool).await?;
    pruned.with_label_values(&["rate_limits"]).inc_by(buckets);
    Ok(total + buckets)
}

/// Runs a pass every `interval_seconds` until stopped.
pub async fn run(
    pool: PgPool,
    settings: RetentionSettings,
    pruned: IntCounterVec,
    mut stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_secs(settings.interval_seconds);
    loop {
        match prune(&pool, &settings, &pruned).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "pruned rows past their retention"),
            Err(err) => tracing::warn!(error = %err, "pruning pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
