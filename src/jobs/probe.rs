//! A queue probe: a task whose only effect is to mark its `queue_probes` row completed.
//! It lets tests and operators prove that enqueued work is picked up by a worker.

use fang::{async_trait, typetag, AsyncQueueable, AsyncRunnable, FangError};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;

#[derive(Debug, Serialize, Deserialize)]
pub struct QueueProbe {
    pub probe_id: Uuid,
}

#[typetag::serde]
#[async_trait]
impl AsyncRunnable for QueueProbe {
    async fn run(&self, _queue: &dyn AsyncQueueable) -> Result<(), FangError> {
        let context = super::context()?;
        db::queue_probes::mark_completed(&context.pool, self.probe_id)
            .await
            .map_err(|err| FangError {
                description: format!("cannot record probe: {err}"),
            })
    }

    fn task_type(&self) -> String {
        super::TASK_TYPE.into()
    }

    fn max_retries(&self) -> i32 {
        3
    }
}

/// Records a probe and enqueues its task in one transaction; returns the probe id.
pub async fn enqueue(pool: &PgPool) -> Result<Uuid, sqlx::Error> {
    let probe_id = Uuid::new_v4();
    let task = super::task_metadata(&QueueProbe { probe_id });
    let mut tx = pool.begin().await?;
    db::queue_probes::insert(&mut *tx, probe_id).await?;
    db::tasks::insert_many(&mut *tx, &[task], super::TASK_TYPE).await?;
    tx.commit().await?;
    Ok(probe_id)
}
