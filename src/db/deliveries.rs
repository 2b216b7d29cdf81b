//! `webhook_deliveries`: delivery ids seen per agent in the last 24 hours.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Records each delivery id for its execution, unless the agent saw it in the last 24
/// hours: then the answer is the execution recorded first. A concurrent duplicate waits on
/// the primary key until the first transaction ends, so it sees the committed winner.
/// `claims` must not repeat a key (Postgres refuses to update a row twice in one statement)
/// and should be sorted, so that concurrent batches lock rows in the same order.
pub async fn claim(
    conn: &mut PgConnection,
    claims: &[(Uuid, &str, Uuid)],
) -> Result<Vec<Claim>, sqlx::Error> {
    let agents: Vec<Uuid> = claims.iter().map(|claim| claim.0).collect();
    let ids: Vec<&str> = claims.iter().map(|claim| claim.1).collect();
    let executions: Vec<Uuid> = claims.iter().map(|claim| claim.2).collect();
    let claimed: Vec<(Uuid, String)> = sqlx::query_as(
        "insert into webhook_deliveries (agent_id, delivery_id, execution_id)
         select * from unnest($1::uuid[], $2::text[], $3::uuid[])
         on conflict (agent_id, delivery_id) do update
             set execution_id = excluded.execution_id, received_at = now()
             where webhook_deliveries.received_at < now() - interval '24 hours'
         returning agent_id, delivery_id",
    )
    .bind(&agents)
    .bind(&ids)
    .bind(&executions)
    .fetch_all(&mut *conn)
    .await?;
    let claimed: HashSet<(Uuid, &str)> = claimed
        .iter()
        .map(|(agent, id)| (*agent, id.as_str()))
        .collect();
    let mut existing = HashMap::new();
    if claimed.len() < claims.len() {
        // A new statement sees what the transactions we waited for committed.
        let rows: Vec<(Uuid, String, Uuid)> = sqlx::query_as(
            "select d.agent_id, d.delivery_id, d.execution_id
             from webhook_deliveries d
             join unnest($1::uuid[], $2::text[]) as k(agent_id, delivery_id)
                 using (agent_id, delivery_id)",
        )
        .bind(&agents)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        existing = rows
            .into_iter()
            .map(|(agent, id, execution)| ((agent, id), execution))
            .collect();
    }
    claims
        .iter()
        .map(|&(agent, id, _)| {
            if claimed.contains(&(agent, id)) {
                Ok(Claim::New)
            } else {
                existing
                    .get(&(agent, id.to_owned()))
                    .map(|execution| Claim::Duplicate(*execution))
                    .ok_or(sqlx::Error::RowNotFound)
            }
        })
        .collect()
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
