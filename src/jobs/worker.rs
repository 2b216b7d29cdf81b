//! The worker pool of one process: claim loops, the runs they start, and the tasks that keep
//! them honest (heartbeat, finisher, reaper, wake-up listener).
//!
//! - `claim_loops` loops claim batches: each takes as many tasks as there are free run slots
//!   (at most `batch_size`) in one statement, starts a run per task, and claims again as soon
//!   as slots are free. Idle, a loop waits for a wake-up or `poll_interval`.
//! - Up to `concurrency` runs are in flight per process (a semaphore), independent of the
//!   number of loops: runs mostly wait on the network and hold no database connection.
//! - Shutdown stops claiming, lets runs finish for the grace period, then aborts the runs
//!   still going, waits until they have stopped, writes the outcomes that arrived, and only
//!   then hands the unfinished tasks back, so no task can run twice at the same time.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::{
    sync::{watch, Semaphore},
    task::JoinHandle,
};
use tracing::Instrument;
use uuid::Uuid;

use super::{
    finisher::{Finished, Finisher},
    leases::{self, InFlight},
    run::Runs,
    wakeup::{self, Wakeup},
    JobContext, TASK_TYPE,
};
use crate::{
    config::RetentionSettings,
    db::{self, tasks::Lease},
};

/// The worker pool's settings, typed (from `config::WorkerSettings`, see `startup`).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Loops that claim tasks.
    pub claim_loops: u32,
    /// Runs in flight at once in this process.
    pub concurrency: u32,
    /// Most tasks one claim takes.
    pub batch_size: u32,
    /// Idle polling interval (the fallback of wake-ups).
    pub poll_interval: Duration,
    /// A running task without a heartbeat for this long is handed out again.
    pub lease: Duration,
    pub reaper_interval: Duration,
    /// Upper bound of the delay before a failed task's retry.
    pub max_backoff: Duration,
    /// A run longer than this is aborted and counts as a failed attempt.
    pub run_timeout: Duration,
    /// What the pruning pass deletes, and how often it runs.
    pub retention: RetentionSettings,
}

/// The workers of this process. Dropping it does not stop them: call `shutdown`.
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    finisher: Option<(Finisher, JoinHandle<()>)>,
    in_flight: Arc<InFlight>,
    bookkeeping: Option<PgPool>,
}

/// What the claim loops share.
struct Shared {
    settings: PoolSettings,
    bookkeeping: PgPool,
    slots: Arc<Semaphore>,
    in_flight: Arc<InFlight>,
    finisher: Finisher,
    wakeup: Wakeup,
    runs: Runs,
}

impl WorkerPool {
    /// Starts the workers. `listen_pool` holds the one connection wake-ups are heard on.
    pub fn start(
        settings: PoolSettings,
        context: JobContext,
        queue: fang::AsyncQueue,
        wakeup: Wakeup,
        listen_pool: PgPool,
    ) -> Self {
        let (stop, _) = watch::channel(false);
        let in_flight = Arc::new(InFlight::default());
        let (finisher, writer) = Finisher::start(
            context.pool.clone(),
            context.metrics.clone(),
            in_flight.clone(),
        );
        let background = vec![
            tokio::spawn(leases::heartbeat(
                in_flight.clone(),
                context.bookkeeping.clone(),
                settings.lease,
                context.metrics.clone(),
                stop.subscribe(),
            )),
            tokio::spawn(reap(context.pool.clone(), settings, stop.subscribe())),
            tokio::spawn(super::retention::run(
                context.pool.clone(),
                settings.retention,
                context.metrics.rows_pruned.clone(),
                stop.subscribe(),
            )),
            tokio::spawn(wakeup::listen(
                wakeup.clone(),
                listen_pool,
                stop.subscribe(),
            )),
        ];
        let bookkeeping = context.bookkeeping.clone();
        let shared = Arc::new(Shared {
            settings,
            bookkeeping: bookkeeping.clone(),
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1) as usize)),
            in_flight: in_flight.clone(),
            finisher: finisher.clone(),
            wakeup,
            runs: Runs {
                context,
                queue,
                timeout: settings.run_timeout,
                max_backoff: settings.max_backoff,
            },
        });
        let loops = (0..settings.claim_loops.max(1))
            .map(|number| tokio::spawn(supervise(number, shared.clone(), stop.subscribe())))
            .collect();
        tracing::info!(
            claim_loops = settings.claim_loops,
            concurrency = settings.concurrency,
            "execution workers started"
        );
        Self {
            stop,
            loops,
            background,
            finisher: Some((finisher, writer)),
            in_flight,
            bookkeeping: Some(bookkeeping),
        }
    }

    /// A pool without workers, for processes that only serve HTTP.
    pub fn none() -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            stop,
            loops: Vec::new(),
            background: Vec::new(),
            finisher: None,
            in_flight: Arc::default(),
            bookkeeping: None,
        }
    }

    /// Stops claiming and lets the runs in flight finish, waiting at most `grace`; runs still
    /// going then are aborted and, once they have stopped, their tasks are handed back to the
    /// queue at once (not left for the reaper's lease).
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let started = tokio::time::Instant::now();
        for handle in self.loops.drain(..) {
            let _ = handle.await;
        }
        while self.in_flight.len() > 0 && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let unfinished = self.in_flight.abort(&self.in_flight.leases());
        if !unfinished.is_empty() {
            tracing::warn!(
                unfinished = unfinished.len(),
                "runs did not finish within the grace period; aborting them"
            );
            if !leases::wait_ended(&unfinished, Duration::from_secs(5)).await {
                tracing::error!(
                    "an aborted run did not stop; its task is left for the reaper's lease"
                );
            }
        }
        // Outcomes of the runs that finished are written before the rest is handed back.
        if let Some((finisher, writer)) = self.finisher.take() {
            drop(finisher);
            if tokio::time::timeout(Duration::from_secs(5), writer)
                .await
                .is_err()
            {
                tracing::error!(
                    "outcomes not written within 5 s; their tasks run again after the lease"
                );
            }
        }
        for handle in self.background.drain(..) {
            handle.abort();
        }
        let stopped: Vec<Lease> = unfinished
            .iter()
            .filter(|(_, abort)| {
                abort
                    .as_ref()
                    .is_none_or(tokio::task::AbortHandle::is_finished)
            })
            .map(|(lease, _)| *lease)
            .collect();
        if let (Some(pool), false) = (&self.bookkeeping, stopped.is_empty()) {
            match db::tasks::release(pool, &stopped).await {
                Ok(released) => {
                    tracing::info!(released, "unfinished executions handed back to the queue")
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot release tasks; the reaper will after the lease")
                }
            }
        }
    }
}

