//! Group commit of accepted webhooks: concurrent requests hand their execution to a few
//! writer tasks, which record everything waiting in one transaction (one statement when no
//! delivery ids are involved), and answer each request only after that commit. Under load a
//! commit carries dozens of executions, so Postgres does one commit's work (WAL flush, lock
//! on the agent's row for the foreign keys) for all of them; at rest a commit carries one.
//!
//! The writers also take the agents' rate-limit tokens, which every web process shares: one
//! statement per batch, for all of its agents, before the commit (`shared_limits`); fewer
//! for a busy agent, whose tokens they take a tenth of a second ahead (`token_leases`).
//! Outside the commit's transaction on purpose: each bucket's row stays locked only for that
//! statement, not through the commit's WAL flush, so batches of one busy agent do not queue
//! behind each other's commits. The price is that a batch whose commit fails has spent its
//! tokens (its senders get a 503 and retry into a bucket that much emptier).
//!
//! The writers also decouple the transaction from the HTTP request: a client that hangs up
//! mid-request cancels only its wait for the answer, never a transaction half way (which is
//! how a pooled connection could be returned inside an open transaction).

use std::{collections::HashMap, sync::Arc};

use prometheus::Histogram;
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::{
    db::{
        self,
        deliveries::{Claim, NewDelivery},
        executions::NewExecution,
    },
    jobs::{execute::ExecuteAgent, Wakeup, TASK_TYPE},
    services::{
        shared_limits::{self, Admission},
        token_leases::TokenLeases,
    },
};

/// Requests waiting for a writer; beyond this, senders wait (backpressure, not memory).
const QUEUE_CAPACITY: usize = 4096;
/// At most this many executions per commit: large enough to absorb any burst the pool's
/// request handlers produce, small enough to keep one statement's arrays modest.
const MAX_BATCH: usize = 256;

/// One accepted webhook, already verified and validated.
pub struct Accepted {
    pub tenant_id: Uuid,
    pub agent_id: Uuid,
    /// The agent's quota, shared by every process (`None`: not limited).
    pub rate_limit_per_minute: Option<u32>,
    pub raw_body: Vec<u8>,
    pub delivery: Option<DeliveryId>,
}

/// A sender's delivery id, bound to the SHA-256 of the body it came with.
pub struct DeliveryId {
    pub id: String,
    pub body_sha256: [u8; 32],
}

/// What a delivery turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// This delivery created the execution.
    Created(Uuid),
    /// Its delivery id was seen with the same body: the execution of the first one.
    Duplicate(Uuid),
    /// Its delivery id was seen with a different body: nothing recorded.
    Conflict,
    /// Over the agent's rate limit: nothing recorded; a token is free after this long.
    RateLimited(std::time::Duration),
}

impl Recorded {
    fn created(&self) -> Option<Uuid> {
        match self {
            Recorded::Created(id) => Some(*id),
            _ => None,
        }
    }
}

/// Shared by every request of a failed commit.
pub type WriteError = Arc<sqlx::Error>;

type Reply = oneshot::Sender<Result<Recorded, WriteError>>;

#[derive(Clone)]
pub struct ExecutionWriter {
    queue: mpsc::Sender<(Accepted, Reply)>,
}

impl ExecutionWriter {
    /// Starts `writers` writer tasks (each commits one batch at a time, so this is also the
    /// number of commits in flight). They stop when the last `ExecutionWriter` is dropped.
    /// `commit_size` observes how many executions each commit carried; `wakeup` is told
    /// after every commit that queued work.
    pub fn start(
        pool: sqlx::PgPool,
        writers: usize,
        commit_size: Histogram,
        wakeup: Wakeup,
        idempotency_window: std::time::Duration,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        let leases = Arc::new(TokenLeases::default());
        for _ in 0..writers.max(1) {
            tokio::spawn(write_batches(
                pool.clone(),
                leases.clone(),
                receiver.clone(),
                commit_size.clone(),
                wakeup.clone(),
                idempotency_window,
            ));
        }
        Self { queue }
    }

