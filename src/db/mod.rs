//! All SQL lives here, one file per table. Functions take an executor so that the
//! caller decides what runs in one transaction.

pub mod agents;
pub mod api_tokens;
pub mod audit;
pub mod deliveries;
pub mod executions;
pub mod health;
pub mod jsonb;
pub mod notifications;
pub mod queue_probes;
pub mod rate_limits;
pub mod requests;
pub mod retention;
pub mod sessions;
pub mod tasks;
pub mod tenants;
pub mod triggers;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    migrate::{MigrateDatabase, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres,
};

use crate::config::DatabaseSettings;

/// The migrations in `migrations/`, embedded in the binary.
/// The migrations of this build, applied at start. A migration the database has but this
/// build lacks (a newer release applied it) is not an error: migrations are expand-only, so a
/// rolling restart can start an older process and a roll-back can start the previous release
/// (docs/operations.md, "Upgrades").
pub static MIGRATOR: Migrator = Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

/// Whether the error means "the database is unreachable or overloaded right now" (try again
/// later) rather than a bug: connection failures and the SQLSTATE classes 08 (connection),
/// 57 (operator intervention, e.g. shutting down), 53 (insufficient resources) and 40
/// (transaction rollback, e.g. serialization failure).
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "57", "53", "40"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

/// Creates the database when it does not exist yet, then opens the pool.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let url = settings.url.expose();
    let options: PgConnectOptions = url
        .parse()
        .context("database.url (DATABASE_URL) is not a valid PostgreSQL URL")?;
    let options = without_loopback_tls(options, url);
    let exists = Postgres::database_exists(url).await.with_context(|| {
        format!(
            "cannot reach PostgreSQL at {} (set DATABASE_URL, or start PostgreSQL)",
            describe(&options)
        )
    })?;
    if !exists {
        Postgres::create_database(url)
            .await
            .context("cannot create the database")?;
        tracing::info!(database = options.get_database(), "created database");
    }
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_with(options.options([NO_JIT]))
        .await
        .context("cannot connect to the database")
}

/// Queue bookkeeping (claiming a task, its heartbeat, removing or rescheduling it, and an
/// execution's start) commits without waiting for the WAL flush: losing the last few such
/// commits in a PostgreSQL crash only returns a task or an execution to an earlier state that
/// the reaper repairs, and a crash during a run means that run is repeated anyway. The
/// completion, which says "do not run this again", stays synchronous. One flush per
/// execution instead of four: the flushes bounded the workers' throughput.
const BOOKKEEPING: (&str, &str) = ("synchronous_commit", "off");

/// The queue's statements touch a few dozen rows by index, but with a large backlog the
/// planner's row estimates pass `jit_above_cost`, and compiling the plan then cost 60 ms for
/// a statement that runs in 2 (measured on a backlog of 200,000 tasks).
const NO_JIT: (&str, &str) = ("jit", "off");

/// The connection options of `url` (loopback without TLS unless asked).
fn options_of(url: &str, setting: &str) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url
        .parse()
        .with_context(|| format!("{setting} is not a valid PostgreSQL URL"))?;
    Ok(without_loopback_tls(options, url))
}

/// A pool for queue bookkeeping (see `BOOKKEEPING`), on an existing database.
pub async fn connect_bookkeeping(
    settings: &DatabaseSettings,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    let options = options_of(settings.url.expose(), "database.url (DATABASE_URL)")?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_with(options.options([BOOKKEEPING, NO_JIT]))
        .await
        .context("cannot connect the queue's bookkeeping pool")
}

/// The connections that commit accepted webhooks, kept apart from the pool that serves
/// lookups, sign-ins and the API: traffic that is not (yet) authenticated cannot take the
/// connections an accepted webhook needs to be written. Connects lazily.
pub fn writer_pool(settings: &DatabaseSettings, connections: u32) -> anyhow::Result<PgPool> {
    let options = options_of(settings.url.expose(), "database.url (DATABASE_URL)")?;
    Ok(PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_lazy_with(options))
}

