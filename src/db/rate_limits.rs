//! `rate_limits`: token buckets shared by every process on the database, as GCRA (the
//! generic cell rate algorithm): a bucket is one timestamp, the *theoretical arrival time*
//! `tat`. Taking a token moves it `interval` (a minute / quota) into the future, from now or
//! from where it was, whichever is later; a token is refused when that would put it more
//! than `window` (a minute) ahead. So a full bucket allows the whole quota as a burst and
//! then refills evenly, exactly like the in-process buckets. The SQL function
//! `take_rate_tokens` (migration 13) takes from several buckets in one round trip, each under
//! its row's lock.

use std::time::Duration;

use sqlx::PgExecutor;

/// Tokens wanted from one bucket.
pub struct Want<'a> {
    pub key: &'a str,
    /// A minute / the quota per minute.
    pub interval: Duration,
    pub count: u32,
}

/// What a bucket gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant {
    /// At most the count wanted; the first `granted` requests may go ahead.
    pub granted: u32,
    /// How long until the bucket has a token again after those.
    pub wait: Duration,
}

/// Takes tokens from each bucket, in one statement; the grants are in `wants`' order.
/// `wants` should not repeat a key and should be sorted by key, so that concurrent callers
/// lock the buckets in the same order.
pub async fn take_many(
    db: impl PgExecutor<'_>,
    wants: &[Want<'_>],
    window: Duration,
) -> Result<Vec<Grant>, sqlx::Error> {
    let keys: Vec<&str> = wants.iter().map(|want| want.key).collect();
    let intervals: Vec<f64> = wants.iter().map(|w| w.interval.as_secs_f64()).collect();
    let counts: Vec<i32> = wants
        .iter()
        .map(|want| want.count.min(i32::MAX as u32) as i32)
        .collect();
    let rows: Vec<(i32, f64)> =
        sqlx::query_as("select granted, wait_seconds from take_rate_tokens($1, $2, $3, $4)")
            .bind(&keys)
            .bind(&intervals)
            .bind(&counts)
            .bind(window.as_secs_f64())
            .fetch_all(db)
            .await?;
    if rows.len() != wants.len() {
        return Err(sqlx::Error::RowNotFound);
    }
    Ok(rows
        .into_iter()
        .map(|(granted, wait)| Grant {
            granted: granted.max(0) as u32,
            wait: Duration::from_secs_f64(wait.max(0.0)),
        })
        .collect())
}

/// Takes one token from `key`'s bucket, or says how long until one is free.
pub async fn take(
    db: impl PgExecutor<'_>,
    key: &str,
    interval: Duration,
    window: Duration,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let want = Want {
        key,
        interval,
        count: 1,
    };
    let grant = take_many(db, std::slice::from_ref(&want), window).await?[0];
    Ok(if grant.granted == 1 {
        Ok(())
    } else {
        Err(grant.wait)
    })
}

/// Deletes full buckets (whose time has passed): they hold no state. Skips buckets being
/// taken from: waiting for them while holding others could deadlock with a take that locks
/// several buckets in key order.
pub async fn prune(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "delete from rate_limits where key in
             (select key from rate_limits where tat < now() for update skip locked)",
    )
    .execute(db)
    .await?
    .rows_affected())
}
