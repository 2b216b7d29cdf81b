use sqlx::PgPool;

use super::MIGRATOR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    MigrationsPending,
}

/// The database answers and every embedded migration has been applied.
pub async fn readiness(pool: &PgPool) -> Result<Readiness, sqlx::Error> {
    let applied: Option<i64> =
        sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
            .fetch_one(pool)
            .await?;
    let latest = MIGRATOR.iter().map(|m| m.version).max();
    Ok(if applied >= latest {
        Readiness::Ready
    } else {
        Readiness::MigrationsPending
    })
}
