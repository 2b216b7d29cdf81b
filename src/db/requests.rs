//! `webhook_requests`: the request log (see `services::request_log`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::domain::{RequestOutcome, WebhookRequest};

/// One request to record.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub status: u16,
    pub outcome: RequestOutcome,
    pub reason: Option<&'static str>,
    pub delivery_id: Option<String>,
    pub source_ip: Option<String>,
    pub body_bytes: i32,
    pub body_sha256: Option<[u8; 32]>,
    pub headers: Value,
    pub execution_id: Option<Uuid>,
}

/// Records a batch in one statement.
pub async fn insert_many(
    db: impl PgExecutor<'_>,
    requests: &[NewRequest],
) -> Result<u64, sqlx::Error> {
    let n = requests.len();
    let (mut ids, mut tenants, mut agents, mut at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut statuses, mut outcomes, mut reasons, mut deliveries) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut ips, mut sizes, mut hashes, mut headers, mut executions) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for request in requests {
        ids.push(request.id);
        tenants.push(request.tenant_id);
        agents.push(request.agent_id);
        at.push(request.received_at);
        statuses.push(request.status as i16);
        outcomes.push(request.outcome.as_str());
        reasons.push(request.reason);
        deliveries.push(request.delivery_id.as_deref());
        ips.push(request.source_ip.as_deref());
        sizes.push(request.body_bytes);
        hashes.push(request.body_sha256.as_ref().map(|hash| hash.as_slice()));
        headers.push(&request.headers);
        executions.push(request.execution_id);
    }
    let inserted = sqlx::query(
        "insert into webhook_requests
             (id, tenant_id, agent_id, received_at, status, outcome, reason, delivery_id,
              source_ip, body_bytes, body_sha256, headers, execution_id)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[],
                              $5::int2[], $6::text[], $7::text[], $8::text[], $9::text[],
                              $10::int4[], $11::bytea[], $12::jsonb[], $13::uuid[])",
    )
    .bind(ids)
    .bind(tenants)
    .bind(agents)
    .bind(at)
    .bind(statuses)
    .bind(outcomes)
    .bind(reasons)
    .bind(deliveries)
    .bind(ips)
    .bind(sizes)
    .bind(hashes)
    .bind(headers)
    .bind(executions)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected())
}

/// An agent's requests, newest first, optionally of one outcome, older than `before`.
pub async fn list_for_agent(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Uuid,
    outcome: Option<RequestOutcome>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WebhookRequest>, sqlx::Error> {
    sqlx::query(
        "select id, received_at, status, outcome, reason, delivery_id, source_ip, body_bytes,
                body_sha256, headers, execution_id
         from webhook_requests
         where agent_id = $2 and tenant_id = $1
           and ($3::text is null or outcome = $3)
           and ($4::uuid is null or id < $4)
         order by id desc
         limit $5",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(outcome.map(RequestOutcome::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The request that queued an execution (the first one, when duplicates followed).
pub async fn for_execution(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    agent_id: Uuid,
    execution_id: Uuid,
) -> Result<Option<WebhookRequest>, sqlx::Error> {
    sqlx::query(
        "select id, received_at, status, outcome, reason, delivery_id, source_ip, body_bytes,
                body_sha256, headers, execution_id
         from webhook_requests
         where execution_id = $3 and agent_id = $2 and tenant_id = $1 and outcome = 'accepted'
         order by id limit 1",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(execution_id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<WebhookRequest, sqlx::Error> {
    let outcome: String = row.try_get("outcome")?;
    let hash: Option<Vec<u8>> = row.try_get("body_sha256")?;
    Ok(WebhookRequest {
        id: row.try_get("id")?,
        received_at: row.try_get::<DateTime<Utc>, _>("received_at")?,
        status: row.try_get::<i16, _>("status")? as u16,
        outcome: outcome
            .parse()
            .map_err(|err: String| sqlx::Error::Decode(err.into()))?,
        reason: row.try_get("reason")?,
        delivery_id: row.try_get("delivery_id")?,
        source_ip: row.try_get("source_ip")?,
        body_bytes: row.try_get::<i32, _>("body_bytes")?.into(),
        body_sha256: hash.map(hex::encode),
        headers: row.try_get("headers")?,
        execution_id: row.try_get("execution_id")?,
    })
}

/// The tenant's requests since `since`, counted by outcome and reason.
pub async fn counts_since(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<(String, Option<String>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select outcome, reason, count(*) from webhook_requests
         where tenant_id = $1 and received_at >= $2
         group by outcome, reason order by count(*) desc",
    )
    .bind(tenant_id)
    .bind(since)
    .fetch_all(db)
    .await
}
