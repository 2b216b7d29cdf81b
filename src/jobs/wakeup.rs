//! Wakes idle claim loops when work is enqueued, so a webhook's execution starts within
//! milliseconds instead of at the next poll.
//!
//! - In the process that enqueued, the group-commit writer wakes the local loops directly.
//! - Other processes hear it through PostgreSQL: `NOTIFY agent_webhooks_jobs` after the
//!   commit, from a small task that coalesces the signals (at most one NOTIFY per
//!   [`MIN_NOTIFY_INTERVAL`]: under load the loops are busy anyway, and each NOTIFY costs a
//!   round trip and PostgreSQL's global notification lock).
//! - Every process with workers LISTENs on one connection of its own and wakes its loops.
//!
//! Polling (`workers.poll_interval_ms`) stays as the fallback for everything this misses: a
//! LISTEN connection that is down, and retries whose backoff ends.

use std::{sync::Arc, time::Duration};

use sqlx::{postgres::PgListener, PgPool};
use tokio::sync::{futures::Notified, watch, Notify};

use crate::db;

/// The channel PostgreSQL carries wake-ups on.
pub const CHANNEL: &str = "agent_webhooks_jobs";
/// Coalescing window of the NOTIFYs one process sends.
const MIN_NOTIFY_INTERVAL: Duration = Duration::from_millis(5);

#[derive(Clone, Default)]
pub struct Wakeup {
    /// Claim loops of this process wait on this.
    local: Arc<Notify>,
    /// The NOTIFY sender waits on this (one stored permit = "send one").
    announce: Arc<Notify>,
}

impl Wakeup {
    /// Work was committed: wake this process's loops now, and the others' through NOTIFY.
    pub fn work_enqueued(&self) {
        self.local.notify_waiters();
        self.announce.notify_one();
    }

    /// Resolves at the next wake-up. Create (and `enable`) it before looking for work, so a
    /// wake-up in between is not missed.
    pub(super) fn notified(&self) -> Notified<'_> {
        self.local.notified()
    }

    fn wake_local(&self) {
        self.local.notify_waiters();
    }
}

/// Sends the NOTIFYs of `work_enqueued` until stopped (run by processes that enqueue).
pub async fn announce(wakeup: Wakeup, pool: PgPool, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = wakeup.announce.notified() => {}
            _ = stop.changed() => return,
        }
        if let Err(err) = db::notify(&pool, CHANNEL, "").await {
            // Listeners fall back to polling; nothing is lost.
            tracing::debug!(error = %err, "cannot NOTIFY the workers");
        }
        tokio::time::sleep(MIN_NOTIFY_INTERVAL).await;
    }
}

/// LISTENs for wake-ups until stopped, reconnecting with a backoff (run by processes with
/// workers). Every notification, and every (re)connection, wakes the local loops.
pub async fn listen(wakeup: Wakeup, listen_pool: PgPool, mut stop: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        let session = async {
            let mut listener = PgListener::connect_with(&listen_pool).await?;
            listener.ignore_pool_close_event(true);
            listener.listen(CHANNEL).await?;
            // Work enqueued while nobody listened is found by this wake-up.
            wakeup.wake_local();
            failures = 0;
            while listener.try_recv().await?.is_some() {
                wakeup.wake_local();
            }
            Ok::<(), sqlx::Error>(())
        };
        let outcome = tokio::select! {
            outcome = session => outcome,
            _ = stop.changed() => return,
        };
        failures = failures.saturating_add(1);
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "workers: LISTEN failed; polling until it works");
        }
        let pause = Duration::from_millis(100 * u64::from(failures.min(50)));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}
