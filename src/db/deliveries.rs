//! `webhook_deliveries`: delivery ids seen per agent in the last 24 hours.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Records `delivery_id` for `execution_id`, unless the agent saw it in the last 24 hours:
/// then returns the execution recorded first. A concurrent duplicate waits on the primary
/// key until the first transaction ends, so it sees the committed winner.
pub async fn claim(
    conn: &mut PgConnection,
    agent_id: Uuid,
    delivery_id: &str,
    execution_id: Uuid,
) -> Result<Claim, sqlx::Error> {
    let claimed: Option<Uuid> = sqlx::query_scalar(
        "insert into webhook_deliveries (agent_id, delivery_id, execution_id) values ($1, $2, $3)
         on conflict (agent_id, delivery_id) do update
             set execution_id = excluded.execution_id, received_at = now()
             where webhook_deliveries.received_at < now() - interval '24 hours'
         returning execution_id",
    )
    .bind(agent_id)
    .bind(delivery_id)
    .bind(execution_id)
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_some() {
        return Ok(Claim::New);
    }
    let existing: Uuid = sqlx::query_scalar(
        "select execution_id from webhook_deliveries where agent_id = $1 and delivery_id = $2",
    )
    .bind(agent_id)
    .bind(delivery_id)
    .fetch_one(conn)
    .await?;
    Ok(Claim::Duplicate(existing))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    New,
    Duplicate(Uuid),
}

pub async fn delete_older_than_a_day(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "delete from webhook_deliveries where received_at < now() - interval '24 hours'",
    )
    .execute(db)
    .await?
    .rows_affected())
}
