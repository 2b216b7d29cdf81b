use std::time::Duration;

use fang::{AsyncQueue, AsyncQueueable, AsyncRunnable, FangError, Task};
use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument;

use super::{context, JobContext, TASK_TYPE};
use crate::db;

/// A fixed number of supervised workers and a reaper. Dropping it does not stop them:
/// call `shutdown`.
pub struct WorkerPool {
    supervisors: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    in_flight: InFlight,
    pool: Option<sqlx::PgPool>,
}

/// Tasks this process is running right now, to hand back if it stops before they finish.
type InFlight = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>>;

#[derive(Debug, Clone, Copy)]
pub struct WorkerTiming {
    /// Idle polling interval.
    pub poll_interval: Duration,
    /// A running task without a heartbeat for this long is considered abandoned.
    pub lease: Duration,
    pub reaper_interval: Duration,
    /// Upper bound of the delay before a failed task's retry.
    pub max_backoff_seconds: u32,
}

#[derive(Clone)]
struct Worker {
    number: u32,
    context: JobContext,
    queue: AsyncQueue,
    timing: WorkerTiming,
    in_flight: InFlight,
}

impl WorkerPool {
    pub fn start(count: u32, context: JobContext, queue: AsyncQueue, timing: WorkerTiming) -> Self {
        let (stop, _) = watch::channel(false);
        let in_flight = InFlight::default();
        let mut supervisors: Vec<JoinHandle<()>> = (0..count)
            .map(|number| {
                let worker = Worker {
                    number,
                    context: context.clone(),
                    queue: queue.clone(),
                    timing,
                    in_flight: in_flight.clone(),
                };
                tokio::spawn(supervise(worker, stop.subscribe()))
            })
            .collect();
        supervisors.push(tokio::spawn(reap(
            context.pool.clone(),
            timing,
            stop.subscribe(),
        )));
        tracing::info!(workers = count, "execution workers started");
        Self {
            supervisors,
            stop,
            in_flight,
            pool: Some(context.pool),
        }
    }

    /// A pool without workers, for processes that only serve HTTP.
    pub fn none() -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            supervisors: Vec::new(),
            stop,
            in_flight: InFlight::default(),
            pool: None,
        }
    }

    /// Lets every worker finish the task in hand, waiting at most `grace`; what is still
    /// running then is handed back to the queue at once (not left for the reaper's lease).
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let aborts: Vec<_> = self
            .supervisors
            .iter()
            .map(JoinHandle::abort_handle)
            .collect();
        let all = wait_for_all(self.supervisors);
        if tokio::time::timeout(grace, all).await.is_ok() {
            return;
        }
        aborts.iter().for_each(tokio::task::AbortHandle::abort);
        let unfinished: Vec<uuid::Uuid> = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .collect();
        tracing::warn!(
            unfinished = unfinished.len(),
            "workers did not stop within the grace period; releasing their tasks"
        );
        if let (Some(pool), false) = (&self.pool, unfinished.is_empty()) {
            match db::tasks::release(pool, &unfinished).await {
                Ok(released) => {
                    tracing::info!(released, "running executions handed back to the queue")
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot release tasks; the reaper will after the lease")
                }
            }
        }
    }
}

async fn wait_for_all(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}

