//! Background executions on fang's Postgres queue (`fang_tasks`, typetag JSON tasks).
//!
//! fang provides the task format (`AsyncRunnable`) and the table. How tasks are claimed,
//! run and finished is ours, because a busy queue needs what fang's worker lacks (see
//! `docs/architecture.md`, "The queue"):
//! - batches: one statement claims up to `workers.batch_size` tasks and starts their
//!   executions; finished runs are recorded in batches (`finisher`);
//! - fencing: each claim carries a lease token that every later update must present, so a
//!   worker that lost its lease writes nothing and stops its run (`leases`);
//! - concurrency: up to `workers.concurrency` runs per process, none holding a connection;
//! - fairness: claims go round-robin across lanes (tenants), not FIFO over the whole table;
//! - wake-up: a NOTIFY after each enqueue wakes idle workers (`wakeup`); polling is the
//!   fallback;
//! - repairs fang does not do: a reaper hands out tasks of dead workers (`reaper`);
//! - a task-local [`JobContext`] gives fang tasks the database (they are rebuilt from JSON
//!   and cannot carry state).
//!
//! `jobs/` decides what a task is and when it runs; every statement on the queue's tables
//! is in `db::tasks` (and the enqueue in `db::executions::insert_queued`).

mod context;
pub mod execute;
mod finisher;
mod leases;
pub mod notify;
pub mod probe;
pub mod reaper;
pub mod retention;
mod run;
pub mod runner;
pub mod wakeup;
mod worker;

pub use context::{context, JobContext};
pub use wakeup::Wakeup;
pub use worker::{PoolSettings, WorkerPool};

/// The fang task type our workers claim.
pub const TASK_TYPE: &str = "agent_webhooks";

/// A task's stored form: the typetag JSON fang writes into `fang_tasks.metadata`.
pub fn task_metadata(task: &dyn fang::AsyncRunnable) -> serde_json::Value {
    serde_json::to_value(task).expect("our tasks carry only uuids")
}

/// fang's queue handle, which fang tasks other than executions receive in `run` (they may
/// enqueue through it). It opens a pool of its own (fang cannot share ours) of one connection.
pub async fn connect_queue(database_url: &str) -> anyhow::Result<fang::AsyncQueue> {
    let mut queue = fang::AsyncQueue::builder()
        .uri(crate::db::bookkeeping_url(database_url))
        .max_pool_size(1_u32)
        .build();
    queue
        .connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect the job queue: {err}"))?;
    Ok(queue)
}
