use std::{num::NonZeroU32, sync::Arc};

use axum::extract::FromRef;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
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
        webhook_targets::TargetCache,
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
/// refills evenly) for what only protects this process. The limits that must hold across
/// processes (accepted webhooks, secret reveals, sign-in attempts) are
/// `services::shared_limits`.
pub struct Limits {
    /// Password hashes computed at once: each takes 19 MiB and tens of ms of a core.
    pub password_hashes: tokio::sync::Semaphore,
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

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let security = &settings.security;
        Self {
            password_hashes: tokio::sync::Semaphore::new(security.max_concurrent_password_hashes),
            failure_reports: RateLimiter::keyed(Quota::per_minute(FAILURE_REPORTS_PER_MINUTE)),
            signature_alarm: SignatureAlarm::new(settings.alerts.signature_failures_threshold),
            logged_refusals: RateLimiter::keyed(Quota::per_second(
                NonZeroU32::new(settings.webhooks.request_log_refusals_per_second)
                    .unwrap_or(NonZeroU32::MIN),
            )),
        }
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
}
