//! `webhook_deliveries`: delivery ids seen per agent within the idempotency window
//! (`retention.deliveries_hours`, 24 by default).

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;
use uuid::Uuid;

/// One delivery id to claim for an execution.
pub struct NewDelivery<'a> {
    pub agent_id: Uuid,
    pub delivery_id: &'a str,
    pub execution_id: Uuid,
    pub body_sha256: &'a [u8],
}

/// Records each delivery id for its execution, unless the agent saw it within `window`:
/// then the answer is the execution recorded first, with the hash of its body. A
/// concurrent duplicate waits on the primary key until the first transaction ends, so it
/// sees the committed winner. `claims` must not repeat a key (Postgres refuses to update a
/// row twice in one statement) and should be sorted, so that concurrent batches lock rows
/// in the same order.
pub async fn claim(
    conn: &mut PgConnection,
    claims: &[NewDelivery<'_>],
    window: std::time::Duration,
) -> Result<Vec<Claim>, sqlx::Error> {
    let agents: Vec<Uuid> = claims.iter().map(|claim| claim.agent_id).collect();
    let ids: Vec<&str> = claims.iter().map(|claim| claim.delivery_id).collect();
    let executions: Vec<Uuid> = claims.iter().map(|claim| claim.execution_id).collect();
    let hashes: Vec<&[u8]> = claims.iter().map(|claim| claim.body_sha256).collect();
    let claimed: Vec<(Uuid, String)> = sqlx::query_as(
        "insert into webhook_deliveries (agent_id, delivery_id, execution_id, body_sha256)
         select * from unnest($1::uuid[], $2::text[], $3::uuid[], $4::bytea[])
         on conflict (agent_id, delivery_id) do update
             set execution_id = excluded.execution_id, body_sha256 = excluded.body_sha256,
                 received_at = now()
             where webhook_deliveries.received_at < now() - make_interval(secs => $5)
         returning agent_id, delivery_id",
    )
    .bind(&agents)
    .bind(&ids)
    .bind(&executions)
    .bind(&hashes)
    .bind(window.as_secs_f64())
    .fetch_all(&mut *conn)
    .await?;
    let claimed: HashSet<(Uuid, &str)> = claimed
        .iter()
        .map(|(agent, id)| (*agent, id.as_str()))
        .collect();
    let mut existing = HashMap::new();
    if claimed.len() < claims.len() {
        // A new statement sees what the transactions we waited for committed.
        let rows: Vec<(Uuid, String, Uuid, Option<Vec<u8>>)> = sqlx::query_as(
            "select d.agent_id, d.delivery_id, d.execution_id, d.body_sha256
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
            .map(|(agent, id, execution_id, body_sha256)| {
                (
                    (agent, id),
                    Claim::Existing {
                        execution_id,
                        body_sha256,
                    },
                )
            })
            .collect();
    }
    claims
        .iter()
        .map(|claim| {
            if claimed.contains(&(claim.agent_id, claim.delivery_id)) {
                Ok(Claim::New)
            } else {
                existing
                    .remove(&(claim.agent_id, claim.delivery_id.to_owned()))
                    .ok_or(sqlx::Error::RowNotFound)
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    New,
    /// Seen before: its execution, and its body's hash (`None` for rows older than hashes).
    Existing {
        execution_id: Uuid,
        body_sha256: Option<Vec<u8>>,
    },
}
