//! Builds the application (pool, migrations, workers, router, listener) and runs it.
//! `Application::build` binds the port, so tests start the real app on port 0.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{middleware, routing::get, Router};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    app::{shell, App},
    config::Settings,
    crypto::keyring::MasterKeyring,
    db,
    jobs::{self, runner::AgentRunner, JobContext, PoolSettings, Wakeup, WorkerPool},
    metrics::Metrics,
    routes,
    runtimes::{address::AddressRules, outbound::Outbound, BuiltinRunner, Runtimes},
    services::{
        self, execution_writer::ExecutionWriter, request_log::RequestLog, webhook_targets,
        webhook_targets::TargetCache,
    },
    state::{AppState, Limits, WorkerCount},
};

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    workers: WorkerPool,
    /// Stops the webhook target cache's LISTEN task.
    stop_listening: tokio::sync::watch::Sender<bool>,
    listening: tokio::task::JoinHandle<()>,
}

/// Writer tasks of the execution writer, so also commits in flight. A commit takes a few
/// hundred microseconds of Postgres time, so four keep two cores busy while batches form.
const EXECUTION_WRITERS: usize = 4;

/// The WASM bundle of the site, when `site_root` lacks it. A wrong LEPTOS_SITE_ROOT is the
/// likeliest deployment mistake, and nothing else would say so: pages still render.
fn missing_site_file(site_root: &str) -> Option<std::path::PathBuf> {
    let wasm = std::path::Path::new(site_root)
        .join("pkg")
        .join(concat!(env!("CARGO_PKG_NAME"), ".wasm"));
    (!wasm.is_file()).then_some(wasm)
}

/// Which parts of the application a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub workers: u32,
}

impl Application {
    /// Connects to the database (creating it if needed), applies migrations, starts the
    /// workers (running each agent's runtime) and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_inner(settings, None).await
    }

    /// As [`Application::build`], with an agent runner of your own for every agent.
    pub async fn build_with_runner(
        settings: Settings,
        runner: Arc<dyn AgentRunner>,
    ) -> anyhow::Result<Self> {
        Self::build_inner(settings, Some(runner)).await
    }

    async fn build_inner(
        settings: Settings,
        runner: Option<Arc<dyn AgentRunner>>,
    ) -> anyhow::Result<Self> {
        let roles = Roles {
            workers: settings.workers.count,
        };
        let keyring = Arc::new(services::keys::load_master_keyring(&settings.security)?);
        let outbound = outbound(&settings)?;
        let pool = prepare_database(&settings).await?;
        let metrics = Arc::new(Metrics::new());
        let wakeup = Wakeup::default();
        let runner = runner.unwrap_or_else(|| runtimes(&settings, &outbound, &keyring, &metrics));
        let workers = start_workers(
            &settings,
            &pool,
            roles.workers,
            runner,
            Senders {
                metrics: metrics.clone(),
                outbound: outbound.clone(),
                keyring: keyring.clone(),
            },
            wakeup.clone(),
        )
        .await?;
        let listener = TcpListener::bind(settings.server.site_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.server.site_addr))?;
        let local_addr = listener.local_addr()?;
        let mut settings = settings;
        if settings.server.site_addr.port() == 0
            && settings.server.public_base_url == format!("http://{}", settings.server.site_addr)
        {
            // The public URL was derived from an address whose port the OS picks: use that port.
            settings.server.public_base_url = format!("http://{local_addr}");
        }
        if let Some(missing) = missing_site_file(&settings.server.site_root) {
            tracing::warn!(
                site_root = %settings.server.site_root,
                missing = %missing.display(),
                "no built site at server.site_root / LEPTOS_SITE_ROOT: pages will render without \
                 styles and never become interactive"
            );
        }
        let leptos_options = LeptosOptions::builder()
            .output_name(env!("CARGO_PKG_NAME"))
            .site_root(settings.server.site_root.as_str())
            .site_addr(local_addr)
            .build();
        let targets = Arc::new(TargetCache::new(
            Duration::from_secs(settings.webhooks.target_cache_seconds),
            metrics.target_lookups.clone(),
        ));
        let (stop_listening, stopped) = tokio::sync::watch::channel(false);
        let listen_for_changes = webhook_targets::listen_for_changes(
            pool.clone(),
            db::listener_pool(&settings.database)?,
            targets.clone(),
            Duration::from_secs(settings.webhooks.target_cache_heartbeat_seconds),
            stopped.clone(),
        );
        let announce = jobs::wakeup::announce(wakeup.clone(), pool.clone(), stopped);
        let listening = tokio::spawn(async move {
            tokio::join!(listen_for_changes, announce);
        });
        let state = AppState {
            leptos_options,
            executions: ExecutionWriter::start(
                db::writer_pool(&settings.database, EXECUTION_WRITERS as u32)?,
                EXECUTION_WRITERS,
                metrics.commit_size.clone(),
                wakeup,
                settings.retention.deliveries(),
            ),
            request_log: RequestLog::start(
                db::log_pool(&settings.database)?,
                metrics.request_log.clone(),
            ),
            targets,
            pool,
            limits: Arc::new(Limits::new(&settings)),
            metrics,
            outbound,
            settings: Arc::new(settings),
            keyring,
            workers: WorkerCount(roles.workers),
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            workers,
            stop_listening,
            listening,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then lets in-flight requests and running tasks
    /// finish within the configured grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = self.state.settings.shutdown_grace();
        tracing::info!(
            address = %self.local_addr(),
            public_base_url = %self.state.settings.server.public_base_url,
            "listening"
        );
        let server = &self.state.settings.server;
        let limits = routes::serve::ConnectionLimits {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_seconds),
            keep_alive_timeout: Duration::from_secs(server.keep_alive_timeout_seconds),
            max_connections: server.max_connections,
        };
        let stopping = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                let _ = stopping.set(tokio::time::Instant::now());
            }
        };
        routes::serve::serve(self.listener, self.router, limits, shutdown, grace).await;
        let _ = self.stop_listening.send(true);
        let _ = self.listening.await;
        // One grace period for both: requests and running jobs finish side by side.
        self.workers
            .shutdown(
                grace.saturating_sub(stopping.get().map_or(Duration::ZERO, |at| at.elapsed())),
            )
            .await;
        self.state.pool.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Runs only workers (the `worker` command): no HTTP listener.
