use std::sync::Arc;

use fang::FangError;
use sqlx::PgPool;

use super::runner::AgentRunner;
use crate::{crypto::keyring::MasterKeyring, metrics::Metrics, runtimes::outbound::Outbound};

/// What a running task may use. Set by the worker around every task run.
#[derive(Clone)]
pub struct JobContext {
    pub pool: PgPool,
    /// Commits without waiting for the WAL flush, for state a PostgreSQL crash may lose
    /// harmlessly (see `db::connect_bookkeeping`): claims, heartbeats, an execution's start.
    pub bookkeeping: PgPool,
    pub runner: Arc<dyn AgentRunner>,
    pub metrics: Arc<Metrics>,
    /// For tasks that send (notifications) and the keys that open their secrets.
    pub outbound: Arc<Outbound>,
    pub keyring: Arc<MasterKeyring>,
}

tokio::task_local! {
    static CONTEXT: JobContext;
}

/// The context of the task being run. Fails outside a worker (for example if fang's own
/// worker pool were used instead of ours).
pub fn context() -> Result<JobContext, FangError> {
    CONTEXT.try_with(Clone::clone).map_err(|_| FangError {
        description: "job context missing: tasks must run inside jobs::WorkerPool".into(),
    })
}

pub(super) async fn scope<F: std::future::Future>(context: JobContext, future: F) -> F::Output {
    CONTEXT.scope(context, future).await
}
