//! Limits that hold across every process sharing the database: secret reveals per actor and
//! sign-in attempts per client address and per account. With N web processes behind a load
//! balancer, an in-process bucket would allow N times the quota; these buckets live in
//! PostgreSQL (`db::rate_limits`), one statement per take, exact across processes. They
//! guard admin actions that already cost a database round trip, so the extra one is noise;
//! the webhook route's per-agent limit stays in process (see `state::Limits`).

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{db, services::Actor, state::AppState};

/// Every quota here is per minute: a full bucket allows it as a burst.
const WINDOW: Duration = Duration::from_secs(60);

async fn take(
    state: &AppState,
    key: &str,
    per_minute: u32,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let interval = WINDOW / per_minute.max(1);
    db::rate_limits::take(&state.pool, key, interval, WINDOW).await
}

/// Takes one secret reveal from the actor's bucket (shared by every secret), or says how
/// long to wait.
pub async fn take_reveal(
    state: &AppState,
    actor: Actor,
) -> Result<Result<(), Duration>, sqlx::Error> {
    take(
        state,
        &format!("reveal:{actor}"),
        state.settings.security.reveal_limit_per_minute,
    )
    .await
}

/// Takes one sign-in attempt from the client address's bucket, then from the account's
/// (`email` normalized by the caller); called before any password is hashed. An address
/// over its limit does not spend the account's tokens.
pub async fn take_login(
    state: &AppState,
    source_ip: Option<&str>,
    email: &str,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let security = &state.settings.security;
    let ip = format!("login:ip:{}", source_ip.unwrap_or("unknown"));
    if let Err(wait) = take(state, &ip, security.login_attempts_per_minute_per_ip).await? {
        return Ok(Err(wait));
    }
    // The email's digest: a fixed-size key whatever was typed (the body may be a megabyte),
    // and no addresses in the table.
    let account = format!(
        "login:account:{}",
        hex::encode(Sha256::digest(email.as_bytes()))
    );
    take(
        state,
        &account,
        security.login_attempts_per_minute_per_account,
    )
    .await
}