pub async fn run_workers_until_stopped(settings: Settings) -> anyhow::Result<()> {
    let count = settings.workers.count.max(1);
    let keyring = Arc::new(services::keys::load_master_keyring(&settings.security)?);
    let outbound = outbound(&settings)?;
    let pool = prepare_database(&settings).await?;
    let metrics = Arc::new(Metrics::new());
    let workers = start_workers(
        &settings,
        &pool,
        count,
        runtimes(&settings, &outbound, &keyring, &metrics),
        Senders {
            metrics,
            outbound,
            keyring,
        },
        Wakeup::default(),
    )
    .await?;
    shutdown_signal().await;
    workers.shutdown(settings.shutdown_grace()).await;
    pool.close().await;
    Ok(())
}

fn outbound(settings: &Settings) -> anyhow::Result<Arc<Outbound>> {
    let rules = AddressRules::parse(&settings.runtimes.allowed_private_hosts)
        .map_err(|err| anyhow::anyhow!("runtimes.allowed_private_hosts: {err}"))?;
    Ok(Arc::new(Outbound::new(rules)?))
}

/// The runner of every agent's chosen runtime.
fn runtimes(
    settings: &Settings,
    outbound: &Arc<Outbound>,
    keyring: &Arc<MasterKeyring>,
    metrics: &Arc<Metrics>,
) -> Arc<dyn AgentRunner> {
    let builtin = BuiltinRunner {
        delay: Duration::from_millis(settings.workers.builtin_runner_delay_ms),
    };
    Arc::new(Runtimes::new(
        outbound.clone(),
        keyring.clone(),
        builtin,
        metrics.clone(),
    ))
}

/// What workers share with the web side: metrics, and what tasks that send need.
struct Senders {
    metrics: Arc<Metrics>,
    outbound: Arc<Outbound>,
    keyring: Arc<MasterKeyring>,
}

async fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool).await?;
    Ok(pool)
}

async fn start_workers(
    settings: &Settings,
    pool: &PgPool,
    claim_loops: u32,
    runner: Arc<dyn AgentRunner>,
    senders: Senders,
    wakeup: Wakeup,
) -> anyhow::Result<WorkerPool> {
    if claim_loops == 0 {
        return Ok(WorkerPool::none());
    }
    let context = JobContext {
        pool: pool.clone(),
        // One connection per claim loop, and one for the heartbeat.
        bookkeeping: db::connect_bookkeeping(&settings.database, claim_loops + 1).await?,
        runner,
        metrics: senders.metrics,
        outbound: senders.outbound,
        keyring: senders.keyring,
    };
    let workers = &settings.workers;
    let pool_settings = PoolSettings {
        claim_loops,
        concurrency: workers.concurrency,
        batch_size: workers.batch_size,
        poll_interval: Duration::from_millis(workers.poll_interval_ms),
        lease: Duration::from_secs(workers.lease_seconds),
        reaper_interval: Duration::from_secs(workers.reaper_interval_seconds),
        max_backoff: Duration::from_secs(workers.retry_backoff_max_seconds.into()),
        run_timeout: Duration::from_secs(workers.run_timeout_seconds),
        retention: settings.retention,
    };
    Ok(WorkerPool::start(
        pool_settings,
        context,
        jobs::connect_queue(settings.database.url.expose()).await?,
        wakeup,
        db::listener_pool(&settings.database)?,
    ))
}

fn router(state: AppState) -> Router {
    let leptos_routes = generate_route_list(App);
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();
    let app = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::metrics::scrape))
        .merge(routes::webhook::router())
        .merge(routes::api::router())
        .leptos_routes_with_context(
            &state,
            leptos_routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            routes::request_body::read_within_limits,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            routes::csrf::refuse_cross_site,
        ));
    routes::edge(app, &state).with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::missing_site_file;

    #[test]
    fn a_site_root_without_the_wasm_bundle_is_reported() {
        let dir = std::env::temp_dir().join(format!("aw-site-{}", uuid::Uuid::new_v4()));
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let root = dir.to_str().unwrap();
        assert_eq!(
            missing_site_file(root),
            Some(pkg.join("agent-webhooks.wasm"))
        );
        std::fs::write(pkg.join("agent-webhooks.wasm"), b"\0asm").unwrap();
        assert_eq!(missing_site_file(root), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
