//! Background executions on fang's Postgres queue.
//!
//! fang provides the task format (`AsyncRunnable`, stored as typetag JSON in `fang_tasks`)
//! and the queue bookkeeping (retry scheduling, failing, removing). Three things it lacks
//! we add here, see `docs/architecture.md`:
//! - tasks are rebuilt from JSON and cannot carry state, so the worker runs each task inside
//!   a task-local [`JobContext`] (the one documented place where tasks reach the database);
//! - its fetch is not atomic, so we claim tasks with one `update ... skip locked`;
//! - its pool does not restart a worker whose loop ends, so ours is supervised;
//! - a task whose worker died stays `in_progress` forever, so running tasks send heartbeats
//!   and a reaper hands out tasks whose heartbeat stopped (see `reaper`).

mod context;
pub mod execute;
pub mod probe;
pub mod reaper;
pub mod runner;
mod worker;

pub use context::{context, JobContext};
pub use worker::{WorkerPool, WorkerTiming};

/// The fang task type our workers poll for.
pub const TASK_TYPE: &str = "agent_webhooks";

/// Connects fang's queue, which opens a small pool of its own (fang cannot share ours), with
/// asynchronous commits: fang only does bookkeeping (see `db::connect_bookkeeping`).
pub async fn connect_queue(
    database_url: &str,
    max_connections: u32,
) -> anyhow::Result<fang::AsyncQueue> {
    let mut queue = fang::AsyncQueue::builder()
        .uri(crate::db::bookkeeping_url(database_url))
        .max_pool_size(max_connections)
        .build();
    queue
        .connect()
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect the job queue: {err}"))?;
    Ok(queue)
}
