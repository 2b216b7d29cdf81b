use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::extract::FromRef;
use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use leptos::config::LeptosOptions;
use sqlx::PgPool;

use crate::{config::Settings, crypto::keyring::MasterKeyring, services::Actor};

/// Shared by every axum handler and, through Leptos context, every server function.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub keyring: Arc<MasterKeyring>,
    pub limits: Arc<Limits>,
    /// Workers running in this process (0 when they run elsewhere).
    pub workers: WorkerCount,
}

#[derive(Clone, Copy, Debug)]
pub struct WorkerCount(pub u32);

/// In-process token buckets. Each server process keeps its own.
pub struct Limits {
    reveals: DefaultKeyedRateLimiter<Actor>,
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let per_minute =
            NonZeroU32::new(settings.security.reveal_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            reveals: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// Takes one secret reveal from the actor's bucket, or says how long to wait.
    pub fn take_reveal(&self, actor: Actor) -> Result<(), Duration> {
        self.reveals
            .check_key(&actor)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