/// Restarts a claim loop whenever it ends (a panic) until stopped.
async fn supervise(number: u32, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut restarts: u32 = 0;
    loop {
        let outcome = tokio::spawn(claim_loop(number, shared.clone(), stop.clone())).await;
        if *stop.borrow() {
            return;
        }
        restarts += 1;
        match outcome {
            Ok(()) => tracing::error!(worker = number, restarts, "claim loop ended; restarting"),
            Err(err) => {
                tracing::error!(worker = number, restarts, error = %err, "claim loop died; restarting")
            }
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(restarts.min(50)))).await;
    }
}

async fn claim_loop(number: u32, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let metrics = shared.runs.context.metrics.clone();
    metrics.workers_running.inc();
    // Decrements however the loop ends, a panic included.
    struct Alive(Arc<crate::metrics::Metrics>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.workers_running.dec();
        }
    }
    let _alive = Alive(metrics);
    let settings = shared.settings;
    let mut after_lane = Uuid::nil();
    let mut errors: u32 = 0;
    while !*stop.borrow() {
        // Wait for a free slot, then take every free slot up to a batch.
        let first = tokio::select! {
            permit = shared.slots.clone().acquire_owned() => permit.expect("never closed"),
            _ = stop.changed() => break,
        };
        let mut permits = vec![first];
        while permits.len() < settings.batch_size.max(1) as usize {
            match shared.slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        // Registered before the claim, so a wake-up during the claim is not missed.
        let woken = shared.wakeup.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();

        let token = Uuid::new_v4();
        match db::tasks::claim(
            &shared.bookkeeping,
            TASK_TYPE,
            token,
            after_lane,
            permits.len() as u32,
        )
        .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                errors = 0;
                after_lane = claimed.last().map_or(after_lane, |task| task.lane_id);
                for (task, permit) in claimed.into_iter().zip(permits.drain(..)) {
                    start_run(&shared, task, token, permit);
                }
                continue;
            }
            Ok(_) => errors = 0,
            Err(err) => {
                errors = errors.saturating_add(1);
                tracing::warn!(worker = number, error = %err, "cannot claim tasks");
            }
        }
        drop(permits);
        // Idle: wait for a wake-up; back off while the database is failing.
        let pause = settings.poll_interval * errors.clamp(1, 25);
        tokio::select! {
            _ = &mut woken, if errors == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

fn start_run(
    shared: &Arc<Shared>,
    task: db::tasks::Claimed,
    token: Uuid,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let lease = Lease {
        task_id: task.id,
        token,
    };
    let execution_id = task.execution_id;
    shared.in_flight.insert(lease);
    let span = tracing::info_span!("job", task_id = %task.id, execution_id = ?execution_id);
    let run_shared = shared.clone();
    let handle = tokio::spawn(
        async move {
            let _permit = permit;
            let (outcome, attempt) = run_shared.runs.run(task).await;
            run_shared
                .finisher
                .send(Finished {
                    lease,
                    execution_id,
                    attempt,
                    outcome,
                })
                .await;
            // The finisher takes the lease out of `in_flight` once the outcome is written.
        }
        .instrument(span),
    );
    shared.in_flight.set_abort(lease, handle.abort_handle());
}

/// Runs the reaper every `reaper_interval` until stopped.
async fn reap(pool: PgPool, settings: PoolSettings, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(err) = super::reaper::repair(&pool, settings.lease).await {
            tracing::warn!(error = %err, "reaper pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.reaper_interval) => {}
            _ = stop.changed() => return,
        }
    }
}
