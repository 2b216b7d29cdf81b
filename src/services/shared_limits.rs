//! Limits that hold across every process sharing the database: accepted webhooks per agent,
//! secret reveals per actor and sign-in attempts per client address and per account. With N
//! web processes behind a load balancer, an in-process bucket would allow N times the quota;
//! these buckets live in PostgreSQL (`db::rate_limits`), exact across processes.
//!
//! Reveals and sign-ins guard admin actions that already cost a database round trip, so
//! they take their token in a statement of their own. The webhook route must not pay a round
//! trip per request: its tokens are taken by the group commit (`execution_writer`), one
//! statement per batch for all of the batch's agents (`take_webhooks`). There is no
//! in-process bucket in front: it would spend tokens on requests the shared bucket never sees
//! (a failed commit, a client that hung up), and then refuse, for up to a minute, what the
//! shared bucket grants; a flood over the limit costs a share of one statement per batch.

use std::{collections::BTreeMap, time::Duration};

use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// Takes the webhook tokens of a batch: `requests[i]` is the agent and its quota per minute
/// of the batch's i-th request (`None`: not limited). The answer is in the same order: a
/// request goes ahead, or is refused with the time until its agent's bucket has a token.
/// Each agent's first requests in the batch get its tokens.
pub async fn take_webhooks(
    pool: &sqlx::PgPool,
    requests: &[Option<(Uuid, u32)>],
) -> Result<Vec<Result<(), Duration>>, sqlx::Error> {
    // Sorted by key: concurrent batches lock the buckets in the same order.
    let mut wanted: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let keys: Vec<Option<String>> = requests
        .iter()
        .map(|request| {
            request.map(|(agent_id, per_minute)| {
                let key = webhook_key(agent_id);
                let entry = wanted.entry(key.clone()).or_insert((per_minute, 0));
                entry.1 += 1;
                key
            })
        })
        .collect();
    if wanted.is_empty() {
        return Ok(requests.iter().map(|_| Ok(())).collect());
    }
    let wants: Vec<db::rate_limits::Want<'_>> = wanted
        .iter()
        .map(|(key, &(per_minute, count))| db::rate_limits::Want {
            key,
            interval: WINDOW / per_minute.max(1),
            count,
        })
        .collect();
    let grants = db::rate_limits::take_many(pool, &wants, WINDOW).await?;
    let mut left: BTreeMap<&str, db::rate_limits::Grant> = wants
        .iter()
        .zip(grants)
        .map(|(want, grant)| (want.key, grant))
        .collect();
    Ok(keys
        .iter()
        .map(|key| {
            let Some(grant) = key.as_deref().and_then(|key| left.get_mut(key)) else {
                return Ok(());
            };
            if grant.granted == 0 {
                return Err(grant.wait);
            }
            grant.granted -= 1;
            Ok(())
        })
        .collect())
}

fn webhook_key(agent_id: Uuid) -> String {
    format!("webhook:{agent_id}")
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
