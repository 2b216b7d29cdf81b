//! The runs this process has in flight, each under the lease of its claim, and the heartbeat
//! that keeps those leases.
//!
//! A lease is lost when the heartbeat's fenced update no longer matches the task (the reaper
//! handed it out after missed heartbeats, or it was released): the run is aborted at once,
//! and its outcome, should it still arrive, is refused by `db::tasks::finish`. A heartbeat
//! that cannot reach the database for a whole lease aborts every run too, because by then
//! the reaper of another process may have handed their tasks out.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::PgPool;
use tokio::{sync::watch, task::AbortHandle, time::Instant};
use uuid::Uuid;

use crate::{db, db::tasks::Lease, metrics::Metrics};

#[derive(Default)]
pub(super) struct InFlight {
    runs: Mutex<HashMap<Uuid, Run>>,
}

struct Run {
    token: Uuid,
    /// Set right after the run is spawned (it may finish before, then there is no entry).
    abort: Option<AbortHandle>,
}

impl InFlight {
    /// Registers a claimed task before its run starts.
    pub(super) fn insert(&self, lease: Lease) {
        self.lock().insert(
            lease.task_id,
            Run {
                token: lease.token,
                abort: None,
            },
        );
    }

    /// Records how to abort the run of `lease`, if it is still running.
    pub(super) fn set_abort(&self, lease: Lease, abort: AbortHandle) {
        if let Some(run) = self.lock().get_mut(&lease.task_id) {
            if run.token == lease.token {
                run.abort = Some(abort);
            }
        }
    }

    /// The run's outcome was written (held or refused): the lease needs no more renewal.
    pub(super) fn remove(&self, lease: Lease) {
        let mut runs = self.lock();
        if runs
            .get(&lease.task_id)
            .is_some_and(|run| run.token == lease.token)
        {
            runs.remove(&lease.task_id);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(super) fn leases(&self) -> Vec<Lease> {
        self.lock()
            .iter()
            .map(|(task_id, run)| Lease {
                task_id: *task_id,
                token: run.token,
            })
            .collect()
    }

    /// Aborts the runs of these leases (if they are still the current ones) and forgets
    /// them; returns the leases and the abort handles, to wait for the runs to end.
    pub(super) fn abort(&self, leases: &[Lease]) -> Vec<(Lease, Option<AbortHandle>)> {
        let mut runs = self.lock();
        let mut aborted = Vec::new();
        for lease in leases {
            if runs
                .get(&lease.task_id)
                .is_some_and(|run| run.token == lease.token)
            {
                let run = runs.remove(&lease.task_id).expect("checked above");
                if let Some(abort) = &run.abort {
                    abort.abort();
                }
                aborted.push((*lease, run.abort));
            }
        }
        aborted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Run>> {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Waits until every aborted run has ended, at most `limit`: an aborted task stops at its
/// next `.await`, which a runner blocked in synchronous code may not reach soon.
pub(super) async fn wait_ended(aborted: &[(Lease, Option<AbortHandle>)], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if aborted
            .iter()
            .all(|(_, abort)| abort.as_ref().is_none_or(AbortHandle::is_finished))
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Renews the leases of every run in flight every `lease / 3` until stopped.
pub(super) async fn heartbeat(
    in_flight: Arc<InFlight>,
    bookkeeping: PgPool,
    lease: Duration,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(lease / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewed = Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let leases = in_flight.leases();
        if leases.is_empty() {
            last_renewed = Instant::now();
            continue;
        }
        match db::tasks::heartbeat(&bookkeeping, &leases).await {
            Ok(held) => {
                last_renewed = Instant::now();
                let held: HashSet<Uuid> = held.into_iter().collect();
                let lost: Vec<Lease> = leases
                    .into_iter()
                    .filter(|lease| !held.contains(&lease.task_id))
                    .collect();
                abort_lost(&in_flight, &lost, &metrics);
            }
            Err(err) if last_renewed.elapsed() >= lease => {
                tracing::error!(error = %err, "no heartbeat for a whole lease; aborting every run (their tasks may be running elsewhere now)");
                abort_lost(&in_flight, &leases, &metrics);
            }
            Err(err) => tracing::warn!(error = %err, "cannot renew the leases; trying again"),
        }
    }
}

/// Aborts the runs of leases that are no longer this process's, and counts them.
fn abort_lost(in_flight: &InFlight, lost: &[Lease], metrics: &Metrics) {
    for (lease, _) in in_flight.abort(lost) {
        tracing::warn!(task_id = %lease.task_id, "lease lost; run aborted, its outcome will be discarded");
        metrics.execution("lease_lost");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease() -> Lease {
        Lease {
            task_id: Uuid::new_v4(),
            token: Uuid::new_v4(),
        }
    }

    #[tokio::test]
    async fn only_the_current_lease_of_a_task_can_abort_or_remove_its_run() {
        let in_flight = InFlight::default();
        let current = lease();
        in_flight.insert(current);
        let run = tokio::spawn(std::future::pending::<()>());
        in_flight.set_abort(current, run.abort_handle());

        let stale = Lease {
            token: Uuid::new_v4(),
            ..current
        };
        in_flight.remove(stale);
        assert!(in_flight.abort(&[stale]).is_empty());
        assert_eq!(in_flight.len(), 1);

        let aborted = in_flight.abort(&[current]);
        assert_eq!(aborted.len(), 1);
        assert!(wait_ended(&aborted, Duration::from_secs(1)).await);
        assert!(run.await.unwrap_err().is_cancelled());
        assert_eq!(in_flight.len(), 0);
    }
}
