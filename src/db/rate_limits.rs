//! `rate_limits`: token buckets shared by every process on the database, as GCRA (the
//! generic cell rate algorithm): a bucket is one timestamp, the *theoretical arrival time*
//! `tat`. Taking a token moves it `interval` (a minute / quota) into the future, from now or
//! from where it was, whichever is later; the take is refused when that would put it more
//! than `window` (a minute) ahead. So a full bucket allows the whole quota as a burst and
//! then refills evenly, exactly like the in-process buckets, and one statement both checks
//! and takes, atomically under the row's lock.

use std::time::Duration;

use sqlx::PgExecutor;

/// Takes one token from `key`'s bucket, or says how long until one is free.
pub async fn take(
    db: impl PgExecutor<'_> + Copy,
    key: &str,
    interval: Duration,
    window: Duration,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let (interval, window) = (interval.as_secs_f64(), window.as_secs_f64());
    let taken: Option<i32> = sqlx::query_scalar(
        "insert into rate_limits as r (key, tat)
         values ($1, now() + make_interval(secs => $2))
         on conflict (key) do update
             set tat = greatest(r.tat, now()) + make_interval(secs => $2)
             where greatest(r.tat, now()) + make_interval(secs => $2)
                   <= now() + make_interval(secs => $3)
         returning 1",
    )
    .bind(key)
    .bind(interval)
    .bind(window)
    .fetch_optional(db)
    .await?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    // Refused: a token is free once the bucket's time is back within the window.
    let wait: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from tat - now())::float8 + $2 - $3 from rate_limits where key = $1",
    )
    .bind(key)
    .bind(interval)
    .bind(window)
    .fetch_optional(db)
    .await?;
    Ok(Err(Duration::from_secs_f64(
        wait.unwrap_or(interval).max(0.0),
    )))
}

/// Deletes full buckets (whose time has passed): they hold no state.
pub async fn prune(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("delete from rate_limits where tat < now()")
        .execute(db)
        .await?
        .rows_affected())
}
