use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::extract::FromRef;
use governor::{
    clock::{Clock, DefaultClock},
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    config::Settings,
    crypto::keyring::MasterKeyring,
    metrics::Metrics,
    runtimes::outbound::Outbound,
    services::{
        execution_writer::ExecutionWriter, notifications::SignatureAlarm, request_log::RequestLog,
        webhook_targets::TargetCache, Actor,
    },
};

/// Shared by every axum handler and, through Leptos context, every server function.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub keyring: Arc<MasterKeyring>,
    pub limits: Arc<Limits>,
    /// Agents' webhook targets (decrypted secrets, compiled schema), see `webhook_targets`.
    pub targets: Arc<TargetCache>,
    /// Records accepted webhooks in group commits.
    pub executions: ExecutionWriter,
    /// Writes the request log off the request path.
    pub request_log: RequestLog,
    pub metrics: Arc<Metrics>,
    /// The one outbound HTTP client (runtimes, notifications), with the SSRF rules.
    pub outbound: Arc<Outbound>,
    /// Workers running in this process (0 when they run elsewhere).
    pub workers: WorkerCount,
}

#[derive(Clone, Copy, Debug)]
pub struct WorkerCount(pub u32);

/// In-process token buckets (GCRA: a full bucket allows the whole quota as a burst, then
/// refills evenly). Each server process keeps its own.
pub struct Limits {
    reveals: DefaultKeyedRateLimiter<Actor>,
    /// Sign-in attempts per client address, then per account (email as typed, known or not).
    logins_by_ip: DefaultKeyedRateLimiter<String>,
    logins_by_account: DefaultKeyedRateLimiter<String>,
    /// Password hashes computed at once: each takes 19 MiB and tens of ms of a core.
    pub password_hashes: tokio::sync::Semaphore,
    /// Per agent, with the agent's own quota (rebuilt when the quota changes).
    webhooks: Mutex<HashMap<Uuid, (u32, Arc<DefaultDirectRateLimiter>)>>,
    /// Per agent: how many failed verifications get an audit entry and a warning.
    failure_reports: DefaultKeyedRateLimiter<Uuid>,
    /// Counts invalid signatures per agent for `webhook.signature_failures` events.
    pub signature_alarm: SignatureAlarm,
    /// Per agent: refused requests that get a request log entry
    /// (`webhooks.request_log_refusals_per_second`): a flood of bad requests to one agent
    /// costs a bounded share of the log's writes and cannot crowd out other agents' entries.
    logged_refusals: DefaultKeyedRateLimiter<Uuid>,
}

/// Audit entries and warnings for failed verifications, per agent and minute.
const FAILURE_REPORTS_PER_MINUTE: NonZeroU32 = NonZeroU32::new(10).unwrap();

/// Keys a keyed limiter keeps before it forgets the ones whose bucket is full again: bounds
/// the memory a flood of made-up emails or addresses can take.
const MAX_TRACKED_KEYS: usize = 100_000;

fn per_minute(quota: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(quota).unwrap_or(NonZeroU32::MIN))
}

/// Takes one token from `key`'s bucket, or says how long to wait.
fn take_keyed<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Duration>
where
    K: Clone + std::hash::Hash + Eq,
{
    if limiter.len() > MAX_TRACKED_KEYS {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let security = &settings.security;
        Self {
            reveals: RateLimiter::keyed(per_minute(security.reveal_limit_per_minute)),
            logins_by_ip: RateLimiter::keyed(per_minute(security.login_attempts_per_minute_per_ip)),
            logins_by_account: RateLimiter::keyed(per_minute(
                security.login_attempts_per_minute_per_account,
            )),
            password_hashes: tokio::sync::Semaphore::new(security.max_concurrent_password_hashes),
            webhooks: Mutex::new(HashMap::new()),
            failure_reports: RateLimiter::keyed(Quota::per_minute(FAILURE_REPORTS_PER_MINUTE)),
            signature_alarm: SignatureAlarm::new(settings.alerts.signature_failures_threshold),
            logged_refusals: RateLimiter::keyed(Quota::per_second(
                NonZeroU32::new(settings.webhooks.request_log_refusals_per_second)
                    .unwrap_or(NonZeroU32::MIN),
            )),
        }
    }

    /// Takes one webhook from the agent's bucket of `per_minute`, or says how long to wait.
    pub fn take_webhook(&self, agent_id: Uuid, per_minute: u32) -> Result<(), Duration> {
        let Some(quota) = NonZeroU32::new(per_minute) else {
            return Ok(());
        };
        let limiter = {
            let mut buckets = self
                .webhooks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let bucket = buckets.entry(agent_id).or_insert_with(|| {
                (
                    per_minute,
                    Arc::new(RateLimiter::direct(Quota::per_minute(quota))),
                )
            });
            if bucket.0 != per_minute {
                *bucket = (
                    per_minute,
                    Arc::new(RateLimiter::direct(Quota::per_minute(quota))),
                );
            }
            bucket.1.clone()
        };
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Whether this failed verification may be audited and logged: a flood is summarized by
    /// the entries that got through instead of one row per request.
    pub fn may_report_failure(&self, agent_id: Uuid) -> bool {
        self.failure_reports.check_key(&agent_id).is_ok()
    }

    /// Whether this refused request to the agent may get a request log entry.
    pub fn may_log_refusal(&self, agent_id: Uuid) -> bool {
        // Keyed by existing agents only (unknown ids are not logged), so the keys are
        // bounded without `take_keyed`'s pruning, whose count walks every shard.
        self.logged_refusals.check_key(&agent_id).is_ok()
    }

    /// Takes one secret reveal from the actor's bucket, or says how long to wait.
    pub fn take_reveal(&self, actor: Actor) -> Result<(), Duration> {
        take_keyed(&self.reveals, &actor)
    }

    /// Takes one sign-in attempt from the client address's bucket, then from the account's;
    /// called before any password is hashed. An address over its limit does not spend the
    /// account's tokens.
    pub fn take_login(&self, source_ip: Option<&str>, email: &str) -> Result<(), Duration> {
        take_keyed(
            &self.logins_by_ip,
            &source_ip.unwrap_or("unknown").to_owned(),
        )?;
        take_keyed(&self.logins_by_account, &email.to_owned())
    }
}
