//! All SQL lives here, one file per table. Functions take an executor so that the
//! caller decides what runs in one transaction.

pub mod agents;
pub mod api_tokens;
pub mod audit;
pub mod deliveries;
pub mod executions;
pub mod health;
pub mod queue_probes;
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
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

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
        .connect_with(options)
        .await
        .context("cannot connect to the database")
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
    let host = options.get_host();
    let local = host == "localhost"
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if local && !url.contains("sslmode=") {
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        options
    }
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
