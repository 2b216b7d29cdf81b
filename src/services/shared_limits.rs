//! Limits that hold across every process sharing the database: accepted webhooks per agent,
//! secret reveals per actor and sign-in attempts per client address and per account. With N
//! web processes behind a load balancer, an in-process bucket would allow N times the quota;
//! these buckets live in PostgreSQL (`db::rate_limits`), exact across processes.
//!
//! Reveals and sign-ins guard admin actions that already cost a database round trip, so
//! they take their token in a statement of their own. The webhook route must not pay a round
//! trip per request: its tokens are taken by the group commit (`execution_writer`), one
//! statement per batch for all of the batch's agents (`take_webhooks`), and a busy agent's
//! batch takes a few more ahead for the batches of the next tenth of a second
//! (`token_leases`, which states the bound that costs). There is no in-process bucket in
//! front: it would spend tokens on requests the shared bucket never sees (a failed commit, a
//! client that hung up), and then refuse, for up to a minute, what the shared bucket grants;
//! a flood over the limit costs a share of one statement per batch.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    db,
    services::{
        token_leases::{Plan, TokenLeases},
        Actor,
    },
    state::AppState,
};

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

/// What a batch's request gets from its agent's limit.
#[derive(Debug, Clone)]
pub enum Admission {
    /// It has a token (or its agent is not limited).
    Admitted,
    /// Over the limit: a token is free after this long.
    Refused(Duration),
    /// The statement taking its token failed.
    Failed(Arc<sqlx::Error>),
}

/// Takes the webhook tokens of a batch: `requests[i]` is the agent and its quota per minute
/// of the batch's i-th request (`None`: not limited). The answer is in the same order.
/// Each agent's first requests in the batch get its tokens: first those the process has
/// taken ahead (`leases`), then those of the one statement for the agents still short.
pub async fn take_webhooks(
    pool: &sqlx::PgPool,
    leases: &TokenLeases,
    requests: &[Option<(Uuid, u32)>],
) -> Vec<Admission> {
    let mut wanted: BTreeMap<Uuid, (u32, u32)> = BTreeMap::new();
    for &(agent_id, per_minute) in requests.iter().flatten() {
        wanted.entry(agent_id).or_insert((per_minute, 0)).1 += 1;
    }
    // Before the statement: a lease must not outlive its tokens' time in the bucket.
    let asked_at = Instant::now();
    let plans: BTreeMap<Uuid, Plan> = wanted
        .iter()
        .map(|(&agent_id, &(per_minute, count))| {
            (agent_id, leases.plan(agent_id, per_minute, count, asked_at))
        })
        .collect();
    // Sorted by key: concurrent batches lock the buckets in the same order.
    let mut asking: Vec<(String, Uuid)> = plans
        .iter()
        .filter(|(_, plan)| plan.ask() > 0)
        .map(|(&agent_id, _)| (webhook_key(agent_id), agent_id))
        .collect();
    asking.sort();
    let wants: Vec<db::rate_limits::Want<'_>> = asking
        .iter()
        .map(|(key, agent_id)| db::rate_limits::Want {
            key,
            interval: WINDOW / wanted[agent_id].0.max(1),
            count: plans[agent_id].ask(),
        })
        .collect();
    let taken = if wants.is_empty() {
        Ok(Vec::new())
    } else {
        db::rate_limits::take_many(pool, &wants, WINDOW)
            .await
            .map_err(Arc::new)
    };
    // Per agent: how many of its requests go ahead, and the answer for the others.
    let mut left: BTreeMap<Uuid, (u32, Admission)> = plans
        .iter()
        .map(|(&agent_id, plan)| (agent_id, (plan.leased, Admission::Admitted)))
        .collect();
    for (index, (_, agent_id)) in asking.iter().enumerate() {
        // Every plan that asked is settled, granted or not.
        let (granted, otherwise) = match &taken {
            Ok(grants) => (
                grants[index].granted,
                Admission::Refused(grants[index].wait),
            ),
            Err(err) => (0, Admission::Failed(err.clone())),
        };
        let per_minute = wanted[agent_id].0;
        let admitted = leases.settle(*agent_id, per_minute, &plans[agent_id], granted, asked_at);
        let entry = left.get_mut(agent_id).expect("a plan per agent");
        *entry = (entry.0 + admitted, otherwise);
    }
    requests
        .iter()
        .map(|request| {
            let Some((agent_id, _)) = request else {
                return Admission::Admitted;
            };
            let (tokens, otherwise) = left.get_mut(agent_id).expect("a plan per agent");
            if *tokens == 0 {
                return otherwise.clone();
            }
            *tokens -= 1;
            Admission::Admitted
        })
        .collect()
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
