use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;

use crate::config::Settings;

/// Shared by every axum handler and, through Leptos context, every server function.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    /// Workers running in this process (0 when they run elsewhere).
    pub workers: WorkerCount,
}

#[derive(Clone, Copy, Debug)]
pub struct WorkerCount(pub u32);
