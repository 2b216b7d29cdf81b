//! The home dashboard: the tenant's last 24 hours, from the request log and the executions.

use chrono::{Duration, Utc};
use sqlx::PgPool;

use super::Principal;
use crate::{
    db,
    domain::{Dashboard, FailingAgent, ReasonCount, RequestOutcome},
    error::AppError,
};

const FAILING_AGENTS: i64 = 5;

pub async fn last_day(pool: &PgPool, principal: &Principal) -> Result<Dashboard, AppError> {
    let tenant_id = principal.tenant_id;
    let since = Utc::now() - Duration::hours(24);
    let (requests, executions, (queue_depth, oldest), failing) = tokio::try_join!(
        db::requests::counts_since(pool, tenant_id, since),
        db::executions::counts_since(pool, tenant_id, since),
        db::executions::tenant_queue(pool, tenant_id),
        db::executions::most_failing_agents(pool, tenant_id, since, FAILING_AGENTS),
    )?;
    let (mut accepted, mut duplicates, mut rejected) = (0, 0, Vec::new());
    for (outcome, reason, count) in requests {
        match outcome.parse::<RequestOutcome>() {
            Ok(RequestOutcome::Accepted) => accepted += count,
            Ok(RequestOutcome::Duplicate) => duplicates += count,
            _ => rejected.push(ReasonCount {
                reason: reason.unwrap_or_else(|| "unknown".into()),
                count,
            }),
        }
    }
    let count_of = |status: &str| {
        executions
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Dashboard {
        since,
        accepted,
        duplicates,
        rejected,
        completed: count_of("completed"),
        failed: count_of("failed"),
        queue_depth,
        oldest_queued_seconds: oldest as i64,
        failing_agents: failing
            .into_iter()
            .map(|(id, name, failures)| FailingAgent { id, name, failures })
            .collect(),
    })
}