/// Runs the reaper every `reaper_interval` until stopped.
async fn reap(pool: sqlx::PgPool, timing: WorkerTiming, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if let Err(err) = super::reaper::repair(&pool, timing.lease).await {
            tracing::warn!(error = %err, "reaper pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(timing.reaper_interval) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Restarts the worker whenever its loop ends (a panic outside a task) until stopped.
async fn supervise(worker: Worker, stop: watch::Receiver<bool>) {
    let mut restarts: u32 = 0;
    loop {
        let outcome = tokio::spawn(worker.clone().run(stop.clone())).await;
        if *stop.borrow() {
            return;
        }
        restarts += 1;
        match outcome {
            Ok(()) => tracing::error!(
                worker = worker.number,
                restarts,
                "worker loop ended; restarting"
            ),
            Err(err) => {
                tracing::error!(worker = worker.number, restarts, error = %err, "worker died; restarting")
            }
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(restarts.min(50)))).await;
    }
}

impl Worker {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let metrics = self.context.metrics.clone();
        metrics.workers_running.inc();
        // Decrements however the loop ends, a panic included.
        struct Alive(std::sync::Arc<crate::metrics::Metrics>);
        impl Drop for Alive {
            fn drop(&mut self) {
                self.0.workers_running.dec();
            }
        }
        let _alive = Alive(metrics);
        let mut idle_errors: u32 = 0;
        while !*stop.borrow() {
            match db::tasks::claim_next(&self.context.bookkeeping, TASK_TYPE).await {
                Ok(Some(task)) => {
                    idle_errors = 0;
                    let span = tracing::info_span!("job", worker = self.number, task_id = %task.id);
                    let task_id = task.id;
                    self.track(task_id, true);
                    self.execute(task).instrument(span).await;
                    self.track(task_id, false);
                    continue;
                }
                Ok(None) => idle_errors = 0,
                Err(err) => {
                    idle_errors = idle_errors.saturating_add(1);
                    tracing::warn!(worker = self.number, error = %err, "cannot claim a task");
                }
            }
            // Back off while the database is failing; poll quickly while it is merely idle.
            let pause = self.timing.poll_interval * idle_errors.clamp(1, 25);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn execute(&self, task: Task) {
        let runnable: Box<dyn AsyncRunnable> = match serde_json::from_value(task.metadata.clone()) {
            Ok(runnable) => runnable,
            Err(err) => {
                tracing::error!(error = %err, "task metadata is not a known task; failing it");
                self.record(
                    self.queue
                        .fail_task(&task, &format!("unknown task: {err}"))
                        .await,
                );
                return;
            }
        };
        // Read the retry policy first: a task that panics is not handed back.
        let max_retries = runnable.max_retries();
        let backoff = runnable
            .backoff(task.retries.max(0) as u32)
            .min(self.timing.max_backoff_seconds);
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            outcome = self.run_isolated(runnable) => outcome,
            never = self.heartbeat(task.id) => match never {},
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(()) => {
                tracing::debug!(elapsed_ms, "task finished");
                self.record(self.queue.remove_task(&task.id).await);
            }
            Err(err) if task.retries < max_retries => {
                tracing::warn!(elapsed_ms, retries = task.retries, backoff, error = %err.description, "task failed; retrying");
                self.record(
                    self.queue
                        .schedule_retry(&task, backoff, &err.description)
                        .await,
                );
            }
            Err(err) => {
                tracing::error!(elapsed_ms, retries = task.retries, error = %err.description, "task failed; giving up");
                self.record(self.queue.fail_task(&task, &err.description).await);
            }
        }
    }

    /// Runs the task on its own tokio task so that a panic fails this task instead of
    /// killing the worker.
    async fn run_isolated(&self, runnable: Box<dyn AsyncRunnable>) -> Result<(), FangError> {
        let queue = self.queue.clone();
        let handle = tokio::spawn(
            context::scope(self.context.clone(), async move {
                runnable.run(&queue as &dyn AsyncQueueable).await
            })
            .in_current_span(),
        );
        handle.await.unwrap_or_else(|err| {
            Err(FangError {
                description: format!("task panicked: {err}"),
            })
        })
    }

    fn track(&self, task_id: uuid::Uuid, running: bool) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if running {
            in_flight.insert(task_id);
        } else {
            in_flight.remove(&task_id);
        }
    }

    /// Keeps the task's `updated_at` fresh while it runs, so the reaper leaves it alone.
    async fn heartbeat(&self, task_id: uuid::Uuid) -> std::convert::Infallible {
        let mut ticks = tokio::time::interval(self.timing.lease / 3);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(err) = db::tasks::touch(&self.context.bookkeeping, task_id).await {
                tracing::warn!(error = %err, "cannot renew the task's lease");
            }
        }
    }

    fn record<T>(&self, result: Result<T, fang::AsyncQueueError>) {
        if let Err(err) = result {
            // The task stays `in_progress`; the stale-task reaper hands it out again.
            tracing::error!(error = %err, "cannot update the task's queue state");
        }
    }
}