/// The one connection the request log is written on. Its commits do not wait for the WAL
/// flush (`synchronous_commit = off`): the log is a record for people, already lossy by
/// design when it overflows, and a crash loses at most the last fraction of a second of it,
/// never an execution (those commit on `writer_pool`). Connects lazily.
pub fn log_pool(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let options =
        options_of(settings.url.expose(), "database.url (DATABASE_URL)")?.options([BOOKKEEPING]);
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_lazy_with(options))
}

/// The one connection the webhook target cache LISTENs on, at `database.listen_url` when
/// set (a pooler in transaction mode cannot carry LISTEN, so it may point past one). The
/// server side sends TCP keepalives on it, so a vanished client is noticed there; a
/// vanished server is noticed by the cache's own heartbeat. Connects lazily.
pub fn listener_pool(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let (url, setting) = match &settings.listen_url {
        Some(url) => (url.expose(), "database.listen_url (DATABASE_LISTEN_URL)"),
        None => (settings.url.expose(), "database.url (DATABASE_URL)"),
    };
    let options = options_of(url, setting)?.options([
        ("tcp_keepalives_idle", "10"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "3"),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_lazy_with(options))
}

/// The same for fang's own pool, which takes a URL.
pub fn bookkeeping_url(url: &str) -> String {
    let local_without_sslmode = !url.contains("sslmode=")
        && url
            .parse::<PgConnectOptions>()
            .is_ok_and(|options| is_local(&options));
    let mut url = url.to_owned();
    let mut add = |param: &str| {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(param);
    };
    add(&format!(
        "options=-c%20{}%3D{}",
        BOOKKEEPING.0, BOOKKEEPING.1
    ));
    if local_without_sslmode {
        add("sslmode=disable");
    }
    url
}

/// `NOTIFY channel, payload`, committed at once.
pub async fn notify(
    db: impl sqlx::PgExecutor<'_>,
    channel: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("cannot apply database migrations")
}

/// TLS to a database on this machine protects nothing and costs CPU on both ends, so unless
/// the URL asks for an `sslmode`, loopback and Unix-socket connections go without it.
fn without_loopback_tls(options: PgConnectOptions, url: &str) -> PgConnectOptions {
    if is_local(&options) && !url.contains("sslmode=") {
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        options
    }
}

fn is_local(options: &PgConnectOptions) -> bool {
    let host = options.get_host();
    host == "localhost"
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Host, port and database of a connection, without credentials: safe to log.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use sqlx::postgres::PgSslMode;

    use super::*;

    fn mode(url: &str) -> String {
        let options: PgConnectOptions = url.parse().unwrap();
        format!("{:?}", without_loopback_tls(options, url).get_ssl_mode())
    }

    #[test]
    fn fangs_url_asks_for_asynchronous_commits_and_no_local_tls() {
        let url = bookkeeping_url("postgres://u@127.0.0.1:5432/app");
        assert_eq!(
            url,
            "postgres://u@127.0.0.1:5432/app?options=-c%20synchronous_commit%3Doff&sslmode=disable"
        );
        let options: PgConnectOptions = url.parse().unwrap();
        assert_eq!(options.get_options(), Some("-c synchronous_commit=off"));
        assert_eq!(
            bookkeeping_url("postgres://db.internal/app?sslmode=require"),
            "postgres://db.internal/app?sslmode=require&options=-c%20synchronous_commit%3Doff"
        );
    }

    #[test]
    fn local_databases_skip_tls_unless_asked() {
        assert_eq!(
            mode("postgres://u@127.0.0.1:5432/db"),
            format!("{:?}", PgSslMode::Disable)
        );
        assert_eq!(
            mode("postgres://u@localhost/db"),
            format!("{:?}", PgSslMode::Disable)
        );
        assert_eq!(
            mode("postgres://u@localhost/db?host=/run/pg"),
            format!("{:?}", PgSslMode::Disable)
        );
        assert_eq!(
            mode("postgres://u@127.0.0.1/db?sslmode=require"),
            format!("{:?}", PgSslMode::Require)
        );
        assert_eq!(
            mode("postgres://u@db.example.com/db"),
            format!("{:?}", PgSslMode::Prefer)
        );
    }
}
