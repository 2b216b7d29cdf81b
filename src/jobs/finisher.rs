//! Group commit of outcomes: finished runs hand their outcome to one writer task, which
//! records everything waiting in one synchronous statement (`db::tasks::finish`), as the
//! front door records accepted webhooks. An execution's final state is durable before it is
//! counted in the metrics or logged; outcomes of runs that lost their lease are refused by the
//! statement and reported as discarded. A run stays in flight (its lease renewed by the
//! heartbeat) until its outcome is written, so a slow write does not cost a lease.

use std::{collections::HashSet, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use super::{leases::InFlight, notify};
use crate::{
    db::{
        self,
        tasks::{Lease, Outcome},
    },
    metrics::Metrics,
};

/// Outcomes waiting for the writer; beyond this, runs wait (backpressure, not memory).
const QUEUE_CAPACITY: usize = 4096;
/// At most this many outcomes per statement.
const MAX_BATCH: usize = 512;

/// One finished run.
pub(super) struct Finished {
    pub lease: Lease,
    pub execution_id: Option<Uuid>,
    pub attempt: i32,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub(super) struct Finisher {
    queue: mpsc::Sender<Finished>,
}

impl Finisher {
    /// Starts the writer; it ends once every `Finisher` is dropped and the queue is written.
    pub(super) fn start(
        pool: PgPool,
        metrics: Arc<Metrics>,
        in_flight: Arc<InFlight>,
    ) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(write(pool, metrics, in_flight, receiver));
        (Self { queue }, writer)
    }

    pub(super) async fn send(&self, finished: Finished) {
        if self.queue.send(finished).await.is_err() {
            // Only after shutdown gave up waiting; the lease expires and the task runs again.
            tracing::error!("outcome writer stopped; the task will run again after its lease");
        }
    }
}

async fn write(
    pool: PgPool,
    metrics: Arc<Metrics>,
    in_flight: Arc<InFlight>,
    mut receiver: mpsc::Receiver<Finished>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let held = record(&pool, &batch).await;
        for finished in batch.drain(..) {
            in_flight.remove(finished.lease);
            report(&metrics, &finished, held.contains(&finished.lease));
        }
    }
}

/// Writes the batch, retrying while the database is unreachable; a batch that fails for
/// another reason is written one outcome at a time, so one bad outcome fails alone. Returns
/// the leases whose outcome was recorded.
async fn record(pool: &PgPool, batch: &[Finished]) -> HashSet<Lease> {
    let rows: Vec<(Lease, Outcome)> = batch
        .iter()
        .map(|finished| (finished.lease, finished.outcome.clone()))
        .collect();
    let failures: Vec<(Lease, Uuid)> = batch
        .iter()
        .filter(|finished| matches!(finished.outcome, Outcome::Failed(_)))
        .filter_map(|finished| Some((finished.lease, finished.execution_id?)))
        .collect();
    let mut pause = Duration::from_millis(50);
    loop {
        match finish(pool, &rows, &failures).await {
            Ok(held) => return held.into_iter().collect(),
            Err(err) if db::is_transient(&err) => {
                // Keep the outcomes: the run is done, only its record is late. Should the
                // lease expire meanwhile, the task runs again and this write is refused.
                tracing::warn!(error = %err, outcomes = rows.len(), "cannot record outcomes; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(err) if rows.len() > 1 => {
                tracing::warn!(error = %err, "a batch of outcomes failed; recording them one by one");
                let mut held = HashSet::new();
                for row in &rows {
                    match finish(pool, std::slice::from_ref(row), &failures).await {
                        Ok(ids) => held.extend(ids),
                        Err(err) => {
                            tracing::error!(error = %err, task_id = %row.0.task_id, "cannot record an outcome; the task runs again after its lease")
                        }
                    }
                }
                return held;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot record an outcome; the task runs again after its lease");
                return Default::default();
            }
        }
    }
}

/// Records outcomes in one statement; when some executions failed for good, in one
/// transaction with their `execution.failed` notifications (so none is lost or made up).
async fn finish(
    pool: &PgPool,
    rows: &[(Lease, Outcome)],
    failures: &[(Lease, Uuid)],
) -> Result<Vec<Lease>, sqlx::Error> {
    let failing = |lease: &Lease| failures.iter().any(|(failed, _)| failed == lease);
    if !rows.iter().any(|(lease, _)| failing(lease)) {
        return db::tasks::finish(pool, rows).await;
    }
    let mut tx = pool.begin().await?;
    let held = db::tasks::finish(&mut *tx, rows).await?;
    let failed: Vec<Uuid> = failures
        .iter()
        .filter(|(lease, _)| held.contains(lease))
        .map(|(_, execution_id)| *execution_id)
        .collect();
    if !failed.is_empty() {
        let events = db::notifications::insert_execution_failures(&mut *tx, &failed).await?;
        notify::enqueue(&mut tx, &events).await?;
    }
    tx.commit().await?;
    Ok(held)
}

fn report(metrics: &Metrics, finished: &Finished, recorded: bool) {
    let task_id = finished.lease.task_id;
    let attempt = finished.attempt;
    let Some(execution_id) = finished.execution_id else {
        return;
    };
    if !recorded {
        metrics.execution("discarded");
        tracing::warn!(%execution_id, %task_id, attempt, "outcome discarded: the run had lost its lease");
        return;
    }
    match &finished.outcome {
        Outcome::Completed(_) => {
            metrics.execution("completed");
            tracing::info!(%execution_id, attempt, "execution completed");
        }
        Outcome::Retry {
            error,
            delay_seconds,
        } => {
            metrics.execution("retrying");
            tracing::info!(%execution_id, attempt, delay_seconds, %error, "attempt failed; retrying");
        }
        Outcome::Failed(error) => {
            metrics.execution("failed");
            tracing::warn!(%execution_id, attempt, %error, "execution failed");
        }
        Outcome::Done | Outcome::GiveUp(_) => {}
    }
}