    /// Records the execution (or finds the one its delivery id already has) durably.
    pub async fn record(&self, accepted: Accepted) -> Result<Recorded, WriteError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Arc::new(sqlx::Error::PoolClosed);
        self.queue
            .send((accepted, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(
    pool: sqlx::PgPool,
    leases: Arc<TokenLeases>,
    receiver: Arc<Mutex<mpsc::Receiver<(Accepted, Reply)>>>,
    commit_size: Histogram,
    wakeup: Wakeup,
    window: std::time::Duration,
) {
    loop {
        let mut batch = Vec::new();
        {
            // One writer collects at a time: it waits for the first request, then takes
            // whatever else is already waiting, and lets the next writer collect while it
            // commits.
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        // Requests whose client hung up are still recorded: the client may retry with the
        // same delivery id, and will then get this execution.
        let (items, replies): (Vec<Accepted>, Vec<Reply>) = batch.into_iter().unzip();
        commit_size.observe(items.len() as f64);
        let outcomes = admit_and_write(&pool, &leases, items, window).await;
        if outcomes
            .iter()
            .any(|outcome| matches!(outcome, Ok(Recorded::Created(_))))
        {
            wakeup.work_enqueued();
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
}

/// Takes the batch's rate-limit tokens, then commits the requests that got one; the answers
/// are in the batch's order.
async fn admit_and_write(
    pool: &sqlx::PgPool,
    leases: &TokenLeases,
    items: Vec<Accepted>,
    window: std::time::Duration,
) -> Vec<Result<Recorded, WriteError>> {
    let quotas: Vec<Option<(Uuid, u32)>> = items
        .iter()
        .map(|item| {
            item.rate_limit_per_minute
                .map(|limit| (item.agent_id, limit))
        })
        .collect();
    if quotas.iter().all(Option::is_none) {
        return write_batch(pool, &items, window).await;
    }
    // Per request: go ahead, or its answer already.
    let verdicts: Vec<Result<(), Result<Recorded, WriteError>>> =
        shared_limits::take_webhooks(pool, leases, &quotas)
            .await
            .into_iter()
            .map(|admission| match admission {
                Admission::Admitted => Ok(()),
                Admission::Refused(wait) => Err(Ok(Recorded::RateLimited(wait))),
                Admission::Failed(err) => Err(Err(err)),
            })
            .collect();
    let mut answers = Vec::with_capacity(items.len());
    let mut admitted = Vec::with_capacity(items.len());
    for (item, verdict) in items.into_iter().zip(verdicts) {
        match verdict {
            Ok(()) => {
                admitted.push(item);
                answers.push(None);
            }
            Err(answer) => answers.push(Some(answer)),
        }
    }
    let mut written = if admitted.is_empty() {
        Vec::new()
    } else {
        write_batch(pool, &admitted, window).await
    }
    .into_iter();
    answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| written.next().expect("an answer per admitted request"))
        })
        .collect()
}

/// Commits the batch; if that fails for a reason other than the database being
/// unreachable, commits each execution alone so that one bad row fails only its request.
async fn write_batch(
    pool: &sqlx::PgPool,
    items: &[Accepted],
    window: std::time::Duration,
) -> Vec<Result<Recorded, WriteError>> {
    match commit(pool, items, window).await {
        Ok(recorded) => recorded.into_iter().map(Ok).collect(),
        Err(err) if items.len() > 1 && !db::is_transient(&err) => {
            let mut outcomes = Vec::with_capacity(items.len());
            for item in items {
                outcomes.push(
                    commit(pool, std::slice::from_ref(item), window)
                        .await
                        .map(|mut recorded| recorded.remove(0))
                        .map_err(Arc::new),
                );
            }
            outcomes
        }
        Err(err) => {
            let err = Arc::new(err);
            items.iter().map(|_| Err(err.clone())).collect()
        }
    }
}

/// Records the batch in one transaction; the answers are in the batch's order.
async fn commit(
    pool: &sqlx::PgPool,
    items: &[Accepted],
    window: std::time::Duration,
) -> Result<Vec<Recorded>, sqlx::Error> {
    let mut answers: Vec<Recorded> = items
        .iter()
        .map(|_| Recorded::Created(Uuid::new_v4()))
        .collect();

    let new_rows = |answers: &[Recorded]| -> Vec<NewExecution<'_>> {
        items
            .iter()
            .zip(answers)
            .filter_map(|(item, answer)| {
                answer.created().map(|id| NewExecution {
                    id,
                    tenant_id: item.tenant_id,
                    agent_id: item.agent_id,
                    raw_body: &item.raw_body,
                    delivery_id: item.delivery.as_ref().map(|delivery| delivery.id.as_str()),
                    task_metadata: ExecuteAgent::metadata(id, item.tenant_id),
                })
            })
            .collect()
    };

    // Delivery ids: the first request of each (agent, id) in the batch claims it; every
    // request of the group is then answered against whatever body the id is bound to.
    let mut groups: HashMap<(Uuid, &str), Vec<usize>> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(delivery) = &item.delivery {
            groups
                .entry((item.agent_id, delivery.id.as_str()))
                .or_default()
                .push(index);
        }
    }
    if groups.is_empty() {
        // A single statement commits atomically on its own: one round trip.
        db::executions::insert_queued(pool, &new_rows(&answers), TASK_TYPE).await?;
        return Ok(answers);
    }

    let mut groups: Vec<((Uuid, &str), Vec<usize>)> = groups.into_iter().collect();
    // Same lock order in every batch, so concurrent batches cannot deadlock.
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let claims: Vec<NewDelivery<'_>> = groups
        .iter()
        .map(|((agent_id, delivery_id), members)| {
            let first = members[0];
            NewDelivery {
                agent_id: *agent_id,
                delivery_id,
                execution_id: answers[first].created().expect("not answered yet"),
                body_sha256: &items[first]
                    .delivery
                    .as_ref()
                    .expect("grouped by delivery")
                    .body_sha256,
            }
        })
        .collect();
    let mut tx = pool.begin().await?;
    let outcomes = db::deliveries::claim(&mut tx, &claims, window).await?;
    for ((_, members), (claim, outcome)) in groups.iter().zip(claims.iter().zip(outcomes)) {
        let (execution_id, bound_hash, first_is_new) = match outcome {
            Claim::New => (claim.execution_id, Some(claim.body_sha256.to_vec()), true),
            Claim::Existing {
                execution_id,
                body_sha256,
            } => (execution_id, body_sha256, false),
        };
        for (position, &index) in members.iter().enumerate() {
            let hash = &items[index].delivery.as_ref().expect("grouped").body_sha256;
            answers[index] = if first_is_new && position == 0 {
                Recorded::Created(execution_id)
            } else if bound_hash.as_deref().is_none_or(|bound| bound == hash) {
                Recorded::Duplicate(execution_id)
            } else {
                Recorded::Conflict
            };
        }
    }
    let rows = new_rows(&answers);
    if !rows.is_empty() {
        db::executions::insert_queued(&mut *tx, &rows, TASK_TYPE).await?;
    }
    tx.commit().await?;
    Ok(answers)
}
